/*
 * The cache's file code under failure injection (failinject.h): for
 * every N up to the number of wrapped calls a clean run makes, the Nth
 * call fails (or is cut short, or interrupted), then the test looks at
 * what the code said and at what is on disk:
 *   - every call returns success or one of its documented errors;
 *   - success never comes with wrong data: a record loaded is one that
 *     was stored (the newest, or one before it whose replacement failed),
 *     a file read is the file's contents;
 *   - nothing is lost that was on disk before: a failed replacement
 *     leaves the old contents;
 *   - no temporary or partial file stays behind, every file is 0600,
 *     no descriptor stays open, and nothing leaks (ASan and valgrind run
 *     this test in their stages).
 * Short and interrupted transfers are not failures: everything must
 * succeed with them.
 *
 * jansson's allocations go through the wrapper too (json_set_alloc_funcs)
 * while a record is encoded, but never while JSON is parsed: jansson 2.14
 * drops a failed allocation in its lexer and then aborts on an assert
 * (akheron/jansson#362, open upstream), which no caller can handle.  The
 * decoder's own allocations fail all the same.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "failinject.h"
#include "fr_error.h"
#include "hostlib/atomic_file.h"
#include "hostlib/private_file.h"
#include "hostlib/user_name.h"
#include "store/token_cache.h"

struct sweep_stats {
	unsigned long clean_calls, runs, injected;
};

/* ---- the folder ---------------------------------------------------------- */

static void
make_dir(char *dir, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, cap, "%s/freddy-failinject.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
	closedir(d);
	CHECK(rmdir(dir) == 0);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* The folder holds only names from `allowed` (NULL-terminated), each a
 * regular file of mode 0600: no temporary file, nothing half-written
 * under another name. */
static bool
dir_holds_only(const char *dir, const char *const *allowed)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool ok = d != NULL;

	while (ok && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		bool known = false;
		for (const char *const *a = allowed; *a != NULL; a++)
			known = known || strcmp(*a, e->d_name) == 0;
		struct stat st;
		if (!known || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    (st.st_mode & 07777) != 0600) {
			fprintf(stderr, "unexpected entry %s in %s\n", e->d_name, dir);
			ok = false;
		}
	}
	if (d != NULL)
		closedir(d);
	return ok;
}

static struct private_file_rule
own_rule(void)
{
	struct private_file_rule rule = {
		.owner = geteuid(),
		.other_owner = geteuid(),
		.forbidden_mode = 0077,
		.max_size = 64 * 1024,
		.what = "test file",
		.must_be = "a private file of the test",
	};
	return rule;
}

/* jansson allocates through the wrapper (may fail) or the real malloc. */
static void
jansson_may_fail(bool may)
{
	json_set_alloc_funcs(may ? malloc : fi_real_malloc, free);
}

/* ---- atomic_file_replace and private_file_read ------------------------------ */

static char new_text[3000];
static const char old_text[] = "the old contents\n";

/* Replace `name` (holding old_text) with new_text, then read it back,
 * both under injection. */
