#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fr_error.h"
#include "hostlib/private_file.h"

/* "totp_users_file /etc/freddy/totp_users", or the path alone. */
static const char *
name_of(const struct private_file_rule *rule, const char *path, char *buf, size_t cap)
{
	if (rule->what == NULL)
		return path;
	snprintf(buf, cap, "%s %s", rule->what, path);
	return buf;
}

int
private_file_read(int dirfd, const char *path, const struct private_file_rule *rule, char **text, size_t *len,
		  char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf, name[320];

	*text = NULL;
	*len = 0;
	if (errlen > 0)
		err[0] = '\0';
	/* O_NONBLOCK: a FIFO put in its place must not hang the reader. */
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return FR_ERR_NOT_FOUND;
		snprintf(err, errlen, "%s: cannot open: %s", name_of(rule, path, name, sizeof(name)), strerror(e));
		return e == ELOOP ? FR_ERR_UNTRUSTED : FR_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != rule->owner && st.st_uid != rule->other_owner) || (st.st_mode & rule->forbidden_mode) != 0) {
		snprintf(err, errlen, "%s: must be %s", name_of(rule, path, name, sizeof(name)), rule->must_be);
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	if ((size_t)st.st_size > rule->max_size) {
		snprintf(err, errlen, "%s: larger than %zu bytes", name_of(rule, path, name, sizeof(name)),
			 rule->max_size);
		close(fd);
		return FR_ERR_TOO_LARGE;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory reading it", name_of(rule, path, name, sizeof(name)));
		close(fd);
		return FR_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: read failed: %s", name_of(rule, path, name, sizeof(name)),
				 strerror(errno));
			explicit_bzero(buf, got);
			free(buf);
			close(fd);
			return FR_ERR_IO;
		}
		if (n == 0)
			break; /* shrank meanwhile: what was there */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return FR_OK;
}
