/*
 * One authentication in progress, and the small vocabulary every API flow
 * uses to drive it: prompt, inform, call the API, finish.  A flow never
 * touches the socket or PAM; adding a flow needs no change in the module.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/access.h"
#include "fr_wire.h"
#include "helper.h"
#include "api/http.h"
#include "transport/server.h"

struct login;

struct flow_ops {
	const char *name;
	/* Allocate lg->flow_data and ask the first question. */
	void (*start)(struct login *lg);
	/* The answer to the last prompt; `text` is wiped after the call. */
	void (*answer)(struct login *lg, const char *text);
	/* Free lg->flow_data (wiping secrets); the login is over. */
	void (*destroy)(struct login *lg);
	/* Optional: the user's last PAM session closed; end the API session
	 * if the API has a logout.  Runs before forget_on_logout drops the
	 * cached tokens, so it may read them (and must copy what it keeps). */
	void (*logout)(struct helper *h, const char *user);
};

typedef void (*login_http_fn)(struct login *lg, const struct http_response *resp);

struct login {
	struct helper *helper;
	struct conn *conn;
	const struct flow_ops *flow;
	void *flow_data;
	char *user, *service, *rhost, *tty, *ruser;
	struct conn_peer peer;
	enum fr_authtok_mode authtok_mode;
	char *authtok;			/* secret: PAM_AUTHTOK from an earlier module */
	struct access_claim claim;	/* the failure budget this login spends */
	struct http_xfer *xfer;
	login_http_fn http_done;
	int64_t started_ms;
	bool over;			/* finished or aborted: ignore further calls */
	struct loop_deferred release;
};

/* AUTH_BEGIN arrived on a fresh connection. */
void login_begin(struct helper *h, struct conn *c, const struct fr_msg *msg);

void login_prompt(struct login *lg, enum fr_prompt_style style, unsigned flags, const char *text);
void login_info(struct login *lg, const char *text);
void login_error(struct login *lg, const char *text);
/* Ends the login: DONE is sent, the result logged under LOG_AUTHPRIV, and
 * the login freed after the current event.  `text` is shown to the user. */
void login_finish(struct login *lg, enum fr_result result, const char *text);
/* The API could not be asked: AUTHINFO_UNAVAIL, or IGNORE in fail_mode=safe. */
void login_unavailable(struct login *lg, const char *why);

/* The password is about to be sent to the API: reserve one attempt of the
 * failure budget (access.c).  false when the budget is spent: the login
 * was finished ("Too many failed attempts"), nothing may be sent. */
bool login_password_attempt(struct login *lg);

/* POST `body` (consumed) to api_url + path; `done` runs with the reply. */
void login_post(struct login *lg, const char *path, json_t *body, const char *bearer, bool api_key,
		login_http_fn done);

/* The local user name turned into the API's login name by user_template. */
char *login_remote_name(const struct login *lg);

#endif
