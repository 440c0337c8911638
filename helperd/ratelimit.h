/*
 * Failed-login throttling in the helper, separate from the API's own 429s:
 * one counter per target user ("user:NAME") and one per non-root caller
 * ("uid:N").  After `threshold` failures a key must wait `delay` seconds
 * after its last failure, doubling with each further failure (capped).
 * A success clears the key.  The table survives restarts in
 * cache_dir/.ratelimit (user cache files never start with '.'), replaced
 * atomically on every change.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_FILE		".ratelimit"
#define RATELIMIT_MAX_ENTRIES	4096
#define RATELIMIT_MAX_DELAY	3600	/* seconds: the cap of the doubling */
#define RATELIMIT_WINDOW	900	/* failures older than this (past any wait) are forgotten */
#define RATELIMIT_KEY_MAX	160

struct ratelimit;

/* dir: the cache folder (already checked by token_cache_open); NULL keeps
 * the table in memory only.  A corrupt or untrusted state file is logged
 * and ignored. */
int ratelimit_open(const char *dir, struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);

/* Seconds `key` must still wait at wall-clock time `now`; 0: allowed. */
unsigned ratelimit_wait(struct ratelimit *rl, const char *key, unsigned threshold, unsigned delay,
			int64_t now);
void ratelimit_failure(struct ratelimit *rl, const char *key, int64_t now);
void ratelimit_success(struct ratelimit *rl, const char *key, int64_t now);

/* Pure: seconds to wait after the last of `failures` failures. */
unsigned ratelimit_delay_for(unsigned failures, unsigned threshold, unsigned delay);

/* Pure halves of the state file, unit-tested and fuzzed.  Lines are
 * "KEY FAILURES LAST_FAILURE_UNIX\n".  `visit` sees each valid line; a
 * malformed file is FR_ERR_INVALID and nothing after the bad line is
 * visited. */
typedef int (*ratelimit_visit_fn)(void *ctx, const char *key, unsigned failures, int64_t last);
int ratelimit_decode(const char *buf, size_t len, ratelimit_visit_fn visit, void *ctx);
/* Key syntax: "user:" + a valid user name, or "uid:" + decimal digits. */
int ratelimit_key_valid(const char *key);

#endif
