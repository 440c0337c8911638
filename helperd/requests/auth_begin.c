/*
 * AUTH_BEGIN: a login, from pam_sm_authenticate.  Here the login engine
 * (auth/login.c) meets the socket, through a conversation
 * (requests/conversation.h).
 */
#include "config.h"

#include "auth/access.h"
#include "auth/login.h"
#include "core/audit.h"
#include "requests/conversation.h"
#include "requests/table.h"

static void
engine_answer(void *engine, const char *text)
{
	login_answer(engine, text);
}

static void
engine_abandon(void *engine)
{
	login_abandon(engine);
}

static const struct conversation_engine login_engine = { engine_answer, engine_abandon };

void
request_auth_begin(struct request *rq)
{
	struct helper *h = rq->h;
	uid_t caller = rq->peer.uid;
	struct conversation_context ctx;
	char login_id[AUDIT_LOGIN_ID_MAX];
	struct login_request lrq = { .caller_uid = caller, .caller_pid = rq->peer.pid, .login_id = login_id };

	if (!conversation_admit(rq, caller))
		return;
	conversation_context(rq->msg, &ctx);
	lrq.service = ctx.service;
	lrq.rhost = ctx.rhost;
	lrq.tty = ctx.tty;
	lrq.ruser = ctx.ruser;
	/* From here every decision about this login carries its id. */
	audit_next_login_id(h->audit, login_id);
	struct access_request arq = {
		.user = rq->name,
		.account = rq->has_account ? &rq->account : NULL,
		.caller_uid = caller,
		.rhost = lrq.rhost,
		.ruser = lrq.ruser,
		.tty = lrq.tty,
		.groups_result = rq->groups_result,
		.service = lrq.service,
		.login_id = login_id,
		.lang = rq->lang,
	};
	struct access_verdict verdict;
	access_gate(h, &arq, &verdict);
	if (verdict.outcome == ACCESS_REFUSED) {
		requests_reply_done(rq->conn, verdict.result, verdict.text[0] != '\0' ? verdict.text : NULL);
		access_claim_free(&verdict.claim);
		return;
	}
	/* From here on the login speaks of the account's canonical name. */
	lrq.user = verdict.outcome == ACCESS_GO ? verdict.account.name : rq->name;
	lrq.no_account = verdict.outcome == ACCESS_NO_ACCOUNT;
	lrq.claim = verdict.claim; /* login_new takes a copy */
	lrq.authtok_mode = (enum fr_authtok_mode)fr_msg_num(rq->msg, FR_TAG_AUTHTOK_MODE);
	lrq.authtok = fr_msg_str(rq->msg, FR_TAG_AUTHTOK);
	lrq.lang = rq->lang;

	struct conversation *cv = conversation_new(rq, caller);
	if (cv == NULL) {
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		access_claim_free(&verdict.claim);
		return;
	}
	struct login *lg = login_new(h, &lrq, &conversation_io, cv);
	access_claim_free(&verdict.claim);
	conversation_attach(cv, &login_engine, lg);
	/* It may finish, or lose its client, before it returns: cv is then
	 * gone, and nothing here may touch it. */
	if (lg != NULL)
		login_begin(lg);
}
