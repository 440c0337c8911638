#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fr_error.h"
#include "core/log.h"
#include "auth/offline_login.h"
#include "crypto/totp.h"
#include "store/token_cache.h"
#include "store/totp_replay.h"
#include "crypto/verifier.h"

/* Users with failures (or a used TOTP step) are remembered; the table is
 * capped so that a flood of names cannot grow it without bound. */
#define OFFLINE_TRACKED_MAX 4096

struct offline_user {
	struct offline_user *next;
	char *user;
	unsigned failures;
	int64_t blocked_until;		/* unix time */
};

struct offline_guard {
	struct offline_user *users;
	unsigned count;
};

int
offline_guard_new(struct offline_guard **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

void
offline_guard_free(struct offline_guard *g)
{
	if (g == NULL)
		return;
	while (g->users != NULL) {
		struct offline_user *u = g->users;
		g->users = u->next;
		free(u->user);
		free(u);
	}
	free(g);
}

static struct offline_user *
guard_find(struct offline_guard *g, const char *user, bool create)
{
	struct offline_user *u;

	for (u = g->users; u != NULL; u = u->next)
		if (strcmp(u->user, user) == 0)
			return u;
	if (!create || g->count >= OFFLINE_TRACKED_MAX)
		return NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL || (u->user = strdup(user)) == NULL) {
		free(u);
		return NULL;
	}
	u->next = g->users;
	g->users = u;
	g->count++;
	return u;
}

int64_t
offline_delay_after(unsigned max_failures, unsigned failures)
{
	int64_t delay = OFFLINE_DELAY_S;

	if (failures < max_failures)
		return 0;
	for (unsigned i = max_failures; i < failures && delay < OFFLINE_DELAY_MAX_S; i++)
		delay *= 2;
	return delay < OFFLINE_DELAY_MAX_S ? delay : OFFLINE_DELAY_MAX_S;
}

static void
offline_fail(struct login *lg, const char *why)
{
	const struct config *cfg = lg->helper->cfg;
	struct offline_user *u = guard_find(lg->helper->offline, lg->user, true);
	int64_t now = (int64_t)time(NULL);

	if (u == NULL) {
		/* Cannot count the failure: refuse offline logins for this
		 * user rather than let them go unlimited. */
		log_auth(LOG_WARNING, "offline login for %s refused: failure table full", lg->user);
		login_finish(lg, FR_RESULT_AUTH_ERR, "Offline login failed");
		return;
	}
	u->failures++;
	if (u->failures >= cfg->offline_max_failures)
		u->blocked_until = now + offline_delay_after(cfg->offline_max_failures, u->failures);
	log_auth(LOG_NOTICE, "offline login FAILED for user=%s service=%s (%s), %u failure(s)",
		 lg->user, lg->service, why, u->failures);
	login_finish(lg, FR_RESULT_AUTH_ERR, "Offline login failed");
}

static void
offline_succeed(struct login *lg, const char *how)
{
	struct offline_user *u = guard_find(lg->helper->offline, lg->user, false);

	if (u != NULL) {
		u->failures = 0;
		u->blocked_until = 0;
	}
	log_auth(LOG_WARNING, "OFFLINE login for user=%s service=%s rhost=%s (%s): the API could "
		 "not be reached", lg->user, lg->service, lg->rhost ? lg->rhost : "-", how);
	login_finish(lg, FR_RESULT_SUCCESS, "Offline login: Freddy could not be reached");
}

/* The user's TOTP entry: 0, FR_ERR_NOT_FOUND (not enrolled), or another
 * error for a users file that cannot be trusted or read (logged). */
static int
offline_totp_entry(struct login *lg, struct totp_entry *entry)
{
	const struct config *cfg = lg->helper->cfg;
	char err[512];
	char *text = NULL;
	size_t len = 0;

	memset(entry, 0, sizeof(*entry));
	int r = totp_users_read(cfg->totp_users_file, (unsigned)geteuid(), &text, &len, err, sizeof(err));
	if (r == 0) {
		r = totp_users_find(text, len, lg->user, cfg->totp_step, cfg->totp_digits, entry);
		explicit_bzero(text, len);
		free(text);
	} else if (r != FR_ERR_NOT_FOUND) {
		log_err("offline login: %s", err);
	}
	return r;
}

