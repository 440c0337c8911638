#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "core/log.h"
#include "store/token_cache.h"

static void
test_codec(void)
{
	struct cache_record in = {
		.refresh_token = "r.t", .access_token = "a.t", .access_expires = 1700000000, .last_login = 1690000000
	};
	struct cache_record out;
	char *text = NULL;
	size_t len = 0;

	CHECK(cache_record_encode("alice", &in, &text, &len) == 0);
	CHECK(text != NULL && strstr(text, "\"user\":\"alice\"") != NULL);
	CHECK(cache_record_decode("alice", text, len, &out) == 0);
	CHECK(strcmp(out.refresh_token, "r.t") == 0 && strcmp(out.access_token, "a.t") == 0);
	CHECK(out.access_expires == 1700000000 && out.last_login == 1690000000);
	cache_record_wipe(&out);
	CHECK(out.refresh_token == NULL);
	/* A file renamed to another user's name is not that user's. */
	CHECK(cache_record_decode("mallory", text, len, &out) == FR_ERR_INVALID);
	free(text);

	CHECK(cache_record_decode("alice", "{", 1, &out) == FR_ERR_INVALID);
	const char *wrong_version = "{\"version\":2,\"user\":\"alice\",\"refresh_token\":\"r\","
				    "\"access_expires\":0,\"last_login\":0}";
	CHECK(cache_record_decode("alice", wrong_version, strlen(wrong_version), &out) == FR_ERR_INVALID);
	const char *wrong_type = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":5,"
				 "\"access_expires\":0,\"last_login\":0}";
	CHECK(cache_record_decode("alice", wrong_type, strlen(wrong_type), &out) == FR_ERR_INVALID);
	struct cache_record none = { 0 };
	CHECK(cache_record_encode("alice", &none, &text, &len) == FR_ERR_INVALID);
}

static void
test_files(void)
{
	char dir[] = "/tmp/freddy-cache-test.XXXXXX";
	char path[128];
	struct token_cache *cache = NULL;
	struct cache_record rec = { .refresh_token = "refresh-1", .access_expires = 5, .last_login = 6 };
	struct cache_record out;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(token_cache_open(dir, &cache) == 0);
	CHECK(token_cache_count(cache) == 0);
	CHECK(token_cache_load(cache, "alice", &out) == FR_ERR_NOT_FOUND);
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	snprintf(path, sizeof(path), "%s/alice", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(token_cache_load(cache, "alice", &out) == 0 && strcmp(out.refresh_token, "refresh-1") == 0);
	cache_record_wipe(&out);
	CHECK(token_cache_count(cache) == 1);

	/* Invalid names never become paths. */
	CHECK(token_cache_store(cache, "../evil", &rec) == FR_ERR_INVALID);
	CHECK(token_cache_load(cache, ".alice.tmp", &out) == FR_ERR_INVALID);

	/* Too open, or a symlink: ignored. */
	CHECK(chmod(path, 0644) == 0);
	CHECK(token_cache_load(cache, "alice", &out) == FR_ERR_NOT_FOUND);
	CHECK(chmod(path, 0600) == 0);
	char bob[128];
	snprintf(bob, sizeof(bob), "%s/bob", dir);
	CHECK(symlink(path, bob) == 0);
	CHECK(token_cache_load(cache, "bob", &out) == FR_ERR_NOT_FOUND);
	CHECK(unlink(bob) == 0);

	/* Corrupt: ignored, and a store replaces it. */
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "{garbage", 8) == 8 && close(fd) == 0);
	CHECK(token_cache_load(cache, "alice", &out) == FR_ERR_NOT_FOUND);
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	CHECK(token_cache_load(cache, "alice", &out) == 0);
	cache_record_wipe(&out);

	CHECK(token_cache_forget(cache, "alice") == 0);
	CHECK(token_cache_forget(cache, "alice") == FR_ERR_NOT_FOUND);
	token_cache_close(cache);

	/* A cache folder others can read is refused. */
	CHECK(chmod(dir, 0755) == 0);
	CHECK(token_cache_open(dir, &cache) == FR_ERR_UNTRUSTED);
	CHECK(rmdir(dir) == 0);
}

