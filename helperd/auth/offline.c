#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth/login.h"
#include "fr_error.h"
#include "core/log.h"
#include "auth/offline.h"
#include "auth/totp_step.h"
#include "store/token_cache.h"
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
	struct helper *h = login_helper(lg);
	struct offline_user *u = guard_find(h->offline, login_user(lg), true);
	int64_t now = (int64_t)time(NULL);

	if (u == NULL) {
		/* Cannot count the failure: refuse offline logins for this
		 * user rather than let them go unlimited. */
		log_auth(LOG_WARNING, "offline login for %s refused: failure table full", login_user(lg));
		login_finish(lg, FR_RESULT_AUTH_ERR, "Offline login failed");
		return;
	}
	u->failures++;
	if (u->failures >= h->cfg->offline_max_failures)
		u->blocked_until = now + offline_delay_after(h->cfg->offline_max_failures, u->failures);
	log_auth(LOG_NOTICE, "offline login FAILED for user=%s service=%s (%s), %u failure(s)",
		 login_user(lg), login_service(lg), why, u->failures);
	login_finish(lg, FR_RESULT_AUTH_ERR, "Offline login failed");
}

static void
offline_succeed(struct login *lg, const char *how)
{
	struct offline_user *u = guard_find(login_helper(lg)->offline, login_user(lg), false);
	const char *rhost = login_rhost(lg);

	if (u != NULL) {
		u->failures = 0;
		u->blocked_until = 0;
	}
	log_auth(LOG_WARNING, "OFFLINE login for user=%s service=%s rhost=%s (%s): the API could "
		 "not be reached", login_user(lg), login_service(lg), rhost ? rhost : "-", how);
	login_finish(lg, FR_RESULT_SUCCESS, "Offline login: Freddy could not be reached");
}

enum offline_step
offline_login_try(struct login *lg, const char *password, struct totp_entry *entry)
{
	struct helper *h = login_helper(lg);
	const struct config *cfg = h->cfg;
	struct cache_record rec;
	int64_t now = (int64_t)time(NULL);
	char text[128];

	if (!cfg->offline_login || password == NULL)
		return OFFLINE_NOT_APPLICABLE;
	if (token_cache_load(h->cache, login_user(lg), &rec) != 0)
		return OFFLINE_NOT_APPLICABLE;
	bool recent = rec.verifier != NULL && rec.last_online > 0 && rec.last_online <= now + 300 &&
		      now - rec.last_online <= (int64_t)cfg->offline_days * 86400;
	if (!recent) {
		log_auth(LOG_NOTICE, "offline login not possible for %s: no online login within %u days",
			 login_user(lg), cfg->offline_days);
		cache_record_wipe(&rec);
		return OFFLINE_NOT_APPLICABLE;
	}
	struct offline_user *u = guard_find(h->offline, login_user(lg), false);
	if (u != NULL && u->blocked_until > now) {
		cache_record_wipe(&rec);
		log_auth(LOG_NOTICE, "offline login for %s refused: %u failures, delay running",
			 login_user(lg), u->failures);
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
	int r = totp_step_load(lg, entry);
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
			 "offline_password_only is off", login_user(lg), cfg->totp_users_file);
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
offline_login_code(struct login *lg, const struct totp_entry *entry, const char *code)
{
	switch (totp_step_check(lg, entry, code)) {
	case TOTP_ACCEPTED:
		offline_succeed(lg, "password verifier and local TOTP");
		return;
	case TOTP_WRONG:
		offline_fail(lg, "wrong authenticator code");
		return;
	case TOTP_REPLAYED:
		offline_fail(lg, "authenticator code already used");
		return;
	case TOTP_ERROR:
		return;
	}
}
