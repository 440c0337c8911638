/*
 * Audit records, for a SIEM: one per decision the helper makes about
 * someone (a login and how it ended, a cached re-authentication, an
 * offline login, a rate-limit refusal, a refused caller, a password
 * change, a token handed out, a session closed).  Besides the prose
 * LOG_AUTHPRIV lines, which stay as they are, each record goes to
 *  - the journal, when journald's socket exists: an entry with fields of
 *    its own (FREDDY_USER=alice ...) and a MESSAGE_ID per event type, so
 *    `journalctl MESSAGE_ID=... FREDDY_USER=alice` finds it;
 *  - audit_log, when set: one JSON object per line appended to that file
 *    (mode 0600), reopened when the helper is told to (SIGHUP).
 * Both are written on a thread of their own: on the event loop a slow
 * disk or a busy journald would hold up every login.  A sink that fails
 * (a full disk, no journald) logs an error once per episode and loses the
 * records meanwhile; it never blocks or fails a login.
 *
 * Records carry names, numbers and results only: never a password, a
 * code, a token or a key.  The names (user, service, rhost, tty) come from
 * the PAM application and are hostile: the JSON is escaped byte by byte
 * and each value is capped at AUDIT_VALUE_MAX bytes.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The event names and their MESSAGE_IDs are a contract (freddy-helperd(8)):
 * new events go at the end, none is ever renamed or renumbered. */
enum audit_event {
	AUDIT_LOGIN_SUCCESS,   /* a full login passed (password and second factor) */
	AUDIT_LOGIN_FAILURE,   /* a full login was refused, failed or abandoned */
	AUDIT_CACHED_AUTH,     /* cached re-authentication decided (success or refused) */
	AUDIT_OFFLINE_LOGIN,   /* an offline login decided */
	AUDIT_RATE_LIMITED,    /* the helper's own failure budget refused a login */
	AUDIT_CALLER_REFUSED,  /* a caller asked for what it may not (or too much at once) */
	AUDIT_PASSWORD_CHANGE, /* a password change decided (issue 14's passwd flow) */
	AUDIT_TOKEN_ISSUED,    /* an access token was handed out (freddyctl token) */
	AUDIT_SESSION_CLOSE,   /* a PAM session closed */
	AUDIT_EVENTS
};

/* The factor a decision was made on: the last one the person was asked
 * for (or, for cached and offline logins, the path taken). */
enum audit_factor {
	AUDIT_FACTOR_NONE = 0, /* omitted */
	AUDIT_FACTOR_PASSWORD,
	AUDIT_FACTOR_EMAIL_CODE,
	AUDIT_FACTOR_TOTP,
	AUDIT_FACTOR_RECOVERY_CODE,
	AUDIT_FACTOR_CACHED,
	AUDIT_FACTOR_OFFLINE,
};

/* The result of a success; a failure is named by fr_result_name() of what
 * the client got ("auth_err", "maxtries", ...), or AUDIT_ABANDONED. */
#define AUDIT_SUCCESS	"success"
#define AUDIT_ABANDONED "abandoned"

/* Strings longer than this are cut (at a character boundary). */
#define AUDIT_VALUE_MAX 256
/* "<12 hex digits>-<counter>" */
#define AUDIT_LOGIN_ID_MAX 40
/* The longest line audit_format_json can make: every value at
 * AUDIT_VALUE_MAX bytes, each escaped to 6 bytes. */
#define AUDIT_JSON_MAX (8 * (AUDIT_VALUE_MAX * 6 + 32) + 128)

struct audit_record {
	enum audit_event event;
	const char *user, *service, *rhost, *tty; /* NULL or "": omitted */
	uid_t caller_uid;			  /* the peer of the request (SO_PEERCRED) */
	enum audit_factor factor;
	const char *result;   /* AUDIT_SUCCESS or the failure's name */
	const char *trace_id; /* the API's, of the last reply that carried one */
	const char *login_id; /* audit_next_login_id's, for records about one login */
};

/* ---- pure: names and formats ------------------------------------------- */

const char *audit_event_name(enum audit_event event);
/* 32 lowercase hex digits (sd-id128 form); "" for an unknown event. */
const char *audit_event_message_id(enum audit_event event);
/* NULL for AUDIT_FACTOR_NONE. */
const char *audit_factor_name(enum audit_factor factor);

