/*
 * Who may ask the helper about whom.  Root callers (sshd, sudo, login, a
 * display manager) may authenticate any user; a non-root caller (a screen
 * locker or polkit agent running as the user) only its own account, the
 * rule unix_chkpwd follows.  allowed_groups narrows who Freddy handles at
 * all: everyone else is "not my user" (PAM_IGNORE), never a success.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fr_wire.h"
#include "helper.h"
#include "store/ratelimit.h"
#include "hostlib/user_name.h"

/* A user as the local user database knows it.  `name` is the canonical
 * pw_name: with case-insensitive NSS, "ALICE" and "alice" are one
 * account, and every key (cache file, rate limit) uses this spelling. */
struct local_account {
	uid_t uid;
	gid_t gid;
	char name[USER_NAME_MAX + 1];
};

/* FR_OK, FR_ERR_NOT_FOUND (no such account, or a pw_name the helper
 * would not handle), FR_ERR_IO (the database could not be read). */
int access_lookup_account(const char *user, struct local_account *out);

/* FR_OK when `caller_uid` may authenticate `user`; FR_ERR_PERMISSION when
 * a non-root caller asks for another account (or for a user that has no
 * local account, whose uid it cannot own); FR_ERR_IO when the user
 * database could not be read. */
int access_caller_allowed(const char *user, uid_t caller_uid);

/* FR_OK when `groups` (a config list) is NULL or `user` is a member of one
 * of them (primary or supplementary); FR_ERR_PERMISSION otherwise,
 * including unknown local users; FR_ERR_IO on lookup failure. */
int access_in_allowed_groups(const char *groups, const char *user);

/* Who asks about whom, from where (AUTH_BEGIN's context, already cleaned). */
struct access_request {
	const char *user;
	uid_t caller_uid;
	const char *rhost, *ruser, *tty;
};

/* The failure budget one login spends: a non-root caller's "uid:N" or a
 * root caller's origin key, and the user's own key.  `held` while a
 * password attempt is reserved on both. */
struct access_claim {
	char caller_key[RATELIMIT_KEY_MAX + 1];
	char user_key[RATELIMIT_KEY_MAX + 1];
	bool non_root;
	bool held;
};

enum access_outcome {
	ACCESS_GO,			/* log in `account` */
	ACCESS_REFUSED,			/* reply `result` with `text` (may be empty); logged */
	ACCESS_NO_ACCOUNT,		/* a root caller named no local account: nothing may reach the API */
};

struct access_verdict {
	enum access_outcome outcome;
	enum fr_result result;
	char text[128];
	struct local_account account;
	struct access_claim claim;
};

/* The gate every AUTH_BEGIN passes before any network call: the account
 * must exist locally (canonical name), the caller rule, allowed_groups,
 * then the rate limits of the caller or origin and of the user. */
void access_gate(struct helper *h, const struct access_request *rq, struct access_verdict *v);

/* The password is about to be sent to the API: reserve one attempt on the
 * claim's keys.  0, or the seconds to wait (nothing reserved). */
unsigned access_claim_reserve(struct helper *h, struct access_claim *claim);
/* The login is over with `result`: a reserved attempt becomes a failure
 * (AUTH_ERR, MAXTRIES, USER_UNKNOWN), is cleared (SUCCESS) or released
 * (no verdict: unavailable, refused service). */
void access_claim_finish(struct helper *h, struct access_claim *claim, enum fr_result result);
/* The client left in the middle: a reservation is released, and a non-root
 * caller's abandoned login counts as one failure of that caller, so that
 * holding prompts and reconnecting is throttled like guessing. */
void access_claim_abandon(struct helper *h, struct access_claim *claim);

#endif
