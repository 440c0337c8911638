/* Rate limits: the delay curve, keys, the state file parser, reservations,
 * the table's eviction rule, and the table persisted across a reopen. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "store/ratelimit.h"
#include "store/state_writer.h"

static int
count_visit(void *ctx, const char *key, unsigned failures, int64_t last)
{
	(void)key;
	(void)failures;
	(void)last;
	(*(int *)ctx)++;
	return FR_OK;
}

static int
decode(const char *text)
{
	int n = 0;
	int r = ratelimit_decode(text, strlen(text), count_visit, &n);
	return r == 0 ? n : r;
}

static const struct ratelimit_policy P2_10 = { 2, 10, RATELIMIT_MAX_DELAY };

static void
test_pure(void)
{
	const struct ratelimit_policy p = { 5, 2, RATELIMIT_MAX_DELAY };
	const struct ratelimit_policy user = { 5, 2, 60 };
	char key[RATELIMIT_KEY_MAX + 1], key2[RATELIMIT_KEY_MAX + 1];

	/* Delay curve: nothing below the threshold, then doubling, capped. */
	CHECK(ratelimit_delay_for(0, &p) == 0);
	CHECK(ratelimit_delay_for(4, &p) == 0);
	CHECK(ratelimit_delay_for(5, &p) == 2);
	CHECK(ratelimit_delay_for(6, &p) == 4);
	CHECK(ratelimit_delay_for(8, &p) == 16);
	CHECK(ratelimit_delay_for(40, &p) == RATELIMIT_MAX_DELAY);
	CHECK(ratelimit_delay_for(999999, &p) == RATELIMIT_MAX_DELAY);
	/* The all-origins key of a user has a low cap. */
	CHECK(ratelimit_delay_for(10, &user) == 60);

	CHECK(ratelimit_key_valid("user:alice"));
	CHECK(ratelimit_key_valid("uid:1000"));
	CHECK(ratelimit_key_valid("from:alice/rhost=192.0.2.7"));
	CHECK(ratelimit_key_valid("from:alice/local"));
	CHECK(!ratelimit_key_valid("from:alice"));
	CHECK(!ratelimit_key_valid("from:/local"));
	CHECK(!ratelimit_key_valid("from:alice/a b"));
	CHECK(!ratelimit_key_valid("from:alice/"));
	CHECK(!ratelimit_key_valid("uid:"));
	CHECK(!ratelimit_key_valid("uid:12a"));
	CHECK(!ratelimit_key_valid("user:.hidden"));
	CHECK(!ratelimit_key_valid("user:a b"));
	CHECK(!ratelimit_key_valid("alice"));

	/* Origins: kept when plain, hashed when odd or long, and distinct. */
	CHECK(ratelimit_origin_key(key, sizeof(key), "alice", "rhost=192.0.2.7") == FR_OK);
	CHECK(strcmp(key, "from:alice/rhost=192.0.2.7") == 0);
	CHECK(ratelimit_origin_key(key, sizeof(key), "alice", "rhost=evil host\n") == FR_OK);
	CHECK(strncmp(key, "from:alice/sha=", 15) == 0 && strlen(key) == 15 + 32);
	CHECK(ratelimit_key_valid(key));
	CHECK(ratelimit_origin_key(key2, sizeof(key2), "alice", "rhost=evil host\r") == FR_OK);
	CHECK(strcmp(key, key2) != 0);
	CHECK(ratelimit_origin_key(key, sizeof(key), "bad name", "local") == FR_ERR_INVALID);

	/* The parser accepts exactly what the table writes. */
	CHECK(decode("") == 0);
	CHECK(decode("user:alice 3 1700000000\nuid:1000 1 1700000001\n") == 2);
	CHECK(decode("from:alice/rhost=192.0.2.7 3 1700000000\n") == 1);
	CHECK(decode("user:alice 3 1700000000") == FR_ERR_INVALID); /* no newline */
	CHECK(decode("user:alice 3\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice -3 1\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice 3 1 \n") == FR_ERR_INVALID);
	CHECK(decode("bogus 3 1\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice 1234567 1\n") == FR_ERR_INVALID);
	CHECK(ratelimit_decode("user:a\0 1 1\n", 12, count_visit, &(int){ 0 }) == FR_ERR_INVALID);
}

static void
test_memory(void)
{
	struct ratelimit *rl;
	int64_t t = 1700000000;

	CHECK(ratelimit_open(NULL, -1, NULL, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) == 0);
	ratelimit_failure(rl, "user:alice", t);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) == 0);
	ratelimit_failure(rl, "user:alice", t);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) == 10);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 4) == 6);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 10) == 0);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t - 100) == 10); /* clock set back */
	ratelimit_failure(rl, "user:alice", t + 10);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 10) == 20);
	CHECK(ratelimit_wait(rl, "user:bob", &P2_10, t) == 0);
	ratelimit_success(rl, "user:alice", t + 30);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 30) == 0);
	/* Old failures are forgotten. */
	ratelimit_failure(rl, "uid:1000", t);
	ratelimit_failure(rl, "uid:1000", t + RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY + 1);
	CHECK(ratelimit_wait(rl, "uid:1000", &P2_10, t + RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY + 1) == 0);
	ratelimit_free(rl);
}

