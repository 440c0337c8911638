/*
 * The request table: the only place that says which requests exist and
 * who may send each one, as OpenSSH's monitor table does.  A request
 * type that is not in it closes the connection.
 */
#ifndef TABLE_H
#define TABLE_H

#include <stdbool.h>

#include "auth/access.h"
#include "fr_catalog.h"
#include "fr_wire.h"
#include "helper.h"
#include "transport/server.h"

/* Who may send a request. */
enum request_caller {
	CALLER_ANYONE,	/* any uid that can reach the socket */
	CALLER_SELF,	/* any uid, about its own account (from SO_PEERCRED, never the message) */
	CALLER_ACCOUNT, /* names an account (USER): root any, a non-root uid only its own */
	/* As CALLER_ACCOUNT, for the caller a set-uid program speaks for: a
	 * root peer's CALLER_UID (passwd(1) runs as root for any user), a
	 * non-root peer itself, whatever its CALLER_UID says. */
	CALLER_ACCOUNT_REAL_UID,
	CALLER_ROOT, /* uid 0 only */
};

/* One request being handled. */
struct request {
	struct helper *h;
	struct conn *conn;
	const struct fr_msg *msg;
	struct conn_peer peer;
	uid_t caller; /* who the caller rule judged: the peer's uid, or CALLER_ACCOUNT_REAL_UID's */
	/* CALLER_SELF: the caller's account.  CALLER_ACCOUNT: the named one,
	 * when it exists (a root caller may name one that does not: then
	 * has_account is false and `name` is the USER tag as sent). */
	bool has_account;
	struct local_account account;
	const char *name;
	/* The account against allowed_groups (accounts_in_groups), looked up
	 * with it: FR_OK when the setting is empty. */
	int groups_result;
	/* The language of every text the reply carries: the client's
	 * FR_TAG_LOCALE, else `language =`; NULL is English.  Texts are
	 * written fr_tr(rq->lang, "...") where they are made (po/README.md). */
	const struct fr_catalog *lang;
};

/* The transport's on_request (server.h): the handler the table names,
 * after its caller rule.  False for a type the table does not have. */
bool requests_dispatch(void *helper, struct conn *c, const struct fr_msg *msg);

/* A one-message reply that ends the request; `text` is already in the
 * request's language. */
void requests_reply_done(struct conn *c, enum fr_result result, const char *text);

/* The handlers, one file each in requests/. */
void request_auth_begin(struct request *rq);
void request_session_open(struct request *rq);
void request_session_close(struct request *rq);
void request_token_get(struct request *rq);
void request_status_get(struct request *rq);
void request_cache_list(struct request *rq);
void request_cache_forget(struct request *rq);
void request_twofa_status(struct request *rq);
void request_twofa_setup(struct request *rq);
void request_twofa_enable(struct request *rq);
void request_twofa_disable(struct request *rq);
void request_apikey_create(struct request *rq);
void request_apikey_list(struct request *rq);
void request_apikey_delete(struct request *rq);
void request_passwd_begin(struct request *rq);

#endif
