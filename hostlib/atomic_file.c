#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "hostlib/atomic_file.h"
#include "hostlib/fd_all.h"
#include "fr_error.h"

int
atomic_file_stage(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[256];
	int saved, r = FR_OK;

	int w = snprintf(tmp, sizeof(tmp), "%s%s.tmp", name[0] == '.' ? "" : ".", name);
	if (w < 0 || (size_t)w >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return FR_ERR_IO;
	}
	/* A temporary file left by a crash is ours to replace. */
	if (unlinkat(dirfd, tmp, 0) != 0 && errno != ENOENT)
		return FR_ERR_IO;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return FR_ERR_IO;
	if (fd_write_all(fd, data, len) != 0 || fsync(fd) != 0)
		r = FR_ERR_IO;
	saved = errno;
	if (close(fd) != 0 && r == 0) {
		r = FR_ERR_IO;
		saved = errno;
	}
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) != 0) {
		r = FR_ERR_IO;
		saved = errno;
	}
	if (r != 0)
		(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return r;
}

int
atomic_file_commit(int dirfd)
{
	/* The renames themselves must reach the disk before we call them
	 * stored. */
	return fsync(dirfd) == 0 ? FR_OK : FR_ERR_IO;
}

int
atomic_file_replace(int dirfd, const char *name, const void *data, size_t len)
{
	int r = atomic_file_stage(dirfd, name, data, len);

	return r != FR_OK ? r : atomic_file_commit(dirfd);
}
