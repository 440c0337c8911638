#include "config.h"

#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "auth/cached_auth.h"
#include "fr_error.h"
#include "core/log.h"
#include "store/token_cache.h"
#include "auth/login.h"
#include "auth/refresh.h"
#include "crypto/verifier_worker.h"

struct cached_attempt {
	struct login *lg;
	struct cached_attempt **owner;
	struct verifier_job *check;	/* the password against the verifier, first */
	struct refresh_waiter *waiter;	/* then the refresh at the API */
	cached_auth_fallback_fn fallback;
	bool decoy;			/* no usable record: the check only takes the time */
};

bool
cached_auth_in_window(long long last_login, long long now, unsigned timeout)
{
	/* A last_login in the future (clock stepped back) is not trusted. */
	return timeout > 0 && last_login > 0 && last_login <= now && now - last_login <= (long long)timeout;
}

/* The API confirmed the user just now: offline logins count from here. */
static void
note_online(struct login *lg, const struct cache_record *rec)
{
	struct cache_record copy = *rec;

	copy.last_online = (int64_t)time(NULL);
	int r = token_cache_store(login_helper(lg)->cache, login_user(lg), &copy);
	if (r != 0)
		log_warn("cannot update the cache record of %s: %s", login_user(lg), fr_strerror(r));
}

static void
on_refreshed(void *ctx, int result, const struct cache_record *rec)
{
	struct cached_attempt *a = ctx;
	struct login *lg = a->lg;
	cached_auth_fallback_fn fallback = a->fallback;

	*a->owner = NULL;
	free(a);
	if (result == 0) {
		note_online(lg, rec);
		log_auth(LOG_INFO, "cached re-authentication of %s for service %s: password matched the "
			 "verifier and the API accepted the refresh; second factor skipped",
			 login_user(lg), login_service(lg));
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
	} else if (result == FR_ERR_PERMISSION) {
		log_auth(LOG_NOTICE, "cached re-authentication of %s refused: the API no longer accepts "
			 "its login", login_user(lg));
		login_finish(lg, FR_RESULT_AUTH_ERR, "Your Freddy login is no longer valid");
	} else {
		log_debug("cached re-authentication of %s: API not usable, full login instead", login_user(lg));
		fallback(lg);
	}
}

/* The verifier thread compared the password with the cached verifier (or,
 * for a user outside the window, with nothing: see cached_auth_try). */
static void
on_checked(void *ctx, bool match)
{
	struct cached_attempt *a = ctx;
	struct login *lg = a->lg;

	a->check = NULL;
	if (match && !a->decoy && refresh_start(login_helper(lg), login_user(lg), on_refreshed, a, &a->waiter) == 0)
		return;
	cached_auth_fallback_fn fallback = a->fallback;
	bool decoy = a->decoy;
	*a->owner = NULL;
	free(a);
	log_debug("cached re-authentication of %s: %s, full login instead", login_user(lg),
		  decoy ? "no cached login in the window" :
		  match ? "no refresh could start" : "the password does not match the verifier");
	fallback(lg);
}

bool
cached_auth_try(struct login *lg, const char *password, cached_auth_fallback_fn fallback,
		struct cached_attempt **attempt)
{
	struct helper *h = login_helper(lg);
	const struct config *cfg = h->cfg;
	struct cache_record rec;

	*attempt = NULL;
	if (cfg->cached_auth_timeout == 0 || password == NULL)
		return false;
	if (config_list_contains(cfg->cached_auth_services, login_service(lg))) {
		log_debug("cached re-authentication disabled for service %s", login_service(lg));
		return false;
	}
	bool usable = token_cache_load(h->cache, login_user(lg), &rec) == 0 && rec.verifier != NULL &&
		      cached_auth_in_window(rec.last_login, (long long)time(NULL), cfg->cached_auth_timeout);
	struct cached_attempt *a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->lg = lg;
		a->owner = attempt;
		a->fallback = fallback;
		/* Outside the window the password is hashed all the same, with a
		 * setting that matches nothing: a wrong password then takes as
		 * long for a user inside the window as for one outside it, and
		 * its duration does not tell who logged in lately. */
		a->decoy = !usable;
		/* yescrypt takes about 13 ms: on the verifier thread, so that a
		 * burst of sudo calls does not queue on the loop. */
		int r = verifier_check_start(h->verifiers, usable ? rec.verifier : NULL, password,
					     login_caller(lg), on_checked, a, &a->check);
		if (r != 0) {
			log_debug("cached re-authentication of %s not tried: %s", login_user(lg), fr_strerror(r));
			free(a);
			a = NULL;
		}
	}
	cache_record_wipe(&rec);
	if (a == NULL)
		return false;
	*attempt = a;
	return true;
}

void
cached_auth_cancel(struct login *lg, struct cached_attempt **attempt)
{
	struct cached_attempt *a = *attempt;

	if (a == NULL)
		return;
	verifier_job_cancel(&a->check);
	if (a->waiter != NULL)
		refresh_cancel(login_helper(lg), a->waiter);
	*attempt = NULL;
	free(a);
}
