/*
 * A test NSS module whose user names are case-insensitive, as SSSD's and
 * some LDAP setups are: getpwnam_r("ALICE") finds the passwd line of
 * "alice" in $NSS_CASELESS_PASSWD and answers with its canonical name.
 * Loaded through nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH, prefix
 * "caseless"); nothing of the system's NSS is touched.
 *
 * It can also be a slow directory, as LDAP is when its server is far or
 * down: a name lookup of a user whose name starts with $NSS_CASELESS_SLOW
 * takes $NSS_CASELESS_SLOW_MS milliseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum nss_status _nss_caseless_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_setpwent(void);
enum nss_status _nss_caseless_endpwent(void);
enum nss_status _nss_caseless_getpwent_r(struct passwd *pw, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_setgrent(void);
enum nss_status _nss_caseless_endgrent(void);
enum nss_status _nss_caseless_getgrent_r(struct group *gr, char *buf, size_t len, int *err);
enum nss_status _nss_caseless_initgroups_dyn(const char *user, gid_t group, long *start, long *size, gid_t **groups,
					     long limit, int *err);

static enum nss_status
lookup(const char *name, int by_uid, uid_t uid, struct passwd *pw, char *buf, size_t len, int *err)
{
	const char *path = getenv("NSS_CASELESS_PASSWD");
	char line[512];
	enum nss_status status = NSS_STATUS_NOTFOUND;
	FILE *f = path != NULL ? fopen(path, "re") : NULL;

	if (f == NULL)
		return NSS_STATUS_UNAVAIL;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[7], *save = NULL, *p = line;
		int n = 0;
		line[strcspn(line, "\n")] = '\0';
		while (n < 7 && (fields[n] = strtok_r(p, ":", &save)) != NULL) {
			p = NULL;
			n++;
		}
		if (n != 7)
			continue;
		if (by_uid ? (uid_t)strtoul(fields[2], NULL, 10) != uid : strcasecmp(fields[0], name) != 0)
			continue;
		size_t need = strlen(line) + 8;
		if (need > len) {
			*err = ERANGE;
			status = NSS_STATUS_TRYAGAIN;
			break;
		}
		char *o = buf;
		char **dst[] = { &pw->pw_name, &pw->pw_passwd, NULL, NULL, &pw->pw_gecos, &pw->pw_dir, &pw->pw_shell };
		for (int i = 0; i < 7; i++) {
			if (dst[i] == NULL)
				continue;
			size_t l = strlen(fields[i]) + 1;
			memcpy(o, fields[i], l);
			*dst[i] = o;
			o += l;
		}
		pw->pw_uid = (uid_t)strtoul(fields[2], NULL, 10);
		pw->pw_gid = (gid_t)strtoul(fields[3], NULL, 10);
		status = NSS_STATUS_SUCCESS;
		break;
	}
	fclose(f);
	return status;
}

enum nss_status
_nss_caseless_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *err)
{
	const char *slow = getenv("NSS_CASELESS_SLOW"), *ms = getenv("NSS_CASELESS_SLOW_MS");

	if (slow != NULL && slow[0] != '\0' && ms != NULL && strncasecmp(name, slow, strlen(slow)) == 0) {
		long wait = strtol(ms, NULL, 10);
		struct timespec ts = { wait / 1000, (wait % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return lookup(name, 0, 0, pw, buf, len, err);
}

enum nss_status
_nss_caseless_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *err)
{
	return lookup(NULL, 1, uid, pw, buf, len, err);
}

enum nss_status
_nss_caseless_setpwent(void)
{
	return NSS_STATUS_SUCCESS;
}
enum nss_status
_nss_caseless_endpwent(void)
{
	return NSS_STATUS_SUCCESS;
}
enum nss_status
_nss_caseless_getpwent_r(struct passwd *pw, char *buf, size_t len, int *err)
{
	(void)pw;
	(void)buf;
	(void)len;
	(void)err;
	return NSS_STATUS_NOTFOUND;
}
enum nss_status
_nss_caseless_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *err)
{
	(void)name;
	(void)gr;
	(void)buf;
	(void)len;
	(void)err;
	return NSS_STATUS_NOTFOUND;
}
enum nss_status
_nss_caseless_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *err)
{
	(void)gid;
	(void)gr;
	(void)buf;
	(void)len;
	(void)err;
	return NSS_STATUS_NOTFOUND;
}
enum nss_status
_nss_caseless_setgrent(void)
{
	return NSS_STATUS_SUCCESS;
}
enum nss_status
_nss_caseless_endgrent(void)
{
	return NSS_STATUS_SUCCESS;
}
enum nss_status
_nss_caseless_getgrent_r(struct group *gr, char *buf, size_t len, int *err)
{
	(void)gr;
	(void)buf;
	(void)len;
	(void)err;
	return NSS_STATUS_NOTFOUND;
}
enum nss_status
_nss_caseless_initgroups_dyn(const char *user, gid_t group, long *start, long *size, gid_t **groups, long limit,
			     int *err)
{
	(void)user;
	(void)group;
	(void)start;
	(void)size;
	(void)groups;
	(void)limit;
	(void)err;
	return NSS_STATUS_NOTFOUND;
}
