/* The job pool (core/job_pool.h): root first, the per-uid share and the
 * non-root threads cap, cancel before and while a job runs, and results
 * reported only from the loop.  Real threads, a real loop; jobs block on
 * a gate the test opens. */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/job_pool.h"
#include "core/loop.h"
#include "fr_error.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int running_now, running_nonroot_now, max_nonroot_seen;
static int run_order;

struct probe {
	uid_t uid;
	bool blocks; /* waits for the gate */
	int ran;     /* order in which it ran (1-based), 0 if never */
	int done, discarded;
	bool done_inside_submit;
	struct pool_job *job;
};

static bool in_submit;

static void
gate_set(bool open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void
probe_run(void *arg)
{
	struct probe *pr = arg;

	pthread_mutex_lock(&gate_lock);
	pr->ran = ++run_order;
	running_now++;
	if (pr->uid != 0 && ++running_nonroot_now > max_nonroot_seen)
		max_nonroot_seen = running_nonroot_now;
	while (pr->blocks && !gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	running_now--;
	if (pr->uid != 0)
		running_nonroot_now--;
	pthread_mutex_unlock(&gate_lock);
}

static void
probe_done(void *arg)
{
	struct probe *pr = arg;

	pr->done++;
	pr->done_inside_submit |= in_submit;
}

static void
probe_discard(void *arg)
{
	struct probe *pr = arg;

	pr->discarded++;
}

static const struct pool_job_fns fns = { probe_run, probe_done, probe_discard };

static int
submit(struct job_pool *pool, struct probe *pr)
{
	in_submit = true;
	int r = job_pool_submit(pool, pr->uid, &fns, pr, &pr->job);
	in_submit = false;
	return r;
}

static void
reset(void)
{
	pthread_mutex_lock(&gate_lock);
	run_order = 0;
	max_nonroot_seen = 0;
	pthread_mutex_unlock(&gate_lock);
}

static int
started(const struct probe *pr)
{
	pthread_mutex_lock(&gate_lock);
	int ran = pr->ran;
	pthread_mutex_unlock(&gate_lock);
	return ran;
}

/* Run the loop until `n` of the probes are reported (done or discarded). */
static bool
pump(struct loop *loop, struct probe *p, int count, int n)
{
	for (int tries = 0; tries < 2000; tries++) {
		int reported = 0;
		for (int i = 0; i < count; i++)
			reported += p[i].done + p[i].discarded;
		if (reported >= n)
			return true;
		if (loop_run_once(loop, 10) != 0)
			return false;
	}
	return false;
}

static void
wait_started(const struct probe *pr)
{
	for (int i = 0; i < 2000 && started(pr) == 0; i++)
		usleep(1000);
}

/* One thread: a blocker holds it; then queued root and non-root jobs run
 * root first, whatever the order they came in. */
static void
test_root_first(struct loop *loop)
{
	struct job_pool_limits lim = {
		.threads = 1, .nonroot_threads = 1, .per_uid = 4, .queue_max = 16, .name = "test-pool"
	};
	struct job_pool *pool = NULL;
	struct probe p[4] = { { .uid = 0, .blocks = true }, { .uid = 1000 }, { .uid = 1001 }, { .uid = 0 } };

	reset();
	gate_set(false);
	CHECK(job_pool_new(loop, &lim, &pool) == FR_OK);
	CHECK(submit(pool, &p[0]) == FR_OK);
	wait_started(&p[0]);
	for (int i = 1; i < 4; i++)
		CHECK(submit(pool, &p[i]) == FR_OK);
	CHECK(job_pool_pending(pool) == 4);
	gate_set(true);
	CHECK(pump(loop, p, 4, 4));
	CHECK(p[0].ran == 1 && p[3].ran == 2 && p[1].ran == 3 && p[2].ran == 4);
	for (int i = 0; i < 4; i++) {
		CHECK(p[i].done == 1 && p[i].discarded == 0 && !p[i].done_inside_submit);
		CHECK(p[i].job == NULL);
	}
	CHECK(job_pool_pending(pool) == 0);
	job_pool_free(pool);
}

/* A non-root uid has per_uid jobs at most; the non-root queue has
 * queue_max; root has no share to exceed.  Finished jobs give theirs back. */
static void
test_shares(struct loop *loop)
{
	struct job_pool_limits lim = {
		.threads = 2, .nonroot_threads = 1, .per_uid = 2, .queue_max = 3, .name = "test-pool"
	};
	struct job_pool *pool = NULL;
	struct probe p[8];

	memset(p, 0, sizeof(p));
	for (int i = 0; i < 8; i++)
		p[i].blocks = true;
	reset();
	gate_set(false);
	CHECK(job_pool_new(loop, &lim, &pool) == FR_OK);
	p[0].uid = p[1].uid = p[2].uid = 1000;
	CHECK(submit(pool, &p[0]) == FR_OK);
	CHECK(submit(pool, &p[1]) == FR_OK);
	CHECK(submit(pool, &p[2]) == FR_ERR_TOO_LARGE && p[2].job == NULL);
	/* Another uid fills the non-root queue: p[0] runs, p[1], p[3], p[4]
	 * wait, and the queue is full for everyone but root. */
	wait_started(&p[0]);
	p[3].uid = p[4].uid = 1001;
	p[5].uid = 1002;
	CHECK(submit(pool, &p[3]) == FR_OK);
	CHECK(submit(pool, &p[4]) == FR_OK);
	CHECK(submit(pool, &p[5]) == FR_ERR_TOO_LARGE);
	p[6].uid = p[7].uid = 0;
	CHECK(submit(pool, &p[6]) == FR_OK);
	CHECK(submit(pool, &p[7]) == FR_OK);
	/* Non-root jobs ran on one thread at most: root's runs beside it. */
	wait_started(&p[6]);
	CHECK(started(&p[6]) != 0 && started(&p[1]) == 0);
	gate_set(true);
	CHECK(pump(loop, p, 8, 6));
	CHECK(max_nonroot_seen == 1);
	CHECK(p[2].done == 0 && p[5].done == 0);
	/* Given back: uid 1000 may have two again. */
	p[2].done = 0;
	CHECK(submit(pool, &p[2]) == FR_OK);
	CHECK(pump(loop, p, 8, 7));
	CHECK(p[2].done == 1);
	job_pool_free(pool);
}

/* Cancelled before it ran: it never runs and is discarded, from the loop.
 * Cancelled while it runs: it finishes, then is discarded, never done. */
static void
test_cancel(struct loop *loop)
{
	struct job_pool_limits lim = {
		.threads = 1, .nonroot_threads = 1, .per_uid = 4, .queue_max = 16, .name = "test-pool"
	};
	struct job_pool *pool = NULL;
	struct probe p[3] = { { .uid = 1000, .blocks = true }, { .uid = 1000 }, { .uid = 0 } };

	reset();
	gate_set(false);
	CHECK(job_pool_new(loop, &lim, &pool) == FR_OK);
	CHECK(submit(pool, &p[0]) == FR_OK);
	wait_started(&p[0]);
	CHECK(submit(pool, &p[1]) == FR_OK);
	job_pool_cancel(&p[1].job);
	CHECK(p[1].job == NULL && p[1].discarded == 0); /* not from inside the cancel */
	job_pool_cancel(&p[0].job);
	job_pool_cancel(&p[0].job); /* a second cancel is harmless */
	CHECK(pump(loop, p, 3, 1));
	CHECK(p[1].discarded == 1 && p[1].ran == 0);
	gate_set(true);
	CHECK(pump(loop, p, 3, 2));
	CHECK(p[0].ran == 1 && p[0].discarded == 1 && p[0].done == 0);
	/* The cancelled jobs gave their share back. */
	CHECK(job_pool_pending(pool) == 0);
	CHECK(submit(pool, &p[2]) == FR_OK);
	CHECK(pump(loop, p, 3, 3));
	CHECK(p[2].done == 1);
	job_pool_free(pool);
}

/* Freeing the pool with jobs queued and running: each is discarded once. */
static void
test_free_with_jobs(struct loop *loop)
{
	struct job_pool_limits lim = {
		.threads = 1, .nonroot_threads = 1, .per_uid = 4, .queue_max = 16, .name = "test-pool"
	};
	struct job_pool *pool = NULL;
	struct probe p[3] = { { .uid = 0, .blocks = true }, { .uid = 1000 }, { .uid = 0 } };

	reset();
	gate_set(false);
	CHECK(job_pool_new(loop, &lim, &pool) == FR_OK);
	for (int i = 0; i < 3; i++)
		CHECK(submit(pool, &p[i]) == FR_OK);
	wait_started(&p[0]);
	gate_set(true); /* the running one must be able to finish for the join */
	job_pool_free(pool);
	for (int i = 0; i < 3; i++)
		CHECK(p[i].done + p[i].discarded == 1 && p[i].job == NULL);
}

static void
test_bad_limits(struct loop *loop)
{
	struct job_pool *pool = NULL;
	struct job_pool_limits none = { .threads = 0, .nonroot_threads = 0, .per_uid = 1, .name = "x" };
	struct job_pool_limits over = { .threads = 2, .nonroot_threads = 3, .per_uid = 1, .name = "x" };

	CHECK(job_pool_new(loop, &none, &pool) == FR_ERR_INVALID && pool == NULL);
	CHECK(job_pool_new(loop, &over, &pool) == FR_ERR_INVALID && pool == NULL);
}

int
main(void)
{
	struct loop *loop = NULL;

	CHECK(loop_new(&loop) == FR_OK);
	test_root_first(loop);
	test_shares(loop);
	test_cancel(loop);
	test_free_with_jobs(loop);
	test_bad_limits(loop);
	loop_free(loop);
	return check_finish("test_job_pool");
}
