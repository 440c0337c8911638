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
#include "core/loop.h"
#include "core/secret.h"
#include "crypto/verifier_worker.h"
#include "hostlib/user_name.h"

/* Users with failures (or a used TOTP step) are remembered; the table is
 * capped so that a flood of names cannot grow it without bound. */
#define OFFLINE_TRACKED_MAX 4096

struct offline_attempt;

struct offline_user {
	struct offline_user *next;
	char *user;
	unsigned failures;
	int64_t blocked_until;		  /* unix time */
	struct offline_attempt *checking; /* the one password check of this user */
	struct offline_attempt *waiting;  /* the next ones, in order */
};

struct offline_guard {
	struct offline_user *users;
	unsigned count;
	struct loop *loop;
	struct loop_deferred kick; /* starts waiting checks, after the call that queued them */
	bool kick_queued;
};

int
offline_guard_new(struct loop *loop, struct offline_guard **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return FR_ERR_NOMEM;
	(*out)->loop = loop;
	return FR_OK;
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
	/* Called after the last loop pass: no kick is queued, and every login
	 * (so every attempt) is gone. */
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

/* One offline password check: waiting for the user's previous one, or on
 * the verifier threads. */
struct offline_attempt {
	struct offline_attempt *next; /* the user's waiting attempts */
	struct helper *h;
	struct offline_user *u;
	char user[USER_NAME_MAX + 1];
	char service[128], rhost[256];
	uid_t caller;
	const struct fr_catalog *lang;
	char *password; /* secret */
	char *verifier; /* the cached one, taken when the attempt started */
	struct totp_entry *entry;
	struct verifier_job *job;
	offline_done_fn done;
	void *ctx;
	struct offline_attempt **owner;
};

static void
attempt_free(struct offline_attempt *a)
{
	secret_free(a->password);
	free(a->verifier);
	free(a);
}

static struct offline_login
who_of(const struct offline_attempt *a)
{
	return (struct offline_login){
		.user = a->user, .service = a->service, .rhost = a->rhost, .caller = a->caller, .lang = a->lang
	};
}

static void check_next(struct offline_user *u);
static void schedule_kick(struct offline_guard *g);

/* After the password matched: the second factor decides what is asked. */
static void
after_password(struct offline_attempt *a, struct offline_verdict *out)
{
	struct helper *h = a->h;
	const struct config *cfg = h->cfg;
	struct offline_login who = who_of(a);
	int r = totp_step_load(h, "offline", a->user, a->entry);

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
			 a->user, cfg->totp_users_file);
		verdict(out, OFFLINE_UNAVAILABLE, NULL, "offline login needs a local TOTP secret");
		return;
	}
	if (r == FR_ERR_NOT_FOUND) {
		offline_succeed(h, &who, "password verifier only (offline_password_only)",
				fr_tr(a->lang, "Freddy is unreachable: offline login with your password."), out);
		return;
	}
	verdict(out, OFFLINE_ASK_CODE, fr_tr(a->lang, "Freddy is unreachable: offline login."), NULL);
	snprintf(out->prompt, sizeof(out->prompt), "%s", fr_tr(a->lang, "Authenticator code (offline login): "));
}

/* The user's check is over (counted, if it failed): its owner is told, and
 * the user's next waiting attempt may start. */
static void
conclude(struct offline_attempt *a, const struct offline_verdict *v)
{
	struct offline_user *u = a->u;
	offline_done_fn done = a->done;
	void *ctx = a->ctx;

	*a->owner = NULL;
	u->checking = NULL;
	attempt_free(a);
	done(ctx, v);
	check_next(u);
}

/* A delay that started while an attempt waited applies to it too. */
static bool
delayed(struct offline_user *u, const struct fr_catalog *lang, struct offline_verdict *out)
{
	int64_t now = (int64_t)time(NULL);
	char text[OFFLINE_TEXT_MAX];

	if (u->blocked_until <= now)
		return false;
	log_auth(LOG_NOTICE, "offline login for %s refused: %u failures, delay running", u->user, u->failures);
	unsigned long wait = (unsigned long)(u->blocked_until - now);
	snprintf(text, sizeof(text),
		 fr_trn(lang, "Too many failed offline logins, try again in %lu second",
			"Too many failed offline logins, try again in %lu seconds", wait),
		 wait);
	verdict(out, OFFLINE_DELAYED, NULL, text);
	return true;
}

static void
on_checked(void *ctx, bool match)
{
	struct offline_attempt *a = ctx;
	struct offline_login who = who_of(a);
	struct offline_verdict v;

	a->job = NULL;
	if (match)
		after_password(a, &v);
	else
		offline_fail(a->h, &who, "wrong password", &v);
	conclude(a, &v);
}

