#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "fr_error.h"
#include "hostlib/fd_all.h"

int
fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return FR_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return FR_OK;
}

int
fd_read_exactly(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file ended early */
			return FR_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return FR_OK;
}
