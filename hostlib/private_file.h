/*
 * Reading a small file that only root (or the helper's own user) may
 * have written: the configuration, the API key, the TOTP users file, and
 * the helper's own cache and state files.  One set of rules for all of
 * them: opened without following a symbolic link, a regular file, owned
 * by the right uid, no mode bits that would let others read or change
 * it, and a size cap, all checked on the open descriptor before a byte
 * is read.
 */
#ifndef PRIVATE_FILE_H
#define PRIVATE_FILE_H

#include <stddef.h>
#include <sys/types.h>

struct private_file_rule {
	uid_t owner;	       /* owned by this uid */
	uid_t other_owner;     /* or this one (the same as owner for one only) */
	mode_t forbidden_mode; /* bits that must be clear: 0077 for secrets, 0022 for the config */
	size_t max_size;
	const char *what;    /* names the file in messages ("totp_users_file"), or NULL */
	const char *must_be; /* "a regular file owned by root with mode 0600 or 0400" */
};

/* Read `path` (relative to `dirfd`, or AT_FDCWD) under `rule`.  *text is
 * NUL-terminated heap memory the caller wipes (explicit_bzero) and frees.
 * FR_OK; FR_ERR_NOT_FOUND (no such file); FR_ERR_UNTRUSTED (type, owner
 * or mode); FR_ERR_TOO_LARGE; FR_ERR_IO; FR_ERR_NOMEM.  Except for
 * NOT_FOUND, `err` says why, naming the file. */
int private_file_read(int dirfd, const char *path, const struct private_file_rule *rule, char **text, size_t *len,
		      char *err, size_t errlen);

#endif
