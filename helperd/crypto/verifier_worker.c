#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <crypt.h>

#include "core/caller_quota.h"
#include "fr_error.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/secret.h"
#include "hostlib/user_name.h"
#include "crypto/verifier.h"
#include "crypto/verifier_worker.h"

/* yescrypt is CPU-bound: one thread per core, up to this many. */
#define VERIFIER_THREADS_MAX 4
/* A non-root caller may have this many hashes queued or running: about
 * 13 ms of CPU each, and a screen locker needs one at a time. */
#define VERIFIER_JOBS_PER_UID 2
/* Non-root jobs waiting at most, all uids together: beyond, a check is
 * declined (the login goes on without the cached path). */
#define VERIFIER_USER_QUEUE_MAX 64

enum job_owner {
	JOB_OWNED,	/* the login will take the result */
	JOB_HANDED_OFF, /* the result goes into the cache */
	JOB_CALLBACK,	/* a check: `done` runs from the loop */
	JOB_CANCELLED,	/* nobody wants it */
};

/* `done` and `owner` change under the worker's lock only: the thread sets
 * done, the loop sets owner.  A job done while not JOB_OWNED goes onto the
 * finished list, which on_finished empties; a done JOB_OWNED job (a made
 * verifier nobody has taken yet) belongs to its owner.  Once done, an
 * owned job stays owned and the others never become owned. */
struct verifier_job {
	struct verifier_job *next; /* in the queue or the finished list */
	struct verifier_worker *worker;
	char *password; /* secret; wiped once used */
	char *verifier; /* made: the result (NULL if that failed); checked: the input */
	bool check;	/* check password against verifier, not make one */
	bool match;	/* a check's result */
	bool done;
	enum job_owner owner;
	char user[USER_NAME_MAX + 1]; /* for a hand-off */
	long long last_login;
	uid_t caller; /* who asked: root callers' jobs go first */
	verifier_check_fn on_checked;
	void *ctx;
};

struct verifier_worker {
	struct loop_source src; /* eventfd: hand-offs or cancels finished */
	struct loop *loop;
	verifier_ready_fn ready;
	void *ready_ctx;
	pthread_mutex_t lock;
	pthread_cond_t work;
	/* Waiting for a thread: root callers' jobs, then everyone else's. */
	struct verifier_job *root_head, *root_tail;
	struct verifier_job *user_head, *user_tail;
	unsigned user_queued;
	struct caller_quota *jobs_by_uid;	       /* queued or running, under the lock */
	char dummy_setting[CRYPT_GENSALT_OUTPUT_SIZE]; /* see verifier_check_start */
	struct verifier_job *finished;		       /* done while not owned: for the loop */
	bool stopping;
	bool threaded; /* false: the work is done in the *_start calls */
	unsigned nthreads;
	pthread_t threads[VERIFIER_THREADS_MAX];
};

static void
job_free(struct verifier_job *job)
{
	secret_free(job->password);
	free(job->verifier);
	free(job);
}

/* Loop thread: a handed-off verifier goes where the owner of the worker
 * said. */
static void
job_apply(struct verifier_worker *w, struct verifier_job *job)
{
	if (job->verifier != NULL)
		w->ready(w->ready_ctx, job->user, job->last_login, &job->verifier);
}

static void
run_job(struct verifier_job *job)
{
	if (job->check) {
		job->match = verifier_check(job->verifier, job->password);
	} else {
		job->verifier = verifier_make(job->password);
		if (job->verifier == NULL)
			log_err("cannot make a password verifier; cached re-authentication and offline "
				"login will not know this password");
	}
	secret_free(job->password);
	job->password = NULL;
}

