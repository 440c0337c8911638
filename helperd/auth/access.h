/*
 * Who may log in through Freddy, and how often they may fail.  The
 * caller rule itself (root callers any account, a non-root caller only its
 * own, as unix_chkpwd) is the request table's (requests/table.c); here:
 * the local account and its canonical name, allowed_groups ("not my user"
 * is PAM_IGNORE, never a success), and the failure budgets.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fr_catalog.h"
#include "fr_wire.h"
#include "helper.h"
#include "store/ratelimit.h"
#include "core/accounts.h"
#include "hostlib/user_name.h"

/* Who asks about whom, from where (AUTH_BEGIN's context, already cleaned).
 * The request table (requests/table.c) has applied the caller rule and
 * looked the account up: `account` is NULL only for a root caller that
 * named no local account, and `user` is then the name as sent. */
struct access_request {
	const char *user;
	const struct local_account *account;
	uid_t caller_uid;
	const char *rhost, *ruser, *tty;
	/* The account against allowed_groups, looked up off the loop with
	 * the account (accounts_in_groups): FR_OK when the setting is empty. */
	int groups_result;
	const char *service;	       /* for the audit record of a refusal */
	const char *login_id;	       /* the login's (audit_next_login_id), or NULL */
	const struct fr_catalog *lang; /* of the refusal's text; NULL: English */
};

/* The failure budget one login spends: a non-root caller's "uid:N" or a
 * root caller's origin key, and the user's own key.  `held` while a
 * password attempt is reserved on both.  The keys are one allocation,
 * sized to them (a login storm holds a thousand claims; the longest key
 * is RATELIMIT_KEY_MAX): each holder owns its copy (access_claim_copy)
 * and frees it (access_claim_free).  NULL keys: a claim that spends
 * nothing, as the empty keys of a refused or decoy login always did. */
struct access_claim {
	char *caller_key;
	char *user_key; /* in caller_key's allocation */
	bool non_root;
	bool held;
};

/* dst becomes a copy of src with keys of its own; FR_ERR_NOMEM leaves it
 * empty.  dst must not hold keys. */
int access_claim_copy(struct access_claim *dst, const struct access_claim *src);
void access_claim_free(struct access_claim *claim);

enum access_outcome {
	ACCESS_GO,	   /* log in `account` */
	ACCESS_REFUSED,	   /* reply `result` with `text` (may be empty); logged */
	ACCESS_NO_ACCOUNT, /* a root caller named no local account: nothing may reach the API */
};

struct access_verdict {
	enum access_outcome outcome;
	enum fr_result result;
	char text[128];
	struct local_account account;
	struct access_claim claim;
};

/* The gate every AUTH_BEGIN passes before any network call: a throttled
 * caller, a name with no local account, allowed_groups, then the rate
 * limits of the origin and of the user.  A rate-limit refusal is also a
 * rate_limited audit record.  Whatever the outcome, the caller frees
 * v->claim (access_claim_free). */
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
