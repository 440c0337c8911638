/* CACHE_LIST and CACHE_FORGET, for root (freddyctl cache). */
#include "config.h"

#include <stdbool.h>
#include <syslog.h>

#include "core/log.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "requests/table.h"
#include "store/token_cache.h"

/* CACHE_ENTRY frames are queued at once; this keeps them well inside a
 * connection's output limit.  The DONE text says when the list was cut. */
#define CACHE_LIST_MAX 400

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

void
request_cache_list(struct request *rq)
{
	struct helper *h = rq->h;
	struct conn *c = rq->conn;
	struct list_state ls = { .conn = c };
	int r = token_cache_each(h->cache, list_one, &ls);

	if (ls.failed)
		return; /* the connection is closed */
	if (r < 0)
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, fr_tr(rq->lang, "The cache folder cannot be read"));
	else if (r > 0)
		requests_reply_done(c, FR_RESULT_SUCCESS, fr_tr(rq->lang, "More cached users than one listing shows"));
	else
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
}

void
request_cache_forget(struct request *rq)
{
	struct helper *h = rq->h;
	struct conn *c = rq->conn;
	const char *user = fr_msg_str(rq->msg, FR_TAG_USER);

	if (!user_name_valid(user)) {
		requests_reply_done(c, FR_RESULT_USER_UNKNOWN, fr_tr(rq->lang, "Invalid user name"));
		return;
	}
	int r = token_cache_forget(h->cache, user);
	if (r == 0) {
		log_auth(LOG_INFO, "cached login of %s forgotten at the request of uid %u", user,
			 (unsigned)conn_peer(c)->uid);
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
	} else if (r == FR_ERR_NOT_FOUND) {
		requests_reply_done(c, FR_RESULT_NOT_FOUND, fr_tr(rq->lang, "Nothing cached for that user"));
	} else {
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, fr_tr(rq->lang, "The cache file could not be removed"));
	}
}