/* Called with the lock held, once the job's work is done. */
static void
mark_done(struct verifier_worker *w, struct verifier_job *job)
{
	const uint64_t one = 1;

	caller_quota_give(w->jobs_by_uid, job->caller, QUOTA_LOGINS);
	job->done = true;
	if (job->owner == JOB_OWNED)
		return;
	job->next = w->finished;
	w->finished = job;
	/* Failure leaves the job for the next wake-up or verifier_worker_free. */
	if (write(w->src.fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_err("cannot wake the event loop: %s", strerror(errno));
}

static void *
worker_main(void *arg)
{
	struct verifier_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->root_head == NULL && w->user_head == NULL && !w->stopping)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->stopping)
			break;
		struct verifier_job *job;
		if (w->root_head != NULL) {
			job = w->root_head;
			if ((w->root_head = job->next) == NULL)
				w->root_tail = NULL;
		} else {
			job = w->user_head;
			if ((w->user_head = job->next) == NULL)
				w->user_tail = NULL;
			w->user_queued--;
		}
		job->next = NULL;
		bool wanted = job->owner != JOB_CANCELLED;
		pthread_mutex_unlock(&w->lock);
		if (wanted)
			run_job(job);
		pthread_mutex_lock(&w->lock);
		mark_done(w, job);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void
on_finished(struct loop_source *src, uint32_t events)
{
	struct verifier_worker *w = (struct verifier_worker *)src;
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("verifier eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	struct verifier_job *list = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list != NULL) {
		struct verifier_job *job = list;
		list = job->next;
		/* Read under the lock: a cancel from a callback earlier in this
		 * list may have changed it. */
		pthread_mutex_lock(&w->lock);
		enum job_owner owner = job->owner;
		pthread_mutex_unlock(&w->lock);
		if (owner == JOB_HANDED_OFF)
			job_apply(w, job);
		else if (owner == JOB_CALLBACK)
			job->on_checked(job->ctx, job->match);
		job_free(job);
	}
}

int
verifier_worker_new(struct loop *loop, verifier_ready_fn ready, void *ready_ctx, struct verifier_worker **out)
{
	struct verifier_worker *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL)
		return FR_ERR_NOMEM;
	w->loop = loop;
	w->ready = ready;
	w->ready_ctx = ready_ctx;
	w->src.on_event = on_finished;
	if ((w->src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(w);
		return FR_ERR_IO;
	}
	if (loop_add(loop, &w->src, EPOLLIN) != 0) {
		close(w->src.fd);
		free(w);
		return FR_ERR_IO;
	}
	/* The setting of a yescrypt hash with a random salt and the cost our
	 * verifiers have: hashing a password with it costs what checking a
	 * real verifier costs, and matches nothing. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, w->dummy_setting, (int)sizeof(w->dummy_setting)) == NULL ||
	    caller_quota_new(&w->jobs_by_uid) != 0 || pthread_mutex_init(&w->lock, NULL) != 0 ||
	    pthread_cond_init(&w->work, NULL) != 0) {
		caller_quota_free(w->jobs_by_uid);
		loop_remove(loop, &w->src);
		close(w->src.fd);
		free(w);
		return FR_ERR_NOMEM;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cores < 1 ? 1 : cores > VERIFIER_THREADS_MAX ? VERIFIER_THREADS_MAX : (unsigned)cores;
	while (w->nthreads < want && pthread_create(&w->threads[w->nthreads], NULL, worker_main, w) == 0)
		(void)pthread_setname_np(w->threads[w->nthreads++], "freddy-verifier");
	/* Without a thread the work is still done, on the loop. */
	w->threaded = w->nthreads > 0;
	if (!w->threaded)
		log_warn("no verifier thread; password verifiers are made and checked on the event loop");
	*out = w;
	return FR_OK;
}

void
verifier_worker_free(struct verifier_worker *w)
{
	if (w == NULL)
		return;
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->lock);
		for (unsigned i = 0; i < w->nthreads; i++)
			if (pthread_join(w->threads[i], NULL) != 0)
				log_err("cannot join a verifier thread");
	}
	/* Hand-offs already made still reach the cache; the rest is lost. */
	on_finished(&w->src, EPOLLIN);
	for (struct verifier_job **head = &w->root_head;; head = &w->user_head) {
		while (*head != NULL) {
			struct verifier_job *job = *head;
			*head = job->next;
			job_free(job);
		}
		if (head == &w->user_head)
			break;
	}
	caller_quota_free(w->jobs_by_uid);
	loop_remove(w->loop, &w->src);
	close(w->src.fd);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static struct verifier_job *
job_new(struct verifier_worker *w, const char *password, uid_t caller, enum job_owner owner)
{
	struct verifier_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	if ((job->password = secret_strdup(password)) == NULL) {
		free(job);
		return NULL;
	}
	job->worker = w;
	job->owner = owner;
	job->caller = caller;
	return job;
}

