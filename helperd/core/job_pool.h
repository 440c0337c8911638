/*
 * Blocking work off the event loop: a few threads that run jobs the loop
 * must not wait for (an NSS lookup can take as long as an LDAP server
 * does), each job's result reported back on the loop.
 *
 * Shared capacity is accounted per caller, as everywhere in the helper:
 * root callers' jobs (sshd, sudo, su, login) run before anyone else's and
 * have threads non-root jobs never take (non-root jobs run on at most
 * `nonroot_threads` at once); a non-root uid may have `per_uid` jobs
 * queued or running, and non-root jobs waiting are `queue_max` at most,
 * so that no local user can fill the threads others need.
 */
#ifndef JOB_POOL_H
#define JOB_POOL_H

#include <stdbool.h>
#include <sys/types.h>

struct loop;
struct job_pool;
struct pool_job;

struct job_pool_limits {
	unsigned threads;	  /* 1..JOB_POOL_THREADS_MAX */
	unsigned nonroot_threads; /* 1..threads: running non-root jobs at most */
	unsigned per_uid;	  /* jobs of one non-root uid, queued or running */
	unsigned queue_max;	  /* non-root jobs waiting, all uids */
	const char *name;	  /* thread name, at most 15 bytes */
};

#define JOB_POOL_THREADS_MAX 8

/* `run` on a pool thread; then `done` on the loop, once.  `discard`
 * instead of `done` when the job was cancelled or the pool is freed first;
 * it runs on the loop too and frees what `arg` holds.  Neither runs from
 * inside job_pool_submit or job_pool_cancel. */
struct pool_job_fns {
	void (*run)(void *arg);
	void (*done)(void *arg);
	void (*discard)(void *arg);
};

int job_pool_new(struct loop *loop, const struct job_pool_limits *limits, struct job_pool **out);
/* Stops and joins the threads; every job not reported yet is discarded. */
void job_pool_free(struct job_pool *pool);

/* FR_OK and *handle (NULL again once `done` or `discard` ran), or
 * FR_ERR_TOO_LARGE: the caller has its share, or the non-root queue is
 * full (nothing was taken); FR_ERR_NOMEM. */
int job_pool_submit(struct job_pool *pool, uid_t caller, const struct pool_job_fns *fns, void *arg,
		    struct pool_job **handle);
/* The owner no longer wants the result: `discard` runs later instead of
 * `done` (a running job finishes first: a thread cannot be interrupted
 * inside NSS).  *handle is NULL after; NULL is fine. */
void job_pool_cancel(struct pool_job **handle);

/* Jobs queued or running. */
unsigned job_pool_pending(struct job_pool *pool);

#endif
