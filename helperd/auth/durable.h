/*
 * A profile's durable credential (api/profile.h: struct profile_durable,
 * AIUS's aius_ tokens), kept in the user's cache record in place of a
 * refresh token.  After a login, the one cached is kept while the API
 * accepts it, and a new one is minted from the login's session only when
 * there is none or the API refused it: never one token per login.  For
 * cached re-authentication, the one cached is checked at the API right
 * then, so that a revoked token bites at once.
 */
#ifndef DURABLE_H
#define DURABLE_H

#include "helper.h"

struct durable_job;

/* `token`: the durable token to cache (secret; the callee owns it), or
 * NULL when none could be had.  That never fails the login: the reason is
 * logged here. */
typedef void (*durable_kept_fn)(void *ctx, char *token);

/* After a login of `user` with `session` (copied): keep or mint.  0 and
 * *job: `done` runs later from the loop, and *job is NULL again by then.
 * Otherwise an FR_ERR code at once, without a call (FR_ERR_UNEXPECTED:
 * the profile has no durable credential). */
int durable_keep(struct helper *h, const char *user, const char *session, durable_kept_fn done, void *ctx,
		 struct durable_job **job);

/* `result`: 0 when the API accepts the cached token now; FR_ERR_PERMISSION
 * when it refused it (the cache record was dropped, unless a new login
 * had replaced it meanwhile); FR_ERR_IO when the API could not tell. */
typedef void (*durable_checked_fn)(void *ctx, int result);

/* Check `user`'s cached durable token.  As durable_keep; also
 * FR_ERR_NOT_FOUND at once when nothing is cached. */
int durable_check(struct helper *h, const char *user, durable_checked_fn done, void *ctx, struct durable_job **job);

/* The owner is going away; NULL is fine; `done` will not run. */
void durable_cancel(struct helper *h, struct durable_job **job);

/* Drop `user`'s cache record if it still holds `token`: a newer login's
 * record stays.  0, or FR_ERR_NOT_FOUND when it moved on. */
int durable_forget(struct helper *h, const char *user, const char *token);

#endif
