/*
 * The TOTP users file, pam_oath's format, as freddyctl writes it and the
 * helper reads it: pure parsing and rewriting, and reading the file under
 * the rules of a private root-owned file.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_error.h"
#include "hostlib/private_file.h"
#include "hostlib/totp_users.h"

void
totp_entry_wipe(struct totp_entry *e)
{
	explicit_bzero(e, sizeof(*e));
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next blank-separated field of [*p, end); false when none is left. */
static bool
next_field(const char **p, const char *end, const char **field, size_t *flen)
{
	const char *s = *p;

	while (s < end && is_blank(*s))
		s++;
	if (s == end)
		return false;
	*field = s;
	while (s < end && !is_blank(*s))
		s++;
	*flen = (size_t)(s - *field);
	*p = s;
	return true;
}

static bool
field_is(const char *f, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(f, word, n) == 0;
}

/* Decimal of 1..4 digits in [s, s+n), range-checked. */
static bool
small_number(const char *s, size_t n, unsigned min, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "HOTP/T30", "HOTP/T30/6", "HOTP/T/8": pam_oath's time-based types.
 * Counter-based HOTP lines are not ours. */
static bool
parse_type(const char *s, size_t n, unsigned default_step, unsigned default_digits, unsigned *step, unsigned *digits)
{
	if (n < 6 || memcmp(s, "HOTP/T", 6) != 0)
		return false;
	s += 6;
	n -= 6;
	const char *slash = memchr(s, '/', n);
	size_t step_len = slash != NULL ? (size_t)(slash - s) : n;
	*step = default_step;
	*digits = default_digits;
	if (step_len > 0 && !small_number(s, step_len, 1, 3600, step))
		return false;
	if (slash != NULL && !small_number(slash + 1, n - step_len - 1, 6, 8, digits))
		return false;
	return true;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
parse_hex(const char *s, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*out_len = n / 2;
	return true;
}

int
totp_users_find(const char *text, size_t len, const char *user, unsigned default_step, unsigned default_digits,
		struct totp_entry *out)
{
	const char *end = text + len, *line = text;
	size_t ulen = strlen(user);

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len) != NULL)
		return FR_ERR_INVALID;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl != NULL ? nl : end;
		const char *p = line, *type, *name, *pin, *hex;
		size_t tlen, nlen, plen, hlen;

		line = nl != NULL ? nl + 1 : end;
		if (!next_field(&p, eol, &type, &tlen) || type[0] == '#')
			continue;
		if (!next_field(&p, eol, &name, &nlen) || nlen != ulen || memcmp(name, user, ulen) != 0)
			continue;
		/* The first line naming the user decides: a broken one is an
		 * error, never a reason to look further. */
		if (!parse_type(type, tlen, default_step, default_digits, &out->step, &out->digits) ||
		    !next_field(&p, eol, &pin, &plen) || !field_is(pin, plen, "-") ||
		    !next_field(&p, eol, &hex, &hlen) ||
		    !parse_hex(hex, hlen, out->secret, sizeof(out->secret), &out->secret_len)) {
			totp_entry_wipe(out);
			return FR_ERR_INVALID;
		}
		return FR_OK;
	}
	return FR_ERR_NOT_FOUND;
}

static bool
line_names_user(const char *line, const char *eol, const char *user)
{
	const char *p = line, *f;
	size_t n;

	if (!next_field(&p, eol, &f, &n) || f[0] == '#')
		return false;
	return next_field(&p, eol, &f, &n) && n == strlen(user) && memcmp(f, user, n) == 0;
}

int
totp_users_rewrite(const char *text, size_t len, const char *user, const char *new_line, char **out, size_t *out_len,
		   unsigned *removed)
{
	size_t add = new_line != NULL ? strlen(new_line) : 0;
	const char *end = text + len, *line = text;
	char *buf, *o;

	*out = NULL;
	*out_len = 0;
	*removed = 0;
	if (memchr(text, '\0', len) != NULL || (new_line != NULL && strchr(new_line, '\n') != NULL))
		return FR_ERR_INVALID;
	if (len > TOTP_USERS_FILE_MAX || add > TOTP_LINE_MAX)
		return FR_ERR_TOO_LARGE;
	/* +1 for a newline added to an unterminated last line, +2 for ours. */
	if ((buf = malloc(len + add + 3)) == NULL)
		return FR_ERR_NOMEM;
	o = buf;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl != NULL ? nl : end;
		if (line_names_user(line, eol, user)) {
			(*removed)++;
		} else {
			memcpy(o, line, (size_t)(eol - line));
			o += eol - line;
			*o++ = '\n';
		}
		line = nl != NULL ? nl + 1 : end;
	}
	if (new_line != NULL) {
		memcpy(o, new_line, add);
		o += add;
		*o++ = '\n';
	}
	*o = '\0';
	*out = buf;
	*out_len = (size_t)(o - buf);
	return FR_OK;
}

int
totp_users_read(const char *path, unsigned trusted_uid, char **text, size_t *len, char *err, size_t errlen)
{
	/* Anyone who can read a secret can make codes; anyone who can write
	 * the file can enrol their own. */
	const struct private_file_rule rule = {
		.owner = 0,
		.other_owner = trusted_uid,
		.forbidden_mode = 0077,
		.max_size = TOTP_USERS_FILE_MAX,
		.what = "totp_users_file",
		.must_be = "a regular file owned by root with mode 0600 or 0400",
	};

	return private_file_read(AT_FDCWD, path, &rule, text, len, err, errlen);
}