/* `len` bytes of `in` as the inside of a JSON string: '"', '\\' and every
 * control character (and DEL, U+2028, U+2029) escaped, malformed UTF-8
 * replaced by \ufffd.  Writes at most `cap` bytes, always NUL-terminated
 * when cap > 0; returns the length it needed (as snprintf does). */
size_t audit_json_escape(const char *in, size_t len, char *out, size_t cap);

/* RFC 3339 in UTC with milliseconds: "2026-01-02T03:04:05.678Z".  The
 * length, or 0 when `cap` is too small. */
size_t audit_format_time(int64_t unix_ms, char *out, size_t cap);

/* The record as one JSON object and a '\n', NUL-terminated; members in
 * the order time, event, user, service, rhost, tty, caller_uid, factor,
 * result, trace_id, login_id, absent ones omitted.  The length, or 0 when
 * `cap` is too small (AUDIT_JSON_MAX always suffices). */
size_t audit_format_json(const struct audit_record *rec, int64_t unix_ms, char *out, size_t cap);

/* The record as the fields of one journal entry: MESSAGE_ID, MESSAGE,
 * PRIORITY, SYSLOG_FACILITY, SYSLOG_IDENTIFIER and FREDDY_EVENT,
 * FREDDY_USER, FREDDY_SERVICE, FREDDY_RHOST, FREDDY_TTY,
 * FREDDY_CALLER_UID, FREDDY_FACTOR, FREDDY_RESULT, FREDDY_TRACE_ID,
 * FREDDY_LOGIN_ID (absent ones omitted), each "NAME=value" in `iov`
 * pointing into `buf`. */
#define AUDIT_JOURNAL_FIELDS 16
#define AUDIT_JOURNAL_BUF    (3 * (8 * (AUDIT_VALUE_MAX + 24)) + 512)
struct audit_journal_entry {
	struct iovec iov[AUDIT_JOURNAL_FIELDS];
	int n;
	char buf[AUDIT_JOURNAL_BUF];
};
void audit_format_journal(const struct audit_record *rec, struct audit_journal_entry *out);

/* ---- the sinks ---------------------------------------------------------------- */

struct audit;

/* How an entry reaches the journal: its native protocol (journal_native.h),
 * or a test's observer.
 * Returns 0 or a negative errno. */
typedef int (*audit_journal_fn)(void *ctx, const struct iovec *iov, int n);

/* No file; the journal when its socket exists.  Starts the writer thread
 * (without one, records are written in audit_emit). */
int audit_new(struct audit **out);
/* Writes what is queued, then stops the thread.  NULL is fine. */
void audit_free(struct audit *a);

/* audit_log: append to `path` (absolute, or NULL for no file), opened (or
 * reopened, for logrotate) before the next record is written.  The folder
 * must be owned by root or the helper's user and not writable by group or
 * others; the file is created 0600 without following a symbolic link, and
 * an existing one must be a regular file of the helper's user.  A file
 * that cannot be opened is logged and retried every few seconds. */
int audit_set_file(struct audit *a, const char *path);
/* The journal sink (NULL: none).  For tests; audit_new picks the real one. */
void audit_set_journal(struct audit *a, audit_journal_fn fn, void *ctx);

/* Queue one record (copied).  `a` NULL: nothing (unit tests of other
 * units).  From the event loop only; never blocks on a sink. */
void audit_emit(struct audit *a, const struct audit_record *rec);

/* A password change (issue 14's passwd flow): `who` names the user,
 * service, rhost, tty, caller, the factor that authorised the change, the
 * API's trace_id and the login id; its event is set here. */
void audit_password_change(struct audit *a, const struct audit_record *who, const char *result);

/* A fresh login id, unique in this run and, with its start-time nonce,
 * across runs: "<nonce>-<counter>".  From the event loop only.  `a` NULL
 * gives "". */
void audit_next_login_id(struct audit *a, char out[AUDIT_LOGIN_ID_MAX]);

/* Wait until every record queued so far went to its sinks (or failed). */
void audit_flush(struct audit *a);

/* Records lost so far: a full queue, a file that could not be opened or
 * written. */
uint64_t audit_records_lost(const struct audit *a);

#endif