/* Stores are written behind: what a load, a forget and a flush see. */
static void
test_write_behind(void)
{
	char dir[] = "/tmp/freddy-cache-wb.XXXXXX";
	char path[128];
	struct token_cache *cache = NULL;
	struct cache_record out;
	char token[32];

	CHECK(mkdtemp(dir) != NULL);
	CHECK(token_cache_open(dir, &cache) == 0);
	for (int i = 0; i < 50; i++) {
		snprintf(token, sizeof(token), "refresh-%d", i);
		struct cache_record rec = { .refresh_token = token, .last_login = i };
		CHECK(token_cache_store(cache, "dave", &rec) == 0);
		/* Visible at once, whether or not it reached the disk. */
		CHECK(token_cache_load(cache, "dave", &out) == 0);
		CHECK(out.refresh_token != NULL && strcmp(out.refresh_token, token) == 0);
		cache_record_wipe(&out);
	}
	token_cache_flush(cache);
	CHECK(token_cache_load(cache, "dave", &out) == 0 && strcmp(out.refresh_token, "refresh-49") == 0);
	cache_record_wipe(&out);

	/* A forget cancels writes still waiting: nothing comes back. */
	struct cache_record rec = { .refresh_token = "erin-1" };
	CHECK(token_cache_store(cache, "erin", &rec) == 0);
	CHECK(token_cache_forget(cache, "erin") == 0);
	CHECK(token_cache_load(cache, "erin", &out) == FR_ERR_NOT_FOUND);
	token_cache_flush(cache);
	snprintf(path, sizeof(path), "%s/erin", dir);
	CHECK(access(path, F_OK) != 0);
	CHECK(token_cache_forget(cache, "erin") == FR_ERR_NOT_FOUND);

	/* Closing writes what is still queued. */
	CHECK(token_cache_store(cache, "erin", &rec) == 0);
	token_cache_close(cache);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/dave", dir);
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/erin", dir);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

/* Many users stored back to back are written in batches (more users than
 * one batch holds), with forgets in between: every file ends up right and
 * no temporary file stays behind. */
static void
test_batches(void)
{
	char dir[] = "/tmp/freddy-cache-batch.XXXXXX";
	char user[32], token[32], path[128];
	struct token_cache *cache = NULL;
	struct cache_record out;
	enum { USERS = 150 };

	CHECK(mkdtemp(dir) != NULL);
	CHECK(token_cache_open(dir, &cache) == 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < USERS; i++) {
			snprintf(user, sizeof(user), "user%d", i);
			snprintf(token, sizeof(token), "refresh-%d-%d", i, round);
			struct cache_record rec = { .refresh_token = token, .last_login = round };
			CHECK(token_cache_store(cache, user, &rec) == 0);
			if (round == 1 && i % 7 == 0)
				CHECK(token_cache_forget(cache, user) == 0);
		}
	}
	token_cache_flush(cache);
	for (int i = 0; i < USERS; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		snprintf(path, sizeof(path), "%s/%s", dir, user);
		if (i % 7 == 0) {
			CHECK(access(path, F_OK) != 0);
			continue;
		}
		snprintf(token, sizeof(token), "refresh-%d-1", i);
		CHECK(token_cache_load(cache, user, &out) == 0);
		CHECK(out.refresh_token != NULL && strcmp(out.refresh_token, token) == 0);
		cache_record_wipe(&out);
		CHECK(unlink(path) == 0);
	}
	token_cache_close(cache);
	CHECK(rmdir(dir) == 0); /* fails if a temporary file was left */
}

int
main(void)
{
	log_init("test_token_cache", true, false);
	test_codec();
	test_files();
	test_write_behind();
	test_batches();
	return check_finish("test_token_cache");
}
