#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/loop.h"
#include "fr_error.h"
#include "hostlib/private_file.h"
#include "core/log.h"
#include "store/ratelimit.h"
#include "store/state_writer.h"
#include "hostlib/user_name.h"

#define LINE_MAX_LEN	(RATELIMIT_KEY_MAX + 40)
#define STATE_MAX	(RATELIMIT_MAX_ENTRIES * LINE_MAX_LEN)
#define BUCKETS		4096 /* a power of two */
#define ORIGIN_HASH_HEX 32   /* 128 bits of SHA-256: no collision an attacker can aim */

struct rl_entry {
	struct rl_entry *next; /* in its bucket */
	unsigned failures;
	unsigned pending; /* reservations in flight */
	int64_t last;	  /* unix time of the last failure or reservation */
	char key[];
};

struct ratelimit {
	struct loop *loop;	/* NULL: saved only by ratelimit_save_now */
	struct loop_timer save; /* a second after the first change */
	int dir_fd;		/* -1: not persisted */
	struct state_writer *writer;
	struct rl_entry *buckets[BUCKETS];
	size_t count;
	bool dirty; /* failures changed since the last save */
	int64_t saved_at;
	/* Whether an entry is "inside its delay" when room is needed: the
	 * configured threshold and delay with the longest cap any key has. */
	struct ratelimit_policy eviction;
};

static void changed(struct ratelimit *rl);

unsigned
ratelimit_delay_for(unsigned failures, const struct ratelimit_policy *p)
{
	if (p->threshold == 0 || failures < p->threshold || p->delay == 0)
		return 0;
	unsigned shift = failures - p->threshold;
	if (shift >= 24)
		return p->max_delay;
	uint64_t d = (uint64_t)p->delay << shift;
	return d > p->max_delay ? p->max_delay : (unsigned)d;
}

static bool
origin_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == ':' ||
	       c == '_' || c == '@' || c == '=' || c == '-';
}

static bool
origin_valid(const char *s, size_t n)
{
	if (n == 0 || n > RATELIMIT_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!origin_char(s[i]))
			return false;
	return true;
}

bool
ratelimit_key_valid(const char *key)
{
	size_t len = strlen(key);

	if (len > RATELIMIT_KEY_MAX)
		return false;
	if (strncmp(key, "user:", 5) == 0)
		return user_name_valid(key + 5);
	if (strncmp(key, "uid:", 4) == 0) {
		size_t n = len - 4;
		return n > 0 && n <= 10 && strspn(key + 4, "0123456789") == n;
	}
	if (strncmp(key, "from:", 5) == 0) {
		const char *slash = strchr(key + 5, '/');
		char name[USER_NAME_MAX + 1];
		size_t nlen = slash != NULL ? (size_t)(slash - (key + 5)) : 0;
		if (slash == NULL || nlen == 0 || nlen > USER_NAME_MAX)
			return false;
		memcpy(name, key + 5, nlen);
		name[nlen] = '\0';
		return user_name_valid(name) && origin_valid(slash + 1, strlen(slash + 1));
	}
	return false;
}