/* Start `a`'s check now: it is its user's only one. */
static void
check_now(struct offline_attempt *a)
{
	struct offline_verdict v;

	a->u->checking = a;
	if (delayed(a->u, a->lang, &v)) {
		conclude(a, &v);
		return;
	}
	/* yescrypt, on the verifier threads, root callers first: on the loop,
	 * every other login would wait 13 ms a guess. */
	int r = verifier_check_start(a->h->verifiers, a->verifier, a->password, a->caller, on_checked, a, &a->job);
	if (r != FR_OK) {
		log_auth(LOG_NOTICE, "offline login for %s not checked: %s", a->user, fr_strerror(r));
		verdict(&v, OFFLINE_UNAVAILABLE, NULL, "offline login: the password check was declined");
		conclude(a, &v);
	}
}

static void
check_next(struct offline_user *u)
{
	struct offline_attempt *a = u->waiting;

	if (a == NULL || u->checking != NULL)
		return;
	u->waiting = a->next;
	a->next = NULL;
	check_now(a);
}

static void
kick(void *arg)
{
	struct offline_guard *g = arg;

	g->kick_queued = false;
	for (struct offline_user *u = g->users; u != NULL; u = u->next)
		check_next(u);
}

/* From the loop, never from inside the call that queued an attempt: its
 * verdict must not reach the login before offline_login_start returns. */
static void
schedule_kick(struct offline_guard *g)
{
	if (g->kick_queued)
		return;
	g->kick_queued = true;
	loop_defer(g->loop, &g->kick, kick, g);
}

bool
offline_login_start(struct helper *h, const struct offline_login *who, const char *password, struct totp_entry *entry,
		    offline_done_fn done, void *ctx, struct offline_attempt **attempt,
		    struct offline_verdict *now_verdict)
{
	const struct config *cfg = h->cfg;
	struct cache_record rec;
	int64_t now = (int64_t)time(NULL);

	*attempt = NULL;
	verdict(now_verdict, OFFLINE_NOT_APPLICABLE, NULL, NULL);
	if (!cfg->offline_login || password == NULL || strlen(who->user) > USER_NAME_MAX)
		return false;
	if (token_cache_load(h->cache, who->user, &rec) != 0)
		return false;
	bool recent = rec.verifier != NULL && rec.last_online > 0 && rec.last_online <= now + 300 &&
		      now - rec.last_online <= (int64_t)cfg->offline_days * 86400;
	if (!recent) {
		log_auth(LOG_NOTICE, "offline login not possible for %s: no online login within %u days", who->user,
			 cfg->offline_days);
		cache_record_wipe(&rec);
		return false;
	}
	struct offline_user *u = guard_find(h->offline, who->user, true);
	if (u == NULL) {
		cache_record_wipe(&rec);
		log_auth(LOG_WARNING, "offline login for %s refused: failure table full", who->user);
		verdict(now_verdict, OFFLINE_REFUSED, NULL, fr_tr(who->lang, "Offline login failed"));
		return false;
	}
	if (delayed(u, who->lang, now_verdict)) {
		cache_record_wipe(&rec);
		return false;
	}
	struct offline_attempt *a = calloc(1, sizeof(*a));
	if (a == NULL || (a->password = secret_strdup(password)) == NULL ||
	    (a->verifier = strdup(rec.verifier)) == NULL) {
		cache_record_wipe(&rec);
		if (a != NULL)
			attempt_free(a);
		verdict(now_verdict, OFFLINE_ERROR, NULL, NULL);
		return false;
	}
	cache_record_wipe(&rec);
	a->h = h;
	a->u = u;
	memcpy(a->user, who->user, strlen(who->user) + 1);
	snprintf(a->service, sizeof(a->service), "%s", who->service);
	snprintf(a->rhost, sizeof(a->rhost), "%s", who->rhost != NULL ? who->rhost : "-");
	a->caller = who->caller;
	a->lang = who->lang;
	a->entry = entry;
	a->done = done;
	a->ctx = ctx;
	a->owner = attempt;
	*attempt = a;
	/* One check per user at a time: parallel guesses wait for the one
	 * before them to be counted, so that they cannot all pass the
	 * failure counter together. */
	struct offline_attempt **tail = &u->waiting;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = a;
	schedule_kick(h->offline);
	return true;
}

void
offline_login_cancel(struct helper *h, struct offline_attempt **attempt)
{
	struct offline_attempt *a = *attempt;

	if (a == NULL)
		return;
	*attempt = NULL;
	struct offline_user *u = a->u;
	if (u->checking == a) {
		verifier_job_cancel(&a->job);
		u->checking = NULL;
		attempt_free(a);
		schedule_kick(h->offline); /* the user's next attempt */
		return;
	}
	for (struct offline_attempt **p = &u->waiting; *p != NULL; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			break;
		}
	}
	attempt_free(a);
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
