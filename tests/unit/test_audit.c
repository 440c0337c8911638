/* core/audit: the record as JSON and as journal fields (pure), and the
 * sinks: the file (created 0600 safely, reopened, failing safely on a
 * full file system) and the journal through an observer of the function
 * the writer hands its fields to. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "core/audit.h"
#include "core/log.h"

#define P(s) s, strlen(s)

static const struct audit_record full = {
	.event = AUDIT_LOGIN_SUCCESS,
	.user = "alice",
	.service = "sshd",
	.rhost = "192.0.2.7",
	.tty = "ssh",
	.caller_uid = 0,
	.factor = AUDIT_FACTOR_EMAIL_CODE,
	.result = AUDIT_SUCCESS,
	.trace_id = "req_abc123xyz",
	.login_id = "0067a1f0c2e9-1",
};

/* 2026-01-02T03:04:05.678Z */
#define T0 1767323045678LL

static bool
is_hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static void
test_names(void)
{
	static const char *const names[AUDIT_EVENTS] = {
		"login_success",  "login_failure",   "cached_auth",  "offline_login", "rate_limited",
		"caller_refused", "password_change", "token_issued", "session_close",
	};
	for (int i = 0; i < AUDIT_EVENTS; i++) {
		CHECK(strcmp(audit_event_name((enum audit_event)i), names[i]) == 0);
		CHECK(is_hex32(audit_event_message_id((enum audit_event)i)));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(audit_event_message_id((enum audit_event)i),
				     audit_event_message_id((enum audit_event)j)) != 0);
	}
	/* Pinned: freddy-helperd(8) and the systemd stage name it. */
	CHECK(strcmp(audit_event_message_id(AUDIT_LOGIN_SUCCESS), "c0a130ed8cba41f2bcc79936ce630f73") == 0);
	CHECK(strcmp(audit_event_message_id(AUDIT_PASSWORD_CHANGE), "f60ad856d729418aa6a7418fc2573ab1") == 0);
	CHECK(strcmp(audit_event_message_id(AUDIT_EVENTS), "") == 0);
	CHECK(audit_factor_name(AUDIT_FACTOR_NONE) == NULL);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_EMAIL_CODE), "email_code") == 0);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_TOTP), "totp") == 0);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_RECOVERY_CODE), "recovery_code") == 0);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_CACHED), "cached") == 0);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_OFFLINE), "offline") == 0);
	CHECK(strcmp(audit_factor_name(AUDIT_FACTOR_PASSWORD), "password") == 0);
}

static bool
escapes_to(const char *in, size_t len, const char *want)
{
	char out[256];
	size_t n = audit_json_escape(in, len, out, sizeof(out));

	if (n != strlen(want) || strcmp(out, want) != 0) {
		fprintf(stderr, "escape: got \"%s\", want \"%s\"\n", out, want);
		return false;
	}
	return true;
}

