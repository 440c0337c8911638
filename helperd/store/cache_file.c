#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "fr_error.h"
#include "hostlib/atomic_file.h"
#include "hostlib/fd_all.h"
#include "store/cache_file.h"
#include "store/cache_image.h"

/* overwrite_in_place's answer when the file is not one to write into. */
#define NEEDS_NEW_FILE 1

static int
write_at(int fd, const unsigned char *buf, size_t len, size_t offset)
{
	if (lseek(fd, (off_t)offset, SEEK_SET) != (off_t)offset)
		return FR_ERR_IO;
	return fd_write_all(fd, buf, len);
}

/* Only a file the helper wrote in the slot layout is written into: its
 * own, 0600, one link (a second name would see the write too).  Anything
 * else is replaced, as a rename replaces it, without reading it. */
static bool
writable_in_place(int fd, size_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07077) != 0 ||
	    st.st_nlink != 1 || st.st_size < 2 * CACHE_SLOT_ALIGN || st.st_size > 2 * CACHE_SLOT_MAX)
		return false;
	*size = (size_t)st.st_size;
	return true;
}

static int
overwrite_in_place(int dirfd, const char *user, const char *record, size_t len, size_t slot_needed)
{
	struct cache_image_newest newest;
	unsigned char *image = NULL;
	size_t size = 0;
	int r = NEEDS_NEW_FILE, saved = 0;

	/* No file yet (or a symbolic link planted in the folder, which the
	 * rename then replaces). */
	int fd = openat(dirfd, user, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NEEDS_NEW_FILE;
	if (!writable_in_place(fd, &size))
		goto out;
	if ((image = malloc(size)) == NULL) {
		r = FR_ERR_NOMEM;
		goto out;
	}
	/* A file that cannot be read whole, or has no whole slot, is
	 * replaced: a store must not fail because the last one tore. */
	if (fd_read_exactly(fd, image, size) != FR_OK || cache_image_newest(image, size, &newest) != FR_OK ||
	    newest.slot_size < slot_needed || newest.seq == UINT64_MAX)
		goto out;
	const size_t slot_size = newest.slot_size;
	unsigned char *older = image + (1 - newest.slot) * slot_size;
	unsigned char *current = image + newest.slot * slot_size;
	cache_image_fill_slot(older, slot_size, newest.seq + 1, record, len);
	if (write_at(fd, older, slot_size, (1 - newest.slot) * slot_size) != FR_OK || fsync(fd) != 0) {
		r = FR_ERR_IO;
		saved = errno;
		goto out;
	}
	/* The new record is on disk: the one it replaces may go.  Not
	 * synced: until writeback reaches it, a crash leaves both, and the
	 * reader takes the newer. */
	explicit_bzero(current, slot_size);
	if (write_at(fd, current, slot_size, newest.slot * slot_size) != FR_OK)
		log_warn("cannot clear the older record in the cache file of %s: %s", user, strerror(errno));
	r = FR_OK;
out:
	if (image != NULL) {
		explicit_bzero(image, size);
		free(image);
	}
	if (close(fd) != 0 && r == FR_OK) {
		r = FR_ERR_IO;
		saved = errno;
	}
	errno = saved;
	return r;
}

static int
write_new_file(int dirfd, const char *user, const char *record, size_t len, size_t slot_size)
{
	unsigned char *image = calloc(2, slot_size);

	if (image == NULL)
		return FR_ERR_NOMEM;
	cache_image_fill_slot(image, slot_size, 1, record, len);
	int r = atomic_file_stage(dirfd, user, image, 2 * slot_size);
	int saved = errno;
	explicit_bzero(image, 2 * slot_size);
	free(image);
	errno = saved;
	return r;
}

int
cache_file_store(int dirfd, const char *user, const char *record, size_t len, bool *renamed)
{
	*renamed = false;
	size_t slot_needed = cache_image_slot_size(len);
	if (slot_needed == 0)
		return FR_ERR_TOO_LARGE;
	int r = overwrite_in_place(dirfd, user, record, len, slot_needed);
	if (r != NEEDS_NEW_FILE)
		return r;
	if ((r = write_new_file(dirfd, user, record, len, slot_needed)) == FR_OK)
		*renamed = true;
	return r;
}
