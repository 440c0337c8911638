/*
 * Refreshing a user's cached access token at the API, coalesced: while a
 * refresh for a user is in flight, further requests for that user wait
 * for its answer instead of sending their own (ten concurrent
 * `freddyctl token` calls make one request).  The event loop is
 * single-threaded, so a list of waiters per user needs no lock.
 */
#ifndef TOKEN_REFRESH_H
#define TOKEN_REFRESH_H

#include "helper.h"
#include "store/token_cache.h"

/* The request and reply of a refresh are the profile's (api/profile.h:
 * struct profile_refresh); this file is the coalescing and the cache. */

struct refresh_table;
struct refresh_waiter;

/*
 * `result`: 0 with `rec` holding the refreshed record (valid during the
 * call only); FR_ERR_PERMISSION when the API refused the refresh token
 * (a 4xx other than 429: revoked or expired; the cache entry is dropped);
 * FR_ERR_IO when the API could not be asked or failed (unreachable, TLS,
 * 5xx, 429, a malformed reply).  `rec` is NULL unless result is 0.
 */
typedef void (*refresh_done_fn)(void *ctx, int result, const struct cache_record *rec);

int refresh_table_new(struct refresh_table **out);
/* Cancels transfers in flight; no callback runs. */
void refresh_table_free(struct refresh_table *t);
unsigned refresh_in_flight(const struct refresh_table *t);

/*
 * Refresh `user`'s cached token, joining a refresh already in flight.
 * Returns 0 and *out set: `done` runs later (unless cancelled).
 * Otherwise returns at once without calling `done`: FR_ERR_NOT_FOUND (no
 * cached record), FR_ERR_UNEXPECTED (this API has no refresh), FR_ERR_IO,
 * FR_ERR_NOMEM.
 */
int refresh_start(struct helper *h, const char *user, refresh_done_fn done, void *ctx, struct refresh_waiter **out);
/* Forget a waiter whose owner is going away; NULL is fine. */
void refresh_cancel(struct helper *h, struct refresh_waiter *w);

#endif