int
ratelimit_origin_key(char *out, size_t outlen, const char *user, const char *origin)
{
	char hashed[ORIGIN_HASH_HEX + 6];
	size_t olen = strlen(origin);

	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	if (!origin_valid(origin, olen)) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (EVP_Digest(origin, olen, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen * 2 < ORIGIN_HASH_HEX)
			return FR_ERR_INTERNAL;
		memcpy(hashed, "sha=", 4);
		for (unsigned i = 0; i < ORIGIN_HASH_HEX / 2; i++)
			snprintf(hashed + 4 + 2 * i, 3, "%02x", md[i]);
		origin = hashed;
	}
	int w = snprintf(out, outlen, "from:%s/%s", user, origin);
	if (w < 0 || (size_t)w >= outlen || (size_t)w > RATELIMIT_KEY_MAX)
		return FR_ERR_TOO_LARGE;
	return FR_OK;
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
			return FR_ERR_INVALID; /* the writer always ends lines */
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

/* FNV-1a: the keys are ours to validate, not an attacker's to collide
 * usefully; a long chain costs time, never a wrong answer. */
static size_t
bucket_of(const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h & (BUCKETS - 1);
}

static struct rl_entry *
find(struct ratelimit *rl, const char *key)
{
	for (struct rl_entry *e = rl->buckets[bucket_of(key)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
drop(struct ratelimit *rl, struct rl_entry *victim)
{
	struct rl_entry **slot = &rl->buckets[bucket_of(victim->key)];

	while (*slot != NULL && *slot != victim)
		slot = &(*slot)->next;
	if (*slot == victim) {
		*slot = victim->next;
		rl->count--;
		free(victim);
	}
}

/* Whether an entry no longer matters at `now` under the longest delay any
 * policy can give: nothing in flight, past its window. */
static bool
expired(const struct rl_entry *e, int64_t now)
{
	return e->pending == 0 && now - e->last > RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY;
}

static unsigned wait_for_count(unsigned count, int64_t last, const struct ratelimit_policy *p, int64_t now);

/* An entry that may make room: nothing in flight and no delay running,
 * judged by the most patient policy (the longest cap). */
static bool
evictable(const struct ratelimit *rl, const struct rl_entry *e, int64_t now)
{
	return e->pending == 0 && wait_for_count(e->failures, e->last, &rl->eviction, now) == 0;
}

/* A new entry.  When the table is full, the oldest evictable entry makes
 * room; NULL when there is none, so a flood of keys can neither grow
 * memory nor wipe the counter of someone's delay. */
static struct rl_entry *
add(struct ratelimit *rl, const char *key, int64_t now)
{
	size_t klen = strlen(key);

	if (klen > RATELIMIT_KEY_MAX)
		return NULL;
	if (rl->count >= RATELIMIT_MAX_ENTRIES) {
		struct rl_entry *oldest = NULL;
		for (size_t b = 0; b < BUCKETS; b++)
			for (struct rl_entry *e = rl->buckets[b]; e != NULL; e = e->next)
				if (evictable(rl, e, now) && (oldest == NULL || e->last < oldest->last))
					oldest = e;
		if (oldest == NULL) {
			log_err("rate limit table full (%d keys, all inside a delay or in flight); "
				"refusing a new key",
				RATELIMIT_MAX_ENTRIES);
			return NULL;
		}
		drop(rl, oldest);
	}
	struct rl_entry *e = calloc(1, sizeof(*e) + klen + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, klen + 1);
	size_t b = bucket_of(key);
	e->next = rl->buckets[b];
	rl->buckets[b] = e;
	rl->count++;
	return e;
}

struct load_ctx {
	struct ratelimit *rl;
	int64_t now;
};

static int
load_visit(void *ctx, const char *key, unsigned failures, int64_t last)
{
	struct load_ctx *lc = ctx;

	if (find(lc->rl, key) != NULL)
		return FR_ERR_DUPLICATE;
	struct rl_entry *e = add(lc->rl, key, lc->now);
	if (e == NULL)
		return FR_ERR_INVALID;
	e->failures = failures;
	e->last = last;
	return FR_OK;
}

static void
forget_all(struct ratelimit *rl)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		while (rl->buckets[b] != NULL) {
			struct rl_entry *e = rl->buckets[b];
			rl->buckets[b] = e->next;
			free(e);
		}
	}
	rl->count = 0;
}

static void
load(struct ratelimit *rl)
{
	const struct private_file_rule rule = {
		.owner = geteuid(),
		.other_owner = geteuid(),
		.forbidden_mode = 0077,
		.max_size = STATE_MAX,
		.what = "rate limit state",
		.must_be = "a private regular file of the helper",
	};
	char err[256], *buf = NULL;
	size_t size = 0;

	int r = private_file_read(rl->dir_fd, RATELIMIT_FILE, &rule, &buf, &size, err, sizeof(err));
	if (r == FR_ERR_NOT_FOUND)
		return;
	if (r != FR_OK) {
		log_warn("%s; starting afresh", r == FR_ERR_NOMEM ? "rate limit state: out of memory" : err);
		return;
	}
	struct load_ctx lc = { rl, (int64_t)time(NULL) };
	r = ratelimit_decode(buf, size, load_visit, &lc);
	free(buf);
	if (r != 0) {
		log_warn("rate limit state %s is corrupt (%s); starting afresh", RATELIMIT_FILE, fr_strerror(r));
		forget_all(rl);
	}
}

void
ratelimit_save_now(struct ratelimit *rl, int64_t now)
{
	if (rl->writer == NULL || !rl->dirty)
		return;
	/* Forget what no longer matters before writing. */
	size_t lines = 0;
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct rl_entry *e = rl->buckets[b], *next; e != NULL; e = next) {
			next = e->next;
			if (expired(e, now))
				drop(rl, e);
			else if (e->failures > 0)
				lines++;
		}
	}
	size_t cap = lines * LINE_MAX_LEN + 1, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		log_err("cannot save the rate limit state: out of memory; kept in memory");
		return;
	}
	buf[0] = '\0';
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct rl_entry *e = rl->buckets[b]; e != NULL; e = e->next) {
			if (e->failures == 0)
				continue;
			int n = snprintf(buf + len, cap - len, "%s %u %lld\n", e->key, e->failures, (long long)e->last);
			if (n < 0 || (size_t)n >= cap - len) {
				free(buf);
				log_err("cannot save the rate limit state: line too long");
				return;
			}
			len += (size_t)n;
		}
	}
	/* The writer retries and logs a failure itself; what it cannot take
	 * (out of memory) stays dirty for the next tick. */
	if (state_writer_put(rl->writer, RATELIMIT_FILE, buf, len) == FR_OK) {
		rl->dirty = false;
		rl->saved_at = now;
	} else {
		log_err("cannot queue the rate limit state for writing; kept in memory");
	}
	free(buf);
}

