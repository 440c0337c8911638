/*
 * The generic JWT API (jwt-authentication-reference):
 *   POST /auth/login {username, password} -> token, refreshToken, expires_in
 *   optionally a local TOTP code (second_factor = totp)
 *   POST /auth/logout with Authorization: Bearer when the user's last PAM
 *     session closes; /auth/refresh {refreshToken} first when the cached
 *     access token has expired.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api/api_parse.h"
#include "auth/flow_token_login.h"
#include "auth/flows.h"
#include "fr_error.h"
#include "core/log.h"
#include "core/secret.h"
#include "store/token_cache.h"
#include "hostlib/user_name.h"

/* The reference's example: expires_in 3600. */
#define JWT_DEFAULT_ACCESS_TTL 3600
/* DOCS SILENT: the reference does not say whether an expired token may
 * log out; one this close to expiry is refreshed first. */
#define JWT_LOGOUT_MARGIN 30

static json_t *
jwt_login_body(const char *name, const char *password)
{
	return json_pack("{s:s, s:s}", "username", name, "password", password);
}

/* DOCS SILENT: the login example shows no refreshToken although
 * /auth/refresh needs one; it is taken when present (and then cached),
 * and a reply without it is still a successful login. */
static const struct token_login_api jwt_login = {
	.login_path = "/auth/login",
	.login_body = jwt_login_body,
	.access_key = "token",
	.refresh_key = "refreshToken",
	.default_ttl = JWT_DEFAULT_ACCESS_TTL,
};

static void jwt_discard(struct helper *h, const char *user, char *access_token);

static const struct token_login_api jwt_login_totp = {
	.login_path = "/auth/login",
	.login_body = jwt_login_body,
	.access_key = "token",
	.refresh_key = "refreshToken",
	.default_ttl = JWT_DEFAULT_ACCESS_TTL,
	.local_totp = true,
	.discard = jwt_discard,
};

static void
jwt_start(struct login *lg)
{
	token_login_start(lg, &jwt_login);
}

static void
jwt_totp_start(struct login *lg)
{
	token_login_start(lg, &jwt_login_totp);
}

/* A logout outlives the PAM request that caused it: it owns its copies. */
struct jwt_logout {
	struct helper *helper;
	char *user;
	char *access_token;		/* secret */
	char *refresh_token;		/* secret, NULL once used */
	bool unused;			/* tokens of a login refused at the second factor */
	struct http_xfer *xfer;
};

static void
logout_free(struct jwt_logout *lo)
{
	secret_free(lo->access_token);
	secret_free(lo->refresh_token);
	free(lo->user);
	free(lo);
}

/* The API ended the session and its tokens: drop the cached copies,
 * unless a new login has replaced them meanwhile. */
static void
forget_if_unchanged(struct jwt_logout *lo)
{
	struct cache_record rec;

	if (token_cache_load(lo->helper->cache, lo->user, &rec) != 0)
		return;
	bool same = rec.access_token != NULL && strcmp(rec.access_token, lo->access_token) == 0;
	cache_record_wipe(&rec);
	if (same && token_cache_forget(lo->helper->cache, lo->user) == 0)
		log_debug("jwt: dropped the logged-out tokens of %s", lo->user);
}

static void
on_logout(void *ctx, const struct http_response *resp)
{
	struct jwt_logout *lo = ctx;
	struct api_error err;

	if (resp->outcome != HTTP_ANSWERED) {
		log_warn("jwt: logout of %s not sent: %s (%s)", lo->user, http_outcome_name(resp->outcome),
			 resp->error);
	} else if (resp->status == 200 && lo->unused) {
		log_auth(LOG_INFO, "jwt: ended the API session of %s's refused login", lo->user);
	} else if (resp->status == 200) {
		log_auth(LOG_INFO, "jwt: logged %s out of the API", lo->user);
		forget_if_unchanged(lo);
	} else {
		api_parse_error(resp->body, resp->body_len, &err);
		log_warn("jwt: logout of %s refused: HTTP %ld %s", lo->user, resp->status, err.message);
	}
	logout_free(lo);
}

/* DOCS SILENT: the reference shows no logout body; an empty JSON object
 * is sent with the Bearer header. */
