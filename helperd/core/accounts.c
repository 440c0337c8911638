#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/accounts.h"
#include "fr_error.h"

/* Buffers grow on ERANGE up to this; an entry larger is an error. */
#define NSS_BUF_MAX (1024 * 1024)
#define GROUPS_MAX  65536

/* getpwnam_r(3): some NSS modules report "no such entry" as an error. */
static bool
not_found_errno(int e)
{
	return e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static size_t
first_size(int which)
{
	long hint = sysconf(which);

	return hint > 0 && hint < NSS_BUF_MAX ? (size_t)hint : 4096;
}

/* After one getpw*_r/getgr*_r call that returned `rc` with a buffer of
 * *size: true to try again with a larger one (ERANGE), else the verdict
 * in *result (FR_OK when `found`). */
static bool
retry_larger(int rc, bool found, size_t *size, int *result)
{
	if (rc == ERANGE && *size < NSS_BUF_MAX) {
		*size *= 2;
		return true;
	}
	*result = rc != 0 && !not_found_errno(rc) ? FR_ERR_IO : found ? FR_OK : FR_ERR_NOT_FOUND;
	return false;
}

/* One passwd lookup by name (user != NULL) or by uid, grown on ERANGE. */
static int
passwd_lookup(const char *user, uid_t uid, struct local_account *out)
{
	size_t size = first_size(_SC_GETPW_R_SIZE_MAX);
	struct passwd pw, *res = NULL;

	memset(out, 0, sizeof(*out));
	for (;;) {
		char *buf = malloc(size);
		if (buf == NULL)
			return FR_ERR_NOMEM;
		int rc = user != NULL ? getpwnam_r(user, &pw, buf, size, &res) : getpwuid_r(uid, &pw, buf, size, &res);
		bool usable = rc == 0 && res != NULL && strlen(pw.pw_name) <= USER_NAME_MAX &&
			      user_name_valid(pw.pw_name);
		if (usable) {
			out->uid = pw.pw_uid;
			out->gid = pw.pw_gid;
			memcpy(out->name, pw.pw_name, strlen(pw.pw_name) + 1);
		}
		free(buf);
		int result;
		if (!retry_larger(rc, usable, &size, &result))
			return result;
	}
}

int
accounts_by_name(const char *user, struct local_account *out)
{
	if (user == NULL) {
		memset(out, 0, sizeof(*out));
		return FR_ERR_NOT_FOUND;
	}
	return passwd_lookup(user, 0, out);
}

int
accounts_by_uid(uid_t uid, struct local_account *out)
{
	return passwd_lookup(NULL, uid, out);
}

int
accounts_group_id(const char *group, gid_t *gid)
{
	size_t size = first_size(_SC_GETGR_R_SIZE_MAX);
	struct group gr, *res = NULL;

	for (;;) {
		char *buf = malloc(size);
		if (buf == NULL)
			return FR_ERR_NOMEM;
		int rc = getgrnam_r(group, &gr, buf, size, &res);
		if (rc == 0 && res != NULL)
			*gid = gr.gr_gid;
		free(buf);
		int result;
		if (!retry_larger(rc, rc == 0 && res != NULL, &size, &result))
			return result;
	}
}

/* The user's groups, primary included, grown until getgrouplist fits. */
static int
groups_of(const char *user, gid_t primary, gid_t **out, int *count)
{
	int n = 64;

	*out = NULL;
	*count = 0;
	for (;;) {
		gid_t *list = calloc((size_t)n, sizeof(*list));
		int got = n;
		if (list == NULL)
			return FR_ERR_NOMEM;
		if (getgrouplist(user, primary, list, &got) >= 0) {
			*out = list;
			*count = got;
			return FR_OK;
		}
		free(list);
		if (got <= n) {
			if (n >= GROUPS_MAX)
				return FR_ERR_TOO_LARGE;
			got = n * 2;
		}
		n = got > GROUPS_MAX ? GROUPS_MAX : got;
	}
}

int
accounts_in_groups(const char *groups, const char *user)
{
	struct local_account acct;
	gid_t *list = NULL;
	int count, r;

	if (groups == NULL)
		return FR_OK;
	if ((r = accounts_by_name(user, &acct)) != 0)
		return r == FR_ERR_NOT_FOUND ? FR_ERR_PERMISSION : r;
	if ((r = groups_of(user, acct.gid, &list, &count)) != 0)
		return r;

	r = FR_ERR_PERMISSION;
	const char *p = groups;
	while (*p != '\0' && r == FR_ERR_PERMISSION) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		char name[256];
		if (len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			gid_t gid = 0;
			int g = accounts_group_id(name, &gid);
			if (g != 0 && g != FR_ERR_NOT_FOUND) {
				r = g;
				break;
			}
			for (int i = 0; g == 0 && i < count; i++) {
				if (list[i] == gid) {
					r = FR_OK;
					break;
				}
			}
		}
		p += len;
	}
	free(list);
	return r;
}
