#include "config.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "ctl_requests.h"
#include "fr_error.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "requests.h"
#include "server.h"
#include "sessions.h"
#include "token_cache.h"
#include "token_refresh.h"
#include "user_name.h"

/* CACHE_ENTRY frames are queued at once; this keeps them well inside a
 * connection's output limit.  The DONE text says when the list was cut. */
#define CACHE_LIST_MAX 400
/* DOCS SILENT: no API documents a health endpoint.  The probe is a GET of
 * api_url + "/": any HTTP answer (even 404) means the API is reachable. */
#define STATUS_PROBE_PATH "/"

/* ---- TOKEN_GET ---------------------------------------------------------- */

struct token_request {
	struct helper *h;
	struct conn *conn;
	struct refresh_waiter *waiter;
	char user[256];
};

static void
token_send(struct conn *c, const struct cache_record *rec)
{
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_TOKEN);
	fr_frame_put_str(&frame, FR_TAG_TOKEN, rec->access_token);
	if (rec->access_expires > 0)
		fr_frame_put_u64(&frame, FR_TAG_EXPIRES, (uint64_t)rec->access_expires);
	if (conn_send(c, &frame) == 0)
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
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
		token_send(c, &rec);
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
		token_send(c, rec);
	} else if (result == FR_ERR_PERMISSION) {
		requests_reply_done(c, FR_RESULT_AUTH_ERR,
				    "The cached Freddy login is no longer valid; log in again");
	} else if (!send_unexpired(tr->h, c, tr->user)) {
		requests_reply_done(c, FR_RESULT_AUTHINFO_UNAVAIL,
				    "The token needs a refresh and the Freddy API cannot be reached");
	}
	token_request_free(tr);
}

static void
ignore_answer(void *obj, const char *text)
{
	(void)obj;
	(void)text;	/* the connection state table never lets one through */
}

static void
token_on_abort(void *obj)
{
	struct token_request *tr = obj;

	refresh_cancel(tr->h, tr->waiter);
	token_request_free(tr);
}

static const struct conn_handler token_handler = { ignore_answer, token_on_abort };

/* The caller's own name, from its uid: never from the message. */
static bool
caller_name(const struct conn_peer *peer, char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(peer->uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    strlen(pw.pw_name) >= outlen || !user_name_valid(pw.pw_name))
		return false;
	memcpy(out, pw.pw_name, strlen(pw.pw_name) + 1);
	return true;
}

