/*
 * Password verifiers made and checked off the event loop.  yescrypt costs
 * about 13 ms of CPU by design; on the loop, a storm of 200 logins with
 * cached re-authentication or offline login on waited 3 s for one
 * another.  A thread makes them instead, while the user reads the mail
 * and types the code, and the login takes the result when it stores its
 * tokens.  When the login is faster than the hash, the verifier is written
 * into the user's cache record once it is ready.  The thread also checks a
 * password against a cached verifier for cached re-authentication, and
 * reports back through the loop.  The threads, the root-first queue and
 * the per-uid share are core/job_pool.h's.
 */
#ifndef VERIFIER_WORKER_H
#define VERIFIER_WORKER_H

#include <stdbool.h>
#include <sys/types.h>

struct loop;
struct verifier_worker;
struct verifier_job;

/* A handed-off verifier is ready (verifier_job_hand_off): `ready` runs on
 * the loop with the user and last_login given there, and takes
 * *verifier (it frees it, or keeps it and sets *verifier to NULL).  The
 * worker knows no cache: the composition root says where it goes. */
typedef void (*verifier_ready_fn)(void *ctx, const char *user, long long last_login, char **verifier);

/* The worker thread and the eventfd through which it reports to `loop`. */
int verifier_worker_new(struct loop *loop, verifier_ready_fn ready, void *ready_ctx, struct verifier_worker **out);
/* Stops the threads; jobs not yet reported to the loop are dropped, their
 * passwords wiped. */
void verifier_worker_free(struct verifier_worker *w);

/* Start making the verifier of `password` (copied; the copy is wiped once
 * hashed) for a login of caller uid `caller`.  Root callers' jobs run
 * before everyone else's; a non-root uid may have two jobs queued or
 * running, and the non-root queue is bounded: FR_ERR_TOO_LARGE then, so
 * that no local user can make the root helper hash at full speed for them
 * while others wait.  0 and *job, or an FR_ERR code. */
int verifier_job_start(struct verifier_worker *w, const char *password, uid_t caller, struct verifier_job **job);
/* The verifier if it is ready ("$y$…", the caller frees it, and the job is
 * gone: *job is set to NULL), or NULL while it is still being made (ready
 * means reported on the loop: a pass after the thread finished). */
char *verifier_job_take(struct verifier_job **job);
/* The owner will not wait: once ready, the verifier goes to the worker's
 * `ready` callback with `user` and `last_login`.  *job is set to NULL. */
void verifier_job_hand_off(struct verifier_job **job, const char *user, long long last_login);
/* The login is over without a use for it (a made verifier or a check in
 * progress; a check's callback will not run).  *job is set to NULL. */
void verifier_job_cancel(struct verifier_job **job);

/* Check `password` against `verifier` (both copied) on the thread; `done`
 * runs later from the loop with the result, unless the job is cancelled
 * first.  `verifier` NULL: a check that costs what a real one costs and
 * never matches, so that whether a user has a verifier does not show in
 * how long a wrong password takes.  Limits as for verifier_job_start.
 * 0 and *job, or an FR_ERR code. */
typedef void (*verifier_check_fn)(void *ctx, bool match);
int verifier_check_start(struct verifier_worker *w, const char *verifier, const char *password, uid_t caller,
			 verifier_check_fn done, void *ctx, struct verifier_job **job);

#endif
