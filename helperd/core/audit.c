#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/journal_native.h"
#include "core/log.h"
#include "fr_error.h"

/* Records waiting for the writer, at most: beyond, a record is lost (and
 * counted) rather than memory grown without bound while a sink hangs. */
#define AUDIT_QUEUE_MAX 4096
/* A file that cannot be opened is tried again this often. */
#define AUDIT_REOPEN_MS 5000

/* ---- names ---------------------------------------------------------------- */

static const char *const event_names[AUDIT_EVENTS] = {
	[AUDIT_LOGIN_SUCCESS] = "login_success",     [AUDIT_LOGIN_FAILURE] = "login_failure",
	[AUDIT_CACHED_AUTH] = "cached_auth",	     [AUDIT_OFFLINE_LOGIN] = "offline_login",
	[AUDIT_RATE_LIMITED] = "rate_limited",	     [AUDIT_CALLER_REFUSED] = "caller_refused",
	[AUDIT_PASSWORD_CHANGE] = "password_change", [AUDIT_TOKEN_ISSUED] = "token_issued",
	[AUDIT_SESSION_CLOSE] = "session_close",
};

/* Made once with a random generator and fixed for ever: journalctl
 * queries and SIEM rules name them (freddy-helperd(8)). */
static const char *const event_message_ids[AUDIT_EVENTS] = {
	[AUDIT_LOGIN_SUCCESS] = "c0a130ed8cba41f2bcc79936ce630f73",
	[AUDIT_LOGIN_FAILURE] = "25d8dc055ede48c89377bb374264d59b",
	[AUDIT_CACHED_AUTH] = "acc1429861f04a42a33d79e8a71d3cdf",
	[AUDIT_OFFLINE_LOGIN] = "b58468f03aae4445b991cca852680af4",
	[AUDIT_RATE_LIMITED] = "2366a57ed44f45ee8f18186b8b8cecf3",
	[AUDIT_CALLER_REFUSED] = "edd2d8e62ca549628daa456ddfb9df35",
	[AUDIT_PASSWORD_CHANGE] = "f60ad856d729418aa6a7418fc2573ab1",
	[AUDIT_TOKEN_ISSUED] = "2f2ff86a5c1a42e2916028e5bd1a841c",
	[AUDIT_SESSION_CLOSE] = "5d9f750088f04f47b7b8ab225e6547db",
};

const char *
audit_event_name(enum audit_event event)
{
	return (unsigned)event < AUDIT_EVENTS ? event_names[event] : "unknown";
}

const char *
audit_event_message_id(enum audit_event event)
{
	return (unsigned)event < AUDIT_EVENTS ? event_message_ids[event] : "";
}

const char *
audit_factor_name(enum audit_factor factor)
{
	switch (factor) {
	case AUDIT_FACTOR_NONE:
		return NULL;
	case AUDIT_FACTOR_PASSWORD:
		return "password";
	case AUDIT_FACTOR_EMAIL_CODE:
		return "email_code";
	case AUDIT_FACTOR_TOTP:
		return "totp";
	case AUDIT_FACTOR_RECOVERY_CODE:
		return "recovery_code";
	case AUDIT_FACTOR_CACHED:
		return "cached";
	case AUDIT_FACTOR_OFFLINE:
		return "offline";
	}
	return NULL;
}

/* ---- JSON ----------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (1-4), or 0 when the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, cut). */
static size_t
utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