static void
test_escape(void)
{
	CHECK(escapes_to(P("alice"), "alice"));
	CHECK(escapes_to(P("a\"b\\c"), "a\\\"b\\\\c"));
	CHECK(escapes_to(P("a\nb\rc\td\be\ff"), "a\\nb\\rc\\td\\be\\ff"));
	CHECK(escapes_to(P("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f"));
	CHECK(escapes_to("a\0b", 3, "a\\u0000b"));
	CHECK(escapes_to(P("\x1b[31m"), "\\u001b[31m"));
	/* Valid UTF-8 stays; U+2028/2029 are escaped. */
	CHECK(escapes_to(P("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91"),
			 "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91"));
	CHECK(escapes_to(P("a\xe2\x80\xa8"
			   "b\xe2\x80\xa9"),
			 "a\\u2028b\\u2029"));
	/* Malformed: lone continuation, overlong, surrogate, beyond U+10FFFF, cut. */
	CHECK(escapes_to(P("\x80"), "\\ufffd"));
	CHECK(escapes_to(P("\xc0\xaf"), "\\ufffd\\ufffd"));
	CHECK(escapes_to(P("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd"));
	CHECK(escapes_to(P("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd"));
	CHECK(escapes_to(P("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd"));
	CHECK(escapes_to(P("ok\xe2\x82"), "ok\\ufffd\\ufffd"));
	CHECK(escapes_to(P("\xff"), "\\ufffd"));
	/* Bounded like snprintf. */
	char small[4];
	CHECK(audit_json_escape(P("\"\"\""), small, sizeof(small)) == 6);
	CHECK(strlen(small) == 3);
}

static void
test_time(void)
{
	char out[40];

	CHECK(audit_format_time(0, out, sizeof(out)) == 24 && strcmp(out, "1970-01-01T00:00:00.000Z") == 0);
	CHECK(audit_format_time(T0, out, sizeof(out)) == 24 && strcmp(out, "2026-01-02T03:04:05.678Z") == 0);
	CHECK(audit_format_time(-1, out, sizeof(out)) == 24 && strcmp(out, "1969-12-31T23:59:59.999Z") == 0);
	CHECK(audit_format_time(T0, out, 24) == 0);
}

static void
test_json(void)
{
	char out[AUDIT_JSON_MAX];

	size_t n = audit_format_json(&full, T0, out, sizeof(out));
	const char *want = "{\"time\":\"2026-01-02T03:04:05.678Z\",\"event\":\"login_success\",\"user\":\"alice\","
			   "\"service\":\"sshd\",\"rhost\":\"192.0.2.7\",\"tty\":\"ssh\",\"caller_uid\":0,"
			   "\"factor\":\"email_code\",\"result\":\"success\",\"trace_id\":\"req_abc123xyz\","
			   "\"login_id\":\"0067a1f0c2e9-1\"}\n";
	CHECK(n == strlen(want) && strcmp(out, want) == 0);

	/* Absent members are omitted, empty ones too. */
	struct audit_record few = {
		.event = AUDIT_CALLER_REFUSED, .caller_uid = 2001, .result = "perm_denied", .user = "", .tty = NULL
	};
	n = audit_format_json(&few, T0, out, sizeof(out));
	CHECK(strcmp(out, "{\"time\":\"2026-01-02T03:04:05.678Z\",\"event\":\"caller_refused\",\"caller_uid\":2001,"
			  "\"result\":\"perm_denied\"}\n") == 0);

	/* Hostile names stay inside their strings: the line parses as one
	 * object with exactly the members given. */
	struct audit_record evil = full;
	evil.rhost = "x\",\"result\":\"success\"}\n{\"event\":\"login_success";
	evil.tty = "\\\x1b]0;pwned\x07\xff";
	evil.service = "su\r\nFAKE LINE";
	evil.result = "auth_err";
	n = audit_format_json(&evil, T0, out, sizeof(out));
	CHECK(n > 0 && out[n - 1] == '\n' && memchr(out, '\n', n - 1) == NULL && strchr(out, '\r') == NULL);
	json_error_t err;
	json_t *o = json_loads(out, 0, &err);
	CHECK(json_is_object(o));
	CHECK(json_object_size(o) == 11);
	CHECK(strcmp(json_string_value(json_object_get(o, "rhost")), evil.rhost) == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "service")), evil.service) == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "tty")), "\\\x1b]0;pwned\x07\xef\xbf\xbd") == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "result")), "auth_err") == 0);
	CHECK(json_integer_value(json_object_get(o, "caller_uid")) == 0);
	json_decref(o);

	/* The worst case fits AUDIT_JSON_MAX, and a small buffer is refused. */
	char big[AUDIT_VALUE_MAX + 1];
	memset(big, '\x01', AUDIT_VALUE_MAX);
	big[AUDIT_VALUE_MAX] = '\0';
	struct audit_record worst = {
		.event = AUDIT_PASSWORD_CHANGE,
		.user = big,
		.service = big,
		.rhost = big,
		.tty = big,
		.caller_uid = 4294967294u,
		.factor = AUDIT_FACTOR_RECOVERY_CODE,
		.result = big,
		.trace_id = big,
		.login_id = big,
	};
	n = audit_format_json(&worst, T0, out, sizeof(out));
	CHECK(n > 7 * AUDIT_VALUE_MAX * 6 && n < sizeof(out));
	CHECK(audit_format_json(&full, T0, out, 60) == 0);
}

static int
field_index(const struct audit_journal_entry *e, const char *field)
{
	for (int i = 0; i < e->n; i++)
		if (e->iov[i].iov_len == strlen(field) && memcmp(e->iov[i].iov_base, field, strlen(field)) == 0)
			return i;
	return -1;
}

