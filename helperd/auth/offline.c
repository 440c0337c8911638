#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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
	int64_t blocked_until; /* unix time */
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
verdict(struct offline_verdict *out, enum offline_kind kind, const char *info, const char *text)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	snprintf(out->info, sizeof(out->info), "%s", info != NULL ? info : "");
	snprintf(out->text, sizeof(out->text), "%s", text != NULL ? text : "");
}

static void
offline_fail(struct helper *h, const struct offline_login *who, const char *why, struct offline_verdict *out)
{
	struct offline_user *u = guard_find(h->offline, who->user, true);
	int64_t now = (int64_t)time(NULL);

	if (u == NULL) {
		/* Cannot count the failure: refuse offline logins for this
		 * user rather than let them go unlimited. */
		log_auth(LOG_WARNING, "offline login for %s refused: failure table full", who->user);
		verdict(out, OFFLINE_REFUSED, NULL, fr_tr(who->lang, "Offline login failed"));
		return;
	}
	u->failures++;
	if (u->failures >= h->cfg->offline_max_failures)
		u->blocked_until = now + offline_delay_after(h->cfg->offline_max_failures, u->failures);
	log_auth(LOG_NOTICE, "offline login FAILED for user=%s service=%s (%s), %u failure(s)", who->user, who->service,
		 why, u->failures);
	verdict(out, OFFLINE_REFUSED, NULL, fr_tr(who->lang, "Offline login failed"));
}

static void
offline_succeed(struct helper *h, const struct offline_login *who, const char *how, const char *info,
		struct offline_verdict *out)
{
	struct offline_user *u = guard_find(h->offline, who->user, false);

	if (u != NULL) {
		u->failures = 0;
		u->blocked_until = 0;
	}
	log_auth(LOG_WARNING,
		 "OFFLINE login for user=%s service=%s rhost=%s (%s): the API could "
		 "not be reached",
		 who->user, who->service, who->rhost ? who->rhost : "-", how);
	verdict(out, OFFLINE_SUCCEEDED, info, fr_tr(who->lang, "Offline login: Freddy could not be reached"));
}

void
offline_login_try(struct helper *h, const struct offline_login *who, const char *password, struct totp_entry *entry,
		  struct offline_verdict *out)
{
	const struct config *cfg = h->cfg;
	struct cache_record rec;
	int64_t now = (int64_t)time(NULL);
	char text[OFFLINE_TEXT_MAX];

	verdict(out, OFFLINE_NOT_APPLICABLE, NULL, NULL);
	if (!cfg->offline_login || password == NULL)
		return;
	if (token_cache_load(h->cache, who->user, &rec) != 0)
		return;
	bool recent = rec.verifier != NULL && rec.last_online > 0 && rec.last_online <= now + 300 &&
		      now - rec.last_online <= (int64_t)cfg->offline_days * 86400;
	if (!recent) {
		log_auth(LOG_NOTICE, "offline login not possible for %s: no online login within %u days", who->user,
			 cfg->offline_days);
		cache_record_wipe(&rec);
		return;
	}
	struct offline_user *u = guard_find(h->offline, who->user, false);
	if (u != NULL && u->blocked_until > now) {
		cache_record_wipe(&rec);
		log_auth(LOG_NOTICE, "offline login for %s refused: %u failures, delay running", who->user,
			 u->failures);
		unsigned long wait = (unsigned long)(u->blocked_until - now);
		snprintf(text, sizeof(text),
			 fr_trn(who->lang, "Too many failed offline logins, try again in %lu second",
				"Too many failed offline logins, try again in %lu seconds", wait),
			 wait);
		verdict(out, OFFLINE_DELAYED, NULL, text);
		return;
	}
	bool match = verifier_check(rec.verifier, password);
	cache_record_wipe(&rec);
	if (!match) {
		offline_fail(h, who, "wrong password", out);
		return;
	}
	int r = totp_step_load(h, "offline", who->user, entry);
	if (r != 0 && r != FR_ERR_NOT_FOUND) {
		/* An unreadable users file must not turn into "no TOTP needed". */
		verdict(out, OFFLINE_UNAVAILABLE, NULL, "offline login: the TOTP users file cannot be used");
		return;
	}
	if (r == FR_ERR_NOT_FOUND && !cfg->offline_password_only) {
		/* Offline, the password alone would be one factor: without a
		 * local TOTP the account waits for Freddy, unless the
		 * administrator chose single-factor offline logins. */
		log_auth(LOG_NOTICE,
			 "offline login for %s refused: no TOTP secret in %s, and "
			 "offline_password_only is off",
			 who->user, cfg->totp_users_file);
		verdict(out, OFFLINE_UNAVAILABLE, NULL, "offline login needs a local TOTP secret");
		return;
	}
	if (r == FR_ERR_NOT_FOUND) {
		offline_succeed(h, who, "password verifier only (offline_password_only)",
				fr_tr(who->lang, "Freddy is unreachable: offline login with your password."), out);
		return;
	}
	verdict(out, OFFLINE_ASK_CODE, fr_tr(who->lang, "Freddy is unreachable: offline login."), NULL);
	snprintf(out->prompt, sizeof(out->prompt), "%s", fr_tr(who->lang, "Authenticator code (offline login): "));
}

void
offline_login_code(struct helper *h, const struct offline_login *who, const struct totp_entry *entry, const char *code,
		   struct offline_verdict *out)
{
	switch (totp_step_check(h, "offline", who->user, entry, code)) {
	case TOTP_ACCEPTED:
		offline_succeed(h, who, "password verifier and local TOTP", NULL, out);
		return;
	case TOTP_REPLAYED:
		offline_fail(h, who, "authenticator code already used", out);
		return;
	case TOTP_WRONG:
		offline_fail(h, who, "wrong authenticator code", out);
		return;
	case TOTP_ERROR:
		verdict(out, OFFLINE_ERROR, NULL, NULL);
		return;
	}
}
