/* libFuzzer: an audit record made of hostile names (core/audit.h).  The
 * input is the event and factor (first byte) and up to seven values split
 * at NUL bytes.  The JSON line must be one line, parse as one object with
 * exactly the members given, and give back every value that was valid
 * UTF-8 byte for byte (a malformed one only as some valid string); the
 * journal fields must stay inside their buffer. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUES 7

static void
check_member(json_t *obj, const char *name, const char *value)
{
	json_t *got = json_object_get(obj, name);

	if (value == NULL || value[0] == '\0') {
		if (got != NULL)
			__builtin_trap();
		return;
	}
	if (!json_is_string(got))
		__builtin_trap();
	size_t n = strnlen(value, AUDIT_VALUE_MAX);
	json_t *valid = json_stringn(value, n); /* NULL: not valid UTF-8 */
	if (valid != NULL && !json_equal(valid, got))
		__builtin_trap();
	json_decref(valid);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[8192];
	static char line[AUDIT_JSON_MAX];
	static struct audit_journal_entry entry;
	const char *values[VALUES] = { NULL };

	if (size < 1 || size >= sizeof(text))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	size_t at = 0;
	for (int i = 0; i < VALUES && at < size; i++) {
		values[i] = text + at;
		at += strlen(text + at) + 1;
	}
	struct audit_record rec = {
		.event = (enum audit_event)(data[0] % AUDIT_EVENTS),
		.factor = (enum audit_factor)((data[0] / AUDIT_EVENTS) % 7),
		.caller_uid = (uid_t)(data[0] * 1001u),
		.user = values[0],
		.service = values[1],
		.rhost = values[2],
		.tty = values[3],
		.result = values[4],
		.trace_id = values[5],
		.login_id = values[6],
	};
	size_t n = audit_format_json(&rec, 1767323045678LL, line, sizeof(line));
	if (n == 0 || n != strlen(line) || line[n - 1] != '\n')
		__builtin_trap();
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			__builtin_trap();
	json_error_t err;
	json_t *obj = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(obj))
		__builtin_trap();
	size_t members = 3 + (audit_factor_name(rec.factor) != NULL);
	for (int i = 0; i < VALUES; i++)
		members += values[i] != NULL && values[i][0] != '\0';
	if (json_object_size(obj) != members ||
	    strcmp(json_string_value(json_object_get(obj, "event")), audit_event_name(rec.event)) != 0 ||
	    json_integer_value(json_object_get(obj, "caller_uid")) != (json_int_t)rec.caller_uid)
		__builtin_trap();
	check_member(obj, "user", rec.user);
	check_member(obj, "service", rec.service);
	check_member(obj, "rhost", rec.rhost);
	check_member(obj, "tty", rec.tty);
	check_member(obj, "result", rec.result);
	check_member(obj, "trace_id", rec.trace_id);
	check_member(obj, "login_id", rec.login_id);
	json_decref(obj);

	audit_format_journal(&rec, &entry);
	if (entry.n < 6 || entry.n > AUDIT_JOURNAL_FIELDS)
		__builtin_trap();
	for (int i = 0; i < entry.n; i++) {
		const char *f = entry.iov[i].iov_base;
		if (f < entry.buf || f + entry.iov[i].iov_len > entry.buf + sizeof(entry.buf) ||
		    memchr(f, '=', entry.iov[i].iov_len) == NULL || f[0] < 'A' || f[0] > 'Z')
			__builtin_trap();
	}
	return 0;
}
