#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/caller_quota.h"
#include "fr_text.h"
#include "requests/conversation.h"
#include "transport/refusal_log.h"

/* Freed when the engine finishes or the client leaves, whichever comes
 * first. */
struct conversation {
	struct helper *h;
	struct conn *conn;
	uid_t caller;
	const struct conversation_engine *ops;
	void *engine;
};

static void
send_text(struct conversation *cv, enum fr_msg_type type, const char *text)
{
	struct fr_frame frame;

	fr_frame_init(&frame, type);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	(void)conn_send(cv->conn, &frame); /* a failure closes the conn and abandons the engine */
}

static void
io_prompt(void *ctx, enum fr_prompt_style style, unsigned flags, const char *text)
{
	struct conversation *cv = ctx;
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_PROMPT);
	fr_frame_put_str(&frame, FR_TAG_TEXT, text);
	fr_frame_put_u32(&frame, FR_TAG_STYLE, (uint32_t)style);
	if (flags != 0)
		fr_frame_put_u32(&frame, FR_TAG_PROMPT_FLAGS, flags);
	if (conn_send(cv->conn, &frame) == 0)
		conn_expect_answer(cv->conn, cv->h->cfg->prompt_timeout);
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
conversation_free(struct conversation *cv)
{
	caller_quota_give(cv->h->quota, cv->caller, QUOTA_LOGINS);
	free(cv);
}

static void
io_finish(void *ctx, enum fr_result result, const char *text)
{
	struct conversation *cv = ctx;
	struct conn *c = cv->conn;

	conn_set_handler(c, NULL, NULL);
	conversation_free(cv);
	requests_reply_done(c, result, text);
}

const struct login_io conversation_io = { io_prompt, io_info, io_error, io_finish };

static void
on_answer(void *obj, const char *text)
{
	struct conversation *cv = obj;

	cv->ops->answer(cv->engine, text);
}

static void
on_abort(void *obj)
{
	struct conversation *cv = obj;

	cv->ops->abandon(cv->engine);
	conversation_free(cv);
}

static const struct conn_handler conversation_handler = { on_answer, on_abort };

static const char *
clean(char *out, const struct fr_msg *msg, enum fr_tag tag)
{
	const char *s = fr_msg_str(msg, tag);

	if (s == NULL)
		return NULL;
	fr_text_sanitize(out, CONVERSATION_CONTEXT_MAX, s, strlen(s), 0);
	return out;
}

void
conversation_context(const struct fr_msg *msg, struct conversation_context *out)
{
	out->service = clean(out->buf[0], msg, FR_TAG_SERVICE);
	out->rhost = clean(out->buf[1], msg, FR_TAG_RHOST);
	out->tty = clean(out->buf[2], msg, FR_TAG_TTY);
	out->ruser = clean(out->buf[3], msg, FR_TAG_RUSER);
}

bool
conversation_admit(struct request *rq, uid_t caller)
{
	struct helper *h = rq->h;

	/* A screen locker has a login or two in progress; a uid holding more
	 * prompts open is keeping them from others. */
	if (caller != 0 && caller_quota_held(h->quota, caller, QUOTA_LOGINS) >= h->cfg->max_logins_per_uid) {
		server_note_refusal(h->server, REFUSED_UID_LOGINS, caller);
		requests_reply_done(rq->conn, FR_RESULT_BUSY,
				    fr_tr(rq->lang, "Too many logins in progress for your account"));
		return false;
	}
	return true;
}

struct conversation *
conversation_new(struct request *rq, uid_t caller)
{
	struct conversation *cv = calloc(1, sizeof(*cv));

	if (cv == NULL || caller_quota_take(rq->h->quota, caller, QUOTA_LOGINS) != 0) {
		free(cv);
		return NULL;
	}
	cv->h = rq->h;
	cv->conn = rq->conn;
	cv->caller = caller;
	return cv;
}

void
conversation_attach(struct conversation *cv, const struct conversation_engine *ops, void *engine)
{
	if (engine == NULL) {
		struct conn *c = cv->conn;
		conversation_free(cv);
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	cv->ops = ops;
	cv->engine = engine;
	conn_set_handler(cv->conn, &conversation_handler, cv);
}
