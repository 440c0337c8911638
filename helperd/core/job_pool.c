#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/caller_quota.h"
#include "core/job_pool.h"
#include "core/log.h"
#include "core/loop.h"
#include "fr_error.h"

struct pool_job {
	struct pool_job *next;
	struct job_pool *pool;
	uid_t caller;
	const struct pool_job_fns *fns;
	void *arg;
	struct pool_job **owner; /* the submitter's handle; NULL once cancelled */
	bool cancelled;
	bool queued; /* in a run queue (not yet taken by a thread) */
};

struct job_pool {
	struct loop_source src; /* eventfd: jobs finished or cancelled */
	struct loop *loop;
	struct job_pool_limits limits;
	pthread_mutex_t lock;
	pthread_cond_t work;
	/* Under the lock: the run queues (root callers' first), the finished
	 * jobs for the loop, the per-uid counts. */
	struct pool_job *root_head, *root_tail;
	struct pool_job *user_head, *user_tail;
	unsigned user_queued;
	unsigned user_running;
	unsigned pending;
	struct caller_quota *jobs_by_uid;
	struct pool_job *finished;
	bool stopping;
	unsigned nthreads;
	pthread_t threads[JOB_POOL_THREADS_MAX];
};

/* With the lock held: tell the loop there is something for it. */
static void
wake_loop(struct job_pool *p)
{
	const uint64_t one = 1;

	/* Failure leaves the job for the next wake-up or job_pool_free. */
	if (write(p->src.fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_err("cannot wake the event loop: %s", strerror(errno));
}

static void
push_finished(struct job_pool *p, struct pool_job *job)
{
	job->next = p->finished;
	p->finished = job;
	wake_loop(p);
}

static struct pool_job *
pop_queued(struct job_pool *p)
{
	struct pool_job *job;

	if (p->root_head != NULL) {
		job = p->root_head;
		if ((p->root_head = job->next) == NULL)
			p->root_tail = NULL;
	} else {
		job = p->user_head;
		if ((p->user_head = job->next) == NULL)
			p->user_tail = NULL;
		p->user_queued--;
	}
	job->next = NULL;
	job->queued = false;
	return job;
}

static void *
pool_thread(void *arg)
{
	struct job_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->root_head == NULL && !p->stopping &&
		       (p->user_head == NULL || p->user_running >= p->limits.nonroot_threads))
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		struct pool_job *job = pop_queued(p);
		if (job->caller != 0)
			p->user_running++;
		pthread_mutex_unlock(&p->lock);
		job->fns->run(job->arg);
		pthread_mutex_lock(&p->lock);
		if (job->caller != 0) {
			p->user_running--;
			/* A thread may be waiting for a non-root slot to free. */
			pthread_cond_signal(&p->work);
		}
		push_finished(p, job);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Loop thread: report each finished job to its owner, or discard it. */
static void
report_finished(struct job_pool *p)
{
	pthread_mutex_lock(&p->lock);
	struct pool_job *list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list != NULL) {
		struct pool_job *job = list;
		list = job->next;
		/* Read under the lock: a callback earlier in this list may have
		 * cancelled this one. */
		pthread_mutex_lock(&p->lock);
		bool cancelled = job->cancelled;
		caller_quota_give(p->jobs_by_uid, job->caller, QUOTA_LOGINS);
		p->pending--;
		pthread_mutex_unlock(&p->lock);
		if (cancelled) {
			job->fns->discard(job->arg);
		} else {
			*job->owner = NULL;
			job->fns->done(job->arg);
		}
		free(job);
	}
}

static void
on_wake(struct loop_source *src, uint32_t events)
{
	struct job_pool *p = (struct job_pool *)src;
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("job pool eventfd: %s", strerror(errno));
	report_finished(p);
}

int
job_pool_new(struct loop *loop, const struct job_pool_limits *limits, struct job_pool **out)
{
	struct job_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return FR_ERR_NOMEM;
	if (limits->threads == 0 || limits->threads > JOB_POOL_THREADS_MAX || limits->per_uid == 0 ||
	    limits->nonroot_threads == 0 || limits->nonroot_threads > limits->threads) {
		free(p);
		return FR_ERR_INVALID;
	}
	p->loop = loop;
	p->limits = *limits;
	p->src.on_event = on_wake;
	if ((p->src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(p);
		return FR_ERR_IO;
	}
	if (caller_quota_new(&p->jobs_by_uid) != 0 || pthread_mutex_init(&p->lock, NULL) != 0 ||
	    pthread_cond_init(&p->work, NULL) != 0 || loop_add(loop, &p->src, EPOLLIN) != 0) {
		caller_quota_free(p->jobs_by_uid);
		close(p->src.fd);
		free(p);
		return FR_ERR_IO;
	}
	while (p->nthreads < limits->threads && pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p) == 0)
		(void)pthread_setname_np(p->threads[p->nthreads++], limits->name);
	if (p->nthreads == 0) {
		/* Running the jobs on the loop instead would bring back the very
		 * stall this pool exists to prevent. */
		log_err("cannot start any %s thread", limits->name);
		job_pool_free(p);
		return FR_ERR_IO;
	}
	*out = p;
	return FR_OK;
}

void
job_pool_free(struct job_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	/* What no thread took yet is discarded with the finished jobs. */
	while (p->root_head != NULL || p->user_head != NULL) {
		struct pool_job *job = pop_queued(p);
		if (!job->cancelled && job->owner != NULL)
			*job->owner = NULL;
		job->cancelled = true;
		job->next = p->finished;
		p->finished = job;
	}
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		if (pthread_join(p->threads[i], NULL) != 0)
			log_err("cannot join a %s thread", p->limits.name);
	pthread_mutex_lock(&p->lock);
	for (struct pool_job *job = p->finished; job != NULL; job = job->next) {
		if (!job->cancelled && job->owner != NULL)
			*job->owner = NULL;
		job->cancelled = true;
	}
	pthread_mutex_unlock(&p->lock);
	report_finished(p);
	caller_quota_free(p->jobs_by_uid);
	loop_remove(p->loop, &p->src);
	close(p->src.fd);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int
job_pool_submit(struct job_pool *p, uid_t caller, const struct pool_job_fns *fns, void *arg, struct pool_job **handle)
{
	struct pool_job *job;

	*handle = NULL;
	pthread_mutex_lock(&p->lock);
	if (caller != 0 && (caller_quota_held(p->jobs_by_uid, caller, QUOTA_LOGINS) >= p->limits.per_uid ||
			    p->user_queued >= p->limits.queue_max)) {
		pthread_mutex_unlock(&p->lock);
		return FR_ERR_TOO_LARGE;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL || caller_quota_take(p->jobs_by_uid, caller, QUOTA_LOGINS) != 0) {
		pthread_mutex_unlock(&p->lock);
		free(job);
		return FR_ERR_NOMEM;
	}
	job->pool = p;
	job->caller = caller;
	job->fns = fns;
	job->arg = arg;
	job->owner = handle;
	job->queued = true;
	struct pool_job **head = caller == 0 ? &p->root_head : &p->user_head;
	struct pool_job **tail = caller == 0 ? &p->root_tail : &p->user_tail;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
	if (caller != 0)
		p->user_queued++;
	p->pending++;
	*handle = job;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return FR_OK;
}

/* With the lock held: take a queued job out of its run queue. */
static void
unqueue(struct job_pool *p, struct pool_job *job)
{
	struct pool_job **head = job->caller == 0 ? &p->root_head : &p->user_head;
	struct pool_job **tail = job->caller == 0 ? &p->root_tail : &p->user_tail;
	struct pool_job *prev = NULL;

	for (struct pool_job *j = *head; j != NULL; prev = j, j = j->next) {
		if (j != job)
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			*head = j->next;
		if (*tail == j)
			*tail = prev;
		if (job->caller != 0)
			p->user_queued--;
		job->next = NULL;
		job->queued = false;
		return;
	}
}

void
job_pool_cancel(struct pool_job **handle)
{
	struct pool_job *job = handle != NULL ? *handle : NULL;

	if (job == NULL)
		return;
	struct job_pool *p = job->pool;
	pthread_mutex_lock(&p->lock);
	job->cancelled = true;
	job->owner = NULL;
	/* Not started: it never runs, and is discarded from the loop. */
	if (job->queued) {
		unqueue(p, job);
		push_finished(p, job);
	}
	pthread_mutex_unlock(&p->lock);
	*handle = NULL;
}

unsigned
job_pool_pending(struct job_pool *p)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->pending;
	pthread_mutex_unlock(&p->lock);
	return n;
}