struct out {
	char *p;
	size_t cap, len;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_escaped(struct out *o, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t n = utf8_sequence(s + i, len - i);
			if (n == 0) {
				put_str(o, "\\ufffd");
				i++;
			} else if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
				/* Valid JSON, but a line break to JavaScript and to
				 * some log viewers. */
				put_str(o, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
				i += 3;
			} else {
				put(o, in + i, n);
				i += n;
			}
			continue;
		}
		i++;
		switch (c) {
		case '"':
			put_str(o, "\\\"");
			continue;
		case '\\':
			put_str(o, "\\\\");
			continue;
		case '\n':
			put_str(o, "\\n");
			continue;
		case '\r':
			put_str(o, "\\r");
			continue;
		case '\t':
			put_str(o, "\\t");
			continue;
		case '\b':
			put_str(o, "\\b");
			continue;
		case '\f':
			put_str(o, "\\f");
			continue;
		default:
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			put(o, u, sizeof(u));
		} else {
			put(o, (const char *)&c, 1);
		}
	}
}

/* Terminates the output; false when it did not fit. */
static bool
out_end(struct out *o)
{
	if (o->cap == 0)
		return false;
	if (o->len >= o->cap) {
		o->p[o->cap - 1] = '\0';
		return false;
	}
	o->p[o->len] = '\0';
	return true;
}

size_t
audit_json_escape(const char *in, size_t len, char *out, size_t cap)
{
	struct out o = { out, cap, 0 };

	put_escaped(&o, in, len);
	(void)out_end(&o);
	return o.len;
}

