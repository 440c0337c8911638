/* CACHE_LIST and CACHE_FORGET, for root (freddyctl cache). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/job_pool.h"
#include "core/log.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "requests/table.h"
#include "store/token_cache.h"

/* CACHE_ENTRY frames are queued at once; this keeps them well inside a
 * connection's output limit.  The DONE text says when the list was cut. */
#define CACHE_LIST_MAX 400

/* A listing is made on an account-lookup thread (h->nss): it first waits
 * for the cache writer's queue to drain, so that it shows what is on disk,
 * and after a login storm that took over a second, which on the loop
 * every login would have waited out.  Names and times only: never a token
 * or the verifier. */
struct cache_listing {
	struct conn *conn;
	struct token_cache *cache;
	const struct fr_catalog *lang; /* read-only, the helper's for its life */
	struct pool_job *job;
	/* Found on the thread. */
	int result; /* token_cache_each's: < 0 unreadable, > 0 cut */
	unsigned count;
	struct {
		char user[USER_NAME_MAX + 1];
		int64_t last_login;
		int64_t access_expires;
	} entries[CACHE_LIST_MAX];
};

static int
collect_one(void *ctx, const char *user, const struct cache_record *rec)
{
	struct cache_listing *cl = ctx;

	size_t len = strlen(user);

	if (cl->count >= CACHE_LIST_MAX)
		return 1;
	if (len > USER_NAME_MAX)
		return 0; /* token_cache_each gives only valid names */
	memcpy(cl->entries[cl->count].user, user, len + 1);
	cl->entries[cl->count].last_login = rec->last_login;
	cl->entries[cl->count].access_expires = rec->access_expires;
	cl->count++;
	return 0;
}

/* On a lookup thread: the cache is safe to read from any thread. */
static void
listing_run(void *arg)
{
	struct cache_listing *cl = arg;

	cl->result = token_cache_each(cl->cache, collect_one, cl);
}

/* On the loop. */
static void
listing_done(void *arg)
{
	struct cache_listing *cl = arg;
	struct conn *c = cl->conn;

	conn_set_handler(c, NULL, NULL);
	for (unsigned i = 0; i < cl->count; i++) {
		struct fr_frame frame;
		fr_frame_init(&frame, FR_MSG_CACHE_ENTRY);
		fr_frame_put_str(&frame, FR_TAG_USER, cl->entries[i].user);
		fr_frame_put_u64(&frame, FR_TAG_LAST_LOGIN, (uint64_t)cl->entries[i].last_login);
		fr_frame_put_u64(&frame, FR_TAG_EXPIRES, (uint64_t)cl->entries[i].access_expires);
		if (conn_send(c, &frame) != 0) {
			free(cl); /* the connection is closed */
			return;
		}
	}
	if (cl->result < 0)
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, fr_tr(cl->lang, "The cache folder cannot be read"));
	else if (cl->result > 0)
		requests_reply_done(c, FR_RESULT_SUCCESS, fr_tr(cl->lang, "More cached users than one listing shows"));
	else
		requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
	free(cl);
}

static void
listing_discard(void *arg)
{
	free(arg);
}

static const struct pool_job_fns listing_fns = { listing_run, listing_done, listing_discard };

/* The client left while its listing was made. */
static void
listing_abort(void *obj)
{
	struct cache_listing *cl = obj;

	job_pool_cancel(&cl->job);
}

static const struct conn_handler listing_handler = { NULL, listing_abort };

void
request_cache_list(struct request *rq)
{
	struct cache_listing *cl = calloc(1, sizeof(*cl));

	if (cl == NULL) {
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	cl->conn = rq->conn;
	cl->cache = rq->h->cache;
	cl->lang = rq->lang;
	/* A root caller's job (the table lets only root list), so it is not
	 * refused for a share and runs ahead of any non-root lookup. */
	int r = job_pool_submit(rq->h->nss, rq->peer.uid, &listing_fns, cl, &cl->job);
	if (r != FR_OK) {
		free(cl);
		requests_reply_done(rq->conn, r == FR_ERR_TOO_LARGE ? FR_RESULT_BUSY : FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	conn_set_handler(rq->conn, &listing_handler, cl);
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