static int
send_logout(struct jwt_logout *lo)
{
	struct http_request req = {
		.method = "POST", .path = "/auth/logout", .body = "{}", .body_len = 2,
		.bearer = lo->access_token,
	};

	return http_start(lo->helper->http, &req, on_logout, lo, &lo->xfer);
}

static void
on_refresh(void *ctx, const struct http_response *resp)
{
	struct jwt_logout *lo = ctx;
	struct api_tokens tokens;

	if (resp->outcome != HTTP_ANSWERED || resp->status != 200 ||
	    api_parse_tokens(resp->body, resp->body_len, "token", NULL, 0, &tokens) != 0) {
		log_warn("jwt: logout of %s not sent: its access token expired and could not be refreshed "
			 "(%s, HTTP %ld)", lo->user, http_outcome_name(resp->outcome), resp->status);
		logout_free(lo);
		return;
	}
	secret_free(lo->access_token);
	lo->access_token = tokens.access_token;
	tokens.access_token = NULL;
	api_tokens_wipe(&tokens);
	int r = send_logout(lo);
	if (r != 0) {
		log_err("jwt: cannot start the logout of %s: %s", lo->user, fr_strerror(r));
		logout_free(lo);
	}
}

static int
send_refresh(struct jwt_logout *lo)
{
	json_t *body = json_pack("{s:s}", "refreshToken", lo->refresh_token);
	size_t len = 0;
	char *text = body != NULL ? secret_json_dump(body, &len) : NULL;
	int r = FR_ERR_NOMEM;

	json_decref(body);
	if (text != NULL) {
		struct http_request req = {
			.method = "POST", .path = "/auth/refresh", .body = text, .body_len = len,
		};
		r = http_start(lo->helper->http, &req, on_refresh, lo, &lo->xfer);
		secret_free(text);
	}
	return r;
}

/* Fire and forget: the session is over whatever the API answers; the
 * outcome is logged. */
static void
jwt_logout(struct helper *h, const char *user)
{
	struct cache_record rec;
	struct jwt_logout *lo;
	int r;

	if (token_cache_load(h->cache, user, &rec) != 0) {
		log_info("jwt: no cached token for %s; no logout sent", user);
		return;
	}
	if ((lo = calloc(1, sizeof(*lo))) == NULL || (lo->user = strdup(user)) == NULL) {
		free(lo);
		cache_record_wipe(&rec);
		log_err("jwt: out of memory; no logout sent for %s", user);
		return;
	}
	lo->helper = h;
	bool fresh = rec.access_token != NULL && rec.access_expires > time(NULL) + JWT_LOGOUT_MARGIN;
	if (fresh) {
		lo->access_token = rec.access_token;
		rec.access_token = NULL;
	} else {
		lo->refresh_token = rec.refresh_token;
		rec.refresh_token = NULL;
	}
	cache_record_wipe(&rec);
	r = fresh ? send_logout(lo) : send_refresh(lo);
	if (r != 0) {
		log_err("jwt: cannot start the logout of %s: %s", user, fr_strerror(r));
		logout_free(lo);
	}
}

/* The password was right but the TOTP code was not (or the person left):
 * the API session must not outlive the refused login. */
static void
jwt_discard(struct helper *h, const char *user, char *access_token)
{
	struct jwt_logout *lo = calloc(1, sizeof(*lo));
	int r;

	if (lo == NULL || (lo->user = strdup(user)) == NULL) {
		free(lo);
		secret_free(access_token);
		log_err("jwt: out of memory; the API session of %s's refused login stays open", user);
		return;
	}
	lo->helper = h;
	lo->access_token = access_token;
	lo->unused = true;
	if ((r = send_logout(lo)) != 0) {
		log_err("jwt: cannot end the API session of %s's refused login: %s", user, fr_strerror(r));
		logout_free(lo);
	}
}

const struct flow_ops flow_jwt = {
	.name = "jwt",
	.start = jwt_start,
	.answer = token_login_answer,
	.destroy = token_login_destroy,
	.logout = jwt_logout,
};

const struct flow_ops flow_jwt_totp = {
	.name = "jwt-totp",
	.start = jwt_totp_start,
	.answer = token_login_answer,
	.destroy = token_login_destroy,
	.logout = jwt_logout,
};
