#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "auth/access.h"
#include "core/caller_quota.h"
#include "fr_error.h"
#include "fr_text.h"
#include "auth/flows.h"
#include "core/log.h"
#include "auth/login.h"
#include "transport/refusal_log.h"
#include "requests/requests.h"
#include "core/secret.h"
#include "hostlib/user_name.h"

#define CONTEXT_MAX 256

char *
login_remote_name(const struct login *lg)
{
	const char *tpl = lg->helper->cfg->user_template;
	size_t ulen = strlen(lg->user), cap = 1;

	for (const char *p = tpl; *p != '\0'; p++)
		cap += (p[0] == '%' && p[1] == 'u') ? ulen : 1;
	char *out = malloc(cap), *o = out;
	if (out == NULL)
		return NULL;
	for (const char *p = tpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			memcpy(o, lg->user, ulen);
			o += ulen;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			*o++ = '%';
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Context strings come from the PAM application and end up in logs. */
static char *
clean_copy(const char *s)
{
	char buf[CONTEXT_MAX];

	if (s == NULL)
		return NULL;
	fr_text_sanitize(buf, sizeof(buf), s, strlen(s), 0);
	return strdup(buf);
}

static void
login_release(void *arg)
{
	struct login *lg = arg;

	if (lg->flow != NULL && lg->flow->destroy != NULL)
		lg->flow->destroy(lg);
	secret_free(lg->authtok);
	free(lg->user);
	free(lg->service);
	free(lg->rhost);
	free(lg->tty);
	free(lg->ruser);
	lg->helper->logins_active--;
	caller_quota_give(lg->helper->quota, lg->peer.uid, QUOTA_LOGINS);
	free(lg);
}

static void
login_end(struct login *lg)
{
	lg->over = true;
	if (lg->xfer != NULL) {
		http_cancel(lg->xfer);
		lg->xfer = NULL;
	}
	loop_defer(lg->helper->loop, &lg->release, login_release, lg);
}

static void
on_answer(void *obj, const char *text)
{
	struct login *lg = obj;

	if (!lg->over)
		lg->flow->answer(lg, text);
}

static void
on_abort(void *obj)
{
	struct login *lg = obj;

	if (lg->over)
		return;
	log_auth(LOG_INFO, "%s: login for %s (service %s) abandoned by the client", lg->flow->name,
		 lg->user, lg->service);
	access_claim_abandon(lg->helper, &lg->claim);
	login_end(lg);
}

static const struct conn_handler login_handler = { on_answer, on_abort };

static void
log_outcome(const struct login *lg, enum fr_result result, const char *text)
{
	char why[256] = "";

	if (text != NULL)
		fr_text_sanitize(why, sizeof(why), text, strlen(text), 0);
	log_auth(result == FR_RESULT_SUCCESS ? LOG_INFO : LOG_NOTICE,
		 "%s: %s for user=%s service=%s rhost=%s tty=%s caller_uid=%u (%lld ms)%s%s",
		 lg->flow->name, fr_result_name(result), lg->user, lg->service,
		 lg->rhost ? lg->rhost : "-", lg->tty ? lg->tty : "-", (unsigned)lg->peer.uid,
		 (long long)(loop_now_ms() - lg->started_ms), why[0] ? ": " : "", why);
}

/* A root caller named no local account.  The person still sees the
 * password prompt, so that a remote stranger cannot tell accounts from
 * non-accounts by whether one is asked; the answer is dropped unread and
 * nothing reaches the API. */
static void
no_account_start(struct login *lg)
{
	login_prompt(lg, FR_PROMPT_ECHO_OFF, FR_PROMPT_IS_PASSWORD, "Password: ");
}

static void
no_account_answer(struct login *lg, const char *text)
{
	(void)text;
	login_finish(lg, FR_RESULT_AUTH_ERR, "Invalid user name or password");
}

static const struct flow_ops no_account_flow = {
	.name = "no-account",
	.start = no_account_start,
	.answer = no_account_answer,
};

void
login_begin(struct helper *h, struct conn *c, const struct fr_msg *msg)
{
	const char *user = fr_msg_str(msg, FR_TAG_USER);
	const struct flow_ops *flow = flows_select(h->cfg);

	if (!user_name_valid(user)) {
		log_auth(LOG_NOTICE, "refusing a login for an invalid user name");
		requests_reply_done(c, FR_RESULT_USER_UNKNOWN, NULL);
		return;
	}
	if (flow == NULL) {
		log_err("api = %s is not available in this build", config_api_name(h->cfg->api));
		requests_reply_done(c, FR_RESULT_AUTHINFO_UNAVAIL, "Authentication service unavailable");
		return;
	}
	/* A screen locker has a login or two in progress; a uid holding more
	 * prompts open is keeping them from others. */
	uid_t caller = conn_peer(c)->uid;
	if (caller != 0 && caller_quota_held(h->quota, caller, QUOTA_LOGINS) >= h->cfg->max_logins_per_uid) {
		server_note_refusal(h->server, REFUSED_UID_LOGINS, caller);
		requests_reply_done(c, FR_RESULT_BUSY, "Too many logins in progress for your account");
		return;
	}
	struct login *lg = calloc(1, sizeof(*lg));
	if (lg == NULL || caller_quota_take(h->quota, caller, QUOTA_LOGINS) != 0) {
		free(lg);
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lg->service = clean_copy(fr_msg_str(msg, FR_TAG_SERVICE));
	lg->rhost = clean_copy(fr_msg_str(msg, FR_TAG_RHOST));
	lg->tty = clean_copy(fr_msg_str(msg, FR_TAG_TTY));
	lg->ruser = clean_copy(fr_msg_str(msg, FR_TAG_RUSER));
	/* The account, the caller rule, allowed_groups and the rate limits:
	 * before any network call. */
	struct access_request rq = {
		.user = user, .caller_uid = conn_peer(c)->uid,
		.rhost = lg->rhost, .ruser = lg->ruser, .tty = lg->tty,
	};
	struct access_verdict verdict;
	access_gate(h, &rq, &verdict);
	if (verdict.outcome == ACCESS_REFUSED) {
		requests_reply_done(c, verdict.result, verdict.text[0] != '\0' ? verdict.text : NULL);
		caller_quota_give(h->quota, caller, QUOTA_LOGINS);
		free(lg->service);
		free(lg->rhost);
		free(lg->tty);
		free(lg->ruser);
		free(lg);
		return;
	}
	if (verdict.outcome == ACCESS_NO_ACCOUNT)
		flow = &no_account_flow;
	lg->helper = h;
	lg->conn = c;
	lg->flow = flow;
	lg->peer = *conn_peer(c);
	lg->claim = verdict.claim;
	lg->started_ms = loop_now_ms();
	lg->authtok_mode = (enum fr_authtok_mode)fr_msg_num(msg, FR_TAG_AUTHTOK_MODE);
	h->logins_active++;
	h->logins_total++;
	/* From here on the login speaks of the account's canonical name. */
	lg->user = strdup(verdict.outcome == ACCESS_GO ? verdict.account.name : user);
	const char *authtok = fr_msg_str(msg, FR_TAG_AUTHTOK);
	if (lg->user == NULL || lg->service == NULL ||
	    (fr_msg_has(msg, FR_TAG_RHOST) && lg->rhost == NULL) ||
	    (fr_msg_has(msg, FR_TAG_TTY) && lg->tty == NULL) ||
	    (fr_msg_has(msg, FR_TAG_RUSER) && lg->ruser == NULL) ||
	    (authtok != NULL && lg->authtok_mode != FR_AUTHTOK_NONE &&
	     (lg->authtok = secret_strdup(authtok)) == NULL)) {
		lg->flow = NULL;	/* nothing of the flow's to destroy */
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		login_end(lg);
		return;
	}
	conn_set_handler(c, &login_handler, lg);
	log_debug("%s: login for %s service %s from uid %u pid %d", flow->name, lg->user, lg->service,
		  (unsigned)lg->peer.uid, (int)lg->peer.pid);
	flow->start(lg);
}

static void
send_text(struct login *lg, enum fr_msg_type type, const char *text)
{
	struct fr_frame frame;

	if (lg->over)
		return;
	fr_frame_init(&frame, type);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	(void)conn_send(lg->conn, &frame);	/* a failure closes the conn and aborts us */
}

void
login_prompt(struct login *lg, enum fr_prompt_style style, unsigned flags, const char *text)
{
	struct fr_frame frame;

	if (lg->over)
		return;
	fr_frame_init(&frame, FR_MSG_PROMPT);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	fr_frame_put_u32(&frame, FR_TAG_STYLE, (uint32_t)style);
	if (flags != 0)
		fr_frame_put_u32(&frame, FR_TAG_PROMPT_FLAGS, flags);
	if (conn_send(lg->conn, &frame) == 0)
		conn_expect_answer(lg->conn, lg->helper->cfg->prompt_timeout);
}

void
login_info(struct login *lg, const char *text)
{
	send_text(lg, FR_MSG_INFO, text);
}

void
login_error(struct login *lg, const char *text)
{
	send_text(lg, FR_MSG_ERROR, text);
}

void
login_finish(struct login *lg, enum fr_result result, const char *text)
{
	struct fr_frame frame;

	if (lg->over)
		return;
	log_outcome(lg, result, text);
	access_claim_finish(lg->helper, &lg->claim, result);
	fr_frame_init(&frame, FR_MSG_DONE);
	fr_frame_put_u32(&frame, FR_TAG_RESULT, (uint32_t)result);
	if (text != NULL)
		fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	if (conn_send(lg->conn, &frame) == 0)
		conn_finish(lg->conn);
	if (!lg->over)
		login_end(lg);
}

void
login_unavailable(struct login *lg, const char *why)
{
	if (lg->helper->cfg->fail_mode == FAIL_SAFE) {
		log_auth(LOG_WARNING, "%s: API unavailable (%s); fail_mode=safe lets the PAM stack "
			 "decide without Freddy for user=%s service=%s", lg->flow->name, why, lg->user,
			 lg->service);
		login_finish(lg, FR_RESULT_IGNORE, "Authentication service unavailable");
		return;
	}
	log_err("%s: API unavailable: %s", lg->flow->name, why);
	login_finish(lg, FR_RESULT_AUTHINFO_UNAVAIL, "Authentication service unavailable");
}

bool
login_password_attempt(struct login *lg)
{
	unsigned wait = access_claim_reserve(lg->helper, &lg->claim);
	char text[96];

	if (wait == 0)
		return true;
	log_auth(LOG_NOTICE, "%s: password of %s (%s) not sent: out of attempts for %u s "
		 "(attempts in flight count)", lg->flow->name, lg->user, lg->claim.caller_key, wait);
	snprintf(text, sizeof(text), "Too many failed attempts; try again in %u s", wait);
	login_finish(lg, FR_RESULT_AUTH_ERR, text);
	return false;
}

static void
on_http_done(void *ctx, const struct http_response *resp)
{
	struct login *lg = ctx;

	lg->xfer = NULL;
	if (!lg->over)
		lg->http_done(lg, resp);
}

void
login_post(struct login *lg, const char *path, json_t *body, const char *bearer, bool api_key,
	   login_http_fn done)
{
	size_t len = 0;
	char *text = body != NULL ? secret_json_dump(body, &len) : NULL;
	struct http_request req = {
		.method = "POST", .path = path, .body = text != NULL ? text : "{}",
		.body_len = text != NULL ? len : 2, .bearer = bearer, .api_key = api_key,
	};
	int r;

	json_decref(body);
	if (lg->over) {
		secret_free(text);
		return;
	}
	if (body != NULL && text == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lg->http_done = done;
	r = http_start(lg->helper->http, &req, on_http_done, lg, &lg->xfer);
	secret_free(text);
	if (r != 0) {
		log_err("cannot start a request to %s: %s", path, fr_strerror(r));
		login_unavailable(lg, "request not started");
	}
}
