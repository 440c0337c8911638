#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api/parse.h"
#include "auth/account_call.h"
#include "auth/durable.h"
#include "auth/refresh.h"
#include "core/log.h"
#include "core/secret.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "store/token_cache.h"

struct account_call {
	struct helper *h;
	const struct profile *profile;
	char user[USER_NAME_MAX + 1];
	char *bearer; /* secret: the credential presented */
	bool retried; /* a refused access token was refreshed once */
	struct http_xfer *xfer;
	struct refresh_waiter *waiter;
	call_build_fn build;
	call_done_fn done;
	void *ctx;
	struct account_call **owner;
};

static void on_reply(void *ctx, const struct http_response *resp);

static void
call_free(struct account_call *call)
{
	secret_free(call->bearer);
	explicit_bzero(call, sizeof(*call));
	free(call);
}

static void
conclude(struct account_call *call, enum call_outcome outcome, const struct http_response *resp, long retry_after)
{
	struct call_result result = { .outcome = outcome, .resp = resp, .retry_after = retry_after };
	call_done_fn done = call->done;
	void *ctx = call->ctx;

	*call->owner = NULL;
	call_free(call);
	done(ctx, &result);
}

static int
send_request(struct account_call *call)
{
	struct profile_step step;
	struct http_request req;
	int r = FR_ERR_INVALID;

	step_init(&step);
	call->build(call->ctx, call->bearer, &step);
	if (step.verdict == STEP_REQUEST) {
		profile_request_http(&step.request, &req);
		r = call->h->api.start(call->h->api.impl, &req, on_reply, call, &call->xfer);
		if (r != 0)
			log_err("%s: cannot start a request to %s: %s", call->profile->name, step.request.path,
				fr_strerror(r));
	}
	step_wipe(&step);
	return r;
}

static void
on_refreshed(void *ctx, int result, const struct cache_record *rec)
{
	struct account_call *call = ctx;

	call->waiter = NULL;
	if (result == 0 && rec->access_token != NULL) {
		if (secret_set(&call->bearer, rec->access_token) == 0 && send_request(call) == 0)
			return;
		conclude(call, CALL_UNAVAILABLE, NULL, -1);
	} else if (result == FR_ERR_PERMISSION) {
		conclude(call, CALL_LOGIN_REFUSED, NULL, -1);
	} else {
		conclude(call, CALL_UNAVAILABLE, NULL, -1);
	}
}

/* The user's access token, refreshed (joining a refresh in flight). */
static int
start_refresh(struct account_call *call)
{
	return refresh_start(call->h, call->user, on_refreshed, call, &call->waiter);
}

/* A refused access token: the record goes, unless a newer login (or a
 * refresh meanwhile) replaced the token. */
static void
forget_access(struct account_call *call)
{
	struct cache_record rec;

	if (token_cache_load(call->h->cache, call->user, &rec) != 0)
		return;
	bool same = rec.access_token != NULL && strcmp(rec.access_token, call->bearer) == 0;
	cache_record_wipe(&rec);
	if (same && token_cache_forget(call->h->cache, call->user) == 0)
		log_auth(LOG_NOTICE, "%s: the API refused the access token of %s after a refresh; cached login dropped",
			 call->profile->name, call->user);
}

static void
on_reply(void *ctx, const struct http_response *resp)
{
	struct account_call *call = ctx;
	struct api_error err;
	char why[192];

	call->xfer = NULL;
	if (profile_reply_failed(resp, "account request", why, sizeof(why))) {
		log_warn("%s: %s for %s", call->profile->name, why, call->user);
		conclude(call, CALL_UNAVAILABLE, NULL, -1);
		return;
	}
	if (resp->status == 429) {
		api_parse_error(resp->body, resp->body_len, &err);
		conclude(call, CALL_RATE_LIMITED, NULL, err.retry_after);
		return;
	}
	if (call->profile->durable != NULL) {
		if (resp->status >= 400 && resp->status < 500 && call->profile->durable->refused(resp)) {
			int r = durable_forget(call->h, call->user, call->bearer);
			log_auth(LOG_NOTICE, "%s: the API refused the durable token of %s; cached login %s",
				 call->profile->name, call->user, r == 0 ? "dropped" : "already replaced");
			conclude(call, CALL_LOGIN_REFUSED, NULL, -1);
			return;
		}
	} else if (resp->status == 401) {
		/* DOCS SILENT: the key endpoints (jwt /auth/keys) name no 401;
		 * the cache may think a token fresh that the API has ended, so a
		 * 401 gets one refresh and one retry, and only a second 401
		 * means the login is gone. */
		if (!call->retried) {
			call->retried = true;
			int r = start_refresh(call);
			if (r == 0)
				return;
			conclude(call, r == FR_ERR_NOT_FOUND ? CALL_LOGIN_REFUSED : CALL_UNAVAILABLE, NULL, -1);
			return;
		}
		forget_access(call);
		conclude(call, CALL_LOGIN_REFUSED, NULL, -1);
		return;
	}
	conclude(call, CALL_ANSWERED, resp, -1);
}

int
account_call_start(struct helper *h, const char *user, call_build_fn build, call_done_fn done, void *ctx,
		   struct account_call **out)
{
	const struct profile *profile = profile_for(h->cfg);
	struct account_call *call;
	struct cache_record rec;
	int r;

	*out = NULL;
	if (profile == NULL || (profile->durable == NULL && profile->refresh == NULL))
		return FR_ERR_UNEXPECTED;
	if (strlen(user) > USER_NAME_MAX)
		return FR_ERR_INVALID;
	if ((r = token_cache_load(h->cache, user, &rec)) != 0)
		return r;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		cache_record_wipe(&rec);
		return FR_ERR_NOMEM;
	}
	call->h = h;
	call->profile = profile;
	memcpy(call->user, user, strlen(user) + 1);
	call->build = build;
	call->done = done;
	call->ctx = ctx;
	call->owner = out;
	int64_t now = (int64_t)time(NULL);
	if (profile->durable != NULL) {
		/* The durable token is the record's refresh token. */
		r = secret_set(&call->bearer, rec.refresh_token);
		if (r == 0)
			r = send_request(call);
	} else if (rec.access_token != NULL && rec.access_expires - now > (int64_t)h->cfg->refresh_margin) {
		r = secret_set(&call->bearer, rec.access_token);
		if (r == 0)
			r = send_request(call);
	} else {
		r = start_refresh(call);
	}
	cache_record_wipe(&rec);
	if (r != 0) {
		call_free(call);
		return r;
	}
	*out = call;
	return FR_OK;
}

void
account_call_cancel(struct helper *h, struct account_call **callp)
{
	struct account_call *call = *callp;

	if (call == NULL)
		return;
	if (call->xfer != NULL)
		h->api.cancel(h->api.impl, call->xfer);
	refresh_cancel(h, call->waiter);
	*callp = NULL;
	call_free(call);
}