static void
on_save(struct loop_timer *t)
{
	struct ratelimit *rl = (struct ratelimit *)((char *)t - offsetof(struct ratelimit, save));

	ratelimit_save_now(rl, (int64_t)time(NULL));
}

/* The table changed: written within a second, so that a burst of
 * failures costs one write, off the loop (state_writer.c). */
static void
changed(struct ratelimit *rl)
{
	rl->dirty = true;
	if (rl->loop != NULL && rl->writer != NULL && !loop_timer_armed(&rl->save) &&
	    loop_timer_set(rl->loop, &rl->save, loop_now_ms() + 1000) != 0)
		log_err("cannot schedule saving the rate limit state; it is kept in memory");
}

void
ratelimit_configure(struct ratelimit *rl, unsigned threshold, unsigned delay)
{
	rl->eviction.threshold = threshold;
	rl->eviction.delay = delay;
	rl->eviction.max_delay = RATELIMIT_MAX_DELAY;
}

int
ratelimit_open(struct loop *loop, int dirfd, struct state_writer *writer, unsigned threshold, unsigned delay,
	       struct ratelimit **out)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	*out = NULL;
	if (rl == NULL)
		return FR_ERR_NOMEM;
	rl->loop = loop;
	rl->save.on_expire = on_save;
	ratelimit_configure(rl, threshold, delay);
	rl->dir_fd = dirfd;
	rl->writer = dirfd >= 0 ? writer : NULL;
	if (rl->dir_fd >= 0)
		load(rl);
	*out = rl;
	return FR_OK;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	if (rl->loop != NULL)
		loop_timer_cancel(rl->loop, &rl->save);
	ratelimit_save_now(rl, (int64_t)time(NULL));
	forget_all(rl);
	free(rl);
}

/* Seconds to wait at `now` for an entry with `count` failures (and
 * reservations) whose last one was at `last`. */
static unsigned
wait_for_count(unsigned count, int64_t last, const struct ratelimit_policy *p, int64_t now)
{
	int64_t until = last + ratelimit_delay_for(count, p);

	/* A clock set back must not stretch the wait beyond one full delay. */
	if (now < last)
		now = last;
	return until > now ? (unsigned)(until - now) : 0;
}

static void
age_out(struct rl_entry *e, int64_t now)
{
	if (e->pending == 0 && now - e->last > RATELIMIT_WINDOW + RATELIMIT_MAX_DELAY)
		e->failures = 0;
}

unsigned
ratelimit_wait(struct ratelimit *rl, const char *key, const struct ratelimit_policy *p, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL)
		return 0;
	age_out(e, now);
	return wait_for_count(e->failures + e->pending, e->last, p, now);
}

unsigned
ratelimit_reserve(struct ratelimit *rl, const char *key, const struct ratelimit_policy *p, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL && (e = add(rl, key, now)) == NULL)
		return p->max_delay > 0 ? p->max_delay : 1;
	age_out(e, now);
	unsigned wait = wait_for_count(e->failures + e->pending, e->last, p, now);
	if (wait > 0)
		return wait;
	e->pending++;
	e->last = now;
	return 0;
}

void
ratelimit_commit_failure(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL)
		return; /* evicted cannot happen while pending; a success dropped it */
	if (e->pending > 0)
		e->pending--;
	if (e->failures < 999999)
		e->failures++;
	e->last = now;
	changed(rl);
}

void
ratelimit_release(struct ratelimit *rl, const char *key)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL || e->pending == 0)
		return;
	e->pending--;
	if (e->pending == 0 && e->failures == 0)
		drop(rl, e);
}

void
ratelimit_success(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	(void)now;
	if (e == NULL)
		return;
	if (e->failures > 0)
		changed(rl);
	e->failures = 0;
	if (e->pending == 0)
		drop(rl, e);
}

void
ratelimit_failure(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rl_entry *e = find(rl, key);

	if (e == NULL && (e = add(rl, key, now)) == NULL)
		return;
	age_out(e, now);
	if (e->failures < 999999)
		e->failures++;
	e->last = now;
	changed(rl);
}
