/*
 * The local TOTP check of an offline login: the user's secret from
 * totp_users_file (pam_oath's usersfile format, `HOTP/T30[/D] user - hex`),
 * checked with liboath.  Kept behind this small interface so that the
 * TOTP second factor's own reader can replace it.
 */
#ifndef OFFLINE_TOTP_H
#define OFFLINE_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helper_config.h"

#define OFFLINE_TOTP_SECRET_MAX 64

/* Pure: find `user`'s TOTP line in usersfile text.  0 with the binary
 * secret, FR_ERR_NOT_FOUND, or FR_ERR_INVALID for a malformed line of
 * that user.  Lines of other types (HOTP counters) are skipped. */
int offline_totp_find(const char *text, size_t len, const char *user, unsigned char *secret,
		      size_t *secret_len);

/* Whether `user` has a TOTP secret in cfg->totp_users_file (a file that
 * is missing, unsafe or unreadable counts as "no"; it is logged). */
bool offline_totp_enrolled(const struct config *cfg, const char *user);

/* 0 and *counter = the matched time step, or FR_ERR_PERMISSION for a
 * wrong code, FR_ERR_NOT_FOUND when the user has no secret. */
int offline_totp_check(const struct config *cfg, const char *user, const char *code, uint64_t *counter);

#endif
