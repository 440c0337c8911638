/*
 * The password change engine (pam_sm_chauthtok's second phase), the way
 * auth/login.h is the login's: one conversation, whatever the API.  It
 * asks for the current password (not of root) and has the API check it,
 * has a reset code mailed, asks for the code and the new password twice,
 * and has the API set it; the profile (api/profile.h: struct
 * profile_passwd) says only how each step is asked and what its reply
 * means.  Here: the prompts, the failure budget of the current password,
 * wrong codes, at most three rounds of the new password, the API's 429,
 * an unavailable API, wiping every secret, and on success the cached
 * password verifier replaced by the new password's.
 *
 * It is no login: it counts in no login figure, mints no token and
 * leaves last_login alone.  It speaks to the person through a login_io
 * (requests/passwd.c, or a unit test) and to the API through the
 * helper's api_transport.
 */
#ifndef PASSWD_H
#define PASSWD_H

#include <sys/types.h>

#include "auth/access.h"
#include "auth/login.h"
#include "helper.h"

struct passwd_change;

struct passwd_request {
	const char *user; /* the account's canonical name: it has a cached login */
	const char *service, *rhost;
	uid_t caller_uid; /* the effective caller: 0 is not asked for the current password */
	pid_t caller_pid;
	struct access_claim claim;     /* the failure budget (access_gate) */
	const struct fr_catalog *lang; /* every text of the change; NULL: English */
};

/* A change for `rq` (copied), or NULL when memory is short or the
 * profile has no password change. */
struct passwd_change *passwd_new(struct helper *h, const struct passwd_request *rq, const struct login_io *io,
				 void *io_ctx);
/* The first question, from inside the call. */
void passwd_begin(struct passwd_change *pc);
/* The person's answer to the last prompt; wiped by the caller after. */
void passwd_answer(struct passwd_change *pc, const char *text);
/* The person is gone: no verdict, finish is not called. */
void passwd_abandon(struct passwd_change *pc);

#endif
