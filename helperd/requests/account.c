#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/log.h"
#include "core/secret.h"
#include "fr_error.h"
#include "fr_text.h"
#include "requests/account.h"

/* Texts with a number: logged in English, shown in the request's language. */
#define TEXT_WAIT	  N_("Too many failed attempts; try again in %u s")
#define TEXT_RETRY_AFTER  N_("Too many requests; try again in %ld s")
#define TEXT_RATE_LIMITED N_("Too many requests")

static void finish(struct account_req *ar, enum fr_result result, const char *logged, const char *shown);

static void
refuse(struct request *rq, enum fr_result result, const char *text)
{
	log_auth(LOG_INFO, "%s for %s (uid %u): %s%s%s", fr_msg_type_name(rq->msg->type), rq->account.name,
		 (unsigned)rq->peer.uid, fr_result_name((int)result), text != NULL ? ": " : "",
		 text != NULL ? text : "");
	requests_reply_done(rq->conn, result, text != NULL ? fr_tr(rq->lang, text) : NULL);
}

/* allowed_groups, and for a request with a code the failure budget as a
 * login of the caller's own account has it.  False: refused (answered).
 * True: *claim is the caller's to free (access_claim_free). */
static bool
account_admitted(struct request *rq, bool budget, struct access_claim *claim)
{
	struct helper *h = rq->h;
	struct access_verdict v;
	int r;

	if (!budget) {
		r = rq->groups_result; /* looked up with the account, off the loop */
		if (r == FR_ERR_PERMISSION)
			refuse(rq, FR_RESULT_IGNORE, N_("Freddy does not handle this account"));
		else if (r != 0)
			refuse(rq, FR_RESULT_AUTHINFO_UNAVAIL, NULL);
		return r == 0;
	}
	struct access_request arq = {
		.user = rq->account.name,
		.account = &rq->account,
		.caller_uid = rq->peer.uid,
		.groups_result = rq->groups_result,
		.lang = rq->lang,
	};
	access_gate(h, &arq, &v);
	if (v.outcome == ACCESS_GO) {
		*claim = v.claim; /* moved: v goes out of scope */
		return true;
	}
	access_claim_free(&v.claim);
	if (v.outcome == ACCESS_REFUSED && v.result == FR_RESULT_IGNORE)
		refuse(rq, FR_RESULT_IGNORE, N_("Freddy does not handle this account"));
	else
		refuse(rq, v.outcome == ACCESS_REFUSED ? v.result : FR_RESULT_SYSTEM_ERR, v.text[0] ? v.text : NULL);
	return false;
}

struct account_req *
account_req_new(struct request *rq, const struct account_kind *kind, bool budget)
{
	struct helper *h = rq->h;
	struct access_claim claim;
	char text[160];

	memset(&claim, 0, sizeof(claim));
	if (h->cfg->api != kind->api) {
		snprintf(text, sizeof(text), "%s%s", fr_tr(rq->lang, kind->wrong_api), config_api_name(h->cfg->api));
		log_auth(LOG_INFO, "%s for %s (uid %u): %s: api = %s", fr_msg_type_name(rq->msg->type),
			 rq->account.name, (unsigned)rq->peer.uid, fr_result_name(FR_RESULT_IGNORE),
			 config_api_name(h->cfg->api));
		requests_reply_done(rq->conn, FR_RESULT_IGNORE, text);
		return NULL;
	}
	if (!account_admitted(rq, budget, &claim))
		return NULL;
	struct account_req *ar = calloc(1, sizeof(*ar));
	if (ar == NULL) {
		access_claim_free(&claim);
		refuse(rq, FR_RESULT_SYSTEM_ERR, NULL);
		return NULL;
	}
	ar->h = h;
	ar->conn = rq->conn;
	ar->type = (enum fr_msg_type)rq->msg->type;
	ar->caller = rq->peer.uid;
	ar->lang = rq->lang;
	ar->kind = kind;
	ar->budget = budget;
	ar->claim = claim; /* moved: ar frees it */
	memcpy(ar->user, rq->account.name, strlen(rq->account.name) + 1);
	if (budget) {
		/* Reserved before anything is checked: a malformed code is a
		 * wrong one, and costs an attempt. */
		unsigned wait = access_claim_reserve(h, &ar->claim);
		if (wait > 0) {
			char shown[160];
			snprintf(text, sizeof(text), TEXT_WAIT, wait);
			snprintf(shown, sizeof(shown), fr_tr(rq->lang, TEXT_WAIT), wait);
			finish(ar, FR_RESULT_AUTH_ERR, text, shown);
			return NULL;
		}
	}
	return ar;
}

