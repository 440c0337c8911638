#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api/profile.h"
#include "auth/cached_auth.h"
#include "auth/durable.h"
#include "auth/refresh.h"
#include "core/log.h"
#include "crypto/verifier_worker.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "store/token_cache.h"

struct cached_attempt {
	struct helper *h;
	char user[USER_NAME_MAX + 1];
	char service[128];
	struct cached_attempt **owner;
	struct verifier_job *check;    /* the password against the verifier, first */
	struct refresh_waiter *waiter; /* then the refresh at the API, */
	struct durable_job *durable;   /* or the check of a durable token */
	cached_auth_done_fn done;
	void *ctx;
	bool decoy; /* no usable record: the check only takes the time */
};

bool
cached_auth_in_window(long long last_login, long long now, unsigned timeout)
{
	/* A last_login in the future (clock stepped back) is not trusted. */
	return timeout > 0 && last_login > 0 && last_login <= now && now - last_login <= (long long)timeout;
}

/* The API confirmed the user just now: offline logins count from here. */
static void
note_online(struct cached_attempt *a, const struct cache_record *rec)
{
	struct cache_record copy = *rec;

	copy.last_online = (int64_t)time(NULL);
	int r = token_cache_store(a->h->cache, a->user, &copy);
	if (r != 0)
		log_warn("cannot update the cache record of %s: %s", a->user, fr_strerror(r));
}

/* Ends the attempt: *owner cleared and `done` told, the attempt freed. */
static void
conclude(struct cached_attempt *a, enum cached_verdict verdict)
{
	cached_auth_done_fn done = a->done;
	void *ctx = a->ctx;

	*a->owner = NULL;
	free(a);
	done(ctx, verdict);
}

static void
on_refreshed(void *ctx, int result, const struct cache_record *rec)
{
	struct cached_attempt *a = ctx;

	a->waiter = NULL;
	if (result == 0) {
		note_online(a, rec);
		log_auth(LOG_INFO,
			 "cached re-authentication of %s for service %s: password matched the "
			 "verifier and the API accepted the refresh; second factor skipped",
			 a->user, a->service);
		conclude(a, CACHED_SUCCESS);
	} else if (result == FR_ERR_PERMISSION) {
		log_auth(LOG_NOTICE,
			 "cached re-authentication of %s refused: the API no longer accepts "
			 "its login",
			 a->user);
		conclude(a, CACHED_REFUSED);
	} else {
		log_debug("cached re-authentication of %s: API not usable, full login instead", a->user);
		conclude(a, CACHED_DECLINED);
	}
}

/* A durable token (AIUS) checked at the API.  Refused, it is gone from
 * the cache, and the full login runs: unlike a refused refresh, a revoked
 * durable token says nothing about the account, only that a new one is
 * needed. */
static void
on_durable_checked(void *ctx, int result)
{
	struct cached_attempt *a = ctx;
	struct cache_record rec;

	if (result == 0 && token_cache_load(a->h->cache, a->user, &rec) == 0) {
		note_online(a, &rec);
		cache_record_wipe(&rec);
		log_auth(LOG_INFO,
			 "cached re-authentication of %s for service %s: password matched the "
			 "verifier and the API accepted the durable token; second factor skipped",
			 a->user, a->service);
		conclude(a, CACHED_SUCCESS);
		return;
	}
	if (result == FR_ERR_PERMISSION)
		log_auth(LOG_NOTICE, "cached re-authentication of %s: durable token refused; full login instead",
			 a->user);
	else
		log_debug("cached re-authentication of %s: API not usable, full login instead", a->user);
	conclude(a, CACHED_DECLINED);
}

/* Whether the API accepts the cached login right now: a refresh, or the
 * check of a profile's durable token.  False when none could start. */
static bool
confirm_at_api(struct cached_attempt *a)
{
	const struct profile *p = profile_for(a->h->cfg);

	if (p != NULL && p->durable != NULL)
		return durable_check(a->h, a->user, on_durable_checked, a, &a->durable) == 0;
	return refresh_start(a->h, a->user, on_refreshed, a, &a->waiter) == 0;
}

/* The verifier thread compared the password with the cached verifier (or,
 * for a user outside the window, with nothing: see cached_auth_try). */
static void
on_checked(void *ctx, bool match)
{
	struct cached_attempt *a = ctx;

	a->check = NULL;
	if (match && !a->decoy && confirm_at_api(a))
		return;
	log_debug("cached re-authentication of %s: %s, full login instead", a->user,
		  a->decoy ? "no cached login in the window" :
		  match	   ? "no refresh could start" :
			     "the password does not match the verifier");
	conclude(a, CACHED_DECLINED);
}

enum cached_start
cached_auth_try(struct helper *h, const char *user, const char *service, uid_t caller, const char *password,
		cached_auth_done_fn done, void *ctx, struct cached_attempt **attempt)
{
	const struct config *cfg = h->cfg;
	struct cache_record rec;

	*attempt = NULL;
	if (cfg->cached_auth_timeout == 0 || password == NULL || strlen(user) > USER_NAME_MAX)
		return false;
	if (config_list_contains(cfg->cached_auth_services, service)) {
		log_debug("cached re-authentication disabled for service %s", service);
		return false;
	}
	bool usable = token_cache_load(h->cache, user, &rec) == 0 && rec.verifier != NULL &&
		      cached_auth_in_window(rec.last_login, (long long)time(NULL), cfg->cached_auth_timeout);
	struct cached_attempt *a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->h = h;
		memcpy(a->user, user, strlen(user) + 1);
		snprintf(a->service, sizeof(a->service), "%s", service);
		a->owner = attempt;
		a->done = done;
		a->ctx = ctx;
		/* Outside the window the password is hashed all the same, with a
		 * setting that matches nothing: a wrong password then takes as
		 * long for a user inside the window as for one outside it, and
		 * its duration does not tell who logged in lately. */
		a->decoy = !usable;
		/* yescrypt takes about 13 ms: on the verifier thread, so that a
		 * burst of sudo calls does not queue on the loop. */
		int r = verifier_check_start(h->verifiers, usable ? rec.verifier : NULL, password, caller, on_checked,
					     a, &a->check);
		if (r != 0) {
			log_debug("cached re-authentication of %s not tried: %s", user, fr_strerror(r));
			free(a);
			a = NULL;
			/* A caller at its share of the verifier threads is turned
			 * away, not sent on to the full login: that would send the
			 * password to the API, and the API mail a code, for every
			 * check the share declined (a flood of one's own password
			 * would make the API a mailer). */
			if (r == FR_ERR_TOO_LARGE && caller != 0) {
				cache_record_wipe(&rec);
				return CACHED_BUSY;
			}
		}
	}
	cache_record_wipe(&rec);
	if (a == NULL)
		return CACHED_NOT_TRIED;
	*attempt = a;
	return CACHED_CHECKING;
}

void
cached_auth_cancel(struct helper *h, struct cached_attempt **attempt)
{
	struct cached_attempt *a = *attempt;

	if (a == NULL)
		return;
	verifier_job_cancel(&a->check);
	if (a->waiter != NULL)
		refresh_cancel(h, a->waiter);
	durable_cancel(h, &a->durable);
	*attempt = NULL;
	free(a);
}