size_t
audit_format_time(int64_t unix_ms, char *out, size_t cap)
{
	time_t secs = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	struct tm tm;
	char date[32];

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return 0;
	int n = snprintf(out, cap, "%s.%03dZ", date, ms);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool
present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void
json_member(struct out *o, const char *name, const char *value)
{
	if (!present(value))
		return;
	put_str(o, ",\"");
	put_str(o, name);
	put_str(o, "\":\"");
	put_escaped(o, value, strnlen(value, AUDIT_VALUE_MAX));
	put_str(o, "\"");
}

size_t
audit_format_json(const struct audit_record *rec, int64_t unix_ms, char *out, size_t cap)
{
	struct out o = { out, cap, 0 };
	char when[40], uid[24];

	if (audit_format_time(unix_ms, when, sizeof(when)) == 0)
		return 0;
	put_str(&o, "{\"time\":\"");
	put_str(&o, when);
	put_str(&o, "\"");
	json_member(&o, "event", audit_event_name(rec->event));
	json_member(&o, "user", rec->user);
	json_member(&o, "service", rec->service);
	json_member(&o, "rhost", rec->rhost);
	json_member(&o, "tty", rec->tty);
	(void)snprintf(uid, sizeof(uid), ",\"caller_uid\":%u", (unsigned)rec->caller_uid);
	put_str(&o, uid);
	json_member(&o, "factor", audit_factor_name(rec->factor));
	json_member(&o, "result", rec->result);
	json_member(&o, "trace_id", rec->trace_id);
	json_member(&o, "login_id", rec->login_id);
	put_str(&o, "}\n");
	return out_end(&o) ? o.len : 0;
}

/* ---- the journal entry ------------------------------------------------------ */

struct journal_builder {
	struct audit_journal_entry *e;
	size_t used;
};

/* One "NAME=value" field, the value cut at `max` bytes: then it fits. */
static void
journal_field(struct journal_builder *b, const char *name, const char *value, int max)
{
	struct audit_journal_entry *e = b->e;

	if (!present(value) || e->n >= AUDIT_JOURNAL_FIELDS)
		return;
	size_t room = sizeof(e->buf) - b->used;
	int n = snprintf(e->buf + b->used, room, "%s=%.*s", name, max, value);
	if (n < 0 || (size_t)n >= room)
		return;
	e->iov[e->n].iov_base = e->buf + b->used;
	e->iov[e->n].iov_len = (size_t)n;
	e->n++;
	b->used += (size_t)n + 1;
}

static void
message_part(char *msg, size_t cap, size_t *len, const char *name, const char *value)
{
	if (!present(value) || *len >= cap)
		return;
	int n = snprintf(msg + *len, cap - *len, " %s=%.*s", name, AUDIT_VALUE_MAX, value);
	if (n > 0)
		*len += (size_t)n;
}

void
audit_format_journal(const struct audit_record *rec, struct audit_journal_entry *out)
{
	struct journal_builder b = { out, 0 };
	const char *factor = audit_factor_name(rec->factor);
	char uid[16], msg[8 * (AUDIT_VALUE_MAX + 16) + 64];
	size_t len = 0;
	bool success = rec->result != NULL && strcmp(rec->result, AUDIT_SUCCESS) == 0;

	memset(out, 0, sizeof(*out));
	(void)snprintf(uid, sizeof(uid), "%u", (unsigned)rec->caller_uid);
	int n = snprintf(msg, sizeof(msg), "audit: %s", audit_event_name(rec->event));
	len = n > 0 ? (size_t)n : 0;
	message_part(msg, sizeof(msg), &len, "user", rec->user);
	message_part(msg, sizeof(msg), &len, "service", rec->service);
	message_part(msg, sizeof(msg), &len, "rhost", rec->rhost);
	message_part(msg, sizeof(msg), &len, "tty", rec->tty);
	message_part(msg, sizeof(msg), &len, "caller_uid", uid);
	message_part(msg, sizeof(msg), &len, "factor", factor);
	message_part(msg, sizeof(msg), &len, "result", rec->result);
	message_part(msg, sizeof(msg), &len, "trace_id", rec->trace_id);
	message_part(msg, sizeof(msg), &len, "login_id", rec->login_id);

	journal_field(&b, "MESSAGE_ID", audit_event_message_id(rec->event), AUDIT_VALUE_MAX);
	journal_field(&b, "MESSAGE", msg, (int)sizeof(msg));
	journal_field(&b, "PRIORITY", success ? "6" : "5", AUDIT_VALUE_MAX); /* info, notice */
	journal_field(&b, "SYSLOG_FACILITY", "10", AUDIT_VALUE_MAX);	     /* authpriv, like the prose lines */
	journal_field(&b, "SYSLOG_IDENTIFIER", "freddy-helperd", AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_EVENT", audit_event_name(rec->event), AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_USER", rec->user, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_SERVICE", rec->service, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_RHOST", rec->rhost, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_TTY", rec->tty, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_CALLER_UID", uid, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_FACTOR", factor, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_RESULT", rec->result, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_TRACE_ID", rec->trace_id, AUDIT_VALUE_MAX);
	journal_field(&b, "FREDDY_LOGIN_ID", rec->login_id, AUDIT_VALUE_MAX);
}

/* ---- the writer ------------------------------------------------------------- */

/* A queued record, its strings copied behind it. */
struct audit_item {
	struct audit_item *next;
	int64_t unix_ms;
	struct audit_record rec;
	char strings[];
};

struct audit {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct audit_item *head, *tail;
	unsigned queued;
	bool writing, stopping, threaded;
	pthread_t thread;
	char *path;	   /* audit_log, or NULL */
	uint64_t path_gen; /* bumped by audit_set_file: reopen */
	audit_journal_fn journal;
	void *journal_ctx;
	bool queue_full; /* an episode of lost records, logged once */
	atomic_uint_fast64_t lost;

	/* The writer's own (the thread's, or audit_emit's without one). */
	int fd;
	int journal_fd; /* journal_send's socket, opened at its first entry */
	uint64_t open_gen;
	int64_t retry_at_ms;
	bool open_failing, write_failing, journal_failing;
	uint64_t lost_at_failure;

	/* The loop's. */
	uint64_t nonce, logins;
};

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
journal_send(void *ctx, const struct iovec *iov, int n)
{
	struct audit *a = ctx;
	unsigned char entry[AUDIT_JOURNAL_BUF + AUDIT_JOURNAL_FIELDS * JOURNAL_NATIVE_FIELD_OVERHEAD];

	size_t len = journal_native_encode(iov, n, entry, sizeof(entry));
	if (len == 0)
		return -EINVAL;
	if (a->journal_fd < 0 && (a->journal_fd = journal_native_socket()) < 0)
		return -errno;
	return journal_native_send(a->journal_fd, JOURNAL_NATIVE_SOCKET, entry, len);
}

/* `path` opened for appending, under the rules in audit.h; -1 (logged
 * with `path`) when it cannot be. */
static int
open_log_file(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct stat st;
	char dir[4096];

	if (path[0] != '/' || slash == NULL || slash[1] == '\0' || (size_t)(slash - path) >= sizeof(dir)) {
		log_err("audit_log %s: not an absolute file name", path);
		return -1;
	}
	size_t dlen = slash == path ? 1 : (size_t)(slash - path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		log_err("audit_log %s: cannot open the folder %s: %s", path, dir, strerror(errno));
		return -1;
	}
	/* Whoever may write the folder may swap the file for a link to
	 * another one between two rotations. */
	if (fstat(dfd, &st) != 0 || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		log_err("audit_log %s: the folder %s must be owned by root and not writable by group or others", path,
			dir);
		close(dfd);
		return -1;
	}
	/* O_NONBLOCK: a FIFO put in its place must not hold the writer. */
	int fd = openat(dfd, slash + 1, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
			0600);
	int saved = errno;
	close(dfd);
	if (fd < 0) {
		log_err("audit_log %s: cannot open: %s", path, strerror(saved));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		log_err("audit_log %s: must be a regular file owned by uid %u with no other link", path,
			(unsigned)geteuid());
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		/* A rotation tool's "create 0644" must not make it readable. */
		if (fchmod(fd, 0600) != 0) {
			log_err("audit_log %s: cannot make it mode 0600: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		log_warn("audit_log %s: was mode %04o, now 0600", path, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

/* The writer's file: (re)opened when audit_set_file asked, or retried. */
static void
ensure_file(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	bool changed = a->path_gen != a->open_gen;
	a->open_gen = a->path_gen; /* under the lock: audit_flush reads it */
	char *path = a->path != NULL ? strdup(a->path) : NULL;
	bool want = a->path != NULL;
	pthread_mutex_unlock(&a->lock);

	if (changed) {
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1;
		a->retry_at_ms = 0;
		a->open_failing = false;
	}
	if (want && a->fd < 0 && monotonic_ms() >= a->retry_at_ms) {
		if (path == NULL) {
			log_err("audit_log: out of memory reopening the file");
		} else if ((a->fd = open_log_file(path)) < 0) {
			a->retry_at_ms = monotonic_ms() + AUDIT_REOPEN_MS;
			if (!a->open_failing)
				log_err("audit_log %s: records are not written to it until it can be opened "
					"(tried again every %d s; the journal and syslog still get them)",
					path, AUDIT_REOPEN_MS / 1000);
			a->open_failing = true;
		} else if (a->open_failing) {
			log_info("audit_log %s is open again", path);
			a->open_failing = false;
		}
	}
	free(path);
}

static void
write_file(struct audit *a, const char *line, size_t len)
{
	struct stat st;
	off_t before = fstat(a->fd, &st) == 0 ? st.st_size : -1;
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(a->fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == len) {
		if (a->write_failing) {
			log_info("audit_log is written again (%" PRIu64 " record(s) lost meanwhile)",
				 atomic_load(&a->lost) - a->lost_at_failure);
			a->write_failing = false;
		}
		return;
	}
	int saved = errno;
	/* A torn line would break the next reader's parse: cut it off. */
	if (off > 0 && before >= 0 && ftruncate(a->fd, before) != 0)
		log_err("audit_log: cannot cut off a partial record: %s", strerror(errno));
	atomic_fetch_add(&a->lost, 1);
	if (!a->write_failing) {
		log_err("audit_log: cannot write a record: %s; records are lost until it works again",
			off > 0 ? "short write" : strerror(saved));
		a->write_failing = true;
		a->lost_at_failure = atomic_load(&a->lost) - 1;
	}
}

static void
write_item(struct audit *a, const struct audit_item *item)
{
	char line[AUDIT_JSON_MAX];
	struct audit_journal_entry *entry = NULL;

	pthread_mutex_lock(&a->lock);
	audit_journal_fn journal = a->journal;
	void *journal_ctx = a->journal_ctx;
	pthread_mutex_unlock(&a->lock);

	if (journal != NULL && (entry = malloc(sizeof(*entry))) != NULL) {
		audit_format_journal(&item->rec, entry);
		int r = journal(journal_ctx, entry->iov, entry->n);
		if (r < 0 && !a->journal_failing)
			log_warn("audit: cannot send a journal entry: %s", strerror(-r));
		a->journal_failing = r < 0;
		free(entry);
	}
	ensure_file(a);
	if (a->fd < 0) {
		if (a->open_failing)
			atomic_fetch_add(&a->lost, 1);
		return;
	}
	size_t len = audit_format_json(&item->rec, item->unix_ms, line, sizeof(line));
	if (len == 0) {
		log_err("audit: a record did not fit its line");
		atomic_fetch_add(&a->lost, 1);
		return;
	}
	write_file(a, line, len);
}

static void *
writer_main(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (a->head == NULL && !a->stopping && a->path_gen == a->open_gen)
			pthread_cond_wait(&a->work, &a->lock);
		struct audit_item *item = a->head;
		if (item != NULL) {
			a->head = item->next;
			if (a->head == NULL)
				a->tail = NULL;
			a->queued--;
		} else if (a->stopping) {
			break;
		}
		a->writing = true;
		pthread_mutex_unlock(&a->lock);
		if (item != NULL)
			write_item(a, item);
		else
			ensure_file(a); /* a reopen with nothing to write: logrotate wants the new file now */
		free(item);
		pthread_mutex_lock(&a->lock);
		a->writing = false;
		pthread_cond_broadcast(&a->done);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int
audit_new(struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));
	uint16_t salt = 0;

	*out = NULL;
	if (a == NULL)
		return FR_ERR_NOMEM;
	a->fd = -1;
	a->journal_fd = -1;
	atomic_init(&a->lost, 0);
	if (pthread_mutex_init(&a->lock, NULL) != 0 || pthread_cond_init(&a->work, NULL) != 0 ||
	    pthread_cond_init(&a->done, NULL) != 0) {
		free(a);
		return FR_ERR_NOMEM;
	}
	/* The start time keeps ids apart across runs; the salt, two helpers
	 * started in the same second. */
	if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) != (ssize_t)sizeof(salt))
		salt = (uint16_t)getpid();
	a->nonce = ((uint64_t)(uint32_t)time(NULL) << 16) | salt;
	if (access(JOURNAL_NATIVE_SOCKET, F_OK) == 0) {
		a->journal = journal_send;
		a->journal_ctx = a;
	}
	a->threaded = pthread_create(&a->thread, NULL, writer_main, a) == 0;
	if (a->threaded)
		(void)pthread_setname_np(a->thread, "freddy-audit");
	else
		log_warn("no audit writer thread; audit records are written on the event loop");
	*out = a;
	return FR_OK;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->threaded) {
		pthread_mutex_lock(&a->lock);
		a->stopping = true;
		pthread_cond_signal(&a->work);
		pthread_mutex_unlock(&a->lock);
		if (pthread_join(a->thread, NULL) != 0)
			log_err("cannot join the audit writer thread");
	}
	while (a->head != NULL) {
		struct audit_item *item = a->head;
		a->head = item->next;
		free(item);
	}
	if (a->fd >= 0)
		close(a->fd);
	if (a->journal_fd >= 0)
		close(a->journal_fd);
	free(a->path);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int
audit_set_file(struct audit *a, const char *path)
{
	char *copy = NULL;

	if (path != NULL && (copy = strdup(path)) == NULL)
		return FR_ERR_NOMEM;
	pthread_mutex_lock(&a->lock);
	free(a->path);
	a->path = copy;
	a->path_gen++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	if (!a->threaded)
		ensure_file(a);
	return FR_OK;
}

void
audit_set_journal(struct audit *a, audit_journal_fn fn, void *ctx)
{
	pthread_mutex_lock(&a->lock);
	a->journal = fn;
	a->journal_ctx = ctx;
	pthread_mutex_unlock(&a->lock);
}

/* `s` cut to AUDIT_VALUE_MAX bytes at a character boundary, copied to *p. */
static const char *
copy_value(char **p, const char *s)
{
	if (!present(s))
		return NULL;
	size_t n = strnlen(s, AUDIT_VALUE_MAX + 1);
	if (n > AUDIT_VALUE_MAX) {
		n = AUDIT_VALUE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	char *d = *p;
	memcpy(d, s, n);
	d[n] = '\0';
	*p += n + 1;
	return d;
}

void
audit_emit(struct audit *a, const struct audit_record *rec)
{
	struct timespec now;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	bool full = a->queued >= AUDIT_QUEUE_MAX;
	if (!full)
		a->queue_full = false;
	bool first_loss = full && !a->queue_full;
	if (full)
		a->queue_full = true;
	pthread_mutex_unlock(&a->lock);
	if (full) {
		atomic_fetch_add(&a->lost, 1);
		if (first_loss)
			log_err("audit: %d records wait for a slow sink; further ones are lost until it catches up",
				AUDIT_QUEUE_MAX);
		return;
	}
	struct audit_item *item = malloc(sizeof(*item) + 7 * (AUDIT_VALUE_MAX + 1));
	if (item == NULL) {
		atomic_fetch_add(&a->lost, 1);
		log_err("audit: out of memory; a %s record is lost", audit_event_name(rec->event));
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	item->next = NULL;
	item->unix_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	char *p = item->strings;
	item->rec = (struct audit_record){
		.event = rec->event,
		.caller_uid = rec->caller_uid,
		.factor = rec->factor,
	};
	item->rec.user = copy_value(&p, rec->user);
	item->rec.service = copy_value(&p, rec->service);
	item->rec.rhost = copy_value(&p, rec->rhost);
	item->rec.tty = copy_value(&p, rec->tty);
	item->rec.result = copy_value(&p, rec->result);
	item->rec.trace_id = copy_value(&p, rec->trace_id);
	item->rec.login_id = copy_value(&p, rec->login_id);
	if (!a->threaded) {
		write_item(a, item);
		free(item);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (a->tail != NULL)
		a->tail->next = item;
	else
		a->head = item;
	a->tail = item;
	a->queued++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

void
audit_password_change(struct audit *a, const struct audit_record *who, const char *result)
{
	struct audit_record rec = *who;

	rec.event = AUDIT_PASSWORD_CHANGE;
	rec.result = result;
	audit_emit(a, &rec);
}

void
audit_next_login_id(struct audit *a, char out[AUDIT_LOGIN_ID_MAX])
{
	if (a == NULL) {
		out[0] = '\0';
		return;
	}
	a->logins++;
	(void)snprintf(out, AUDIT_LOGIN_ID_MAX, "%012" PRIx64 "-%" PRIu64, a->nonce & 0xffffffffffffu, a->logins);
}

void
audit_flush(struct audit *a)
{
	if (a == NULL || !a->threaded)
		return;
	pthread_mutex_lock(&a->lock);
	while (a->head != NULL || a->writing || a->path_gen != a->open_gen)
		pthread_cond_wait(&a->done, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

uint64_t
audit_records_lost(const struct audit *a)
{
	return a != NULL ? atomic_load(&a->lost) : 0;
}