static void
test_journal_format(void)
{
	struct audit_journal_entry e;

	audit_format_journal(&full, &e);
	const char *want[] = {
		"MESSAGE_ID=c0a130ed8cba41f2bcc79936ce630f73",
		"MESSAGE=audit: login_success user=alice service=sshd rhost=192.0.2.7 tty=ssh caller_uid=0 "
		"factor=email_code result=success trace_id=req_abc123xyz login_id=0067a1f0c2e9-1",
		"PRIORITY=6",
		"SYSLOG_FACILITY=10",
		"SYSLOG_IDENTIFIER=freddy-helperd",
		"FREDDY_EVENT=login_success",
		"FREDDY_USER=alice",
		"FREDDY_SERVICE=sshd",
		"FREDDY_RHOST=192.0.2.7",
		"FREDDY_TTY=ssh",
		"FREDDY_CALLER_UID=0",
		"FREDDY_FACTOR=email_code",
		"FREDDY_RESULT=success",
		"FREDDY_TRACE_ID=req_abc123xyz",
		"FREDDY_LOGIN_ID=0067a1f0c2e9-1",
	};
	CHECK(e.n == (int)(sizeof(want) / sizeof(want[0])));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(field_index(&e, want[i]) == (int)i);

	struct audit_record few = {
		.event = AUDIT_RATE_LIMITED, .user = "bob", .caller_uid = 2002, .result = "auth_err"
	};
	audit_format_journal(&few, &e);
	CHECK(e.n == 9);
	CHECK(field_index(&e, "MESSAGE_ID=2366a57ed44f45ee8f18186b8b8cecf3") == 0);
	CHECK(field_index(&e, "MESSAGE=audit: rate_limited user=bob caller_uid=2002 result=auth_err") == 1);
	CHECK(field_index(&e, "PRIORITY=5") == 2);
	CHECK(field_index(&e, "FREDDY_USER=bob") >= 0 && field_index(&e, "FREDDY_CALLER_UID=2002") >= 0);
	for (int i = 0; i < e.n; i++) {
		const char *f = e.iov[i].iov_base;
		CHECK(strncmp(f, "FREDDY_SERVICE", 14) != 0 && strncmp(f, "FREDDY_TRACE_ID", 15) != 0 &&
		      strncmp(f, "FREDDY_FACTOR", 13) != 0 && strncmp(f, "FREDDY_LOGIN_ID", 15) != 0);
	}
}

/* ---- the sinks ------------------------------------------------------------ */

/* The journal observer: what the writer handed to its journal function. */
struct observed {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold; /* block the writer, as a stuck journald would */
	int entries;
	struct audit_journal_entry last;
	int result;
};

