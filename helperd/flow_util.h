/*
 * Steps the password-based flows share: the password (prompted, or taken
 * from the PAM stack), the verdict on an HTTP reply that is no answer,
 * counting wrong codes, caching tokens, and the local TOTP check.
 */
#ifndef FLOW_UTIL_H
#define FLOW_UTIL_H

#include <stdbool.h>

#include "api_parse.h"
#include "login.h"
#include "totp.h"

struct flow_password {
	char *password;			/* secret */
	bool from_stack;		/* came from PAM_AUTHTOK */
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
void flow_password_wipe(struct flow_password *pw);

/* A reply that is not an answer (transport failure, 1xx/3xx/5xx): the
 * login is finished as unavailable and true returned. */
bool flow_service_failed(struct login *lg, const struct http_response *resp, const char *step);

/* One more wrong code.  With attempts left it shows "Invalid code, N
 * attempts left" and returns true (ask again); otherwise it ends the
 * login with MAXTRIES and returns false. */
bool flow_code_failed(struct login *lg, unsigned *failures);

/* Cache the tokens of a successful login (logged, never fatal). */
void flow_store_tokens(struct login *lg, const struct api_tokens *tokens, long default_ttl);

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