static unsigned long
file_run(const char *name, unsigned mask, unsigned long nth, unsigned long every, enum fi_effect effect, bool strict)
{
	const struct private_file_rule rule = own_rule();
	char dir[256], err[256], disk_err[256], tmpname[300];
	char *text = NULL, *disk = NULL;
	size_t len = 0, disk_len = 0;

	make_dir(dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK(atomic_file_replace(dfd, name, old_text, strlen(old_text)) == 0);
	int fds = count_fds();

	fi_arm(mask, nth, every, effect);
	int w = atomic_file_replace(dfd, name, new_text, sizeof(new_text));
	int r = private_file_read(dfd, name, &rule, &text, &len, err, sizeof(err));
	fi_disarm();
	unsigned long calls = fi_calls();

	CHECK(w == FR_OK || w == FR_ERR_IO);
	CHECK(private_file_read(dfd, name, &rule, &disk, &disk_len, disk_err, sizeof(disk_err)) == 0);
	bool is_new = disk != NULL && disk_len == sizeof(new_text) && memcmp(disk, new_text, disk_len) == 0;
	bool is_old = disk != NULL && disk_len == strlen(old_text) && memcmp(disk, old_text, disk_len) == 0;
	/* A failure may come after the rename (the folder's fsync): then the
	 * new contents are in place and the caller was told it failed. */
	CHECK(is_new || (w != FR_OK && is_old));
	if (r == FR_OK) {
		CHECK(text != NULL && len == disk_len && memcmp(text, disk, len) == 0 && text[len] == '\0');
	} else {
		CHECK(r == FR_ERR_IO || r == FR_ERR_NOMEM);
		CHECK(text == NULL && len == 0);
		if (r == FR_ERR_IO)
			CHECK(err[0] != '\0');
	}
	if (strict)
		CHECK(w == FR_OK && r == FR_OK);
	CHECK(count_fds() == fds);

	const char *const only_name[] = { name, NULL };
	if ((mask & FI_UNLINK) && fi_injected() > 0 && !dir_holds_only(dir, only_name)) {
		/* Removing the temporary file after a failure failed too: the
		 * next replacement must clear it. */
		snprintf(tmpname, sizeof(tmpname), "%s%s.tmp", name[0] == '.' ? "" : ".", name);
		struct stat st;
		CHECK(fstatat(dfd, tmpname, &st, AT_SYMLINK_NOFOLLOW) == 0);
		CHECK(atomic_file_replace(dfd, name, new_text, sizeof(new_text)) == 0);
	}
	CHECK(dir_holds_only(dir, only_name));

	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	free(disk);
	close(dfd);
	remove_dir(dir);
	return calls;
}

static void
file_sweep(const char *name, unsigned mask, enum fi_effect effect, bool strict, struct sweep_stats *s)
{
	unsigned long clean = file_run(name, mask, 0, 0, effect, true);

	CHECK(clean > 0);
	s->clean_calls += clean;
	for (unsigned long n = 1; n <= clean + 1; n++) {
		file_run(name, mask, n, 0, effect, strict);
		s->injected += fi_injected();
		s->runs++;
	}
	/* Every call interrupted would never end: EINTR is retried. */
	for (unsigned long every = effect == FI_EINTR ? 2 : 1; every <= 3; every++) {
		file_run(name, mask, 0, every, effect, strict);
		s->injected += fi_injected();
		s->runs++;
	}
}

/* A temporary file left by a crash, even a symbolic link in its place,
 * is replaced, and what the link pointed to is not touched. */
static void
test_stale_temporary(void)
{
	char dir[256], outside[300];
	make_dir(dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	int fd = openat(dfd, ".alice.tmp", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "torn", 4) == 4);
	close(fd);
	CHECK(atomic_file_replace(dfd, "alice", old_text, strlen(old_text)) == 0);
	const char *const alice[] = { "alice", NULL };
	CHECK(dir_holds_only(dir, alice));

	char odir[256];
	make_dir(odir, sizeof(odir));
	snprintf(outside, sizeof(outside), "%s/target", odir);
	fd = open(outside, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);
	CHECK(symlinkat(outside, dfd, ".alice.tmp") == 0);
	CHECK(atomic_file_replace(dfd, "alice", new_text, sizeof(new_text)) == 0);
	CHECK(dir_holds_only(dir, alice));
	struct stat st;
	CHECK(stat(outside, &st) == 0 && st.st_size == 4);
	close(dfd);
	remove_dir(dir);
	remove_dir(odir);
}

/* The one failure that leaves a file behind: the write fails, then so
 * does the removal of the temporary file.  The old contents stay, and
 * the next replacement clears the temporary file. */
static void
test_failed_cleanup(void)
{
	const struct private_file_rule rule = own_rule();
	char dir[256], err[256];
	char *text = NULL;
	size_t len = 0;
	struct stat st;

	make_dir(dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(atomic_file_replace(dfd, "alice", old_text, strlen(old_text)) == 0);
	/* Calls: 1 unlinkat of a stale temporary, 2 write, 3 unlinkat after
	 * the failure: fail 2 (nth) and 3 (every third). */
	fi_arm(FI_WRITE | FI_UNLINK, 2, 3, FI_FAIL);
	CHECK(atomic_file_replace(dfd, "alice", new_text, sizeof(new_text)) == FR_ERR_IO);
	fi_disarm();
	CHECK(fi_injected() == 2);
	CHECK(fstatat(dfd, ".alice.tmp", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(private_file_read(dfd, "alice", &rule, &text, &len, err, sizeof(err)) == 0);
	CHECK(len == strlen(old_text) && memcmp(text, old_text, len) == 0);
	free(text);
	CHECK(atomic_file_replace(dfd, "alice", new_text, sizeof(new_text)) == 0);
	const char *const alice[] = { "alice", NULL };
	CHECK(dir_holds_only(dir, alice));
	close(dfd);
	remove_dir(dir);
}

/* ---- the token cache, with its writer thread ----------------------------------- */

static const struct cache_record old_alice = {
	.refresh_token = "alice-refresh-old",
	.access_token = "alice-access-old",
	.access_expires = 1700000000,
	.last_login = 1690000000,
};
static const struct cache_record new_alice = {
	.refresh_token = "alice-refresh-new",
	.verifier = "$y$j9T$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
	.access_expires = 1800000000,
	.last_login = 1790000000,
	.last_online = 1790000001,
};
static const struct cache_record bob_1 = {
	.refresh_token = "bob-refresh-1",
	.access_token = "bob-access-1",
	.access_expires = 5,
	.last_login = 6,
};
static const struct cache_record bob_2 = {
	.refresh_token = "bob-refresh-2",
	.access_expires = 7,
	.last_login = 8,
	.last_online = 9,
};
static const struct cache_record carol_1 = {
	.refresh_token = "carol-refresh-1",
	.access_expires = 10,
	.last_login = 11,
};
static const struct cache_record carol_2 = {
	.refresh_token = "carol-refresh-2",
	.access_expires = 12,
	.last_login = 13,
};
static const struct cache_record dave_1 = {
	.refresh_token = "dave-refresh-1",
	.access_expires = 14,
	.last_login = 15,
};

#define USERS	4
#define CHOICES 4

/* What a user's record may be: any of `choice` (NULL = no record).  A
 * store that was accepted adds its record; a store written behind may
 * still fail on the writer thread, so the one before stays possible. */
struct expect {
	const char *user;
	const struct cache_record *choice[CHOICES];
	int n;
};

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_record(const struct cache_record *a, const struct cache_record *b)
{
	return same_text(a->refresh_token, b->refresh_token) && same_text(a->access_token, b->access_token) &&
	       same_text(a->verifier, b->verifier) && a->access_expires == b->access_expires &&
	       a->last_login == b->last_login && a->last_online == b->last_online;
}

static bool
record_is_zero(const struct cache_record *r)
{
	return r->refresh_token == NULL && r->access_token == NULL && r->verifier == NULL && r->access_expires == 0 &&
	       r->last_login == 0 && r->last_online == 0;
}

static void
allow(struct expect *e, const struct cache_record *rec)
{
	for (int i = 0; i < e->n; i++)
		if (e->choice[i] == rec)
			return;
	CHECK(e->n < CHOICES);
	if (e->n < CHOICES)
		e->choice[e->n++] = rec;
}

static void
only(struct expect *e, const struct cache_record *rec)
{
	e->choice[0] = rec;
	e->n = 1;
}

static bool
allowed(const struct expect *e, const struct cache_record *got)
{
	for (int i = 0; i < e->n; i++)
		if (e->choice[i] != NULL && same_record(e->choice[i], got))
			return true;
	return false;
}

static bool
none_allowed(const struct expect *e)
{
	for (int i = 0; i < e->n; i++)
		if (e->choice[i] == NULL)
			return true;
	return false;
}

static void
store(struct token_cache *c, struct expect *e, const struct cache_record *rec, bool strict)
{
	/* Encoding only, on this thread: the writer thread has no use for
	 * jansson, and no JSON is parsed meanwhile. */
	jansson_may_fail(true);
	int r = token_cache_store(c, e->user, rec);
	jansson_may_fail(false);

	/* IO only when there is no writer thread and the write is inline. */
	CHECK(r == FR_OK || r == FR_ERR_NOMEM || r == FR_ERR_IO);
	if (strict) {
		CHECK(r == FR_OK);
		only(e, rec);
	} else if (r == FR_OK || r == FR_ERR_IO) {
		/* IO can come from the folder's fsync, after the rename. */
		allow(e, rec);
	}
}

static void
print_record(const char *what, const struct cache_record *r)
{
	if (r == NULL)
		fprintf(stderr, "  %s: none\n", what);
	else
		fprintf(stderr, "  %s: %s %s %s %lld %lld %lld\n", what, r->refresh_token,
			r->access_token ? r->access_token : "-", r->verifier ? r->verifier : "-",
			(long long)r->access_expires, (long long)r->last_login, (long long)r->last_online);
}

static void
check_load(struct token_cache *c, const struct expect *e, bool strict)
{
	struct cache_record got;
	int r = token_cache_load(c, e->user, &got);

	if (r == FR_OK) {
		CHECK(allowed(e, &got));
		if (!allowed(e, &got)) {
			fprintf(stderr, "%s loaded a record never stored (call %lu)\n", e->user, fi_calls());
			print_record("got", &got);
			for (int i = 0; i < e->n; i++)
				print_record("allowed", e->choice[i]);
		}
		cache_record_wipe(&got);
		return;
	}
	CHECK(record_is_zero(&got));
	/* An unreadable file reads as "no record" (NOT_FOUND, logged). */
	CHECK(r == FR_ERR_NOT_FOUND || r == FR_ERR_NOMEM);
	if (strict)
		CHECK(r == FR_ERR_NOT_FOUND && none_allowed(e));
}

struct each_seen {
	struct expect *e;
	bool seen[USERS];
};

static int
each_visit(void *ctx, const char *user, const struct cache_record *rec)
{
	struct each_seen *s = ctx;

	for (int i = 0; i < USERS; i++) {
		if (strcmp(s->e[i].user, user) == 0) {
			CHECK(!s->seen[i]);
			CHECK(allowed(&s->e[i], rec));
			s->seen[i] = true;
			return 0;
		}
	}
	fprintf(stderr, "token_cache_each named %s, whom nobody stored\n", user);
	CHECK(0);
	return 0;
}

/* The record codec alone: encoding with jansson's allocations failing,
 * decoding with the decoder's own (secret copies) failing. */
static unsigned long
codec_run(const struct cache_record *rec, unsigned long nth, unsigned long *injected)
{
	struct cache_record back;
	char *text = NULL;
	size_t len = 0;

	jansson_may_fail(true);
	fi_arm(FI_ALLOC, nth, 0, FI_FAIL);
	int r = cache_record_encode("alice", rec, &text, &len);
	fi_disarm();
	jansson_may_fail(false);
	unsigned long calls = fi_calls();
	*injected += fi_injected();
	if (r == FR_OK) {
		CHECK(text != NULL && strlen(text) == len);
		CHECK(cache_record_decode("alice", text, len, &back) == 0 && same_record(rec, &back));
		cache_record_wipe(&back);
	} else {
		CHECK(r == FR_ERR_NOMEM && text == NULL && len == 0);
	}
	free(text);
	text = NULL;

	CHECK(cache_record_encode("alice", rec, &text, &len) == 0);
	fi_arm(FI_ALLOC, nth, 0, FI_FAIL);
	r = cache_record_decode("alice", text, len, &back);
	fi_disarm();
	calls += fi_calls();
	*injected += fi_injected();
	if (r == FR_OK)
		CHECK(same_record(rec, &back));
	else
		CHECK(r == FR_ERR_NOMEM && record_is_zero(&back));
	cache_record_wipe(&back);
	free(text);
	return calls;
}

static void
codec_sweep(struct sweep_stats *s)
{
	const struct cache_record *const recs[] = { &old_alice, &new_alice, &bob_2 };

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		unsigned long none = 0;
		unsigned long clean = codec_run(recs[i], 0, &none);
		CHECK(clean > 0 && none == 0);
		s->clean_calls += clean;
		/* Both halves count from 1: N fails the Nth call of each. */
		for (unsigned long n = 1; n <= clean + 1; n++) {
			codec_run(recs[i], n, &s->injected);
			s->runs++;
		}
	}
}

static unsigned long
cache_run(unsigned mask, unsigned always, unsigned long nth, unsigned long every, enum fi_effect effect, bool strict)
{
	struct expect e[USERS] = {
		{ "alice", { &old_alice }, 1 },
		{ "bob", { NULL }, 1 },
		{ "carol", { &carol_1 }, 1 },
		{ "dave", { NULL }, 1 },
	};
	struct token_cache *c = NULL;
	char dir[256];
	int r;

	make_dir(dir, sizeof(dir));
	CHECK(token_cache_open(dir, &c) == 0);
	CHECK(token_cache_store(c, "alice", &old_alice) == 0);
	CHECK(token_cache_store(c, "carol", &carol_1) == 0);
	token_cache_close(c);
	c = NULL;
	int fds = count_fds();

	fi_arm(mask, nth, every, effect);
	fi_always(always);
	r = token_cache_open(dir, &c);
	if (r != FR_OK) {
		CHECK(c == NULL && (r == FR_ERR_IO || r == FR_ERR_NOMEM));
		CHECK(!strict);
	} else {
		store(c, &e[0], &new_alice, strict);
		store(c, &e[1], &bob_1, strict);
		/* Read at once: the records may still wait for the writer. */
		check_load(c, &e[0], strict);
		check_load(c, &e[1], strict);
		store(c, &e[1], &bob_2, strict);
		/* Forget with a store still queued (or being written): the
		 * store is cancelled and no write lands after the unlink. */
		store(c, &e[2], &carol_2, strict);
		r = token_cache_forget(c, "carol");
		CHECK(r == FR_OK || r == FR_ERR_IO);
		if (r == FR_OK)
			only(&e[2], NULL);
		CHECK(!strict || r == FR_OK);
		/* A user whose only record may not have reached the disk yet. */
		store(c, &e[3], &dave_1, strict);
		r = token_cache_forget(c, "dave");
		CHECK(r == FR_OK || r == FR_ERR_IO || r == FR_ERR_NOT_FOUND);
		if (r == FR_OK || r == FR_ERR_NOT_FOUND)
			only(&e[3], NULL);
		CHECK(!strict || r == FR_OK);
		/* Files only: bob's may still be queued. */
		int count = token_cache_count(c);
		CHECK(count >= -1 && count <= USERS);
		CHECK(!strict || count == 1 || count == 2);
		for (int i = 0; i < USERS; i++)
			check_load(c, &e[i], strict);

		struct each_seen seen = { .e = e };
		r = token_cache_each(c, each_visit, &seen);
		CHECK(r == FR_OK || r == FR_ERR_IO);
		/* each_visit saw only allowed records (so not the forgotten
		 * user); with nothing failing it saw every user who has one. */
		for (int i = 0; strict && i < USERS; i++)
			CHECK(r == FR_OK && seen.seen[i] == !none_allowed(&e[i]));
		token_cache_flush(c);
		for (int i = 0; i < USERS; i++)
			check_load(c, &e[i], strict);
		token_cache_close(c);
		c = NULL;
	}
	fi_disarm();
	unsigned long calls = fi_calls();

	CHECK(count_fds() == fds);
	const char *const names[] = { "alice", "bob", "carol", "dave", NULL };
	if ((mask & FI_UNLINK) && fi_injected() > 0 && !dir_holds_only(dir, names)) {
		/* A temporary file whose removal failed after another failure
		 * stays until that user's next store, which must clear it (rare
		 * here: it takes two failures in one write; test_failed_cleanup
		 * makes it happen on purpose). */
		const char *const with_tmp[] = { "alice",    "bob",	   "carol",	"dave", ".alice.tmp",
						 ".bob.tmp", ".carol.tmp", ".dave.tmp", NULL };
		CHECK(dir_holds_only(dir, with_tmp));
		CHECK(token_cache_open(dir, &c) == 0);
		CHECK(token_cache_store(c, "alice", &new_alice) == 0);
		CHECK(token_cache_store(c, "bob", &bob_2) == 0);
		only(&e[0], &new_alice);
		only(&e[1], &bob_2);
		for (int i = 2; i < USERS; i++) {
			CHECK(token_cache_store(c, e[i].user, &carol_2) == 0);
			token_cache_flush(c);
			CHECK(token_cache_forget(c, e[i].user) == 0);
			only(&e[i], NULL);
		}
		token_cache_close(c);
		c = NULL;
	}
	CHECK(dir_holds_only(dir, names));
	/* What survives a restart is one of the records allowed, and a record
	 * that was on disk is never lost. */
	CHECK(token_cache_open(dir, &c) == 0);
	for (int i = 0; i < USERS; i++) {
		struct cache_record got;
		r = token_cache_load(c, e[i].user, &got);
		if (r == FR_OK) {
			CHECK(allowed(&e[i], &got));
			cache_record_wipe(&got);
		} else {
			CHECK(r == FR_ERR_NOT_FOUND && none_allowed(&e[i]));
		}
	}
	token_cache_close(c);
	remove_dir(dir);
	return calls;
}

static void
cache_sweep(unsigned mask, unsigned always, enum fi_effect effect, bool strict, struct sweep_stats *s)
{
	unsigned long clean = cache_run(mask, always, 0, 0, effect, true);

	CHECK(clean > 0);
	s->clean_calls += clean;
	/* The writer thread makes the order of calls vary a little from run
	 * to run: go some way past the clean count. */
	for (unsigned long n = 1; n <= clean + clean / 4 + 2; n++) {
		cache_run(mask, always, n, 0, effect, strict);
		s->injected += fi_injected();
		s->runs++;
	}
	for (unsigned long every = effect == FI_EINTR ? 2 : 1; every <= 7; every += 2) {
		cache_run(mask, always, 0, every, effect, strict);
		s->injected += fi_injected();
		s->runs++;
	}
}

static void
report(const char *what, const struct sweep_stats *s)
{
	CHECK(s->injected >= s->clean_calls / 2);
	printf("%s: %lu wrapped calls in the clean runs, %lu runs, %lu calls injected\n", what, s->clean_calls, s->runs,
	       s->injected);
}

/* --wrap reaches into the convenience libraries: a private_file_read
 * inside libhostlib opens, allocates, reads and closes through us. */
static void
test_wrapping_reaches_the_libraries(void)
{
	const struct private_file_rule rule = own_rule();
	char dir[256], err[256];
	char *text = NULL;
	size_t len = 0;

	make_dir(dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(atomic_file_replace(dfd, "f", old_text, strlen(old_text)) == 0);
	fi_arm(FI_OPEN, 0, 0, FI_FAIL);
	CHECK(private_file_read(dfd, "f", &rule, &text, &len, err, sizeof(err)) == 0);
	fi_disarm();
	CHECK(fi_calls() == 1);
	free(text);
	fi_arm(FI_ALLOC, 1, 0, FI_FAIL);
	err[0] = '\0';
	CHECK(private_file_read(dfd, "f", &rule, &text, &len, err, sizeof(err)) == FR_ERR_NOMEM);
	fi_disarm();
	CHECK(text == NULL && fi_injected() == 1);
	/* Every error but NOT_FOUND explains itself (private_file.h). */
	CHECK(strstr(err, "out of memory") != NULL);
	close(dfd);
	remove_dir(dir);
}

int
main(void)
{
	struct sweep_stats files = { 0 }, codec = { 0 }, cache = { 0 }, inline_cache = { 0 }, cache_unlink = { 0 },
			   transfers = { 0 };

	jansson_may_fail(false);
	for (size_t i = 0; i < sizeof(new_text); i++)
		new_text[i] = (char)('a' + i % 26);

	test_wrapping_reaches_the_libraries();
	test_stale_temporary();
	test_failed_cleanup();

	/* ".totp=USER" names its temporary "NAME.tmp", not ".NAME.tmp". */
	file_sweep("alice", FI_DEFAULT, FI_FAIL, false, &files);
	file_sweep(".totp=alice", FI_DEFAULT, FI_FAIL, false, &files);
	file_sweep("alice", FI_DEFAULT | FI_UNLINK, FI_FAIL, false, &files);
	report("atomic_file_replace + private_file_read, failing", &files);
	file_sweep("alice", FI_TRANSFER, FI_SHORT, true, &transfers);
	file_sweep("alice", FI_TRANSFER, FI_EINTR, true, &transfers);

	codec_sweep(&codec);
	report("cache record codec, allocations failing", &codec);
	cache_sweep(FI_DEFAULT, 0, FI_FAIL, false, &cache);
	report("token cache with its writer thread, failing", &cache);
	/* No writer thread: every store writes on the caller's thread. */
	cache_sweep(FI_DEFAULT, FI_THREAD, FI_FAIL, false, &inline_cache);
	report("token cache without a writer thread, failing", &inline_cache);
	/* unlinkat failing too: forget may fail, a temporary file may stay
	 * until the next store (checked in cache_run). */
	cache_sweep(FI_DEFAULT | FI_UNLINK, 0, FI_FAIL, false, &cache_unlink);
	report("token cache, unlinkat failing as well", &cache_unlink);
	cache_sweep(FI_TRANSFER, 0, FI_SHORT, true, &transfers);
	cache_sweep(FI_TRANSFER, 0, FI_EINTR, true, &transfers);
	report("short and interrupted transfers (must all succeed)", &transfers);
	printf("log lines the error paths wrote: %lu\n", fi_log_lines());
	return check_finish("test_failinject_cache");
}