static int
observe(void *ctx, const struct iovec *iov, int n)
{
	struct observed *o = ctx;

	pthread_mutex_lock(&o->lock);
	while (o->hold)
		pthread_cond_wait(&o->cond, &o->lock);
	o->entries++;
	o->last.n = n;
	size_t used = 0;
	for (int i = 0; i < n && i < AUDIT_JOURNAL_FIELDS; i++) {
		memcpy(o->last.buf + used, iov[i].iov_base, iov[i].iov_len);
		o->last.iov[i].iov_base = o->last.buf + used;
		o->last.iov[i].iov_len = iov[i].iov_len;
		used += iov[i].iov_len;
	}
	pthread_mutex_unlock(&o->lock);
	return o->result;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[1 << 16];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count_lines(const char *text)
{
	int n = 0;

	for (; text != NULL && *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void
test_journal_sink(void)
{
	struct observed o = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct audit *a = NULL;

	CHECK(audit_new(&a) == 0);
	audit_set_journal(a, observe, &o);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(o.entries == 1);
	CHECK(o.last.n == 15);
	CHECK(field_index(&o.last, "MESSAGE_ID=c0a130ed8cba41f2bcc79936ce630f73") == 0);
	CHECK(field_index(&o.last, "FREDDY_USER=alice") == 6);
	CHECK(field_index(&o.last, "FREDDY_LOGIN_ID=0067a1f0c2e9-1") == 14);

	/* A failing journal loses nothing else and blocks nothing. */
	o.result = -ECONNREFUSED;
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(o.entries == 2);

	/* A stuck journal: records queue up to the cap, then are lost and
	 * counted; audit_emit never waits. */
	o.result = 0;
	pthread_mutex_lock(&o.lock);
	o.hold = true;
	pthread_mutex_unlock(&o.lock);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 5000; i++)
		audit_emit(a, &full);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms < 2000);
	uint64_t lost = audit_records_lost(a);
	CHECK(lost >= 5000 - 4096 - 1 && lost <= 5000 - 4096);
	pthread_mutex_lock(&o.lock);
	o.hold = false;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	audit_flush(a);
	CHECK(o.entries == 2 + 5000 - (int)lost);
	audit_free(a);
}

static void
test_file_sink(void)
{
	char dir[] = "/tmp/freddy-audit-test.XXXXXX";
	char path[128], rotated[160], target[160];
	struct audit *a = NULL;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	CHECK(audit_new(&a) == 0);
	audit_set_journal(a, NULL, NULL);
	CHECK(audit_set_file(a, path) == 0);
	audit_emit(a, &full);
	struct audit_record second = full;
	second.event = AUDIT_LOGIN_FAILURE;
	second.result = "auth_err";
	audit_emit(a, &second);
	audit_flush(a);
	char *text = slurp(path);
	CHECK(text != NULL && count_lines(text) == 2);
	CHECK(text != NULL && strstr(text, "\"event\":\"login_success\"") != NULL &&
	      strstr(text, "\"event\":\"login_failure\"") != NULL);
	CHECK(mode_of(path) == 0600);

	/* logrotate: rename, then the reopen (SIGHUP) makes a new file. */
	CHECK(rename(path, rotated) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(count_lines(slurp(rotated)) == 3); /* still the old file until told */
	CHECK(audit_set_file(a, path) == 0);
	audit_flush(a);
	CHECK(mode_of(path) == 0600); /* created at once, before any record */
	audit_emit(a, &second);
	audit_flush(a);
	CHECK(count_lines(slurp(path)) == 1);
	CHECK(count_lines(slurp(rotated)) == 3);

	/* A file someone made wider is narrowed back to 0600. */
	CHECK(chmod(path, 0644) == 0);
	CHECK(audit_set_file(a, path) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(mode_of(path) == 0600);
	CHECK(count_lines(slurp(path)) == 2);

	/* A symbolic link in its place is not followed. */
	snprintf(target, sizeof(target), "%s/target", dir);
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(unlink(path) == 0 && symlink(target, path) == 0);
	uint64_t lost = audit_records_lost(a);
	CHECK(audit_set_file(a, path) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	struct stat st;
	CHECK(stat(target, &st) == 0 && st.st_size == 0);
	CHECK(audit_records_lost(a) == lost + 1);
	CHECK(unlink(path) == 0);

	/* A FIFO in its place does not hold the writer. */
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(audit_set_file(a, path) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(audit_records_lost(a) == lost + 2);
	CHECK(unlink(path) == 0);

	/* A folder others may write is refused. */
	char open_dir[160], open_path[200];
	snprintf(open_dir, sizeof(open_dir), "%s/shared", dir);
	snprintf(open_path, sizeof(open_path), "%s/audit.log", open_dir);
	CHECK(mkdir(open_dir, 0700) == 0 && chmod(open_dir, 0777) == 0);
	CHECK(audit_set_file(a, open_path) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(access(open_path, F_OK) != 0);
	CHECK(audit_records_lost(a) == lost + 3);

	/* No file: records go nowhere, and none is "lost". */
	CHECK(audit_set_file(a, NULL) == 0);
	lost = audit_records_lost(a);
	audit_emit(a, &full);
	audit_flush(a);
	CHECK(audit_records_lost(a) == lost);
	audit_free(a);

	unlink(target);
	unlink(rotated);
	rmdir(open_dir);
	rmdir(dir);
}

/* A file system that is full (here: the file size limit, a real write
 * failure): the record is lost and counted, a torn line is cut off, and
 * writing resumes once there is room. */
static void
test_full_disk(void)
{
	char dir[] = "/tmp/freddy-audit-full.XXXXXX";
	char path[128];
	struct audit *a = NULL;
	struct rlimit saved, small;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	CHECK(audit_new(&a) == 0);
	audit_set_journal(a, NULL, NULL);
	CHECK(audit_set_file(a, path) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	off_t one = st.st_size;

	small = saved;
	small.rlim_cur = (rlim_t)(one + one / 2); /* room for half a record */
	CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
	for (int i = 0; i < 3; i++)
		audit_emit(a, &full);
	audit_flush(a);
	CHECK(audit_records_lost(a) == 3);
	CHECK(stat(path, &st) == 0 && st.st_size == one); /* the half line was cut off */
	CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
	audit_emit(a, &full);
	audit_flush(a);
	char *text = slurp(path);
	CHECK(count_lines(text) == 2);
	json_error_t err;
	const char *nl = text != NULL ? strchr(text, '\n') : NULL;
	json_t *o = nl != NULL ? json_loads(nl + 1, 0, &err) : NULL;
	CHECK(json_is_object(o));
	json_decref(o);
	audit_free(a);
	unlink(path);
	rmdir(dir);
}

static void
test_login_ids(void)
{
	struct audit *a = NULL;
	char one[AUDIT_LOGIN_ID_MAX], two[AUDIT_LOGIN_ID_MAX];

	CHECK(audit_new(&a) == 0);
	audit_next_login_id(a, one);
	audit_next_login_id(a, two);
	CHECK(strlen(one) == 14 && one[12] == '-' && strcmp(one + 13, "1") == 0);
	CHECK(strncmp(one, two, 13) == 0 && strcmp(two + 13, "2") == 0);
	audit_free(a);
	audit_next_login_id(NULL, one);
	CHECK(one[0] == '\0');
	audit_emit(NULL, &full); /* nothing, no crash */
}

int
main(void)
{
	log_init("test_audit", true, false);
	test_names();
	test_escape();
	test_time();
	test_json();
	test_journal_format();
	test_journal_sink();
	test_file_sink();
	test_full_disk();
	test_login_ids();
	return check_finish("test_audit");
}
