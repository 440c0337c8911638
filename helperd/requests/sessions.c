/* SESSION_OPEN and SESSION_CLOSE, from pam_sm_open/close_session. */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include "auth/sessions.h"
#include "core/audit.h"
#include "core/log.h"
#include "fr_text.h"
#include "requests/table.h"

static void
session_event(struct request *rq, bool opening)
{
	struct helper *h = rq->h;
	const char *user = rq->has_account ? rq->account.name : rq->name;
	const char *svc = fr_msg_str(rq->msg, FR_TAG_SERVICE);
	const char *host = fr_msg_str(rq->msg, FR_TAG_RHOST), *term = fr_msg_str(rq->msg, FR_TAG_TTY);
	char service[128], rhost[128] = "", tty[128] = "";

	if (opening && sessions_opened(h, user) != 0) {
		requests_reply_done(rq->conn, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	if (!opening)
		sessions_closed(h, user);
	fr_text_sanitize(service, sizeof(service), svc, strlen(svc), 0);
	log_auth(LOG_INFO, "session %s for %s (service %s), %u open", opening ? "opened" : "closed", user, service,
		 sessions_open_for(h->sessions, user));
	if (!opening) {
		if (host != NULL)
			fr_text_sanitize(rhost, sizeof(rhost), host, strlen(host), 0);
		if (term != NULL)
			fr_text_sanitize(tty, sizeof(tty), term, strlen(term), 0);
		audit_emit(h->audit, &(struct audit_record){
					 .event = AUDIT_SESSION_CLOSE,
					 .user = user,
					 .service = service,
					 .rhost = rhost,
					 .tty = tty,
					 .caller_uid = rq->peer.uid,
					 .result = AUDIT_SUCCESS,
				     });
	}
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