/* To the threads; without them, done here (a check is still reported from
 * the loop, never from inside the *_start calls).  FR_ERR_TOO_LARGE: the
 * caller has its share of jobs, or the queue of non-root jobs is full;
 * the job is not taken (the caller frees it). */
static int
submit(struct verifier_worker *w, struct verifier_job *job)
{
	pthread_mutex_lock(&w->lock);
	if (job->caller != 0 &&
	    (caller_quota_held(w->jobs_by_uid, job->caller, QUOTA_LOGINS) >= VERIFIER_JOBS_PER_UID ||
	     w->user_queued >= VERIFIER_USER_QUEUE_MAX)) {
		pthread_mutex_unlock(&w->lock);
		return FR_ERR_TOO_LARGE;
	}
	if (caller_quota_take(w->jobs_by_uid, job->caller, QUOTA_LOGINS) != 0) {
		pthread_mutex_unlock(&w->lock);
		return FR_ERR_NOMEM;
	}
	if (!w->threaded) {
		pthread_mutex_unlock(&w->lock);
		run_job(job);
		pthread_mutex_lock(&w->lock);
		mark_done(w, job);
		pthread_mutex_unlock(&w->lock);
		return FR_OK;
	}
	struct verifier_job **head = job->caller == 0 ? &w->root_head : &w->user_head;
	struct verifier_job **tail = job->caller == 0 ? &w->root_tail : &w->user_tail;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
	if (job->caller != 0)
		w->user_queued++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	return FR_OK;
}

int
verifier_job_start(struct verifier_worker *w, const char *password, uid_t caller, struct verifier_job **out)
{
	struct verifier_job *job = job_new(w, password, caller, JOB_OWNED);
	int r;

	*out = NULL;
	if (job == NULL)
		return FR_ERR_NOMEM;
	if ((r = submit(w, job)) != FR_OK) {
		job_free(job);
		return r;
	}
	*out = job;
	return FR_OK;
}

int
verifier_check_start(struct verifier_worker *w, const char *verifier, const char *password, uid_t caller,
		     verifier_check_fn done, void *ctx, struct verifier_job **out)
{
	struct verifier_job *job = job_new(w, password, caller, JOB_CALLBACK);
	int r;

	*out = NULL;
	if (job == NULL)
		return FR_ERR_NOMEM;
	if ((job->verifier = strdup(verifier != NULL ? verifier : w->dummy_setting)) == NULL) {
		job_free(job);
		return FR_ERR_NOMEM;
	}
	job->check = true;
	job->on_checked = done;
	job->ctx = ctx;
	if ((r = submit(w, job)) != FR_OK) {
		job_free(job);
		return r;
	}
	*out = job;
	return FR_OK;
}

char *
verifier_job_take(struct verifier_job **jobp)
{
	struct verifier_job *job = *jobp;

	if (job == NULL)
		return NULL;
	pthread_mutex_lock(&job->worker->lock);
	bool done = job->done;
	pthread_mutex_unlock(&job->worker->lock);
	if (!done)
		return NULL;
	char *verifier = job->verifier;
	job->verifier = NULL;
	job_free(job);
	*jobp = NULL;
	return verifier;
}

void
verifier_job_hand_off(struct verifier_job **jobp, const char *user, long long last_login)
{
	struct verifier_job *job = *jobp;

	if (job == NULL)
		return;
	*jobp = NULL;
	if (!user_name_valid(user)) {
		verifier_job_cancel(&job);
		return;
	}
	memcpy(job->user, user, strlen(user) + 1);
	job->last_login = last_login;
	pthread_mutex_lock(&job->worker->lock);
	bool done = job->done;
	if (!done)
		job->owner = JOB_HANDED_OFF; /* the thread passes it to on_finished */
	pthread_mutex_unlock(&job->worker->lock);
	if (done) {
		job_apply(job->worker, job);
		job_free(job);
	}
}

void
verifier_job_cancel(struct verifier_job **jobp)
{
	struct verifier_job *job = *jobp;

	if (job == NULL)
		return;
	*jobp = NULL;
	pthread_mutex_lock(&job->worker->lock);
	bool ours = job->done && job->owner == JOB_OWNED;
	if (!ours)
		job->owner = JOB_CANCELLED; /* on_finished frees it */
	pthread_mutex_unlock(&job->worker->lock);
	if (ours)
		job_free(job);
}
