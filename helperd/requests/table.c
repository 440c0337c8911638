#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/l10n.h"
#include "core/log.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "requests/table.h"
#include "store/ratelimit.h"

struct request_def {
	enum fr_msg_type type;
	enum request_caller who;
	/* CALLER_ACCOUNT: how a refusal is logged, "refusing WHAT for USER
	 * from uid N: a non-root caller may OWN_ONLY". */
	const char *what, *own_only;
	void (*handle)(struct request *rq);
};

static const struct request_def table[] = {
	{ FR_MSG_AUTH_BEGIN, CALLER_ACCOUNT, "a login", "authenticate only its own account", request_auth_begin },
	{ FR_MSG_SESSION_OPEN, CALLER_ACCOUNT, "a session report", "report only its own sessions",
	  request_session_open },
	{ FR_MSG_SESSION_CLOSE, CALLER_ACCOUNT, "a session report", "report only its own sessions",
	  request_session_close },
	{ FR_MSG_TOKEN_GET, CALLER_SELF, NULL, NULL, request_token_get },
	{ FR_MSG_STATUS_GET, CALLER_ANYONE, NULL, NULL, request_status_get },
	{ FR_MSG_CACHE_LIST, CALLER_ROOT, NULL, NULL, request_cache_list },
	{ FR_MSG_CACHE_FORGET, CALLER_ROOT, NULL, NULL, request_cache_forget },
};

void
requests_reply_done(struct conn *c, enum fr_result result, const char *text)
{
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_DONE);
	fr_frame_put_u32(&frame, FR_TAG_RESULT, (uint32_t)result);
	if (text != NULL)
		fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	if (conn_send(c, &frame) == 0)
		conn_finish(c);
}

/* CALLER_ACCOUNT: the named account must be the caller's own unless the
 * caller is root (the rule unix_chkpwd follows).  False: refused. */
static bool
account_allowed(const struct request_def *def, struct request *rq)
{
	uid_t caller = rq->peer.uid;

	rq->name = fr_msg_str(rq->msg, FR_TAG_USER);
	if (!user_name_valid(rq->name)) {
		log_auth(LOG_NOTICE, "refusing %s for an invalid user name", def->what);
		requests_reply_done(rq->conn, FR_RESULT_USER_UNKNOWN, NULL);
		return false;
	}
	int r = accounts_by_name(rq->name, &rq->account);
	rq->has_account = r == FR_OK;
	if (r != FR_OK && r != FR_ERR_NOT_FOUND) {
		log_err("cannot look up user %s: %s", rq->name, fr_strerror(r));
		requests_reply_done(rq->conn, FR_RESULT_AUTHINFO_UNAVAIL, NULL);
		return false;
	}
	if (caller == 0 || (rq->has_account && rq->account.uid == caller))
		return true;
	/* Another account, or a name with no local account, whose uid the
	 * caller cannot own.  A refusal counts toward the caller's rate
	 * limit: probing other accounts is failing. */
	log_auth(LOG_WARNING, "refusing %s for %s from uid %u: a non-root caller may %s", def->what, rq->name,
		 (unsigned)caller, def->own_only);
	if (def->type == FR_MSG_AUTH_BEGIN) {
		char key[32];
		snprintf(key, sizeof(key), "uid:%u", (unsigned)caller);
		ratelimit_failure(rq->h->ratelimit, key, (int64_t)time(NULL));
	}
	requests_reply_done(rq->conn, FR_RESULT_PERM_DENIED, NULL);
	return false;
}

bool
requests_dispatch(void *helper, struct conn *c, const struct fr_msg *msg)
{
	const struct request_def *def = NULL;
	struct request rq = { .h = helper, .conn = c, .msg = msg, .peer = *conn_peer(c) };

	rq.lang = l10n_for_client(rq.h->l10n, fr_msg_str(msg, FR_TAG_LOCALE), rq.h->cfg->language);

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].type == msg->type)
			def = &table[i];
	if (def == NULL) {
		log_debug("%s from uid %u is not a request", fr_msg_type_name(msg->type), (unsigned)rq.peer.uid);
		return false;
	}
	switch (def->who) {
	case CALLER_ANYONE:
		break;
	case CALLER_SELF:
		if (accounts_by_uid(rq.peer.uid, &rq.account) != FR_OK) {
			requests_reply_done(c, FR_RESULT_NOT_FOUND, fr_tr(rq.lang, "Your uid has no user name"));
			return true;
		}
		rq.has_account = true;
		rq.name = rq.account.name;
		break;
	case CALLER_ACCOUNT:
		if (!account_allowed(def, &rq))
			return true;
		break;
	case CALLER_ROOT:
		if (rq.peer.uid != 0) {
			log_auth(LOG_NOTICE, "uid %u may not use %s", (unsigned)rq.peer.uid,
				 fr_msg_type_name(msg->type));
			requests_reply_done(c, FR_RESULT_PERM_DENIED, fr_tr(rq.lang, "Only root may do that"));
			return true;
		}
		break;
	}
	def->handle(&rq);
	return true;
}