static void
account_req_free(struct account_req *ar)
{
	secret_free(ar->arg);
	access_claim_free(&ar->claim);
	explicit_bzero(ar, sizeof(*ar));
	free(ar);
}

static void
finish(struct account_req *ar, enum fr_result result, const char *logged, const char *shown)
{
	char why[256] = "";

	conn_set_handler(ar->conn, NULL, NULL);
	if (ar->budget)
		access_claim_finish(ar->h, &ar->claim,
				    ar->wrong ? FR_RESULT_AUTH_ERR :
				    result == FR_RESULT_SUCCESS ?
						FR_RESULT_SUCCESS :
						FR_RESULT_CONV_ERR); /* released: no verdict on a code */
	if (logged != NULL)
		fr_text_sanitize(why, sizeof(why), logged, strlen(logged), 0);
	log_auth(LOG_INFO, "%s for %s (uid %u): %s%s%s", fr_msg_type_name((int)ar->type), ar->user,
		 (unsigned)ar->caller, fr_result_name((int)result), why[0] ? ": " : "", why);
	requests_reply_done(ar->conn, result, shown);
	account_req_free(ar);
}

void
account_req_done(struct account_req *ar, enum fr_result result, const char *text)
{
	finish(ar, result, text, text != NULL ? fr_tr(ar->lang, text) : NULL);
}

bool
account_req_send_frame(struct account_req *ar, struct fr_frame *frame)
{
	return conn_send(ar->conn, frame) == 0;
}

static void
on_abort(void *obj)
{
	struct account_req *ar = obj;

	account_call_cancel(ar->h, &ar->call);
	if (ar->budget)
		access_claim_abandon(ar->h, &ar->claim);
	log_auth(LOG_INFO, "%s for %s (uid %u) abandoned by the client", fr_msg_type_name((int)ar->type), ar->user,
		 (unsigned)ar->caller);
	account_req_free(ar);
}

static const struct conn_handler account_handler = { NULL, on_abort };

static void
build(void *ctx, const char *bearer, struct profile_step *out)
{
	struct account_req *ar = ctx;

	ar->build(ar, bearer, out);
}

static void
on_done(void *ctx, const struct call_result *result)
{
	struct account_req *ar = ctx;
	char text[96], shown[96];

	/* From here a client that leaves closes its connection only: ar is
	 * this function's to finish. */
	conn_set_handler(ar->conn, NULL, NULL);
	switch (result->outcome) {
	case CALL_ANSWERED:
		ar->answered(ar, result->resp);
		return;
	case CALL_LOGIN_REFUSED:
		account_req_done(ar, FR_RESULT_AUTH_ERR,
				 N_("The cached Freddy login is no longer valid; log in again"));
		return;
	case CALL_UNAVAILABLE:
		account_req_done(ar, FR_RESULT_AUTHINFO_UNAVAIL, ar->kind->unreachable);
		return;
	case CALL_RATE_LIMITED:
		if (result->retry_after > 0) {
			snprintf(text, sizeof(text), TEXT_RETRY_AFTER, result->retry_after);
			snprintf(shown, sizeof(shown), fr_tr(ar->lang, TEXT_RETRY_AFTER), result->retry_after);
			finish(ar, FR_RESULT_AUTHINFO_UNAVAIL, text, shown);
		} else {
			account_req_done(ar, FR_RESULT_AUTHINFO_UNAVAIL, TEXT_RATE_LIMITED);
		}
		return;
	}
	account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL);
}

void
account_req_send(struct account_req *ar)
{
	int r = account_call_start(ar->h, ar->user, build, on_done, ar, &ar->call);

	if (r == FR_ERR_NOT_FOUND) {
		account_req_done(ar, FR_RESULT_NOT_FOUND, N_("No cached Freddy login; log in first"));
		return;
	}
	if (r == FR_ERR_IO) {
		account_req_done(ar, FR_RESULT_AUTHINFO_UNAVAIL, ar->kind->unreachable);
		return;
	}
	if (r != 0) {
		log_err("%s for %s: %s", fr_msg_type_name((int)ar->type), ar->user, fr_strerror(r));
		account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	conn_set_handler(ar->conn, &account_handler, ar);
}
