/* Rate limits: the delay curve, keys, the state file parser, and the
 * table persisted across a reopen. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "ratelimit.h"

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

int
main(void)
{
	/* Delay curve: nothing below the threshold, then doubling, capped. */
	CHECK(ratelimit_delay_for(0, 5, 2) == 0);
	CHECK(ratelimit_delay_for(4, 5, 2) == 0);
	CHECK(ratelimit_delay_for(5, 5, 2) == 2);
	CHECK(ratelimit_delay_for(6, 5, 2) == 4);
	CHECK(ratelimit_delay_for(8, 5, 2) == 16);
	CHECK(ratelimit_delay_for(40, 5, 2) == RATELIMIT_MAX_DELAY);
	CHECK(ratelimit_delay_for(999999, 1, 3600) == RATELIMIT_MAX_DELAY);

	CHECK(ratelimit_key_valid("user:alice"));
	CHECK(ratelimit_key_valid("uid:1000"));
	CHECK(!ratelimit_key_valid("uid:"));
	CHECK(!ratelimit_key_valid("uid:12a"));
	CHECK(!ratelimit_key_valid("user:.hidden"));
	CHECK(!ratelimit_key_valid("user:a b"));
	CHECK(!ratelimit_key_valid("alice"));

	/* The parser accepts exactly what save() writes. */
	CHECK(decode("") == 0);
	CHECK(decode("user:alice 3 1700000000\nuid:1000 1 1700000001\n") == 2);
	CHECK(decode("user:alice 3 1700000000") == FR_ERR_INVALID);	/* no newline */
	CHECK(decode("user:alice 3\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice -3 1\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice 3 1 \n") == FR_ERR_INVALID);
	CHECK(decode("bogus 3 1\n") == FR_ERR_INVALID);
	CHECK(decode("user:alice 1234567 1\n") == FR_ERR_INVALID);
	CHECK(ratelimit_decode("user:a\0 1 1\n", 12, count_visit, &(int){ 0 }) == FR_ERR_INVALID);

	/* In memory: threshold 2, delay 10 s. */
	struct ratelimit *rl;
	int64_t t = 1700000000;
	CHECK(ratelimit_open(NULL, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) == 0);
	ratelimit_failure(rl, "user:alice", t);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) == 0);
	ratelimit_failure(rl, "user:alice", t);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) == 10);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 4) == 6);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 10) == 0);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t - 100) == 10);	/* clock set back */
	ratelimit_failure(rl, "user:alice", t + 10);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 10) == 20);
	CHECK(ratelimit_wait(rl, "user:bob", 2, 10, t) == 0);
	ratelimit_success(rl, "user:alice", t + 30);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 30) == 0);
	/* Old failures are forgotten. */
	ratelimit_failure(rl, "uid:1000", t);
	ratelimit_failure(rl, "uid:1000", t + RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY + 1);
	CHECK(ratelimit_wait(rl, "uid:1000", 2, 10, t + RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY + 1) == 0);
	/* A flood of keys stays within the table. */
	for (int i = 0; i < RATELIMIT_MAX_ENTRIES + 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "uid:%d", 5000 + i);
		ratelimit_failure(rl, key, t + i);
	}
	CHECK(ratelimit_wait(rl, "uid:5000", 1, 10, t + 1) == 0);	/* evicted, oldest */
	ratelimit_free(rl);

	/* Persisted: a reopened table remembers, the file is private. */
	char dir[] = "/tmp/test_ratelimit.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	ratelimit_failure(rl, "user:alice", t);
	ratelimit_failure(rl, "user:alice", t + 1);
	ratelimit_failure(rl, "uid:1000", t + 1);
	ratelimit_free(rl);
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, RATELIMIT_FILE);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 1) == 10);
	CHECK(ratelimit_wait(rl, "uid:1000", 1, 10, t + 1) == 10);
	ratelimit_success(rl, "user:alice", t + 2);
	ratelimit_free(rl);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t + 2) == 0);
	ratelimit_free(rl);
	/* A corrupt or too-open file is ignored, never trusted. */
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("user:alice 9 1700000000\ngarbage\n", f);
		fclose(f);
	}
	chmod(path, 0600);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) == 0);
	ratelimit_free(rl);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("user:alice 9 1700000000\n", f);
		fclose(f);
	}
	chmod(path, 0644);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) == 0);
	ratelimit_free(rl);
	chmod(path, 0600);
	CHECK(ratelimit_open(dir, &rl) == FR_OK);
	CHECK(ratelimit_wait(rl, "user:alice", 2, 10, t) > 0);
	ratelimit_free(rl);
	unlink(path);
	rmdir(dir);
	return check_finish("test_ratelimit");
}
