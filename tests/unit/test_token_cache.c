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
#include "store/cache_image.h"
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

/* The raw bytes of a file, NULL when absent; *len its size. */
static unsigned char *
read_raw(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	unsigned char *buf = NULL;
	if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) != NULL &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size)
		*len = (size_t)st.st_size;
	close(fd);
	return buf;
}

static void
write_raw(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len && close(fd) == 0);
}

static bool
holds(const unsigned char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

static bool
loads_token(struct token_cache *cache, const char *user, const char *token)
{
	struct cache_record out;
	bool ok = token_cache_load(cache, user, &out) == 0 && out.refresh_token != NULL &&
		  strcmp(out.refresh_token, token) == 0;

	cache_record_wipe(&out);
	return ok;
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A user's second store overwrites the file in place, in the other slot,
 * and clears the record it replaces. */
static void
test_in_place(void)
{
	char dir[] = "/tmp/freddy-cache-inplace.XXXXXX";
	char path[128];
	struct token_cache *cache = NULL;
	struct cache_image_newest newest;
	size_t len;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(token_cache_open(dir, &cache) == 0);
	snprintf(path, sizeof(path), "%s/alice", dir);
	struct cache_record a = { .refresh_token = "token-A", .last_login = 1 };
	struct cache_record b = { .refresh_token = "token-B", .last_login = 2 };
	struct cache_record c = { .refresh_token = "token-C", .last_login = 3 };

	CHECK(token_cache_store(cache, "alice", &a) == 0);
	token_cache_flush(cache);
	unsigned char *after_a = read_raw(path, &len);
	CHECK(after_a != NULL && len == 8192 && cache_image_newest(after_a, len, &newest) == 0);
	CHECK(newest.slot == 0 && newest.seq == 1);
	const ino_t first = inode_of(path);

	CHECK(token_cache_store(cache, "alice", &b) == 0);
	token_cache_flush(cache);
	unsigned char *after_b = read_raw(path, &len);
	CHECK(inode_of(path) == first); /* the same file: written in place */
	CHECK(after_b != NULL && len == 8192 && cache_image_newest(after_b, len, &newest) == 0);
	CHECK(newest.slot == 1 && newest.seq == 2);
	/* The record replaced is gone from the file. */
	CHECK(holds(after_b, len, "token-B") && !holds(after_b, len, "token-A"));
	CHECK(loads_token(cache, "alice", "token-B"));

	CHECK(token_cache_store(cache, "alice", &c) == 0);
	token_cache_flush(cache);
	free(read_raw(path, &len));
	CHECK(inode_of(path) == first && len == 8192);
	CHECK(loads_token(cache, "alice", "token-C"));

	/* What a power cut in the middle of B's write leaves: B's slot
	 * written (or half of it), A's not yet cleared.  Whole, B wins; torn,
	 * A is still there. */
	unsigned char both[8192];
	memcpy(both, after_a, 4096);
	memcpy(both + 4096, after_b + 4096, 4096);
	write_raw(path, both, sizeof(both));
	CHECK(loads_token(cache, "alice", "token-B"));
	both[4096 + CACHE_SLOT_HEADER + 5] ^= 0x20;
	write_raw(path, both, sizeof(both));
	CHECK(loads_token(cache, "alice", "token-A"));
	/* The next store goes into the torn slot, not over A. */
	CHECK(token_cache_store(cache, "alice", &c) == 0);
	token_cache_flush(cache);
	unsigned char *healed = read_raw(path, &len);
	CHECK(healed != NULL && cache_image_newest(healed, len, &newest) == 0 && newest.slot == 1);
	CHECK(newest.seq == 2 && loads_token(cache, "alice", "token-C"));
	free(healed);
	/* Both slots torn: ignored, and the next store writes a new file. */
	memset(both + 16, 0x55, 4);
	write_raw(path, both, sizeof(both));
	CHECK(token_cache_load(cache, "alice", &(struct cache_record){ 0 }) == FR_ERR_NOT_FOUND);
	CHECK(token_cache_store(cache, "alice", &a) == 0);
	token_cache_flush(cache);
	CHECK(inode_of(path) != first && loads_token(cache, "alice", "token-A"));

	free(after_a);
	free(after_b);
	CHECK(token_cache_forget(cache, "alice") == 0);
	token_cache_close(cache);
	CHECK(rmdir(dir) == 0);
}

/* When a store writes a new file instead: a file of the older layout
 * (still read), one too open or with a second name, a record that
 * outgrew its slots; and a record no slot can hold is refused. */
static void
test_new_file_when_needed(void)
{
	char dir[] = "/tmp/freddy-cache-newfile.XXXXXX";
	char path[128], other[128];
	struct token_cache *cache = NULL;
	struct cache_record rec = { .refresh_token = "token-1", .last_login = 1 };
	struct stat st;
	size_t len;
	char *text = NULL;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(token_cache_open(dir, &cache) == 0);
	snprintf(path, sizeof(path), "%s/alice", dir);
	snprintf(other, sizeof(other), "%s/alice-link", dir);

	/* The older layout: the JSON alone. */
	CHECK(cache_record_encode("alice", &rec, &text, &len) == 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len && close(fd) == 0);
	free(text);
	CHECK(loads_token(cache, "alice", "token-1"));
	ino_t ino = inode_of(path);
	rec.refresh_token = "token-2";
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	CHECK(inode_of(path) != ino && stat(path, &st) == 0 && st.st_size == 8192);
	CHECK(loads_token(cache, "alice", "token-2"));

	/* Too open: replaced by a private file. */
	CHECK(chmod(path, 0644) == 0);
	ino = inode_of(path);
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	CHECK(inode_of(path) != ino && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* A second name: not written through. */
	CHECK(link(path, other) == 0);
	rec.refresh_token = "token-3";
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	unsigned char *raw = read_raw(other, &len);
	CHECK(raw != NULL && holds(raw, len, "token-2") && !holds(raw, len, "token-3"));
	free(raw);
	CHECK(unlink(other) == 0);
	CHECK(loads_token(cache, "alice", "token-3"));

	/* A longer record: larger slots, then in place in them. */
	char big[6000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rec.refresh_token = big;
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	CHECK(stat(path, &st) == 0 && st.st_size == 16384);
	CHECK(loads_token(cache, "alice", big));
	ino = inode_of(path);
	rec.refresh_token = "token-4";
	CHECK(token_cache_store(cache, "alice", &rec) == 0);
	token_cache_flush(cache);
	CHECK(inode_of(path) == ino && stat(path, &st) == 0 && st.st_size == 16384);
	CHECK(loads_token(cache, "alice", "token-4"));

	/* Over what a slot holds: refused at once, the file untouched. */
	char *huge = malloc(CACHE_RECORD_MAX);
	CHECK(huge != NULL);
	memset(huge, 'y', CACHE_RECORD_MAX - 1);
	huge[CACHE_RECORD_MAX - 1] = '\0';
	rec.refresh_token = huge;
	CHECK(token_cache_store(cache, "alice", &rec) == FR_ERR_TOO_LARGE);
	free(huge);
	token_cache_flush(cache);
	CHECK(inode_of(path) == ino && loads_token(cache, "alice", "token-4"));

	CHECK(token_cache_forget(cache, "alice") == 0);
	token_cache_close(cache);
	CHECK(rmdir(dir) == 0);
}

int
main(void)
{
	log_init("test_token_cache", true, false);
	test_codec();
	test_files();
	test_write_behind();
	test_batches();
	test_in_place();
	test_new_file_when_needed();
	return check_finish("test_token_cache");
}