static void
token_get(struct helper *h, struct conn *c)
{
	const struct conn_peer *peer = conn_peer(c);
	struct cache_record rec;
	char user[256];
	int r;

	if (!caller_name(peer, user, sizeof(user))) {
		requests_reply_done(c, FR_RESULT_NOT_FOUND, "Your uid has no user name");
		return;
	}
	r = token_cache_load(h->cache, user, &rec);
	if (r == FR_ERR_NOT_FOUND) {
		requests_reply_done(c, FR_RESULT_NOT_FOUND, "No cached Freddy login; log in first");
		return;
	}
	if (r != 0) {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	int64_t now = (int64_t)time(NULL);
	bool fresh = rec.access_token != NULL &&
		     rec.access_expires - now > (int64_t)h->cfg->refresh_margin;
	if (fresh) {
		token_send(c, &rec);
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
	memcpy(tr->user, user, strlen(user) + 1);
	r = refresh_start(h, user, token_on_refreshed, tr, &tr->waiter);
	if (r != 0) {
		token_request_free(tr);
		if (r == FR_ERR_NOT_FOUND)
			requests_reply_done(c, FR_RESULT_NOT_FOUND, "No cached Freddy login; log in first");
		else if (r == FR_ERR_UNEXPECTED)
			requests_reply_done(c, FR_RESULT_NOT_FOUND,
					    "The token has expired and this API has no refresh; log in again");
		else if (!send_unexpired(h, c, user))
			requests_reply_done(c, FR_RESULT_AUTHINFO_UNAVAIL,
					    "The token needs a refresh and the Freddy API cannot be reached");
		return;
	}
	conn_set_handler(c, &token_handler, tr);
}

/* ---- STATUS_GET ---------------------------------------------------------- */

struct status_request {
	struct helper *h;
	struct conn *conn;
	struct http_xfer *xfer;
};

static void
status_on_probe(void *ctx, const struct http_response *resp)
{
	struct status_request *sr = ctx;
	struct helper *h = sr->h;
	struct conn *c = sr->conn;
	struct fr_frame frame;
	/* Read first: the cache count below may wait for the cache writer,
	 * and that pass is this request's own doing. */
	uint64_t loop_stall_us, loop_event_us;
	loop_take_stalls(h->loop, &loop_stall_us, &loop_event_us);
	int cached = token_cache_count(h->cache);

	sr->xfer = NULL;
	conn_set_handler(c, NULL, NULL);
	free(sr);
	fr_frame_init(&frame, FR_MSG_STATUS);
	fr_frame_put_str(&frame, FR_TAG_VERSION_TEXT, PACKAGE_VERSION);
	fr_frame_put_u32(&frame, FR_TAG_API_STATUS,
			 resp->outcome == HTTP_ANSWERED ? (uint32_t)resp->status : 0);
	fr_frame_put_u32(&frame, FR_TAG_API_MS,
			 resp->elapsed_ms > 0 ? (uint32_t)resp->elapsed_ms : 0);
	fr_frame_put_u32(&frame, FR_TAG_CACHED_USERS, cached > 0 ? (uint32_t)cached : 0);
	fr_frame_put_u32(&frame, FR_TAG_LOGINS_ACTIVE, h->logins_active);
	fr_frame_put_u64(&frame, FR_TAG_LOGINS_TOTAL, h->logins_total);
	fr_frame_put_u32(&frame, FR_TAG_CLIENTS, server_clients(h->server));
	fr_frame_put_u64(&frame, FR_TAG_API_CONNECTS, http_connections_opened(h->http));
	fr_frame_put_u32(&frame, FR_TAG_OPEN_SESSIONS, sessions_open_total(h->sessions));
	fr_frame_put_u64(&frame, FR_TAG_LOOP_STALL_US, loop_stall_us);
	fr_frame_put_u64(&frame, FR_TAG_LOOP_EVENT_US, loop_event_us);
	if (conn_send(c, &frame) == 0)
		requests_reply_done(c, FR_RESULT_SUCCESS,
				    resp->outcome == HTTP_ANSWERED ? NULL : resp->error);
}

static void
status_on_abort(void *obj)
{
	struct status_request *sr = obj;

	if (sr->xfer != NULL)
		http_cancel(sr->xfer);
	free(sr);
}

static const struct conn_handler status_handler = { ignore_answer, status_on_abort };

static void
status_get(struct helper *h, struct conn *c)
{
	struct http_request req = { .method = "GET", .path = STATUS_PROBE_PATH };
	struct status_request *sr = calloc(1, sizeof(*sr));

	if (sr == NULL) {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	sr->h = h;
	sr->conn = c;
	if (http_start(h->http, &req, status_on_probe, sr, &sr->xfer) != 0) {
		struct http_response none = { .outcome = HTTP_FAILED, .error = "probe not started" };
		conn_set_handler(c, &status_handler, sr);
		status_on_probe(sr, &none);
		return;
	}
	conn_set_handler(c, &status_handler, sr);
}

/* ---- CACHE_LIST / CACHE_FORGET (root) ------------------------------------ */

struct list_state {
	struct conn *conn;
	unsigned sent;
	bool failed;
};

static int
list_one(void *ctx, const char *user, const struct cache_record *rec)
{
	struct list_state *ls = ctx;
	struct fr_frame frame;

	if (ls->sent >= CACHE_LIST_MAX)
		return 1;
	/* Names and times only: never a token or the verifier. */
	fr_frame_init(&frame, FR_MSG_CACHE_ENTRY);
	fr_frame_put_str(&frame, FR_TAG_USER, user);
	fr_frame_put_u64(&frame, FR_TAG_LAST_LOGIN, (uint64_t)rec->last_login);
	fr_frame_put_u64(&frame, FR_TAG_EXPIRES, (uint64_t)rec->access_expires);
	if (conn_send(ls->conn, &frame) != 0) {
		ls->failed = true;
		return 1;
	}
	ls->sent++;
	return 0;
}

static void
cache_list(struct helper *h, struct conn *c)
{
	struct list_state ls = { .conn = c };
	int r = token_cache_each(h->cache, list_one, &ls);

	if (ls.failed)
		return;	/* the connection is closed */
	if (r < 0)
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, "The cache folder cannot be read");
	else if (r > 0)
		requests_reply_done(c, FR_RESULT_SUCCESS, "More cached users than one listing shows");
	else
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
}

static void
cache_forget(struct helper *h, struct conn *c, const struct fr_msg *msg)
{
	const char *user = fr_msg_str(msg, FR_TAG_USER);

	if (!user_name_valid(user)) {
		requests_reply_done(c, FR_RESULT_USER_UNKNOWN, "Invalid user name");
		return;
	}
	int r = token_cache_forget(h->cache, user);
	if (r == 0) {
		log_auth(LOG_INFO, "cached login of %s forgotten at the request of uid %u", user,
			 (unsigned)conn_peer(c)->uid);
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
	} else if (r == FR_ERR_NOT_FOUND) {
		requests_reply_done(c, FR_RESULT_NOT_FOUND, "Nothing cached for that user");
	} else {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, "The cache file could not be removed");
	}
}

void
ctl_requests_dispatch(struct helper *h, struct conn *c, const struct fr_msg *msg)
{
	const struct conn_peer *peer = conn_peer(c);

	switch (msg->type) {
	case FR_MSG_TOKEN_GET:
		token_get(h, c);
		return;
	case FR_MSG_STATUS_GET:
		status_get(h, c);
		return;
	case FR_MSG_CACHE_LIST:
	case FR_MSG_CACHE_FORGET:
		if (peer->uid != 0) {
			log_auth(LOG_NOTICE, "uid %u may not use %s", (unsigned)peer->uid,
				 fr_msg_type_name(msg->type));
			requests_reply_done(c, FR_RESULT_PERM_DENIED, "Only root may do that");
			return;
		}
		if (msg->type == FR_MSG_CACHE_LIST)
			cache_list(h, c);
		else
			cache_forget(h, c, msg);
		return;
	default:
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, "Request not supported by this helper");
		return;
	}
}
