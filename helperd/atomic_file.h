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

#endif
