/* Replacing a small state file so that a crash leaves the old or the new
 * contents, never a torn mix: the token cache, the TOTP replay state and
 * the rate-limit state all go through here. */
#ifndef ATOMIC_FILE_H
#define ATOMIC_FILE_H

#include <stddef.h>

/* Write `len` bytes to a temporary file in the folder `dirfd` (".NAME.tmp",
 * or "NAME.tmp" when NAME starts with '.'; mode 0600, O_EXCL|O_NOFOLLOW),
 * fsync it, rename it over NAME and fsync the folder.  0, or FR_ERR_IO
 * with errno describing the first failure; the temporary file is removed. */
int atomic_file_replace(int dirfd, const char *name, const void *data, size_t len);

/* atomic_file_replace in two halves, so that a batch of files costs one
 * fsync of the folder: stage does everything but that fsync (the new
 * contents are on disk and renamed into place, the rename may not be),
 * commit fsyncs the folder.  Same return values. */
int atomic_file_stage(int dirfd, const char *name, const void *data, size_t len);
int atomic_file_commit(int dirfd);

#endif
