/* STATUS_GET: the helper's version and the API's reachability for anyone,
 * its activity for root (freddyctl status). */
#include "config.h"

#include <stdlib.h>

#include "api/health.h"
#include "api/http.h"
#include "auth/sessions.h"
#include "core/loop.h"
#include "requests/table.h"
#include "store/token_cache.h"

/* Every caller shares one probe result for this long: sixteen looping
 * `freddyctl status` make one API request per period, not one each. */
#define STATUS_PROBE_MAX_AGE_MS 10000

struct status_request {
	struct helper *h;
	struct conn *conn;
	struct api_health_waiter *waiter;
};

static void
status_on_probe(void *ctx, const struct api_health_result *probe)
{
	struct status_request *sr = ctx;
	struct helper *h = sr->h;
	struct conn *c = sr->conn;
	struct fr_frame frame;

	conn_set_handler(c, NULL, NULL);
	fr_frame_init(&frame, FR_MSG_STATUS);
	fr_frame_put_str(&frame, FR_TAG_VERSION_TEXT, PACKAGE_VERSION);
	fr_frame_put_u32(&frame, FR_TAG_API_STATUS, (uint32_t)probe->status);
	fr_frame_put_u32(&frame, FR_TAG_API_MS, probe->elapsed_ms > 0 ? (uint32_t)probe->elapsed_ms : 0);
	/* Who is logging in, and how much, is for root: another user could
	 * otherwise watch logins come and go. */
	if (conn_peer(c)->uid == 0) {
		/* Read before the cache count: that reads a directory, and
		 * the pass is this request's own doing. */
		uint64_t loop_stall_us, loop_event_us;
		loop_take_stalls(h->loop, &loop_stall_us, &loop_event_us);
		int cached = token_cache_count(h->cache);
		fr_frame_put_u32(&frame, FR_TAG_CACHED_USERS, cached > 0 ? (uint32_t)cached : 0);
		fr_frame_put_u32(&frame, FR_TAG_LOGINS_ACTIVE, h->logins_active);
		fr_frame_put_u64(&frame, FR_TAG_LOGINS_TOTAL, h->logins_total);
		fr_frame_put_u32(&frame, FR_TAG_CLIENTS, server_clients(h->server));
		fr_frame_put_u64(&frame, FR_TAG_API_CONNECTS, http_connections_opened(h->http));
		fr_frame_put_u32(&frame, FR_TAG_OPEN_SESSIONS, sessions_open_total(h->sessions));
		fr_frame_put_u64(&frame, FR_TAG_LOOP_STALL_US, loop_stall_us);
		fr_frame_put_u64(&frame, FR_TAG_LOOP_EVENT_US, loop_event_us);
	}
	free(sr);
	if (conn_send(c, &frame) == 0)
		requests_reply_done(c, FR_RESULT_SUCCESS, probe->outcome == HTTP_ANSWERED ? NULL : probe->error);
}

static void
status_on_abort(void *obj)
{
	struct status_request *sr = obj;

	api_health_cancel(sr->h->health, sr->waiter);
	free(sr);
}

static const struct conn_handler status_handler = { NULL, status_on_abort };

void
request_status_get(struct request *rq)
{
	struct helper *h = rq->h;
	struct conn *c = rq->conn;
	struct status_request *sr = calloc(1, sizeof(*sr));

	if (sr == NULL) {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	sr->h = h;
	sr->conn = c;
	/* The handler first: a cached result answers from inside the call. */
	conn_set_handler(c, &status_handler, sr);
	if (api_health_get(h->health, STATUS_PROBE_MAX_AGE_MS, status_on_probe, sr, &sr->waiter) != 0) {
		conn_set_handler(c, NULL, NULL);
		free(sr);
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
	}
}
