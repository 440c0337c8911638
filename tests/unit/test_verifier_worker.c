/* Verifiers made and checked on the worker thread (verifier_worker.c),
 * with the real event loop and token cache: taken by the login when ready,
 * handed off into the cache record when the login is faster than the
 * hash, dropped when the record changed or the login was cancelled; and
 * checks reported from the loop, or not at all once cancelled. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "core/log.h"
#include "core/loop.h"
#include "store/token_cache.h"
#include "crypto/verifier.h"
#include "crypto/verifier_worker.h"

#define PASSWORD "Correct-Horse-1"

/* Where the worker's hand-offs go in the helper (auth/login.c does the
 * same with the helper's cache). */
static void
into_cache(void *ctx, const char *user, long long last_login, char **verifier)
{
	(void)token_cache_add_verifier(ctx, user, last_login, verifier);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
store_record(struct token_cache *cache, const char *user, long long last_login)
{
	struct cache_record rec = { .refresh_token = "refresh-1", .last_login = last_login };

	CHECK(token_cache_store(cache, user, &rec) == 0);
}

/* The verifier of `user`'s record, or NULL; the caller frees it. */
static char *
stored_verifier(struct token_cache *cache, const char *user)
{
	struct cache_record rec;
	char *v = NULL;

	if (token_cache_load(cache, user, &rec) != 0)
		return NULL;
	if (rec.verifier != NULL)
		v = strdup(rec.verifier);
	cache_record_wipe(&rec);
	return v;
}

/* Runs the loop until `user`'s record has a verifier, for up to 10 s. */
static char *
wait_for_verifier(struct loop *loop, struct token_cache *cache, const char *user)
{
	long long deadline = now_ms() + 10000;
	char *v;

	while ((v = stored_verifier(cache, user)) == NULL && now_ms() < deadline)
		CHECK(loop_run_once(loop, 50) == 0);
	return v;
}

struct check_result {
	int calls;
	bool match;
};

static void
on_checked(void *ctx, bool match)
{
	struct check_result *r = ctx;

	r->calls++;
	r->match = match;
}

/* Runs the loop until the check has reported, for up to 10 s. */
static void
wait_for_check(struct loop *loop, const struct check_result *r)
{
	long long deadline = now_ms() + 10000;

	while (r->calls == 0 && now_ms() < deadline)
		CHECK(loop_run_once(loop, 50) == 0);
}

/* Checks for cached re-authentication: the result comes from the loop,
 * never from inside verifier_check_start, and not at all once cancelled. */
static void
test_checks(struct loop *loop, struct verifier_worker *w)
{
	char *v = verifier_make(PASSWORD);
	struct check_result right = { 0 }, wrong = { 0 }, cancelled = { 0 }, late = { 0 };
	struct verifier_job *job = NULL, *job2 = NULL;

	CHECK(v != NULL);
	CHECK(verifier_check_start(w, v, PASSWORD, 0, on_checked, &right, &job) == 0 && job != NULL);
	CHECK(right.calls == 0);
	wait_for_check(loop, &right);
	CHECK(right.calls == 1 && right.match);

	CHECK(verifier_check_start(w, v, "Wrong-Horse-1", 0, on_checked, &wrong, &job) == 0);
	wait_for_check(loop, &wrong);
	CHECK(wrong.calls == 1 && !wrong.match);

	CHECK(verifier_check_start(w, v, PASSWORD, 0, on_checked, &cancelled, &job) == 0);
	verifier_job_cancel(&job);
	CHECK(job == NULL);
	/* Cancelled after the thread is done, before the loop has reported. */
	CHECK(verifier_check_start(w, v, PASSWORD, 0, on_checked, &late, &job2) == 0);
	usleep(500000);
	verifier_job_cancel(&job2);
	for (int i = 0; i < 10; i++)
		CHECK(loop_run_once(loop, 20) == 0);
	CHECK(cancelled.calls == 0 && late.calls == 0);

	/* No verifier: the check costs a hash all the same and never matches. */
	struct check_result decoy = { 0 };
	long long t0 = now_ms();
	CHECK(verifier_check_start(w, NULL, PASSWORD, 0, on_checked, &decoy, &job) == 0);
	wait_for_check(loop, &decoy);
	CHECK(decoy.calls == 1 && !decoy.match);
	CHECK(now_ms() - t0 >= 2); /* yescrypt, not a string compare */
	free(v);
}

/* The worker's share for each caller: the pool's (tests/unit/test_job_pool.c
 * checks its rules with jobs it can hold).  Here only that the verifier
 * asks for them: a burst of one uid's checks, submitted in microseconds
 * while each takes a hash of milliseconds, is partly declined; root's
 * never are; and every accepted check reports once. */
static void
test_limits(struct loop *loop, struct verifier_worker *w)
{
	enum { BURST = 10 };
	struct check_result r[BURST] = { 0 }, root[BURST] = { 0 };
	struct verifier_job *jobs[BURST] = { 0 }, *root_jobs[BURST] = { 0 };
	int accepted = 0, declined = 0;

	for (int i = 0; i < BURST; i++) {
		int rc = verifier_check_start(w, NULL, PASSWORD, 1000, on_checked, &r[i], &jobs[i]);
		CHECK(rc == 0 || (rc == FR_ERR_TOO_LARGE && jobs[i] == NULL));
		if (rc == 0)
			accepted++;
		else
			declined++;
	}
	CHECK(declined > 0 && accepted >= 1);
	for (int i = 0; i < BURST; i++)
		CHECK(verifier_check_start(w, NULL, PASSWORD, 0, on_checked, &root[i], &root_jobs[i]) == 0);
	for (int i = 0; i < BURST; i++) {
		wait_for_check(loop, &root[i]);
		if (jobs[i] != NULL) /* accepted: it reports */
			wait_for_check(loop, &r[i]);
	}
	for (int i = 0; i < BURST; i++)
		CHECK(root[i].calls == 1 && r[i].calls <= 1);
	/* All done: uid 1000 may start again. */
	struct check_result again = { 0 };
	struct verifier_job *job = NULL;
	CHECK(verifier_check_start(w, NULL, PASSWORD, 1000, on_checked, &again, &job) == 0);
	wait_for_check(loop, &again);
	CHECK(again.calls == 1);
}

int
main(void)
{
	char dir[] = "/tmp/freddy-verifier.XXXXXX";
	struct loop *loop = NULL;
	struct token_cache *cache = NULL;
	struct verifier_worker *w = NULL;
	struct verifier_job *job = NULL;
	char *v;

	log_init("test_verifier_worker", true, false);
	CHECK(mkdtemp(dir) != NULL);
	CHECK(loop_new(&loop) == 0);
	CHECK(token_cache_open(dir, &cache) == 0);
	CHECK(verifier_worker_new(loop, into_cache, cache, &w) == 0);

	/* Taken when ready: NULL until then, the job stays. */
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0 && job != NULL);
	long long deadline = now_ms() + 10000;
	while ((v = verifier_job_take(&job)) == NULL && now_ms() < deadline)
		CHECK(loop_run_once(loop, 10) == 0); /* ready once reported on the loop */
	CHECK(job == NULL);
	CHECK(v != NULL && verifier_check(v, PASSWORD));
	free(v);

	/* Handed off before the hash is done (a hash takes milliseconds, the
	 * hand-off a few instructions): it joins the record later. */
	store_record(cache, "alice", 1000);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	verifier_job_hand_off(&job, "alice", 1000);
	CHECK(job == NULL);
	v = wait_for_verifier(loop, cache, "alice");
	CHECK(v != NULL && verifier_check(v, PASSWORD));
	free(v);

	/* Handed off after it is done (and reported): written at once. */
	store_record(cache, "bob", 2000);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	usleep(500000); /* far longer than one hash */
	for (int i = 0; i < 5; i++)
		CHECK(loop_run_once(loop, 10) == 0);
	verifier_job_hand_off(&job, "bob", 2000);
	v = stored_verifier(cache, "bob");
	CHECK(v != NULL && verifier_check(v, PASSWORD));
	free(v);

	/* A newer login replaced the record meanwhile: the late verifier is
	 * for a password that record may not have, so it is dropped. */
	store_record(cache, "carol", 3000);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	verifier_job_hand_off(&job, "carol", 2999);
	/* A second job, to wait on. */
	store_record(cache, "dave", 4000);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	verifier_job_hand_off(&job, "dave", 4000);
	v = wait_for_verifier(loop, cache, "dave");
	CHECK(v != NULL);
	free(v);
	/* With more than one thread carol's may finish after dave's. */
	for (int i = 0; i < 10; i++)
		CHECK(loop_run_once(loop, 50) == 0);
	CHECK((v = stored_verifier(cache, "carol")) == NULL);
	free(v);

	/* Cancelled before or after it is done: nothing is written, nothing
	 * leaks (valgrind runs this test). */
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	verifier_job_cancel(&job);
	CHECK(job == NULL);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	usleep(500000);
	verifier_job_cancel(&job);
	verifier_job_cancel(&job); /* a second cancel is harmless */

	test_checks(loop, w);
	test_limits(loop, w);

	/* Freeing the worker with a hand-off still being made. */
	store_record(cache, "erin", 5000);
	CHECK(verifier_job_start(w, PASSWORD, 0, &job) == 0);
	verifier_job_hand_off(&job, "erin", 5000);
	verifier_worker_free(w);
	token_cache_close(cache);
	loop_free(loop);

	const char *users[] = { "alice", "bob", "carol", "dave", "erin" };
	char path[128];
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, users[i]);
		CHECK(unlink(path) == 0);
	}
	CHECK(rmdir(dir) == 0);
	return check_finish("test_verifier_worker");
}
