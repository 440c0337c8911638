/*
 * Cached re-authentication (cached_auth_timeout > 0, as in SSSD): within
 * that many seconds of the user's last full login, a login whose password
 * matches the cached yescrypt verifier skips the second factor, provided
 * a refresh of the cached token succeeds at the API right now, so that a
 * revoked account is refused at once.  Services listed in
 * cached_auth_services never skip the second factor.
 */
#ifndef CACHED_AUTH_H
#define CACHED_AUTH_H

#include <stdbool.h>

struct login;

struct cached_attempt;

/* The cached path does not apply after all (API unreachable or failing):
 * carry on with the normal flow. */
typedef void (*cached_auth_fallback_fn)(struct login *lg);

/*
 * false: not applicable (off, opted-out service, or the verifier threads
 * declined: the caller has its share of them); the flow goes on normally.
 * true: the password is being checked against the verifier (on the
 * verifier thread), then a refresh made, and *attempt is set.  A user
 * with no verifier or outside the window gets a check that costs the same
 * and always ends in `fallback`, so timing does not tell them apart.  Then
 * exactly one of these happens, always later from the loop: the login
 * finishes with SUCCESS (match, refresh accepted), or with AUTH_ERR
 * (refresh refused: the cached login is dropped), or `fallback` runs (no
 * match, or the API is not usable); *attempt is NULL again in each case.
 */
bool cached_auth_try(struct login *lg, const char *password, cached_auth_fallback_fn fallback,
		     struct cached_attempt **attempt);
/* The login is going away; NULL is fine. */
void cached_auth_cancel(struct login *lg, struct cached_attempt **attempt);

/* Pure: is a login made at `last_login` still inside the window at `now`? */
bool cached_auth_in_window(long long last_login, long long now, unsigned timeout);

#endif
