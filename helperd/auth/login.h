/*
 * The login engine: one authentication in progress, whatever the API.
 * It runs what every profile shares (api/profile.h): the password
 * (prompted, or taken from the PAM stack with try_first_pass and
 * use_first_pass), cached re-authentication, the failure budget, offline
 * login, the local TOTP step, storing tokens, counting wrong codes, the
 * API's 429, and wiping every secret.  The profile says only what is
 * particular to its API.
 *
 * It never touches a socket: it speaks to the person through a login_io
 * (requests/auth_begin.c over the helper's socket, or a unit test), and to
 * the API through the helper's api_transport.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/profile.h"
#include "auth/access.h"
#include "fr_wire.h"
#include "helper.h"

struct login;

/* How a login reaches the person.  `text` is valid during the call only.
 * finish is called once; the login is freed after the current loop pass. */
struct login_io {
	void (*prompt)(void *ctx, enum fr_prompt_style style, unsigned flags, const char *text);
	void (*info)(void *ctx, const char *text);
	void (*error)(void *ctx, const char *text);
	void (*finish)(void *ctx, enum fr_result result, const char *text);
};

struct login_request {
	const char *user;			   /* the account's canonical name */
	bool no_account;			   /* a root caller named no local account */
	const char *service, *rhost, *tty, *ruser; /* cleaned; may be NULL but service */
	uid_t caller_uid;
	pid_t caller_pid;
	const char *authtok; /* secret: PAM_AUTHTOK from an earlier module, or NULL */
	enum fr_authtok_mode authtok_mode;
	struct access_claim claim;     /* the failure budget (access_gate) */
	const char *login_id;	       /* audit_next_login_id's; NULL or "": the login takes one */
	const struct fr_catalog *lang; /* every text of the login; NULL: English */
};

/* A login for `rq` (copied), or NULL when memory is short (or the
 * configuration names no profile this build has). */
struct login *login_new(struct helper *h, const struct login_request *rq, const struct login_io *io, void *io_ctx);
/* Ask the first question, or give the verdict, from inside the call; the
 * io may finish or abandon the login meanwhile. */
void login_begin(struct login *lg);
/* The person's answer to the last prompt; wiped by the caller after. */
void login_answer(struct login *lg, const char *text);
/* The person is gone (the client closed, a deadline passed): the login
 * ends without a verdict; finish is not called. */
void login_abandon(struct login *lg);

/* The local user name turned into the API's login name by user_template
 * (heap; NULL when memory is short). */
char *login_remote_name(const char *user, const char *tpl);
/* The text of the API's 429 for the person: "Too many login attempts, try
 * again in 5 minutes" (retry_after -1: "later"). */
void login_rate_limited_text(const struct fr_catalog *lang, long retry_after, char *text, size_t len);

/* For verifier_worker_new (crypto/verifier_worker.h), `ctx` the struct
 * helper: a verifier that was still being made when its login stored its
 * tokens joins the user's cache record, if the record is still that
 * login's. */
void login_verifier_ready(void *ctx, const char *user, long long last_login, char **verifier);

#endif