static void
test_reservations(void)
{
	const struct ratelimit_policy p = { 5, 2, RATELIMIT_MAX_DELAY };
	struct ratelimit *rl;
	int64_t t = 1700000000;
	int reserved = 0;

	CHECK(ratelimit_open(NULL, -1, NULL, 5, 2, &rl) == FR_OK);
	/* Twenty guesses at once: only the threshold's worth get through. */
	for (int i = 0; i < 20; i++)
		if (ratelimit_reserve(rl, "from:alice/ruser=mallory", &p, t) == 0)
			reserved++;
	CHECK(reserved == 5);
	CHECK(ratelimit_reserve(rl, "from:alice/ruser=mallory", &p, t) == 2);
	/* They all fail: five failures, the delay of five, not of twenty. */
	for (int i = 0; i < 5; i++)
		ratelimit_commit_failure(rl, "from:alice/ruser=mallory", t);
	CHECK(ratelimit_wait(rl, "from:alice/ruser=mallory", &p, t) == 2);
	/* One more after the delay doubles it: growth is per failure. */
	CHECK(ratelimit_reserve(rl, "from:alice/ruser=mallory", &p, t + 2) == 0);
	ratelimit_commit_failure(rl, "from:alice/ruser=mallory", t + 2);
	CHECK(ratelimit_wait(rl, "from:alice/ruser=mallory", &p, t + 2) == 4);

	/* A released attempt (API unreachable) costs nothing. */
	CHECK(ratelimit_reserve(rl, "user:bob", &p, t) == 0);
	ratelimit_release(rl, "user:bob");
	for (int i = 0; i < 4; i++) {
		CHECK(ratelimit_reserve(rl, "user:bob", &p, t) == 0);
		ratelimit_commit_failure(rl, "user:bob", t);
	}
	CHECK(ratelimit_wait(rl, "user:bob", &p, t) == 0); /* 4 < 5 */
	/* A success while another attempt is in flight keeps that one counted. */
	CHECK(ratelimit_reserve(rl, "user:bob", &p, t) == 0);
	CHECK(ratelimit_reserve(rl, "user:bob", &p, t) == 2); /* 4 + 1 in flight */
	ratelimit_success(rl, "user:bob", t);
	CHECK(ratelimit_reserve(rl, "user:bob", &p, t) == 0); /* 0 + 1 in flight */
	ratelimit_free(rl);
}

static void
test_full_table(void)
{
	struct ratelimit *rl;
	int64_t t = 1700000000;
	char key[64];

	CHECK(ratelimit_open(NULL, -1, NULL, 2, 10, &rl) == FR_OK);
	/* alice is inside her delay. */
	ratelimit_failure(rl, "user:alice", t);
	ratelimit_failure(rl, "user:alice", t);
	/* A flood of keys below the threshold: they make room for each other
	 * and never push alice's counter out. */
	for (int i = 0; i < RATELIMIT_MAX_ENTRIES + 500; i++) {
		snprintf(key, sizeof(key), "uid:%d", 5000 + i);
		ratelimit_failure(rl, key, t + 1);
	}
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 1) == 9);
	/* A table full of keys inside their delay refuses a new one rather
	 * than forget an old one. */
	for (int i = 0; i < RATELIMIT_MAX_ENTRIES; i++) {
		snprintf(key, sizeof(key), "uid:%d", 100000 + i);
		ratelimit_failure(rl, key, t + 2);
		ratelimit_failure(rl, key, t + 2);
	}
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 2) == 8);
	CHECK(ratelimit_reserve(rl, "user:newcomer", &P2_10, t + 2) == RATELIMIT_MAX_DELAY);
	/* Once the delays have run out there is room again. */
	CHECK(ratelimit_reserve(rl, "user:newcomer", &P2_10, t + 20) == 0);
	ratelimit_free(rl);
}

static void
test_persisted(void)
{
	struct ratelimit *rl;
	struct state_writer *w;
	int64_t t = 1700000000;
	char dir[] = "/tmp/test_ratelimit.XXXXXX";
	char path[256];
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(state_writer_new(dfd, dir, &w) == FR_OK);
	CHECK(ratelimit_open(NULL, dfd, w, 2, 10, &rl) == FR_OK);
	ratelimit_failure(rl, "user:alice", t);
	ratelimit_failure(rl, "user:alice", t + 1);
	ratelimit_failure(rl, "uid:1000", t + 1);
	ratelimit_failure(rl, "from:alice/rhost=192.0.2.7", t + 1);
	/* Nothing is written on the caller's thread; the writer does it. */
	ratelimit_save_now(rl, t + 1);
	CHECK(state_writer_flush(w) == FR_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, RATELIMIT_FILE);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	ratelimit_free(rl);
	CHECK(ratelimit_open(NULL, dfd, w, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 1) == 10);
	CHECK(ratelimit_wait(rl, "uid:1000", &(struct ratelimit_policy){ 1, 10, 3600 }, t + 1) == 10);
	CHECK(ratelimit_wait(rl, "from:alice/rhost=192.0.2.7", &(struct ratelimit_policy){ 1, 10, 3600 }, t + 1) == 10);
	ratelimit_success(rl, "user:alice", t + 2);
	ratelimit_free(rl); /* saves on the way out */
	CHECK(state_writer_flush(w) == FR_OK);
	CHECK(ratelimit_open(NULL, dfd, w, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t + 2) == 0);
	ratelimit_free(rl);
	/* A corrupt or too-open file is ignored, never trusted. */
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("user:alice 9 1700000000\ngarbage\n", f);
		fclose(f);
	}
	chmod(path, 0600);
	CHECK(ratelimit_open(NULL, dfd, NULL, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) == 0);
	ratelimit_free(rl);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("user:alice 9 1700000000\n", f);
		fclose(f);
	}
	chmod(path, 0644);
	CHECK(ratelimit_open(NULL, dfd, NULL, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) == 0);
	ratelimit_free(rl);
	chmod(path, 0600);
	CHECK(ratelimit_open(NULL, dfd, NULL, 2, 10, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", &P2_10, t) > 0);
	ratelimit_free(rl);
	state_writer_free(w);
	close(dfd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_pure();
	test_memory();
	test_reservations();
	test_full_table();
	test_persisted();
	return check_finish("test_ratelimit");
}
