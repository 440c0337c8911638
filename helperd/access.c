#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "fr_error.h"
#include "log.h"
#include "ratelimit.h"

#define PW_BUF_MAX	(1024 * 1024)
#define GROUPS_MAX	65536

/* getpwnam_r(3): some NSS modules report "no such entry" as an error. */
static bool
not_found_errno(int e)
{
	return e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* getpwnam_r with a buffer grown on ERANGE.  FR_ERR_NOT_FOUND: no such user. */
static int
lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 4096;
	struct passwd pw, *res = NULL;

	for (;;) {
		char *buf = malloc(size);
		if (buf == NULL)
			return FR_ERR_NOMEM;
		int rc = getpwnam_r(user, &pw, buf, size, &res);
		if (rc == 0 && res != NULL) {
			*uid = pw.pw_uid;
			*gid = pw.pw_gid;
		}
		free(buf);
		if (rc == ERANGE && size < PW_BUF_MAX) {
			size *= 2;
			continue;
		}
		if (rc != 0 && !not_found_errno(rc))
			return FR_ERR_IO;
		return rc == 0 && res != NULL ? FR_OK : FR_ERR_NOT_FOUND;
	}
}

int
access_caller_allowed(const char *user, uid_t caller_uid)
{
	uid_t uid;
	gid_t gid;

	if (caller_uid == 0)
		return FR_OK;
	int r = lookup_user(user, &uid, &gid);
	if (r == FR_ERR_NOT_FOUND)
		return FR_ERR_PERMISSION;
	if (r != 0)
		return r;
	return uid == caller_uid ? FR_OK : FR_ERR_PERMISSION;
}

static int
group_id(const char *name, gid_t *gid)
{
	long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 4096;
	struct group gr, *res = NULL;

	for (;;) {
		char *buf = malloc(size);
		if (buf == NULL)
			return FR_ERR_NOMEM;
		int rc = getgrnam_r(name, &gr, buf, size, &res);
		if (rc == 0 && res != NULL)
			*gid = gr.gr_gid;
		free(buf);
		if (rc == ERANGE && size < PW_BUF_MAX) {
			size *= 2;
			continue;
		}
		if (rc != 0 && !not_found_errno(rc))
			return FR_ERR_IO;
		return rc == 0 && res != NULL ? FR_OK : FR_ERR_NOT_FOUND;
	}
}

/* The user's groups, primary included, grown until getgrouplist fits. */
static int
user_groups(const char *user, gid_t primary, gid_t **out, int *count)
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
access_in_allowed_groups(const char *groups, const char *user)
{
	uid_t uid;
	gid_t primary, *list = NULL;
	int count, r;

	if (groups == NULL)
		return FR_OK;
	if ((r = lookup_user(user, &uid, &primary)) != 0)
		return r == FR_ERR_NOT_FOUND ? FR_ERR_PERMISSION : r;
	if ((r = user_groups(user, primary, &list, &count)) != 0)
		return r;

	/* Walk the config list word by word; a group that does not exist
	 * admits nobody rather than failing every login. */
	r = FR_ERR_PERMISSION;
	const char *p = groups;
	while (*p != '\0' && r == FR_ERR_PERMISSION) {
		size_t skip = strspn(p, ", \t");
		p += skip;
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		char name[256];
		if (len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			gid_t gid = 0;
			int g = group_id(name, &gid);
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

static void
key_user(char *out, size_t outlen, const char *user)
{
	(void)snprintf(out, outlen, "user:%s", user);
}

static void
key_uid(char *out, size_t outlen, uid_t uid)
{
	(void)snprintf(out, outlen, "uid:%u", (unsigned)uid);
}

int
access_gate(struct helper *h, const char *user, uid_t caller_uid, enum fr_result *result, char *text,
	    size_t textlen)
{
	const struct config *cfg = h->cfg;
	char key[RATELIMIT_KEY_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	int r;

	*result = FR_RESULT_SUCCESS;
	if (textlen > 0)
		text[0] = '\0';

	/* A throttled caller is refused before it learns anything else. */
	if (caller_uid != 0 && h->ratelimit != NULL) {
		key_uid(key, sizeof(key), caller_uid);
		unsigned wait = ratelimit_wait(h->ratelimit, key, cfg->rate_limit_failures,
					       cfg->rate_limit_delay, now);
		if (wait > 0) {
			log_auth(LOG_NOTICE, "refusing a login for %s from uid %u: that caller is "
				 "rate-limited for %u more s", user, (unsigned)caller_uid, wait);
			*result = FR_RESULT_AUTH_ERR;
			(void)snprintf(text, textlen, "Too many failed attempts; try again in %u s", wait);
			return FR_ERR_PERMISSION;
		}
	}
	if ((r = access_caller_allowed(user, caller_uid)) != 0) {
		if (r == FR_ERR_PERMISSION) {
			log_auth(LOG_WARNING, "refusing a login for %s from uid %u: a non-root caller may "
				 "authenticate only its own account", user, (unsigned)caller_uid);
			*result = FR_RESULT_PERM_DENIED;
			if (h->ratelimit != NULL) {
				key_uid(key, sizeof(key), caller_uid);
				ratelimit_failure(h->ratelimit, key, now);
			}
		} else {
			log_err("cannot look up user %s: %s", user, fr_strerror(r));
			*result = FR_RESULT_AUTHINFO_UNAVAIL;
		}
		return r;
	}
	if ((r = access_in_allowed_groups(cfg->allowed_groups, user)) != 0) {
		if (r == FR_ERR_PERMISSION) {
			log_auth(LOG_INFO, "%s is not in allowed_groups; leaving the decision to the rest "
				 "of the PAM stack", user);
			*result = FR_RESULT_IGNORE;
		} else {
			log_err("cannot look up the groups of %s: %s", user, fr_strerror(r));
			*result = FR_RESULT_AUTHINFO_UNAVAIL;
		}
		return r;
	}
	if (h->ratelimit != NULL) {
		key_user(key, sizeof(key), user);
		unsigned wait = ratelimit_wait(h->ratelimit, key, cfg->rate_limit_failures,
					       cfg->rate_limit_delay, now);
		if (wait > 0) {
			log_auth(LOG_NOTICE, "refusing a login for %s from uid %u: the user is "
				 "rate-limited for %u more s", user, (unsigned)caller_uid, wait);
			*result = FR_RESULT_AUTH_ERR;
			(void)snprintf(text, textlen, "Too many failed attempts; try again in %u s", wait);
			return FR_ERR_PERMISSION;
		}
	}
	return FR_OK;
}

void
access_record(struct helper *h, const char *user, uid_t caller_uid, enum fr_result result)
{
	char key[RATELIMIT_KEY_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	bool failed = result == FR_RESULT_AUTH_ERR || result == FR_RESULT_MAXTRIES ||
		      result == FR_RESULT_USER_UNKNOWN;

	if (h->ratelimit == NULL || (!failed && result != FR_RESULT_SUCCESS))
		return;
	key_user(key, sizeof(key), user);
	if (failed)
		ratelimit_failure(h->ratelimit, key, now);
	else
		ratelimit_success(h->ratelimit, key, now);
	if (caller_uid == 0)
		return;
	key_uid(key, sizeof(key), caller_uid);
	if (failed)
		ratelimit_failure(h->ratelimit, key, now);
	else
		ratelimit_success(h->ratelimit, key, now);
}
