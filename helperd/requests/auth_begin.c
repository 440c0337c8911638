/*
 * AUTH_BEGIN: a login, from pam_sm_authenticate.  Here the login engine
 * (auth/login.c) meets the socket: its prompts and verdict become frames,
 * the person's answers and a departing client become calls.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/access.h"
#include "auth/login.h"
#include "core/caller_quota.h"
#include "core/log.h"
#include "fr_text.h"
#include "requests/table.h"
#include "transport/refusal_log.h"

#define CONTEXT_MAX 256

/* One login on one connection; freed when the login finishes or the
 * client leaves, whichever comes first. */
struct auth_conn {
	struct helper *h;
	struct conn *conn;
	struct login *login;
	uid_t caller;
};

static void
send_text(struct auth_conn *ac, enum fr_msg_type type, const char *text)
{
	struct fr_frame frame;

	fr_frame_init(&frame, type);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	(void)conn_send(ac->conn, &frame); /* a failure closes the conn and abandons the login */
}

static void
io_prompt(void *ctx, enum fr_prompt_style style, unsigned flags, const char *text)
{
	struct auth_conn *ac = ctx;
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_PROMPT);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	fr_frame_put_u32(&frame, FR_TAG_STYLE, (uint32_t)style);
	if (flags != 0)
		fr_frame_put_u32(&frame, FR_TAG_PROMPT_FLAGS, flags);
	if (conn_send(ac->conn, &frame) == 0)
		conn_expect_answer(ac->conn, ac->h->cfg->prompt_timeout);
}

static void
io_info(void *ctx, const char *text)
{
	send_text(ctx, FR_MSG_INFO, text);
}

static void
io_error(void *ctx, const char *text)
{
	send_text(ctx, FR_MSG_ERROR, text);
}

static void
auth_conn_free(struct auth_conn *ac)
{
	caller_quota_give(ac->h->quota, ac->caller, QUOTA_LOGINS);
	free(ac);
}

static void
io_finish(void *ctx, enum fr_result result, const char *text)
{
	struct auth_conn *ac = ctx;
	struct conn *c = ac->conn;

	conn_set_handler(c, NULL, NULL);
	auth_conn_free(ac);
	requests_reply_done(c, result, text);
}

static const struct login_io socket_io = { io_prompt, io_info, io_error, io_finish };

static void
on_answer(void *obj, const char *text)
{
	struct auth_conn *ac = obj;

	login_answer(ac->login, text);
}

static void
on_abort(void *obj)
{
	struct auth_conn *ac = obj;

	login_abandon(ac->login);
	auth_conn_free(ac);
}

static const struct conn_handler login_handler = { on_answer, on_abort };

/* Context strings come from the PAM application and end up in logs. */
static void
clean(char *out, const struct fr_msg *msg, enum fr_tag tag, const char **slot)
{
	const char *s = fr_msg_str(msg, tag);

	*slot = NULL;
	if (s == NULL)
		return;
	fr_text_sanitize(out, CONTEXT_MAX, s, strlen(s), 0);
	*slot = out;
}

void
request_auth_begin(struct request *rq)
{
	struct helper *h = rq->h;
	uid_t caller = rq->peer.uid;
	char service[CONTEXT_MAX], rhost[CONTEXT_MAX], tty[CONTEXT_MAX], ruser[CONTEXT_MAX];
	struct login_request lrq = { .caller_uid = caller, .caller_pid = rq->peer.pid };

	/* A screen locker has a login or two in progress; a uid holding more
	 * prompts open is keeping them from others. */
	if (caller != 0 && caller_quota_held(h->quota, caller, QUOTA_LOGINS) >= h->cfg->max_logins_per_uid) {
		server_note_refusal(h->server, REFUSED_UID_LOGINS, caller);
		requests_reply_done(rq->conn, FR_RESULT_BUSY,
				    fr_tr(rq->lang, "Too many logins in progress for your account"));
		return;
	}
	clean(service, rq->msg, FR_TAG_SERVICE, &lrq.service);
	clean(rhost, rq->msg, FR_TAG_RHOST, &lrq.rhost);
	clean(tty, rq->msg, FR_TAG_TTY, &lrq.tty);
	clean(ruser, rq->msg, FR_TAG_RUSER, &lrq.ruser);
	struct access_request arq = {
		.user = rq->name,
		.account = rq->has_account ? &rq->account : NULL,
		.caller_uid = caller,
		.rhost = lrq.rhost,
		.ruser = lrq.ruser,
		.tty = lrq.tty,
		.lang = rq->lang,
	};
	struct access_verdict verdict;
	access_gate(h, &arq, &verdict);
	if (verdict.outcome == ACCESS_REFUSED) {
		requests_reply_done(rq->conn, verdict.result, verdict.text[0] != '\0' ? verdict.text : NULL);
		return;
	}
	/* From here on the login speaks of the account's canonical name. */
	lrq.user = verdict.outcome == ACCESS_GO ? verdict.account.name : rq->name;
	lrq.no_account = verdict.outcome == ACCESS_NO_ACCOUNT;
	lrq.claim = verdict.claim;
	lrq.authtok_mode = (enum fr_authtok_mode)fr_msg_num(rq->msg, FR_TAG_AUTHTOK_MODE);
	lrq.authtok = fr_msg_str(rq->msg, FR_TAG_AUTHTOK);
	lrq.lang = rq->lang;

	struct auth_conn *ac = calloc(1, sizeof(*ac));
	if (ac == NULL || caller_quota_take(h->quota, caller, QUOTA_LOGINS) != 0) {
		free(ac);
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	ac->h = h;
	ac->conn = rq->conn;
	ac->caller = caller;
	if ((ac->login = login_new(h, &lrq, &socket_io, ac)) == NULL) {
		auth_conn_free(ac);
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	conn_set_handler(rq->conn, &login_handler, ac);
	/* It may finish, or lose its client, before it returns: ac is then
	 * gone, and nothing here may touch it. */
	login_begin(ac->login);
}
