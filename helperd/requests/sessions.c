/* SESSION_OPEN and SESSION_CLOSE, from pam_sm_open/close_session. */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include "auth/sessions.h"
#include "core/log.h"
#include "fr_text.h"
#include "requests/table.h"

static void
session_event(struct request *rq, bool opening)
{
	struct helper *h = rq->h;
	const char *user = rq->has_account ? rq->account.name : rq->name;
	const char *svc = fr_msg_str(rq->msg, FR_TAG_SERVICE);
	char service[128];

	if (opening && sessions_opened(h, user) != 0) {
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	if (!opening)
		sessions_closed(h, user);
	fr_text_sanitize(service, sizeof(service), svc, strlen(svc), 0);
	log_auth(LOG_INFO, "session %s for %s (service %s), %u open", opening ? "opened" : "closed", user, service,
		 sessions_open_for(h->sessions, user));
	requests_reply_done(rq->conn, FR_RESULT_SUCCESS, NULL);
}

void
request_session_open(struct request *rq)
{
	session_event(rq, true);
}

void
request_session_close(struct request *rq)
{
	session_event(rq, false);
}
