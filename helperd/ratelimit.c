#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fr_error.h"
#include "log.h"
#include "ratelimit.h"
#include "user_name.h"

#define STATE_MAX	(RATELIMIT_MAX_ENTRIES * (RATELIMIT_KEY_MAX + 40))
#define LINE_MAX_LEN	(RATELIMIT_KEY_MAX + 40)

struct rl_entry {
	char key[RATELIMIT_KEY_MAX + 1];
	unsigned failures;
	int64_t last;			/* unix time of the last failure */
};

struct ratelimit {
	int dir_fd;			/* -1: not persisted */
	struct rl_entry *entries;
	size_t count;
};

unsigned
ratelimit_delay_for(unsigned failures, unsigned threshold, unsigned delay)
{
	if (threshold == 0 || failures < threshold || delay == 0)
		return 0;
	unsigned shift = failures - threshold;
	if (shift >= 16)
		return RATELIMIT_MAX_DELAY;
	uint64_t d = (uint64_t)delay << shift;
	return d > RATELIMIT_MAX_DELAY ? RATELIMIT_MAX_DELAY : (unsigned)d;
}

int
ratelimit_key_valid(const char *key)
{
	if (strncmp(key, "user:", 5) == 0)
		return strlen(key) <= RATELIMIT_KEY_MAX && user_name_valid(key + 5);
	if (strncmp(key, "uid:", 4) == 0) {
		const char *d = key + 4;
		size_t n = strlen(d);
		return n > 0 && n <= 10 && strspn(d, "0123456789") == n;
	}
	return 0;
}

/* Parse an unsigned decimal of at most `maxdigits` digits. */
static int
parse_num(const char *s, size_t len, unsigned maxdigits, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > maxdigits)
		return FR_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return FR_ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return FR_OK;
}

int
ratelimit_decode(const char *buf, size_t len, ratelimit_visit_fn visit, void *ctx)
{
	size_t off = 0;

	if (len > STATE_MAX)
		return FR_ERR_TOO_LARGE;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		if (nl == NULL)
			return FR_ERR_INVALID;	/* the writer always ends lines */
		size_t llen = (size_t)(nl - line);
		off += llen + 1;
		if (llen > LINE_MAX_LEN || memchr(line, '\0', llen) != NULL)
			return FR_ERR_INVALID;
		const char *sp1 = memchr(line, ' ', llen);
		if (sp1 == NULL)
			return FR_ERR_INVALID;
		size_t klen = (size_t)(sp1 - line);
		const char *rest = sp1 + 1;
		size_t rlen = llen - klen - 1;
		const char *sp2 = memchr(rest, ' ', rlen);
		if (sp2 == NULL || klen == 0 || klen > RATELIMIT_KEY_MAX)
			return FR_ERR_INVALID;
		char key[RATELIMIT_KEY_MAX + 1];
		memcpy(key, line, klen);
		key[klen] = '\0';
		uint64_t failures, last;
		size_t flen = (size_t)(sp2 - rest);
		if (!ratelimit_key_valid(key) || parse_num(rest, flen, 6, &failures) != 0 ||
		    parse_num(sp2 + 1, rlen - flen - 1, 12, &last) != 0)
			return FR_ERR_INVALID;
		int r = visit(ctx, key, (unsigned)failures, (int64_t)last);
		if (r != 0)
			return r;
	}
	return FR_OK;
}

static struct rl_entry *
find(struct ratelimit *rl, const char *key)
{
	for (size_t i = 0; i < rl->count; i++)
		if (strcmp(rl->entries[i].key, key) == 0)
			return &rl->entries[i];
	return NULL;
}

static void
drop(struct ratelimit *rl, struct rl_entry *e)
{
	*e = rl->entries[--rl->count];
}

/* A new entry; when the table is full the entry with the oldest failure
 * makes room, so a flood of keys cannot grow memory. */
static struct rl_entry *
add(struct ratelimit *rl, const char *key)
{
	if (strlen(key) > RATELIMIT_KEY_MAX)
		return NULL;
	if (rl->count == RATELIMIT_MAX_ENTRIES) {
		struct rl_entry *oldest = &rl->entries[0];
		for (size_t i = 1; i < rl->count; i++)
			if (rl->entries[i].last < oldest->last)
				oldest = &rl->entries[i];
		drop(rl, oldest);
	}
	struct rl_entry *e = &rl->entries[rl->count++];
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, strlen(key) + 1);
	return e;
}

