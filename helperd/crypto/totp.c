#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liboath/oath.h>

#include "fr_error.h"
#include "crypto/totp.h"

#define REPLAY_FILE_MAX 64

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
parse_type(const char *s, size_t n, unsigned default_step, unsigned default_digits, unsigned *step,
	   unsigned *digits)
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
totp_users_find(const char *text, size_t len, const char *user, unsigned default_step,
		unsigned default_digits, struct totp_entry *out)
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
totp_users_rewrite(const char *text, size_t len, const char *user, const char *new_line,
		   char **out, size_t *out_len, unsigned *removed)
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
totp_users_read(const char *path, unsigned trusted_uid, char **text, size_t *len, char *err,
		size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf;

	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "totp_users_file %s: cannot open: %s", path, strerror(errno));
		return errno == ENOENT ? FR_ERR_NOT_FOUND : FR_ERR_IO;
	}
	/* Anyone who can read a secret can make codes; anyone who can write
	 * the file can enrol their own. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != trusted_uid) || (st.st_mode & 0077) != 0) {
		snprintf(err, errlen, "totp_users_file %s: must be a regular file owned by root with mode 0600 or 0400",
			 path);
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	if (st.st_size > TOTP_USERS_FILE_MAX) {
		snprintf(err, errlen, "totp_users_file %s: larger than %d bytes", path, TOTP_USERS_FILE_MAX);
		close(fd);
		return FR_ERR_TOO_LARGE;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return FR_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "totp_users_file %s: read failed: %s", path, strerror(errno));
			explicit_bzero(buf, got);
			free(buf);
			close(fd);
			return FR_ERR_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return FR_OK;
}

/* liboath's own comparison is strcmp; a code's matching prefix must not
 * show in the time the check takes. */
static int
compare_code(void *handle, const char *candidate)
{
	const char *code = handle;
	size_t n = strlen(code);
	unsigned char diff = 0;

	if (strlen(candidate) != n)
		return 1;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(code[i] ^ candidate[i]);
	return diff != 0;
}

int
totp_verify(const struct totp_entry *e, const char *code, time_t now, unsigned window,
	    uint64_t *counter)
{
	size_t n = strlen(code);
	int pos = 0, r;

	*counter = 0;
	/* liboath takes the code's length as the digit count: check it first. */
	if (n != e->digits || e->secret_len == 0 || e->step == 0)
		return FR_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return FR_ERR_INVALID;
	if (oath_init() != OATH_OK)
		return FR_ERR_INTERNAL;
	r = oath_totp_validate3_callback((const char *)e->secret, e->secret_len, now, e->step, 0,
					 e->digits, window, &pos, counter, compare_code, (void *)code);
	oath_done();
	if (r < 0) {
		*counter = 0;
		return r == OATH_INVALID_OTP ? FR_ERR_INVALID : FR_ERR_INTERNAL;
	}
	return FR_OK;
}

static int
replay_name(const char *user, char *name, size_t cap)
{
	/* '=' cannot occur in a user name, so this never meets a user's
	 * cache file or the cache's ".USER.tmp" files. */
	int w = snprintf(name, cap, ".totp=%s", user);
	return w > 0 && (size_t)w < cap ? FR_OK : FR_ERR_INVALID;
}

static int
open_dir(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
totp_replay_load(const char *dir, const char *user, uint64_t *last)
{
	char name[192], buf[REPLAY_FILE_MAX];
	struct stat st;
	ssize_t n;
	int r = FR_ERR_INVALID;

	*last = 0;
	if (replay_name(user, name, sizeof(name)) != 0)
		return FR_ERR_INVALID;
	int dfd = open_dir(dir);
	if (dfd < 0)
		return FR_ERR_IO;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd < 0)
		return errno == ENOENT ? FR_OK : FR_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return FR_ERR_INVALID;
	buf[n] = '\0';
	/* One decimal number and a newline, nothing else. */
	uint64_t v = 0;
	ssize_t i = 0;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return FR_ERR_INVALID;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	if (i > 0 && i == n - 1 && buf[i] == '\n') {
		*last = v;
		r = FR_OK;
	}
	return r;
}
