/*
 * What the account self-service requests share (freddyctl 2fa, apikey:
 * requests/twofa.c, requests/apikey.c).  Each is about the caller's own
 * account (the table's CALLER_SELF) and passes, before any network call:
 * the API it is for, allowed_groups, the failure budget when it carries a
 * code, and a cached login.  One log line per request, never a secret.
 */
#ifndef REQUESTS_ACCOUNT_H
#define REQUESTS_ACCOUNT_H

#include <stdbool.h>

#include "auth/access.h"
#include "auth/account_call.h"
#include "requests/table.h"

/* The requests of one API. */
struct account_kind {
	enum api_profile api;
	const char *wrong_api;	 /* N_(): DONE(IGNORE) text under another API, "… api = " + its name */
	const char *unreachable; /* N_(): DONE(AUTHINFO_UNAVAIL) text */
};

struct account_req {
	struct helper *h;
	struct conn *conn;
	enum fr_msg_type type;
	char user[USER_NAME_MAX + 1];
	uid_t caller;
	const struct fr_catalog *lang; /* the request's (table.h) */
	const struct account_kind *kind;
	int op;			   /* the handler's: enum twofa_op, enum apikey_op */
	char *arg;		   /* the handler's argument (a code: secret), or NULL */
	bool budget;		   /* it carries a code: the failure budget is held */
	bool wrong;		   /* the code was wrong: a failure of the budget */
	struct access_claim claim; /* when `budget` */
	struct account_call *call;
	/* The request with the credential as the bearer, and the API's
	 * answer to it (a 2xx or a 4xx). */
	void (*build)(struct account_req *ar, const char *bearer, struct profile_step *out);
	void (*answered)(struct account_req *ar, const struct http_response *resp);
};

/* The checks of `rq` for `kind`; with `budget` one attempt of the failure
 * budget is reserved.  NULL when the request was answered (refused, or
 * memory short); otherwise the handler sets op, arg, build and answered
 * and calls account_req_send, or ends it with account_req_done. */
struct account_req *account_req_new(struct request *rq, const struct account_kind *kind, bool budget);
/* No cached login: DONE(NOT_FOUND) with no request.  Otherwise the
 * request goes out, and `answered` or account_req_done follows. */
void account_req_send(struct account_req *ar);
/* The end: the budget settled, the log line, DONE, the state freed.
 * `text` is in English (an N_() text or the API's own words): it is shown
 * in the request's language, and logged as it is. */
void account_req_done(struct account_req *ar, enum fr_result result, const char *text);
/* Send a reply frame before DONE; false when the client has gone (the
 * handler then stops and calls account_req_done all the same). */
bool account_req_send_frame(struct account_req *ar, struct fr_frame *frame);

#endif
