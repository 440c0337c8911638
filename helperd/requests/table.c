#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/job_pool.h"
#include "core/l10n.h"
#include "core/log.h"
#include "fr_error.h"
#include "fr_text.h"
#include "hostlib/user_name.h"
#include "requests/table.h"
#include "store/ratelimit.h"
#include "transport/refusal_log.h"

struct request_def {
	enum fr_msg_type type;
	enum request_caller who;
	/* CALLER_ACCOUNT: how a refusal is logged, "refusing WHAT for USER
	 * from uid N: a non-root caller may OWN_ONLY". */
	const char *what, *own_only;
	void (*handle)(struct request *rq);
	/* CALLER_ACCOUNT: the DONE(PERM_DENIED) text of a refusal (NULL for
	 * none), and whether a refusal is a failure of the caller's budget
	 * (probing other accounts is failing). */
	const char *denied;
	bool refusal_fails;
};

static const struct request_def table[] = {
	{ FR_MSG_AUTH_BEGIN, CALLER_ACCOUNT, "a login", "authenticate only its own account", request_auth_begin, NULL,
	  true },
	{ FR_MSG_SESSION_OPEN, CALLER_ACCOUNT, "a session report", "report only its own sessions", request_session_open,
	  NULL, false },
	{ FR_MSG_SESSION_CLOSE, CALLER_ACCOUNT, "a session report", "report only its own sessions",
	  request_session_close, NULL, false },
	{ FR_MSG_TOKEN_GET, CALLER_SELF, NULL, NULL, request_token_get, NULL, false },
	{ FR_MSG_STATUS_GET, CALLER_ANYONE, NULL, NULL, request_status_get, NULL, false },
	{ FR_MSG_CACHE_LIST, CALLER_ROOT, NULL, NULL, request_cache_list, NULL, false },
	{ FR_MSG_CACHE_FORGET, CALLER_ROOT, NULL, NULL, request_cache_forget, NULL, false },
	{ FR_MSG_TWOFA_STATUS_GET, CALLER_SELF, NULL, NULL, request_twofa_status, NULL, false },
	{ FR_MSG_TWOFA_SETUP, CALLER_SELF, NULL, NULL, request_twofa_setup, NULL, false },
	{ FR_MSG_TWOFA_ENABLE, CALLER_SELF, NULL, NULL, request_twofa_enable, NULL, false },
	{ FR_MSG_TWOFA_DISABLE, CALLER_SELF, NULL, NULL, request_twofa_disable, NULL, false },
	{ FR_MSG_APIKEY_CREATE, CALLER_SELF, NULL, NULL, request_apikey_create, NULL, false },
	{ FR_MSG_APIKEY_LIST, CALLER_SELF, NULL, NULL, request_apikey_list, NULL, false },
	{ FR_MSG_APIKEY_DELETE, CALLER_SELF, NULL, NULL, request_apikey_delete, NULL, false },
	{ FR_MSG_PASSWD_BEGIN, CALLER_ACCOUNT_REAL_UID, "a password change", "change only its own password",
	  request_passwd_begin, N_("You may change only your own password"), true },
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

/* A caller refused by the table: one caller_refused audit record.
 * `user` is the account asked about (NULL when the name is not one). */
static void
audit_refused(struct helper *h, const struct fr_msg *msg, uid_t caller, const char *user, enum fr_result result)
{
	const char *svc = fr_msg_str(msg, FR_TAG_SERVICE);
	char service[128] = "";

	if (svc != NULL)
		fr_text_sanitize(service, sizeof(service), svc, strlen(svc), 0);
	audit_emit(h->audit, &(struct audit_record){
				 .event = AUDIT_CALLER_REFUSED,
				 .user = user,
				 .service = service,
				 .caller_uid = caller,
				 .result = fr_result_name((int)result),
			     });
}

/*
 * The caller rules that need the account database (CALLER_SELF,
 * CALLER_ACCOUNT, CALLER_ACCOUNT_REAL_UID) look it up on the NSS threads (h->nss): getpwnam_r and
 * getgrouplist can wait on a network NSS for seconds, and the loop serves
 * every other login meanwhile.  The request waits in a `lookup`, with a
 * copy of its message, and is dispatched from the loop once it is done.
 */
struct lookup {
	struct helper *h;
	struct conn *conn;
	const struct request_def *def;
	struct conn_peer peer;
	uid_t caller;		       /* whom the caller rule judges (struct request) */
	const struct fr_catalog *lang; /* read-only, the helper's for its life */
	/* The request, fr_msg_encode'd: a few hundred bytes, where a struct
	 * fr_msg is 8.7 KiB, and a storm's logins all wait here at once.  May
	 * hold a secret (AUTHTOK): wiped. */
	uint8_t *request;
	size_t request_len;
	char *user; /* FR_TAG_USER, for the NSS thread; NULL for CALLER_SELF */
	struct pool_job *job;
	char *allowed_groups; /* the setting when the request came */
	/* Found on the thread. */
	int account_result;
	struct local_account account;
	int groups_result;
};

static void
lookup_free(struct lookup *lk)
{
	if (lk->request != NULL)
		explicit_bzero(lk->request, lk->request_len);
	free(lk->request);
	free(lk->user);
	free(lk->allowed_groups);
	free(lk);
}

/* On an NSS thread: nothing here touches the helper's state. */
static void
lookup_run(void *arg)
{
	struct lookup *lk = arg;

	if (lk->def->who == CALLER_SELF)
		lk->account_result = accounts_by_uid(lk->peer.uid, &lk->account);
	else
		lk->account_result = accounts_by_name(lk->user, &lk->account);
	lk->groups_result = FR_OK;
	if (lk->account_result == FR_OK && lk->allowed_groups != NULL)
		lk->groups_result = accounts_in_groups(lk->allowed_groups, lk->account.name);
}

/* CALLER_ACCOUNT: the named account must be the caller's own unless the
 * caller is root (the rule unix_chkpwd follows).  False: refused. */
static bool
account_allowed(const struct request_def *def, struct request *rq, int lookup_result)
{
	uid_t caller = rq->caller;

	rq->has_account = lookup_result == FR_OK;
	if (lookup_result != FR_OK && lookup_result != FR_ERR_NOT_FOUND) {
		log_err("cannot look up user %s: %s", rq->name, fr_strerror(lookup_result));
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
	if (def->refusal_fails) {
		char key[32];
		snprintf(key, sizeof(key), "uid:%u", (unsigned)caller);
		ratelimit_failure(rq->h->ratelimit, key, (int64_t)time(NULL));
	}
	audit_refused(rq->h, rq->msg, caller, rq->name, FR_RESULT_PERM_DENIED);
	requests_reply_done(rq->conn, FR_RESULT_PERM_DENIED, def->denied != NULL ? fr_tr(rq->lang, def->denied) : NULL);
	return false;
}

/* On the loop, the lookup done: the caller rule, then the handler. */
static void
lookup_done(void *arg)
{
	struct lookup *lk = arg;
	struct fr_msg msg;
	struct request rq = {
		.h = lk->h,
		.conn = lk->conn,
		.msg = &msg,
		.peer = lk->peer,
		.caller = lk->caller,
		.lang = lk->lang,
		.account = lk->account,
		.groups_result = lk->groups_result,
	};

	conn_set_handler(lk->conn, NULL, NULL);
	/* It decoded once, and fr_msg_encode wrote it: a failure here is a
	 * bug, not the client's. */
	if (fr_msg_decode(lk->request, lk->request_len, &msg) != FR_OK) {
		log_err("cannot decode a held %s request", lk->def->what);
		requests_reply_done(lk->conn, FR_RESULT_SYSTEM_ERR, NULL);
		lookup_free(lk);
		return;
	}
	if (lk->def->who == CALLER_SELF) {
		if (lk->account_result != FR_OK) {
			audit_refused(lk->h, &msg, lk->peer.uid, NULL, FR_RESULT_NOT_FOUND);
			requests_reply_done(lk->conn, FR_RESULT_NOT_FOUND,
					    fr_tr(lk->lang, "Your uid has no user name"));
			goto done;
		}
		rq.has_account = true;
		rq.name = rq.account.name;
	} else {
		rq.name = fr_msg_str(&msg, FR_TAG_USER);
		if (!account_allowed(lk->def, &rq, lk->account_result))
			goto done;
	}
	lk->def->handle(&rq);
done:
	fr_msg_wipe(&msg);
	lookup_free(lk);
}

static void
lookup_discard(void *arg)
{
	lookup_free(arg);
}

static const struct pool_job_fns lookup_fns = { lookup_run, lookup_done, lookup_discard };

/* The client left while its lookup ran: the result is not wanted. */
static void
lookup_abort(void *obj)
{
	struct lookup *lk = obj;

	job_pool_cancel(&lk->job);
}

static const struct conn_handler lookup_handler = { NULL, lookup_abort };

static void
start_lookup(const struct request_def *def, struct request *rq)
{
	struct lookup *lk = calloc(1, sizeof(*lk));
	const char *groups = rq->h->cfg->allowed_groups;
	const char *user = def->who == CALLER_SELF ? NULL : fr_msg_str(rq->msg, FR_TAG_USER);

	if (lk == NULL || (groups != NULL && (lk->allowed_groups = strdup(groups)) == NULL) ||
	    (user != NULL && (lk->user = strdup(user)) == NULL) ||
	    (lk->request_len = fr_msg_encode(rq->msg, NULL, 0)) == 0 ||
	    (lk->request = malloc(lk->request_len)) == NULL ||
	    fr_msg_encode(rq->msg, lk->request, lk->request_len) != lk->request_len) {
		if (lk != NULL)
			lookup_free(lk);
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lk->h = rq->h;
	lk->conn = rq->conn;
	lk->def = def;
	lk->peer = rq->peer;
	lk->caller = rq->caller;
	lk->lang = rq->lang;
	int r = job_pool_submit(rq->h->nss, rq->peer.uid, &lookup_fns, lk, &lk->job);
	if (r != FR_OK) {
		lookup_free(lk);
		if (r == FR_ERR_TOO_LARGE) {
			server_note_refusal(rq->h->server, REFUSED_UID_LOOKUPS, rq->peer.uid);
			requests_reply_done(rq->conn, FR_RESULT_BUSY, NULL);
		} else {
			requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		}
		return;
	}
	conn_set_handler(rq->conn, &lookup_handler, lk);
}

bool
requests_dispatch(void *helper, struct conn *c, const struct fr_msg *msg)
{
	const struct request_def *def = NULL;
	struct request rq = { .h = helper, .conn = c, .msg = msg, .peer = *conn_peer(c), .groups_result = FR_OK };

	rq.caller = rq.peer.uid;

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
		start_lookup(def, &rq);
		return true;
	case CALLER_ACCOUNT:
		if (!user_name_valid(fr_msg_str(msg, FR_TAG_USER))) {
			log_auth(LOG_NOTICE, "refusing %s for an invalid user name", def->what);
			audit_refused(rq.h, msg, rq.peer.uid, NULL, FR_RESULT_USER_UNKNOWN);
			requests_reply_done(c, FR_RESULT_USER_UNKNOWN, NULL);
			return true;
		}
		start_lookup(def, &rq);
		return true;
	case CALLER_ACCOUNT_REAL_UID:
		/* Believed from root only: a user cannot claim to be root. */
		if (rq.peer.uid == 0)
			rq.caller = (uid_t)fr_msg_num(msg, FR_TAG_CALLER_UID);
		if (!user_name_valid(fr_msg_str(msg, FR_TAG_USER))) {
			log_auth(LOG_NOTICE, "refusing %s for an invalid user name", def->what);
			audit_refused(rq.h, msg, rq.peer.uid, NULL, FR_RESULT_USER_UNKNOWN);
			requests_reply_done(c, FR_RESULT_USER_UNKNOWN, NULL);
			return true;
		}
		start_lookup(def, &rq);
		return true;
	case CALLER_ROOT:
		if (rq.peer.uid != 0) {
			log_auth(LOG_NOTICE, "uid %u may not use %s", (unsigned)rq.peer.uid,
				 fr_msg_type_name(msg->type));
			audit_refused(rq.h, msg, rq.peer.uid, NULL, FR_RESULT_PERM_DENIED);
			requests_reply_done(c, FR_RESULT_PERM_DENIED, fr_tr(rq.lang, "Only root may do that"));
			return true;
		}
		break;
	}
	def->handle(&rq);
	return true;
}
