/*
 * The local account database (NSS), read the reentrant way: every lookup
 * with a buffer grown on ERANGE, never a static result (the helper has
 * threads), and "no such entry" told apart from "the database could not
 * be read" (some NSS modules report the first as an errno).
 *
 * Each call may block for as long as a network NSS (LDAP, SSSD) takes.
 */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include <sys/types.h>

#include "hostlib/user_name.h"

/* A user as the local user database knows it.  `name` is the canonical
 * pw_name: with case-insensitive NSS, "ALICE" and "alice" are one
 * account, and every key (cache file, rate limit) uses this spelling. */
struct local_account {
	uid_t uid;
	gid_t gid;
	char name[USER_NAME_MAX + 1];
};

/* FR_OK, FR_ERR_NOT_FOUND (no such account, or a pw_name the helper
 * would not handle), FR_ERR_IO (the database could not be read). */
int accounts_by_name(const char *user, struct local_account *out);
int accounts_by_uid(uid_t uid, struct local_account *out);
/* FR_OK, FR_ERR_NOT_FOUND, FR_ERR_IO, FR_ERR_NOMEM. */
int accounts_group_id(const char *group, gid_t *gid);

/* FR_OK when `groups` (a config list: names separated by commas or
 * blanks) is NULL or `user` is a member of one of them, primary or
 * supplementary; FR_ERR_PERMISSION otherwise, including unknown users; a
 * group that does not exist admits nobody.  FR_ERR_IO on lookup failure. */
int accounts_in_groups(const char *groups, const char *user);

#endif
