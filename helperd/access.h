/*
 * Who may ask the helper about whom.  Root callers (sshd, sudo, login, a
 * display manager) may authenticate any user; a non-root caller (a screen
 * locker or polkit agent running as the user) only its own account, the
 * rule unix_chkpwd follows.  allowed_groups narrows who Freddy handles at
 * all: everyone else is "not my user" (PAM_IGNORE), never a success.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "fr_wire.h"
#include "helper.h"

/* FR_OK when `caller_uid` may authenticate `user`; FR_ERR_PERMISSION when
 * a non-root caller asks for another account (or for a user that has no
 * local account, whose uid it cannot own); FR_ERR_IO when the user
 * database could not be read. */
int access_caller_allowed(const char *user, uid_t caller_uid);

/* FR_OK when `groups` (a config list) is NULL or `user` is a member of one
 * of them (primary or supplementary); FR_ERR_PERMISSION otherwise,
 * including unknown local users; FR_ERR_IO on lookup failure. */
int access_in_allowed_groups(const char *groups, const char *user);

/* The gate every AUTH_BEGIN passes before any network call: the caller
 * rule, allowed_groups, then the rate limits.  FR_OK: go ahead.  Otherwise
 * *result (and `text` for the user, may be empty) say how to refuse; the
 * refusal is already logged. */
int access_gate(struct helper *h, const char *user, uid_t caller_uid, enum fr_result *result,
		char *text, size_t textlen);

/* A finished login: failures feed the rate limits, a success clears the
 * user's (and a non-root caller's) counter. */
void access_record(struct helper *h, const char *user, uid_t caller_uid, enum fr_result result);

#endif
