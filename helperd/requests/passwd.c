/*
 * PASSWD_BEGIN: a password change, from pam_sm_chauthtok, in each of
 * libpam's two phases.  The gate is the same in both and makes no network
 * call; the first phase ends there (no prompt), the second hands over to
 * the password change engine (auth/passwd.c) through a conversation.  For
 * a profile without a password change (freddy, jwt) it is DONE(IGNORE)
 * with no text: anything said would reach the person.
 */
#include "config.h"

#include <syslog.h>

#include "api/profile.h"
#include "auth/access.h"
#include "auth/passwd.h"
#include "core/log.h"
#include "fr_error.h"
#include "requests/conversation.h"
#include "requests/table.h"
#include "store/token_cache.h"

static void
engine_answer(void *engine, const char *text)
{
	passwd_answer(engine, text);
}

static void
engine_abandon(void *engine)
{
	passwd_abandon(engine);
}

static const struct conversation_engine passwd_engine = { engine_answer, engine_abandon };

/* A change needs the account's cached login (the self-service rule): no
 * request reaches the API for an account that never logged in here. */
static bool
has_cached_login(struct helper *h, const char *user)
{
	struct cache_record rec;

	if (token_cache_load(h->cache, user, &rec) != 0)
		return false;
	cache_record_wipe(&rec);
	return true;
}

/* What follows the gate; the caller frees the verdict's claim. */
static void
passwd_admitted(struct request *rq, const struct conversation_context *ctx, uint64_t flags,
		const struct access_verdict *verdict)
{
	struct helper *h = rq->h;

	if (verdict->outcome != ACCESS_GO) {
		requests_reply_done(rq->conn,
				    verdict->outcome == ACCESS_REFUSED ? verdict->result : FR_RESULT_USER_UNKNOWN,
				    verdict->text[0] != '\0' ? verdict->text : NULL);
		return;
	}
	if (!has_cached_login(h, verdict->account.name)) {
		log_auth(LOG_INFO, "password change for %s (caller uid %u): no cached login", verdict->account.name,
			 (unsigned)rq->caller);
		requests_reply_done(rq->conn, FR_RESULT_NOT_FOUND,
				    fr_tr(rq->lang, "No cached Freddy login; log in first"));
		return;
	}
	if (!(flags & FR_CHAUTHTOK_UPDATE)) {
		requests_reply_done(rq->conn, FR_RESULT_SUCCESS, NULL); /* PAM_PRELIM_CHECK: it will take part */
		return;
	}
	/* A non-root peer's conversation holds one of its logins' places. */
	if (!conversation_admit(rq, rq->peer.uid))
		return;
	struct passwd_request prq = {
		.user = verdict->account.name,
		.service = ctx->service,
		.rhost = ctx->rhost,
		.caller_uid = rq->caller,
		.caller_pid = rq->peer.pid,
		.claim = verdict->claim, /* passwd_new takes a copy */
		.lang = rq->lang,
	};
	struct conversation *cv = conversation_new(rq, rq->peer.uid);
	if (cv == NULL) {
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	struct passwd_change *pc = passwd_new(h, &prq, &conversation_io, cv);
	conversation_attach(cv, &passwd_engine, pc);
	/* It may finish, or lose its client, before it returns. */
	if (pc != NULL)
		passwd_begin(pc);
}

void
request_passwd_begin(struct request *rq)
{
	struct helper *h = rq->h;
	uint64_t flags = fr_msg_num(rq->msg, FR_TAG_CHAUTHTOK_FLAGS);
	const struct profile *profile = profile_for(h->cfg);
	struct conversation_context ctx;
	struct access_verdict verdict;

	/* The module never reports a password as expired. */
	if ((flags & FR_CHAUTHTOK_EXPIRED_ONLY) || profile == NULL || profile->passwd == NULL) {
		requests_reply_done(rq->conn, FR_RESULT_IGNORE, NULL);
		return;
	}
	if (!rq->has_account) {
		log_auth(LOG_NOTICE, "refusing a password change for %s: no local account", rq->name);
		requests_reply_done(rq->conn, FR_RESULT_USER_UNKNOWN, NULL);
		return;
	}
	conversation_context(rq->msg, &ctx);
	/* allowed_groups and the failure budgets of the caller (CALLER_UID
	 * for a root peer) and of the account. */
	struct access_request arq = {
		.user = rq->account.name,
		.account = &rq->account,
		.caller_uid = rq->caller,
		.rhost = ctx.rhost,
		.ruser = ctx.ruser,
		.tty = ctx.tty,
		.groups_result = rq->groups_result,
		.lang = rq->lang,
	};
	access_gate(h, &arq, &verdict);
	passwd_admitted(rq, &ctx, flags, &verdict);
	access_claim_free(&verdict.claim);
}
