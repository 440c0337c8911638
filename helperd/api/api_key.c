#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_key.h"
#include "fr_error.h"
#include "core/secret.h"

int
api_key_parse(const char *text, size_t len, char **key_out)
{
	size_t start = 0, end;

	*key_out = NULL;
	while (start < len && (text[start] == ' ' || text[start] == '\t'))
		start++;
	end = start;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	if (end == start || end - start > API_KEY_MAX)
		return FR_ERR_INVALID;
	for (size_t i = start; i < end; i++)
		if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
			return FR_ERR_INVALID;
	*key_out = secret_strndup(text + start, end - start);
	return *key_out != NULL ? FR_OK : FR_ERR_NOMEM;
}

int
api_key_load(const char *path, unsigned trusted_uid, char **key_out, char *err, size_t errlen)
{
	char buf[API_KEY_MAX + 64];
	struct stat st;
	ssize_t n;
	int r;

	*key_out = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "api_key_file %s: cannot open: %s", path, strerror(errno));
		return FR_ERR_CONFIG;
	}
	/* A key others can read is a key others have. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != trusted_uid) || (st.st_mode & 0077) != 0) {
		snprintf(err, errlen, "api_key_file %s: must be a regular file owned by root with mode 0600 or 0400",
			 path);
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "api_key_file %s: read failed: %s", path, strerror(errno));
		return FR_ERR_CONFIG;
	}
	r = api_key_parse(buf, (size_t)n, key_out);
	explicit_bzero(buf, sizeof(buf));
	if (r != 0)
		snprintf(err, errlen, "api_key_file %s: no usable key on its first line", path);
	return r == FR_ERR_NOMEM ? r : (r != 0 ? FR_ERR_CONFIG : FR_OK);
}
