#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <crypt.h>

#include "core/job_pool.h"
#include "core/log.h"
#include "core/secret.h"
#include "crypto/verifier.h"
#include "crypto/verifier_worker.h"
#include "fr_error.h"
#include "hostlib/user_name.h"

/* yescrypt is CPU-bound: one thread per core, up to this many. */
#define VERIFIER_THREADS_MAX 4
/* A non-root caller may have this many hashes queued or running: about
 * 13 ms of CPU each, and a screen locker needs one at a time. */
#define VERIFIER_JOBS_PER_UID 2
/* Non-root jobs waiting at most, all uids together: beyond, a check is
 * declined (the login goes on without the cached path). */
#define VERIFIER_USER_QUEUE_MAX 64

/* What the loop does with a job once the pool reports it (job_pool.h
 * runs the hash on a thread and reports on the loop; everything below is
 * the loop's alone, so it needs no lock). */
enum job_owner {
	JOB_OWNED,	/* the login will take the result */
	JOB_HANDED_OFF, /* the result goes to the worker's `ready` */
	JOB_CALLBACK,	/* a check: `on_checked` runs */
};

struct verifier_job {
	struct verifier_worker *worker;
	struct pool_job *pool_job; /* NULL once reported */
	char *password;		   /* secret; wiped once used */
	char *verifier;		   /* made: the result (NULL if that failed); checked: the input */
	bool check;		   /* check password against verifier, not make one */
	bool match;		   /* a check's result */
	bool done;		   /* reported by the pool */
	enum job_owner owner;
	char user[USER_NAME_MAX + 1]; /* for a hand-off */
	long long last_login;
	verifier_check_fn on_checked;
	void *ctx;
};

struct verifier_worker {
	struct job_pool *pool;
	verifier_ready_fn ready;
	void *ready_ctx;
	char dummy_setting[CRYPT_GENSALT_OUTPUT_SIZE]; /* see verifier_check_start */
};

static void
job_free(struct verifier_job *job)
{
	secret_free(job->password);
	free(job->verifier);
	free(job);
}

/* On a pool thread. */
static void
job_run(void *arg)
{
	struct verifier_job *job = arg;

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

/* A handed-off verifier goes where the owner of the worker said. */
static void
job_apply(struct verifier_job *job)
{
	if (job->verifier != NULL)
		job->worker->ready(job->worker->ready_ctx, job->user, job->last_login, &job->verifier);
}

static void
job_done(void *arg)
{
	struct verifier_job *job = arg;

	job->done = true;
	switch (job->owner) {
	case JOB_OWNED:
		return; /* verifier_job_take or _cancel frees it */
	case JOB_HANDED_OFF:
		job_apply(job);
		break;
	case JOB_CALLBACK:
		job->on_checked(job->ctx, job->match);
		break;
	}
	job_free(job);
}

static void
job_discard(void *arg)
{
	job_free(arg);
}

static const struct pool_job_fns verifier_fns = { job_run, job_done, job_discard };

int
verifier_worker_new(struct loop *loop, verifier_ready_fn ready, void *ready_ctx, struct verifier_worker **out)
{
	struct verifier_worker *w = calloc(1, sizeof(*w));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cores < 1 ? 1 : cores > VERIFIER_THREADS_MAX ? VERIFIER_THREADS_MAX : (unsigned)cores;
	/* CPU-bound and short: root's jobs jump the queue, which is enough;
	 * keeping threads free for root would leave cores idle in a storm. */
	struct job_pool_limits limits = {
		.threads = threads,
		.nonroot_threads = threads,
		.per_uid = VERIFIER_JOBS_PER_UID,
		.queue_max = VERIFIER_USER_QUEUE_MAX,
		.name = "freddy-verifier",
	};
	int r;

	*out = NULL;
	if (w == NULL)
		return FR_ERR_NOMEM;
	w->ready = ready;
	w->ready_ctx = ready_ctx;
	/* The setting of a yescrypt hash with a random salt and the cost our
	 * verifiers have: hashing a password with it costs what checking a
	 * real verifier costs, and matches nothing. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, w->dummy_setting, (int)sizeof(w->dummy_setting)) == NULL) {
		free(w);
		return FR_ERR_INTERNAL;
	}
	if ((r = job_pool_new(loop, &limits, &w->pool)) != FR_OK) {
		free(w);
		return r;
	}
	*out = w;
	return FR_OK;
}

void
verifier_worker_free(struct verifier_worker *w)
{
	if (w == NULL)
		return;
	/* Jobs made but not yet reported are dropped, their passwords wiped;
	 * the loop owns what was reported (an owned, untaken verifier). */
	job_pool_free(w->pool);
	free(w);
}

static struct verifier_job *
job_new(struct verifier_worker *w, const char *password, enum job_owner owner)
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
	return job;
}

static int
submit(struct verifier_worker *w, struct verifier_job *job, uid_t caller, struct verifier_job **out)
{
	int r = job_pool_submit(w->pool, caller, &verifier_fns, job, &job->pool_job);

	if (r != FR_OK) {
		job_free(job);
		return r;
	}
	*out = job;
	return FR_OK;
}

int
verifier_job_start(struct verifier_worker *w, const char *password, uid_t caller, struct verifier_job **out)
{
	struct verifier_job *job = job_new(w, password, JOB_OWNED);

	*out = NULL;
	if (job == NULL)
		return FR_ERR_NOMEM;
	return submit(w, job, caller, out);
}

int
verifier_check_start(struct verifier_worker *w, const char *verifier, const char *password, uid_t caller,
		     verifier_check_fn done, void *ctx, struct verifier_job **out)
{
	struct verifier_job *job = job_new(w, password, JOB_CALLBACK);

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
	return submit(w, job, caller, out);
}

char *
verifier_job_take(struct verifier_job **jobp)
{
	struct verifier_job *job = *jobp;

	if (job == NULL || !job->done)
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
	if (job->done) {
		job_apply(job);
		job_free(job);
		return;
	}
	job->owner = JOB_HANDED_OFF; /* job_done applies it */
}

void
verifier_job_cancel(struct verifier_job **jobp)
{
	struct verifier_job *job = *jobp;

	if (job == NULL)
		return;
	*jobp = NULL;
	if (job->done) {
		job_free(job);
		return;
	}
	job_pool_cancel(&job->pool_job); /* job_discard frees it */
}
