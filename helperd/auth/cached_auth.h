/*
 * Cached re-authentication (cached_auth_timeout > 0, as in SSSD): within
 * that many seconds of the user's last full login, a login whose password
 * matches the cached yescrypt verifier skips the second factor, provided
 * a refresh of the cached token succeeds at the API right now, so that a
 * revoked account is refused at once (for a profile with a durable token,
 * AIUS, the API must accept that token now; a refused one means the full
 * login).  Services listed in
 * cached_auth_services never skip the second factor.
 */
#ifndef CACHED_AUTH_H
#define CACHED_AUTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "helper.h"

struct cached_attempt;

enum cached_verdict {
	CACHED_SUCCESS,	 /* matched, and the API accepted the refresh (or durable token) */
	CACHED_REFUSED,	 /* the API refused the refresh: the cached login was dropped */
	CACHED_DECLINED, /* no match, no record, or the API not usable: do the full login */
};
typedef void (*cached_auth_done_fn)(void *ctx, enum cached_verdict verdict);

enum cached_start {
	CACHED_NOT_TRIED, /* off, opted-out service, no memory: the login goes on normally */
	CACHED_CHECKING,  /* being checked: `done` runs once, later, from the loop */
	CACHED_BUSY,	  /* a non-root caller at its share of the verifier threads: refuse, busy */
};

/*
 * CACHED_CHECKING: the password is being checked against the verifier (on
 * the verifier thread), then a refresh made, and *attempt is set; `done`
 * runs once, later, from the loop, and *attempt is NULL again by then.  A
 * user with no verifier or outside the window gets a check that costs the
 * same and always ends DECLINED, so timing does not tell them apart.
 */
enum cached_start cached_auth_try(struct helper *h, const char *user, const char *service, uid_t caller,
				  const char *password, cached_auth_done_fn done, void *ctx,
				  struct cached_attempt **attempt);
/* The login is going away; NULL is fine; `done` will not run. */
void cached_auth_cancel(struct helper *h, struct cached_attempt **attempt);

/* Pure: is a login made at `last_login` still inside the window at `now`? */
bool cached_auth_in_window(long long last_login, long long now, unsigned timeout);

#endif