enum offline_step
offline_login_try(struct login *lg, const char *password)
{
	const struct config *cfg = lg->helper->cfg;
	struct cache_record rec;
	int64_t now = (int64_t)time(NULL);
	char text[128];

	if (!cfg->offline_login || password == NULL)
		return OFFLINE_NOT_APPLICABLE;
	if (token_cache_load(lg->helper->cache, lg->user, &rec) != 0)
		return OFFLINE_NOT_APPLICABLE;
	bool recent = rec.verifier != NULL && rec.last_online > 0 && rec.last_online <= now + 300 &&
		      now - rec.last_online <= (int64_t)cfg->offline_days * 86400;
	if (!recent) {
		log_auth(LOG_NOTICE, "offline login not possible for %s: no online login within %u days",
			 lg->user, cfg->offline_days);
		cache_record_wipe(&rec);
		return OFFLINE_NOT_APPLICABLE;
	}
	struct offline_user *u = guard_find(lg->helper->offline, lg->user, false);
	if (u != NULL && u->blocked_until > now) {
		cache_record_wipe(&rec);
		log_auth(LOG_NOTICE, "offline login for %s refused: %u failures, delay running",
			 lg->user, u->failures);
		snprintf(text, sizeof(text), "Too many failed offline logins, try again in %lld seconds",
			 (long long)(u->blocked_until - now));
		login_finish(lg, FR_RESULT_MAXTRIES, text);
		return OFFLINE_FINISHED;
	}
	bool match = verifier_check(rec.verifier, password);
	cache_record_wipe(&rec);
	if (!match) {
		offline_fail(lg, "wrong password");
		return OFFLINE_FINISHED;
	}
	struct totp_entry entry;
	int r = offline_totp_entry(lg, &entry);
	totp_entry_wipe(&entry);
	if (r != 0 && r != FR_ERR_NOT_FOUND) {
		/* An unreadable users file must not turn into "no TOTP needed". */
		login_unavailable(lg, "offline login: the TOTP users file cannot be used");
		return OFFLINE_FINISHED;
	}
	if (r == FR_ERR_NOT_FOUND && !cfg->offline_password_only) {
		/* Offline, the password alone would be one factor: without a
		 * local TOTP the account waits for Freddy, unless the
		 * administrator chose single-factor offline logins. */
		log_auth(LOG_NOTICE, "offline login for %s refused: no TOTP secret in %s, and "
			 "offline_password_only is off", lg->user, cfg->totp_users_file);
		login_unavailable(lg, "offline login needs a local TOTP secret");
		return OFFLINE_FINISHED;
	}
	if (r == FR_ERR_NOT_FOUND) {
		login_info(lg, "Freddy is unreachable: offline login with your password.");
		offline_succeed(lg, "password verifier only (offline_password_only)");
		return OFFLINE_FINISHED;
	}
	login_info(lg, "Freddy is unreachable: offline login.");
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, "Authenticator code (offline login): ");
	return OFFLINE_ASK_CODE;
}

void
offline_login_code(struct login *lg, const char *code)
{
	const struct config *cfg = lg->helper->cfg;
	struct totp_entry entry;
	char digits[TOTP_CODE_MAX + 1];
	size_t n = 0;
	int r;

	for (const char *p = code; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (n >= TOTP_CODE_MAX) {
			n = 0;
			break;
		}
		digits[n++] = *p;
	}
	digits[n] = '\0';
	r = offline_totp_entry(lg, &entry);
	/* The same replay state as online TOTP logins: a code works once. */
	if (r == 0)
		r = n > 0 ? totp_replay_accept(lg->helper->totp_replay, &entry, digits, time(NULL),
					       cfg->totp_window, lg->user) : FR_ERR_INVALID;
	totp_entry_wipe(&entry);
	explicit_bzero(digits, sizeof(digits));
	if (r == FR_ERR_DUPLICATE) {
		offline_fail(lg, "authenticator code already used");
		return;
	}
	if (r != 0) {
		offline_fail(lg, "wrong authenticator code");
		return;
	}
	offline_succeed(lg, "password verifier and local TOTP");
}
