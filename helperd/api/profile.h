/*
 * An API profile: what is particular to one remote API, and nothing else.
 * Its paths, request bodies, reply parsing, token lifetimes, refresh and
 * logout, and the steps of its login as functions that answer with a
 * verdict ("ask this", "send this", "success with these tokens", "wrong
 * answer", "refused", "unavailable", "rate limited").  The login engine
 * (auth/login.c) runs what every profile shares: the password step,
 * cached re-authentication, offline login, rate limits, the local TOTP
 * step, storing tokens, wiping, counting wrong codes, the API's 429.
 * Adding an API is one file like api/jwt.c plus its tests.
 *
 * Profiles never see the person's socket, the cache or the clock; they
 * get replies the engine has already sorted: a transport failure, a 5xx,
 * 1xx or 3xx and a 429 never reach them.
 */
#ifndef PROFILE_H
#define PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "api/parse.h"
#include "api/http.h"
#include "core/audit.h"
#include "core/helper_config.h"
#include "fr_catalog.h"

#define PROFILE_TEXT_MAX 320
#define PROFILE_PATH_MAX 160

enum step_verdict {
	STEP_PROMPT,	   /* ask the person `prompt` (after `info`, if any) */
	STEP_REQUEST,	   /* send `request`; its reply goes to on_reply */
	STEP_SUCCESS,	   /* logged in; `tokens` (may be empty) are the engine's now */
	STEP_WRONG_ANSWER, /* one wrong code: the engine counts it and asks again */
	STEP_REFUSED,	   /* the login ends: AUTH_ERR, `text` for the person */
	STEP_UNAVAILABLE,  /* the API cannot decide: `text` says why, for the log */
	STEP_RATE_LIMITED, /* the API's own limit: try again in `retry_after` s */
};

/* A request a profile wants sent.  The body holds secrets (a password, a
 * code): it is wiped with step_wipe. */
struct profile_request {
	const char *method; /* "POST", "GET" or "DELETE" */
	char path[PROFILE_PATH_MAX];
	char *body; /* JSON, secret; NULL for none */
	size_t body_len;
	bool api_key; /* send X-API-Key */
	char *bearer; /* Authorization: Bearer, secret; NULL for none */
	char *cookie; /* the Cookie header's "name=value", secret; NULL for none */
};

struct profile_step {
	/* The login's language, set by the engine before it calls the
	 * profile: texts for the person are written in it where they are
	 * made, fr_tr(out->lang, "..."); the log's texts (UNAVAILABLE,
	 * note) stay English.  NULL is English. */
	const struct fr_catalog *lang;
	enum step_verdict verdict;
	char info[PROFILE_TEXT_MAX];	/* PROMPT: shown above the prompt ("" for none) */
	char prompt[PROFILE_TEXT_MAX];	/* PROMPT */
	bool prompt_is_password;	/* PROMPT: the answer is the password (PAM_AUTHTOK) */
	char text[PROFILE_TEXT_MAX];	/* REFUSED: for the person; UNAVAILABLE: for the log;
					 * WRONG_ANSWER: shown before the count ("" for none) */
	char note[PROFILE_TEXT_MAX];	/* logged as "PROFILE: USER NOTE" at notice level, "" for none */
	long retry_after;		/* RATE_LIMITED: seconds, -1 unknown */
	enum audit_factor factor;	/* what the prompt asks for, or the answer was; NONE: unchanged */
	struct profile_request request; /* REQUEST */
	struct api_tokens tokens;	/* SUCCESS */
};

/* Zeroed, English; the engine then sets `lang`. */
void step_init(struct profile_step *s);
void step_wipe(struct profile_step *s);

/* Helpers for profiles: a REQUEST of `body` (consumed, even on failure)
 * to `path`; UNAVAILABLE when it cannot be built. */
void step_post(struct profile_step *s, const char *path, json_t *body, bool api_key, const char *bearer);
/* A request without a body ("GET" or "DELETE"). */
void step_fetch(struct profile_step *s, const char *method, const char *path, const char *bearer);
/* The request as the transport takes it (valid while `pr` is). */
void profile_request_http(const struct profile_request *pr, struct http_request *out);
void step_prompt(struct profile_step *s, const char *info, const char *prompt);
void step_refused(struct profile_step *s, const char *text);
void step_unavailable(struct profile_step *s, const char *why);
void step_wrong_answer(struct profile_step *s, const char *text);

/* How a profile refreshes a cached access token (NULL: it cannot). */
struct profile_refresh {
	const char *path;	       /* appended to api_url */
	const char *request_key;       /* the JSON member carrying the refresh token */
	const char *reply_access_key;  /* the new access token's member */
	const char *reply_refresh_key; /* a rotated refresh token, or NULL */
	long default_ttl;	       /* seconds, when the reply has no expires_in */
};

/* A reply that is no answer of the API's: a transport failure, a 1xx,
 * 3xx or 5xx.  True, with `why` (for the log) naming `step`. */
