/* TOKEN_GET: the caller's own access token, refreshed when it is near
 * expiry (freddyctl token); for a profile with a durable token (AIUS),
 * that token, which does not expire and is never refreshed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/profile.h"
#include "auth/refresh.h"
#include "core/audit.h"
#include "core/log.h"
#include "fr_error.h"
#include "requests/table.h"
#include "store/token_cache.h"

struct token_request {
	struct helper *h;
	struct conn *conn;
	struct refresh_waiter *waiter;
	const struct fr_catalog *lang; /* the request's */
	char user[256];
};

/* The token to its owner, with an audit record once it is handed out. */
static void
send_token(struct helper *h, struct conn *c, const char *user, const char *token, int64_t expires)
{
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_TOKEN);
	fr_frame_put_str(&frame, FR_TAG_TOKEN, token);
	if (expires > 0)
		fr_frame_put_u64(&frame, FR_TAG_EXPIRES, (uint64_t)expires);
	if (conn_send(c, &frame) != 0)
		return;
	audit_emit(h->audit, &(struct audit_record){
				 .event = AUDIT_TOKEN_ISSUED,
				 .user = user,
				 .caller_uid = conn_peer(c)->uid,
				 .result = AUDIT_SUCCESS,
			     });
	requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
}

static void
token_send(struct helper *h, struct conn *c, const char *user, const struct cache_record *rec)
{
	send_token(h, c, user, rec->access_token, rec->access_expires);
}

static void
token_request_free(struct token_request *tr)
{
	explicit_bzero(tr, sizeof(*tr));
	free(tr);
}

/* The API could not refresh a token that is near expiry but not yet
 * expired: it still works for a while, so hand it out rather than fail. */
static bool
send_unexpired(struct helper *h, struct conn *c, const char *user)
{
	struct cache_record rec;
	bool sent = false;

	if (token_cache_load(h->cache, user, &rec) != 0)
		return false;
	if (rec.access_token != NULL && rec.access_expires > (int64_t)time(NULL)) {
		log_debug("refresh for %s failed; its token is still valid until %lld", user,
			  (long long)rec.access_expires);
		token_send(h, c, user, &rec);
		sent = true;
	}
	cache_record_wipe(&rec);
	return sent;
}

static void
token_on_refreshed(void *ctx, int result, const struct cache_record *rec)
{
	struct token_request *tr = ctx;
	struct conn *c = tr->conn;

	tr->waiter = NULL;
	conn_set_handler(c, NULL, NULL);
	if (result == 0 && rec->access_token != NULL) {
		log_debug("token for %s refreshed", tr->user);
		token_send(tr->h, c, tr->user, rec);
	} else if (result == FR_ERR_PERMISSION) {
		requests_reply_done(c, FR_RESULT_AUTH_ERR,
				    fr_tr(tr->lang, "The cached Freddy login is no longer valid; log in again"));
	} else if (!send_unexpired(tr->h, c, tr->user)) {
		requests_reply_done(c, FR_RESULT_AUTHINFO_UNAVAIL,
				    fr_tr(tr->lang, "The token needs a refresh and the Freddy API cannot be reached"));
	}
	token_request_free(tr);
}

static void
token_on_abort(void *obj)
{
	struct token_request *tr = obj;

	refresh_cancel(tr->h, tr->waiter);
	token_request_free(tr);
}

static const struct conn_handler token_handler = { NULL, token_on_abort };

void
request_token_get(struct request *rq)
{
	struct helper *h = rq->h;
	struct conn *c = rq->conn;
	const char *user = rq->account.name;
	struct cache_record rec;
	int r;

	r = token_cache_load(h->cache, user, &rec);
	if (r == FR_ERR_NOT_FOUND) {
		requests_reply_done(c, FR_RESULT_NOT_FOUND, fr_tr(rq->lang, "No cached Freddy login; log in first"));
		return;
	}
	if (r != 0) {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	const struct profile *profile = profile_for(h->cfg);
	if (profile != NULL && profile->durable != NULL) {
		send_token(h, c, user, rec.refresh_token, 0);
		cache_record_wipe(&rec);
		return;
	}
	int64_t now = (int64_t)time(NULL);
	bool fresh = rec.access_token != NULL && rec.access_expires - now > (int64_t)h->cfg->refresh_margin;
	if (fresh) {
		token_send(h, c, user, &rec);
		cache_record_wipe(&rec);
		return;
	}
	cache_record_wipe(&rec);

	struct token_request *tr = calloc(1, sizeof(*tr));
	if (tr == NULL) {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	tr->h = h;
	tr->conn = c;
	tr->lang = rq->lang;
	memcpy(tr->user, user, strlen(user) + 1);
	r = refresh_start(h, user, token_on_refreshed, tr, &tr->waiter);
	if (r != 0) {
		token_request_free(tr);
		if (r == FR_ERR_NOT_FOUND)
			requests_reply_done(c, FR_RESULT_NOT_FOUND,
					    fr_tr(rq->lang, "No cached Freddy login; log in first"));
		else if (r == FR_ERR_UNEXPECTED)
			requests_reply_done(
			    c, FR_RESULT_NOT_FOUND,
			    fr_tr(rq->lang, "The token has expired and this API has no refresh; log in again"));
		else if (!send_unexpired(h, c, user))
			requests_reply_done(
			    c, FR_RESULT_AUTHINFO_UNAVAIL,
			    fr_tr(rq->lang, "The token needs a refresh and the Freddy API cannot be reached"));
		return;
	}
	conn_set_handler(c, &token_handler, tr);
}
