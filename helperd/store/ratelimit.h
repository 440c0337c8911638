/*
 * Failed-login throttling in the helper, separate from the API's own 429s.
 *
 * A key is one budget: "user:NAME" for everything aimed at a user, from
 * anywhere; "from:NAME/ORIGIN" for what one origin aims at that user (a
 * root caller's PAM_RHOST, PAM_RUSER or tty); "uid:N" for a non-root
 * caller.  After `threshold` failures a key waits `delay` seconds after
 * its last failure, doubling with each further failure up to the policy's
 * cap.  A password attempt reserves its keys before the password goes to
 * the API: a reservation counts as a failure until the attempt ends, so
 * parallel guesses cannot all pass the check before one is counted.  It
 * becomes a failure, is released (no verdict: the API was unreachable, the
 * person left) or is cleared by a success.
 *
 * Keys still inside their delay or with an attempt in flight are never
 * evicted to make room: a full table refuses a new key instead.  The
 * table survives restarts in cache_dir/.ratelimit, written at most once a
 * second by the state writer thread (never on the event loop).
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_FILE	      ".ratelimit"
#define RATELIMIT_MAX_ENTRIES 16384
#define RATELIMIT_MAX_DELAY   3600 /* seconds: the cap of an origin's or caller's doubling */
#define RATELIMIT_WINDOW      900  /* failures older than this (past any wait) are forgotten */
#define RATELIMIT_KEY_MAX     255
#define RATELIMIT_ORIGIN_MAX  80 /* longer or odd origins are hashed */

struct loop;
struct ratelimit;
struct state_writer;

struct ratelimit_policy {
	unsigned threshold; /* failures before delays start */
	unsigned delay;	    /* the first delay, seconds */
	unsigned max_delay; /* the cap of the doubling, seconds */
};

/* `writer` NULL (or dirfd < 0): in memory only.  With a `loop`, a change
 * is written a second later (off the loop, by the writer); without one
 * only ratelimit_save_now and ratelimit_free write.  A corrupt or untrusted
 * state file is logged and ignored.  `threshold` and `delay` (the
 * configured rate_limit_failures and rate_limit_delay) say which keys are
 * inside a delay and may not be evicted; ratelimit_configure changes them
 * on a reload. */
int ratelimit_open(struct loop *loop, int dirfd, struct state_writer *writer, unsigned threshold, unsigned delay,
		   struct ratelimit **out);
void ratelimit_configure(struct ratelimit *rl, unsigned threshold, unsigned delay);
void ratelimit_free(struct ratelimit *rl);

/* Seconds `key` must still wait at wall-clock time `now` (counting attempts
 * in flight); 0: allowed. */
unsigned ratelimit_wait(struct ratelimit *rl, const char *key, const struct ratelimit_policy *p, int64_t now);
/* Reserve one attempt on `key`: 0 when reserved, else the seconds to wait
 * and nothing reserved.  When the table is full of keys that may not be
 * evicted, the answer is `p->max_delay`: untracked attempts are refused. */
unsigned ratelimit_reserve(struct ratelimit *rl, const char *key, const struct ratelimit_policy *p, int64_t now);
/* End a reservation as a failure, or with no verdict (release it; a
 * success releases, then clears). */
void ratelimit_commit_failure(struct ratelimit *rl, const char *key, int64_t now);
void ratelimit_release(struct ratelimit *rl, const char *key);
/* A success: the key's failures are forgotten (attempts still in flight
 * stay reserved). */
void ratelimit_success(struct ratelimit *rl, const char *key, int64_t now);
/* A failure with no reservation before it (a refused caller, an abandoned
 * login of a non-root caller). */
void ratelimit_failure(struct ratelimit *rl, const char *key, int64_t now);

/* Write the table now if it changed (the writer is asynchronous). */
void ratelimit_save_now(struct ratelimit *rl, int64_t now);

/* Pure: seconds to wait after `failures` failures under policy `p`. */
unsigned ratelimit_delay_for(unsigned failures, const struct ratelimit_policy *p);

/* Pure: the key of what `origin` (e.g. "rhost=192.0.2.7") aims at `user`,
 * into out[RATELIMIT_KEY_MAX + 1].  Origins that are long or hold other
 * characters than [A-Za-z0-9.:_@=-] become a SHA-256 prefix, so the key
 * stays one word of the state file and distinct origins stay distinct. */
int ratelimit_origin_key(char *out, size_t outlen, const char *user, const char *origin);

/* Pure halves of the state file, unit-tested and fuzzed.  Lines are
 * "KEY FAILURES LAST_FAILURE_UNIX\n".  `visit` sees each valid line; a
 * malformed file is FR_ERR_INVALID and nothing after the bad line is
 * visited. */
typedef int (*ratelimit_visit_fn)(void *ctx, const char *key, unsigned failures, int64_t last);
int ratelimit_decode(const char *buf, size_t len, ratelimit_visit_fn visit, void *ctx);
/* Key syntax: "user:" + a valid user name, "uid:" + decimal digits, or
 * "from:" + a valid user name + "/" + an origin of [A-Za-z0-9.:_@=-]. */
bool ratelimit_key_valid(const char *key);

#endif
