/*
 * Steps the password-based flows share: the password (prompted, or taken
 * from the PAM stack), the verdict on an HTTP reply that is no answer,
 * counting wrong codes, caching tokens, and the local TOTP check.
 */
#ifndef FLOW_UTIL_H
#define FLOW_UTIL_H

#include <stdbool.h>

#include "api/api_parse.h"
#include "auth/login.h"
#include "crypto/totp.h"

struct cached_attempt;
struct verifier_job;

struct flow_password {
	char *password;			/* secret */
	bool from_stack;		/* came from PAM_AUTHTOK */
	struct verifier_job *verifier_job;	/* yescrypt of the password the API accepted */
	struct cached_attempt *cached;	/* cached re-authentication under way */
	bool cached_tried;		/* at most once per login */
};

/* True when pw holds the stacked password and the flow should send its
 * login now; false when "Password: " was asked (the answer arrives at
 * the flow's answer op, to be given to flow_password_set) or the login
 * was finished (use_first_pass without a password, no memory). */
bool flow_password_begin(struct login *lg, struct flow_password *pw);
void flow_password_ask(struct login *lg);
/* false when the login was finished. */
bool flow_password_set(struct login *lg, struct flow_password *pw, const char *answer);
/* The API refused the password.  try_first_pass with a stacked one:
 * ask once (true).  Otherwise false, and the caller ends the login. */
bool flow_password_retry(struct login *lg, struct flow_password *pw);
/* Drop the password itself (as soon as the API has seen it). */
void flow_password_wipe(struct flow_password *pw);
/* The login is over: the password, the verifier, a cached attempt. */
void flow_password_free(struct login *lg, struct flow_password *pw);

/* Before the login request: cached re-authentication (cached_auth.c).
 * True when it took over: the flow waits until the login is finished or
 * `resume` is called to go on with the normal login request. */
bool flow_password_try_cached(struct login *lg, struct flow_password *pw, void (*resume)(struct login *lg));

/* The login request did not reach the API: the offline path
 * (offline_login.c).  Returns what the flow must do next. */
enum flow_offline { FLOW_OFFLINE_NO, FLOW_OFFLINE_FINISHED, FLOW_OFFLINE_ASK_CODE };
enum flow_offline flow_password_try_offline(struct login *lg, struct flow_password *pw,
					    const struct http_response *resp);

/* The API accepted the password: start making its verifier (on the
 * verifier thread, verifier_worker.c) when cached re-authentication or
 * offline login will need it. */
void flow_password_accepted(struct login *lg, struct flow_password *pw);

/* The API's 429: "Too many login attempts, try again in 5 minutes". */
void flow_finish_rate_limited(struct login *lg, long retry_after);

/* A reply that is not an answer (transport failure, 1xx/3xx/5xx): the
 * login is finished as unavailable and true returned. */
bool flow_service_failed(struct login *lg, const struct http_response *resp, const char *step);

/* One more wrong code.  With attempts left it shows "Invalid code, N
 * attempts left" and returns true (ask again); otherwise it ends the
 * login with MAXTRIES and returns false. */
bool flow_code_failed(struct login *lg, unsigned *failures);

/* Cache the tokens of a successful login (logged, never fatal), with the
 * password verifier when there is one: at once if it is ready, otherwise
 * the verifier thread adds it to the record when it is. */
void flow_store_tokens(struct login *lg, const struct api_tokens *tokens, long default_ttl,
		       struct flow_password *pw);

/* Local TOTP: the user's entry from totp_users_file.  0, or
 * FR_ERR_NOT_FOUND when the user has none (the login goes on, so that
 * only someone who knows the password learns that: see
 * flow_totp_refuse_missing), or another error after which the login was
 * finished as unavailable (unreadable or untrusted file). */
int flow_totp_load(struct login *lg, struct totp_entry *entry);
void flow_totp_refuse_missing(struct login *lg);
void flow_totp_ask(struct login *lg);

enum flow_totp_verdict {
	FLOW_TOTP_ACCEPTED,
	FLOW_TOTP_ASK_AGAIN,		/* wrong code, prompt shown again */
	FLOW_TOTP_FINISHED,		/* the login was ended */
};
/* Check an answer against the entry (blanks ignored, replay refused). */
enum flow_totp_verdict flow_totp_check(struct login *lg, const struct totp_entry *entry,
				       const char *answer, unsigned *failures);

#endif
