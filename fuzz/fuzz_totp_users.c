/* libFuzzer: the TOTP users file (pam_oath's format), as the helper reads
 * it at each TOTP login and freddyctl rewrites it at enrol and remove.
 *   - totp_users_find, for several names: an entry within its limits, or
 *     NOT_FOUND/INVALID with the entry wiped;
 *   - totp_users_rewrite without a user: exactly the file without that
 *     user's lines (the harness builds the expected text on its own), in
 *     which the user is gone and every other user finds what they found
 *     before; rewriting again removes nothing;
 *   - totp_users_rewrite with a new line: the user finds that line's entry,
 *     the others are unchanged. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fr_error.h"
#include "hostlib/totp_users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names that share prefixes, and one with the characters a name may have. */
static const char *const users[] = { "alice", "bob", "alice2", "a.b-c_d@e+f", "root" };
#define USERS (sizeof(users) / sizeof(users[0]))

/* A fresh secret the new line gives, in hex: "12345678901234567890". */
#define NEW_SECRET_HEX "3132333435363738393031323334353637383930"

struct found {
	int r;
	struct totp_entry e;
};

static void
find(const char *text, size_t len, const char *user, struct found *f)
{
	f->r = totp_users_find(text, len, user, 30, 6, &f->e);
	if (f->r == FR_OK) {
		if (f->e.step < 1 || f->e.step > 3600 || f->e.digits < 6 || f->e.digits > 8 || f->e.secret_len < 1 ||
		    f->e.secret_len > TOTP_SECRET_MAX)
			__builtin_trap();
		return;
	}
	static const struct totp_entry zero;
	if ((f->r != FR_ERR_NOT_FOUND && f->r != FR_ERR_INVALID) || memcmp(&f->e, &zero, sizeof(zero)) != 0)
		__builtin_trap();
}

static bool
same_found(const struct found *a, const struct found *b)
{
	return a->r == b->r && memcmp(&a->e, &b->e, sizeof(a->e)) == 0;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Does [line, eol) name `user`: its first field is not a comment and its
 * second field is the name. */
static bool
names(const char *line, const char *eol, const char *user)
{
	const char *p = line;

	while (p < eol && blank(*p))
		p++;
	if (p == eol || *p == '#')
		return false;
	while (p < eol && !blank(*p))
		p++;
	while (p < eol && blank(*p))
		p++;
	const char *f = p;
	while (p < eol && !blank(*p))
		p++;
	return (size_t)(p - f) == strlen(user) && memcmp(f, user, (size_t)(p - f)) == 0;
}

/* The file without `user`'s lines, every line kept ending in a newline. */
static char *
expected_without(const char *text, size_t len, const char *user, size_t *out_len, unsigned *removed)
{
	char *out = malloc(len + 2), *o = out;
	const char *line = text, *end = text + len;

	*removed = 0;
	if (out == NULL)
		__builtin_trap();
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl != NULL ? nl : end;
		if (names(line, eol, user)) {
			(*removed)++;
		} else {
			memcpy(o, line, (size_t)(eol - line));
			o += eol - line;
			*o++ = '\n';
		}
		line = nl != NULL ? nl + 1 : end;
	}
	*out_len = (size_t)(o - out);
	return out;
}

static void
wipe_free(char *s, size_t len)
{
	if (s != NULL) {
		explicit_bzero(s, len);
		free(s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct found before[USERS], after;
	char *out = NULL, *again = NULL;
	size_t out_len = 0, again_len = 0;
	unsigned removed = 0, removed_again = 0;

	if (size > TOTP_USERS_FILE_MAX)
		return 0;
	for (size_t i = 0; i < USERS; i++)
		find(text, size, users[i], &before[i]);

	bool has_nul = memchr(text, '\0', size) != NULL;
	for (size_t u = 0; u < USERS; u++) {
		/* Remove. */
		int r = totp_users_rewrite(text, size, users[u], NULL, &out, &out_len, &removed);
		if (has_nul) {
			if (r != FR_ERR_INVALID || out != NULL || before[u].r != FR_ERR_INVALID)
				__builtin_trap();
			continue;
		}
		if (r != FR_OK || out == NULL || strlen(out) != out_len)
			__builtin_trap();
		size_t want_len;
		unsigned want_removed;
		char *want = expected_without(text, size, users[u], &want_len, &want_removed);
		if (want_len != out_len || memcmp(want, out, out_len) != 0 || removed != want_removed)
			__builtin_trap();
		wipe_free(want, want_len);
		if ((removed == 0) != (before[u].r == FR_ERR_NOT_FOUND))
			__builtin_trap();
		for (size_t v = 0; v < USERS; v++) {
			find(out, out_len, users[v], &after);
			if (v == u ? after.r != FR_ERR_NOT_FOUND : !same_found(&after, &before[v]))
				__builtin_trap();
			totp_entry_wipe(&after.e);
		}
		if (totp_users_rewrite(out, out_len, users[u], NULL, &again, &again_len, &removed_again) != FR_OK ||
		    removed_again != 0 || again_len != out_len || memcmp(again, out, out_len) != 0)
			__builtin_trap();
		wipe_free(again, again_len);
		wipe_free(out, out_len);

		/* Replace (enrol again). */
		char line[TOTP_LINE_MAX];
		size_t n = strlen(users[u]);
		memcpy(line, "HOTP/T30/8 ", 11);
		memcpy(line + 11, users[u], n);
		memcpy(line + 11 + n, " - " NEW_SECRET_HEX, sizeof(" - " NEW_SECRET_HEX));
		if (totp_users_rewrite(text, size, users[u], line, &out, &out_len, &removed) != FR_OK ||
		    removed != want_removed)
			__builtin_trap();
		for (size_t v = 0; v < USERS; v++) {
			find(out, out_len, users[v], &after);
			if (v == u) {
				if (after.r != FR_OK || after.e.step != 30 || after.e.digits != 8 ||
				    after.e.secret_len != 20 || memcmp(after.e.secret, "12345678901234567890", 20) != 0)
					__builtin_trap();
			} else if (!same_found(&after, &before[v])) {
				__builtin_trap();
			}
			totp_entry_wipe(&after.e);
		}
		wipe_free(out, out_len);
		out = NULL;
	}
	for (size_t i = 0; i < USERS; i++)
		totp_entry_wipe(&before[i].e);
	return 0;
}