static int
load_visit(void *ctx, const char *key, unsigned failures, int64_t last)
{
	struct ratelimit *rl = ctx;

	if (find(rl, key) != NULL)
		return FR_ERR_DUPLICATE;
	struct rl_entry *e = add(rl, key);
	if (e == NULL)
		return FR_ERR_INVALID;
	e->failures = failures;
	e->last = last;
	return FR_OK;
}

static void
load(struct ratelimit *rl)
{
	struct stat st;
	int fd = openat(rl->dir_fd, RATELIMIT_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("rate limit state %s: %s; starting afresh", RATELIMIT_FILE, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || st.st_size > STATE_MAX) {
		log_warn("rate limit state %s is not a private regular file of ours; ignored", RATELIMIT_FILE);
		close(fd);
		return;
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *buf = malloc(size + 1);
	while (buf != NULL && got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (buf == NULL || got != size) {
		log_warn("cannot read rate limit state %s; starting afresh", RATELIMIT_FILE);
		free(buf);
		return;
	}
	int r = ratelimit_decode(buf, size, load_visit, rl);
	free(buf);
	if (r != 0) {
		log_warn("rate limit state %s is corrupt (%s); starting afresh", RATELIMIT_FILE, fr_strerror(r));
		rl->count = 0;
	}
}

/* Temporary file, fsync, rename: a crash leaves the old or the new table. */
static void
save(struct ratelimit *rl, int64_t now)
{
	if (rl->dir_fd < 0)
		return;
	/* Forget what no longer matters before writing. */
	for (size_t i = 0; i < rl->count;) {
		if (now - rl->entries[i].last > RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY)
			drop(rl, &rl->entries[i]);
		else
			i++;
	}
	size_t cap = rl->count * LINE_MAX_LEN + 1, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		log_warn("cannot save the rate limit state: out of memory");
		return;
	}
	for (size_t i = 0; i < rl->count; i++) {
		int n = snprintf(buf + len, cap - len, "%s %u %lld\n", rl->entries[i].key,
				 rl->entries[i].failures, (long long)rl->entries[i].last);
		if (n < 0 || (size_t)n >= cap - len) {
			free(buf);
			log_warn("cannot save the rate limit state: line too long");
			return;
		}
		len += (size_t)n;
	}
	if (atomic_file_replace(rl->dir_fd, RATELIMIT_FILE, buf, len) != 0)
		log_warn("cannot save the rate limit state: %s", strerror(errno));
	free(buf);
}

int
ratelimit_open(const char *dir, struct ratelimit **out)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	*out = NULL;
	if (rl == NULL || (rl->entries = calloc(RATELIMIT_MAX_ENTRIES, sizeof(*rl->entries))) == NULL) {
		free(rl);
		return FR_ERR_NOMEM;
	}
	rl->dir_fd = -1;
	if (dir != NULL) {
		rl->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rl->dir_fd < 0) {
			log_err("cannot open %s for the rate limit state: %s", dir, strerror(errno));
			ratelimit_free(rl);
			return FR_ERR_IO;
		}
		load(rl);
	}
	*out = rl;
	return FR_OK;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	if (rl->dir_fd >= 0)
		close(rl->dir_fd);
	free(rl->entries);
	free(rl);
}

unsigned
ratelimit_wait(struct ratelimit *rl, const char *key, unsigned threshold, unsigned delay, int64_t now)
{
	const struct rl_entry *e = find(rl, key);

	if (e == NULL)
		return 0;
	int64_t until = e->last + ratelimit_delay_for(e->failures, threshold, delay);
	/* A clock set back must not stretch the wait beyond one full delay. */
	if (now < e->last)
		now = e->last;
	return until > now ? (unsigned)(until - now) : 0;
}

void
ratelimit_failure(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e != NULL && now - e->last > RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY)
		e->failures = 0;
	if (e == NULL && (e = add(rl, key)) == NULL)
		return;
	if (e->failures < 999999)
		e->failures++;
	e->last = now;
	save(rl, now);
}

void
ratelimit_success(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL)
		return;
	drop(rl, e);
	save(rl, now);
}
