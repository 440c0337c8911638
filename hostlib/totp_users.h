/*
 * The TOTP users file in pam_oath's format ("HOTP/T30[/6] user - hexsecret"),
 * shared by the helper, which reads it at each TOTP login, and freddyctl,
 * which writes it.  Nothing here logs; callers do.
 */
#ifndef TOTP_USERS_H
#define TOTP_USERS_H

#include <stdbool.h>
#include <stddef.h>

#define TOTP_SECRET_MAX	    64 /* bytes; RFC 4226 asks for at least 16 */
#define TOTP_USERS_FILE_MAX (1024 * 1024)
#define TOTP_LINE_MAX	    1024
#define TOTP_CODE_MAX	    8

/* One user's token.  `secret` is a secret: wipe with totp_entry_wipe. */
struct totp_entry {
	unsigned step;	 /* seconds */
	unsigned digits; /* 6..8 */
	size_t secret_len;
	unsigned char secret[TOTP_SECRET_MAX];
};

void totp_entry_wipe(struct totp_entry *e);

/* Pure: `user`'s first time-based line in users-file text, pam_oath's
 * format "HOTP/T30[/6] user - hexsecret [more fields ignored]".
 * `HOTP/T` without a number uses `default_step`; a type without digits
 * uses `default_digits`.  FR_ERR_NOT_FOUND when the user has no line,
 * FR_ERR_INVALID when the user's line is not a PIN-less TOTP entry. */
int totp_users_find(const char *text, size_t len, const char *user, unsigned default_step, unsigned default_digits,
		    struct totp_entry *out);

/* Pure: `text` without the lines of `user`, plus `new_line` (may be NULL)
 * at the end.  *removed counts the dropped lines.  *out is heap, NUL
 * terminated, and holds secrets: wipe it (explicit_bzero) and free it. */
int totp_users_rewrite(const char *text, size_t len, const char *user, const char *new_line, char **out,
		       size_t *out_len, unsigned *removed);

/* Read the users file, which must be a regular file owned by root (or
 * `trusted_uid`) and neither group- nor other-readable (private_file.h).
 * FR_ERR_NOT_FOUND when it does not exist; `err` says why otherwise.
 * *text: as above. */
int totp_users_read(const char *path, unsigned trusted_uid, char **text, size_t *len, char *err, size_t errlen);

#endif
