#include "config.h"

#include "requests/ctl_requests.h"
#include "core/log.h"
#include "auth/login.h"
#include "requests/requests.h"
#include "transport/server.h"
#include "requests/sessions.h"

bool
requests_is_request(unsigned type)
{
	switch (type) {
	case FR_MSG_AUTH_BEGIN:
	case FR_MSG_SESSION_OPEN:
	case FR_MSG_SESSION_CLOSE:
	case FR_MSG_TOKEN_GET:
	case FR_MSG_STATUS_GET:
	case FR_MSG_CACHE_LIST:
	case FR_MSG_CACHE_FORGET:
		return true;
	default:
		return false;
	}
}

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

void
requests_dispatch(struct helper *h, struct conn *c, const struct fr_msg *msg)
{
	switch (msg->type) {
	case FR_MSG_AUTH_BEGIN:
		login_begin(h, c, msg);
		return;
	case FR_MSG_SESSION_OPEN:
	case FR_MSG_SESSION_CLOSE:
		sessions_event(h, c, msg);
		return;
	case FR_MSG_TOKEN_GET:
	case FR_MSG_STATUS_GET:
	case FR_MSG_CACHE_LIST:
	case FR_MSG_CACHE_FORGET:
		ctl_requests_dispatch(h, c, msg);
		return;
	default:
		log_debug("request %s not supported", fr_msg_type_name(msg->type));
		requests_reply_done(c, FR_RESULT_SYSTEM_ERR, "Request not supported by this helper");
		return;
	}
}
