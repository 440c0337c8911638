#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liboath/oath.h>

#include "fr_error.h"
#include "log.h"
#include "offline_totp.h"

#define USERS_FILE_MAX (64 * 1024)

static const char *
next_field(const char *p, const char *end, const char **field, size_t *flen)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*field = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	*flen = (size_t)(p - *field);
	return p;
}

static int
hex_decode(const char *hex, size_t n, unsigned char *out, size_t *outlen)
{
	if (n == 0 || n % 2 != 0 || n / 2 > OFFLINE_TOTP_SECRET_MAX)
		return FR_ERR_INVALID;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (size_t k = 0; k < 2; k++) {
			char c = hex[i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return FR_ERR_INVALID;
		}
		out[i / 2] = (unsigned char)v;
	}
	*outlen = n / 2;
	return FR_OK;
}

int
offline_totp_find(const char *text, size_t len, const char *user, unsigned char *secret,
		  size_t *secret_len)
{
	const char *p = text, *end = text + len;
	size_t ulen = strlen(user);

	*secret_len = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		const char *type, *name, *pin, *hex;
		size_t tlen, nlen, plen, hlen;
		const char *q = next_field(p, line_end, &type, &tlen);
		q = next_field(q, line_end, &name, &nlen);
		q = next_field(q, line_end, &pin, &plen);
		q = next_field(q, line_end, &hex, &hlen);
		p = eol != NULL ? eol + 1 : end;
		if (tlen == 0 || type[0] == '#' || nlen != ulen || memcmp(name, user, ulen) != 0)
			continue;
		if (memchr(type, '\0', tlen) != NULL)
			return FR_ERR_INVALID;
		/* Only time-based lines with pam_oath's default 30 s step and
		 * no PIN are understood; our step is totp_step. */
		if (!(tlen >= 8 && memcmp(type, "HOTP/T30", 8) == 0 &&
		      (tlen == 8 || type[8] == '/')))
			continue;
		if (plen != 1 || pin[0] != '-')
			return FR_ERR_INVALID;
		if (hlen > 0 && hex[hlen - 1] == '\r')
			hlen--;
		return hex_decode(hex, hlen, secret, secret_len);
	}
	return FR_ERR_NOT_FOUND;
}

/* The same rules as every other file the helper trusts: ours or root's,
 * not writable by others, no symlink, size-capped. */
static int
load_secret(const struct config *cfg, const char *user, unsigned char *secret, size_t *secret_len)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	int r;

	*secret_len = 0;
	if (cfg->totp_users_file == NULL)
		return FR_ERR_NOT_FOUND;
	int fd = open(cfg->totp_users_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		log_warn("offline login: cannot open %s: %s", cfg->totp_users_file, strerror(errno));
		return FR_ERR_NOT_FOUND;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0 ||
	    st.st_size > USERS_FILE_MAX) {
		log_warn("offline login: ignoring %s: not a private regular file", cfg->totp_users_file);
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return FR_ERR_NOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = offline_totp_find(buf, len, user, secret, secret_len);
	explicit_bzero(buf, (size_t)st.st_size + 1);
	free(buf);
	if (r == FR_ERR_INVALID)
		log_warn("offline login: malformed line for %s in %s", user, cfg->totp_users_file);
	return r;
}

bool
offline_totp_enrolled(const struct config *cfg, const char *user)
{
	unsigned char secret[OFFLINE_TOTP_SECRET_MAX];
	size_t n = 0;
	int r = load_secret(cfg, user, secret, &n);

	explicit_bzero(secret, sizeof(secret));
	/* A line that exists but cannot be read still means "enrolled":
	 * the offline login must then fail, not skip the code. */
	return r == 0 || r == FR_ERR_INVALID || r == FR_ERR_UNTRUSTED;
}

int
offline_totp_check(const struct config *cfg, const char *user, const char *code, uint64_t *counter)
{
	unsigned char secret[OFFLINE_TOTP_SECRET_MAX];
	size_t n = 0;
	int pos = 0;
	int r = load_secret(cfg, user, secret, &n);

	*counter = 0;
	if (r != 0) {
		explicit_bzero(secret, sizeof(secret));
		return r == FR_ERR_NOT_FOUND ? r : FR_ERR_PERMISSION;
	}
	if (strlen(code) != cfg->totp_digits) {
		explicit_bzero(secret, sizeof(secret));
		return FR_ERR_PERMISSION;
	}
	if (oath_init() != OATH_OK) {
		explicit_bzero(secret, sizeof(secret));
		return FR_ERR_INTERNAL;
	}
	int v = oath_totp_validate3((const char *)secret, n, time(NULL), cfg->totp_step, 0,
				    cfg->totp_window, &pos, counter, code);
	explicit_bzero(secret, sizeof(secret));
	return v >= 0 ? FR_OK : FR_ERR_PERMISSION;
}
