#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api/parse.h"
#include "api/profile.h"
#include "auth/logout.h"
#include "core/log.h"
#include "core/secret.h"
#include "fr_error.h"
#include "store/token_cache.h"

/* DOCS SILENT: the reference does not say whether an expired token may
 * log out; one this close to expiry is refreshed first. */
#define LOGOUT_MARGIN 30

static const char *
api_name(const struct helper *h)
{
	return config_api_name(h->cfg->api);
}

/* A logout outlives the PAM request that caused it: it owns its copies. */
struct logout {
	struct helper *helper;
	char *user;
	char *access_token;  /* secret */
	char *refresh_token; /* secret, NULL once used */
	bool unused;	     /* tokens of a login refused at the second factor */
	struct http_xfer *xfer;
};

static void
logout_free(struct logout *lo)
{
	secret_free(lo->access_token);
	secret_free(lo->refresh_token);
	free(lo->user);
	free(lo);
}

/* The API ended the session and its tokens: drop the cached copies,
 * unless a new login has replaced them meanwhile. */
static void
forget_if_unchanged(struct logout *lo)
{
	struct cache_record rec;

	if (token_cache_load(lo->helper->cache, lo->user, &rec) != 0)
		return;
	bool same = rec.access_token != NULL && strcmp(rec.access_token, lo->access_token) == 0;
	cache_record_wipe(&rec);
	if (same && token_cache_forget(lo->helper->cache, lo->user) == 0)
		log_debug("%s: dropped the logged-out tokens of %s", api_name(lo->helper), lo->user);
}

static void
on_logout(void *ctx, const struct http_response *resp)
{
	struct logout *lo = ctx;
	struct api_error err;

	if (resp->outcome != HTTP_ANSWERED) {
		log_warn("%s: logout of %s not sent: %s (%s)", api_name(lo->helper), lo->user,
			 http_outcome_name(resp->outcome), resp->error);
	} else if (resp->status == 200 && lo->unused) {
		log_auth(LOG_INFO, "%s: ended the API session of %s's refused login", api_name(lo->helper), lo->user);
	} else if (resp->status == 200) {
		log_auth(LOG_INFO, "%s: logged %s out of the API", api_name(lo->helper), lo->user);
		forget_if_unchanged(lo);
	} else {
		api_parse_error(resp->body, resp->body_len, &err);
		log_warn("%s: logout of %s refused: HTTP %ld %s", api_name(lo->helper), lo->user, resp->status,
			 err.message);
	}
	logout_free(lo);
}

/* The profile's logout request, sent with the access token. */
static int
send_logout(struct logout *lo)
{
	const struct profile *p = profile_for(lo->helper->cfg);
	struct profile_step step;
	int r = FR_ERR_UNEXPECTED;

	step_init(&step);
	if (p != NULL && p->logout != NULL && p->logout(lo->access_token, &step)) {
		struct http_request req = {
			.method = step.request.method,
			.path = step.request.path,
			.body = step.request.body,
			.body_len = step.request.body_len,
			.bearer = step.request.bearer,
			.api_key = step.request.api_key,
		};
		r = lo->helper->api.start(lo->helper->api.impl, &req, on_logout, lo, &lo->xfer);
	}
	step_wipe(&step);
	return r;
}

static void
on_refresh(void *ctx, const struct http_response *resp)
{
	struct logout *lo = ctx;
	struct api_tokens tokens;

	const struct profile *p = profile_for(lo->helper->cfg);
	if (p == NULL || p->refresh == NULL || resp->outcome != HTTP_ANSWERED || resp->status != 200 ||
	    api_parse_tokens(resp->body, resp->body_len, p->refresh->reply_access_key, NULL, 0, &tokens) != 0) {
		log_warn("%s: logout of %s not sent: its access token expired and could not be refreshed "
			 "(%s, HTTP %ld)",
			 api_name(lo->helper), lo->user, http_outcome_name(resp->outcome), resp->status);
		logout_free(lo);
		return;
	}
	secret_free(lo->access_token);
	lo->access_token = tokens.access_token;
	tokens.access_token = NULL;
	api_tokens_wipe(&tokens);
	int r = send_logout(lo);
	if (r != 0) {
		log_err("%s: cannot start the logout of %s: %s", api_name(lo->helper), lo->user, fr_strerror(r));
		logout_free(lo);
	}
}

static int
send_refresh(struct logout *lo)
{
	const struct profile *p = profile_for(lo->helper->cfg);
	if (p == NULL || p->refresh == NULL)
		return FR_ERR_UNEXPECTED;
	json_t *body = json_pack("{s:s}", p->refresh->request_key, lo->refresh_token);
	size_t len = 0;
	char *text = body != NULL ? secret_json_dump(body, &len) : NULL;
	int r = FR_ERR_NOMEM;

	json_decref(body);
	if (text != NULL) {
		struct http_request req = {
			.method = "POST",
			.path = p->refresh->path,
			.body = text,
			.body_len = len,
		};
		r = lo->helper->api.start(lo->helper->api.impl, &req, on_refresh, lo, &lo->xfer);
		secret_free(text);
	}
	return r;
}

/* Fire and forget: the session is over whatever the API answers; the
 * outcome is logged. */
void
logout_user(struct helper *h, const char *user)
{
	const struct profile *p = profile_for(h->cfg);
	struct cache_record rec;
	struct logout *lo;
	int r;

	/* The Freddy and AIUS APIs document no logout: the session's end is
	 * the cache's business only (forget_on_logout). */
	if (p == NULL || p->logout == NULL)
		return;
	if (token_cache_load(h->cache, user, &rec) != 0) {
		log_info("%s: no cached token for %s; no logout sent", api_name(h), user);
		return;
	}
	if ((lo = calloc(1, sizeof(*lo))) == NULL || (lo->user = strdup(user)) == NULL) {
		free(lo);
		cache_record_wipe(&rec);
		log_err("%s: out of memory; no logout sent for %s", api_name(h), user);
		return;
	}
	lo->helper = h;
	bool fresh = rec.access_token != NULL && rec.access_expires > time(NULL) + LOGOUT_MARGIN;
	if (fresh) {
		lo->access_token = rec.access_token;
		rec.access_token = NULL;
	} else {
		lo->refresh_token = rec.refresh_token;
		rec.refresh_token = NULL;
	}
	cache_record_wipe(&rec);
	r = fresh ? send_logout(lo) : send_refresh(lo);
	if (r != 0) {
		log_err("%s: cannot start the logout of %s: %s", api_name(h), user, fr_strerror(r));
		logout_free(lo);
	}
}

/* The password was right but the TOTP code was not (or the person left):
 * the API session must not outlive the refused login. */
void
logout_discard(struct helper *h, const char *user, char *access_token)
{
	struct logout *lo = calloc(1, sizeof(*lo));
	int r;

	if (lo == NULL || (lo->user = strdup(user)) == NULL) {
		free(lo);
		secret_free(access_token);
		log_err("%s: out of memory; the API session of %s's refused login stays open", api_name(h), user);
		return;
	}
	lo->helper = h;
	lo->access_token = access_token;
	lo->unused = true;
	if ((r = send_logout(lo)) != 0) {
		log_err("%s: cannot end the API session of %s's refused login: %s", api_name(h), user, fr_strerror(r));
		logout_free(lo);
	}
}