bool profile_reply_failed(const struct http_response *resp, const char *step, char *why, size_t len);

/*
 * A durable credential minted from a login's session, kept in the cache
 * in place of a refresh token (AIUS's aius_ tokens).  The engine keeps the
 * one it has while the API accepts it and mints one only when there is
 * none or it was refused; cached re-authentication and the account
 * requests present it as the bearer.
 */
struct profile_durable {
	/* A request that shows whether the API accepts `token` right now. */
	void (*check)(const char *token, struct profile_step *out);
	/* The mint request from a login's session (the login's
	 * tokens.access_token). */
	void (*mint)(const char *session, struct profile_step *out);
	/* The durable token of a 2xx mint reply: 0 and *token (secret), or
	 * an FR_ERR code. */
	int (*minted)(const struct http_response *resp, char **token);
	/* Whether a 4xx says the token itself was refused (revoked, unknown),
	 * and not, say, that a code sent with it was wrong. */
	bool (*refused)(const struct http_response *resp);
};

/* What a password change step's reply means (struct profile_passwd). */
enum passwd_reply {
	PASSWD_GO_ON,	       /* the step worked */
	PASSWD_WRONG_PASSWORD, /* the current password is wrong: `text` */
	PASSWD_WRONG_CODE,     /* the emailed code was refused: ask it again */
	PASSWD_WEAK,	       /* the new password was refused: `text`, ask another */
	PASSWD_REFUSED,	       /* the change ends: AUTH_ERR with `text` */
	PASSWD_UNUSABLE,       /* a 2xx that cannot be used: `text` for the log */
};

/* How a profile changes a password (pam_sm_chauthtok): a check of the
 * current one, a code mailed to the account, then the code and the new
 * password.  The conversation, its prompts and its limits are the
 * engine's (auth/passwd.c); replies reach these functions sorted as for
 * on_reply.  `text` is PROFILE_TEXT_MAX bytes. */
struct profile_passwd {
	void (*check_password)(const char *name, const char *password, struct profile_step *out);
	enum passwd_reply (*password_checked)(const struct http_response *resp, char *text);
	void (*request_code)(const char *name, struct profile_step *out);
	enum passwd_reply (*code_requested)(const struct http_response *resp, char *text);
	void (*confirm)(const char *code, const char *new_password, struct profile_step *out);
	enum passwd_reply (*confirmed)(const struct http_response *resp, char *text);
};

/* What an account request's reply (freddyctl 2fa, apikey) means to the
 * person; the credential's own refusal and the failures of the service are
 * sorted out before (auth/account_call.h). */
enum account_verdict {
	ACCOUNT_DONE,	    /* the API did it: the results are filled in */
	ACCOUNT_WRONG_CODE, /* a code sent with the request was wrong */
	ACCOUNT_REFUSED,    /* the API said no: `text` for the person */
	ACCOUNT_NOT_FOUND,  /* what the request names does not exist: `text` */
	ACCOUNT_UNUSABLE,   /* a 2xx that cannot be used */
};

struct profile {
	const char *name;  /* in log lines: "freddy", "jwt-totp", ... */
	size_t state_size; /* the profile's own state per login, zeroed */
	/* Local second factor after the API's success (second_factor = totp). */
	bool local_totp;
	long default_ttl; /* access token lifetime when a reply names none */
	const struct profile_refresh *refresh;

	/* The login request for the API's name of the user and the password. */
	void (*login)(void *state, const struct config *cfg, const char *name, const char *password,
		      struct profile_step *out);
	/* The reply (2xx or 4xx) to the last request the profile asked for. */
	void (*on_reply)(void *state, const struct config *cfg, const struct http_response *resp,
			 struct profile_step *out);
	/* The person's answer to the profile's last prompt; `answer` is wiped
	 * after the call.  NULL for profiles that ask nothing. */
	void (*on_answer)(void *state, const struct config *cfg, const char *answer, struct profile_step *out);
	/* The prompt to show again after a wrong answer: a msgid, N_("..."),
	 * that the engine translates into the login's language. */
	const char *(*again_prompt)(void *state);
	/* Optional: a logout request for `access_token` (a session ends, or a
	 * login refused after the API gave tokens); false: none. */
	bool (*logout)(const char *access_token, struct profile_step *out);
	/* Wipes what the state holds and frees what the profile allocated
	 * in it; the engine frees the state itself. */
	void (*wipe)(void *state);
	/* NULL when the profile has no durable credential (it caches refresh
	 * tokens, if any) or no password change. */
	const struct profile_durable *durable;
	const struct profile_passwd *passwd;
};

/* The profile for a configuration; NULL when the build has none. */
const struct profile *profile_for(const struct config *cfg);

/* The profiles, for tests. */
extern const struct profile profile_freddy_email;
extern const struct profile profile_freddy_totp;
extern const struct profile profile_aius;
extern const struct profile profile_jwt;
extern const struct profile profile_jwt_totp;

#endif
