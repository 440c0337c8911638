/*
 * The generic JWT API (jwt-authentication-reference):
 *   POST /auth/login {username, password} -> token, refreshToken, expires_in
 *   POST /auth/refresh {refreshToken} -> token, expires_in
 *   POST /auth/logout with Authorization: Bearer when the user's last PAM
 *     session closes, or when a login with a local TOTP code is refused
 *     after the API gave tokens.
 *   POST /auth/keys {name}, GET /auth/keys, DELETE /auth/keys/{keyId}
 *     with Authorization: Bearer: freddyctl apikey.
 * The reference shows no password change: passwd is not the JWT API's.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api/jwt.h"
#include "api/profile.h"

/* The reference's example: expires_in 3600. */
#define JWT_ACCESS_TTL 3600

/* DOCS SILENT: the login example shows no refreshToken although
 * /auth/refresh needs one; it is taken when present (and then cached),
 * and a reply without it is still a successful login.  A refreshToken in
 * a refresh reply, if any, replaces ours. */
static const struct profile_refresh jwt_refresh = {
	.path = "/auth/refresh",
	.request_key = "refreshToken",
	.reply_access_key = "token",
	.reply_refresh_key = "refreshToken",
	.default_ttl = JWT_ACCESS_TTL,
};

static void
jwt_login(void *state, const struct config *cfg, const char *name, const char *password, struct profile_step *out)
{
	(void)state;
	(void)cfg;
	step_post(out, "/auth/login", json_pack("{s:s, s:s}", "username", name, "password", password), false, NULL);
}

static void
jwt_on_reply(void *state, const struct config *cfg, const struct http_response *resp, struct profile_step *out)
{
	struct api_error err;

	(void)state;
	(void)cfg;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "token", "refreshToken", 0, &out->tokens) != 0) {
			step_unavailable(out, "login: reply without valid tokens");
			return;
		}
		out->verdict = STEP_SUCCESS;
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	step_refused(out, err.message[0] != '\0' ? err.message : fr_tr(out->lang, "Invalid user name or password"));
}

/* DOCS SILENT: the reference shows no logout body; an empty JSON object
 * is sent with the Bearer header. */
static bool
jwt_logout(const char *access_token, struct profile_step *out)
{
	step_post(out, "/auth/logout", json_object(), false, access_token);
	return out->verdict == STEP_REQUEST;
}

/* ---- API keys (freddyctl apikey) ------------------------------------------ */

void
jwt_apikey_request(enum apikey_op op, const char *bearer, const char *arg, struct profile_step *out)
{
	char path[PROFILE_PATH_MAX];

	switch (op) {
	case APIKEY_CREATE:
		/* DOCS SILENT: the create body is not shown; {"name": NAME} is sent. */
		step_post(out, "/auth/keys", json_pack("{s:s}", "name", arg), false, bearer);
		return;
	case APIKEY_LIST:
		step_fetch(out, "GET", "/auth/keys", bearer);
		return;
	case APIKEY_DELETE:
		/* Only an id of api_key_id_valid reaches a path: no "/", "?" or "..". */
		if (!api_key_id_valid(arg, strlen(arg)) || snprintf(path, sizeof(path), "/auth/keys/%s", arg) < 0) {
			step_unavailable(out, "an API key id that cannot go into a path");
			return;
		}
		step_fetch(out, "DELETE", path, bearer);
		return;
	}
	step_unavailable(out, "no such request");
}

static bool
apikey_parsed(enum apikey_op op, const struct http_response *resp, struct apikey_result *out)
{
	switch (op) {
	case APIKEY_CREATE:
		return api_parse_key_new(resp->body, resp->body_len, &out->created) == 0;
	case APIKEY_LIST:
		return api_parse_key_list(resp->body, resp->body_len, &out->list) == 0;
	case APIKEY_DELETE:
		return true; /* 204, no body */
	}
	return false;
}

void
jwt_apikey_reply(enum apikey_op op, const struct http_response *resp, struct apikey_result *out)
{
	struct api_error err;

	memset(out, 0, sizeof(*out));
	/* 201 as documented for a new key, 204 for a deletion; any 2xx will do. */
	if (resp->status >= 200 && resp->status < 300) {
		out->verdict = apikey_parsed(op, resp, out) ? ACCOUNT_DONE : ACCOUNT_UNUSABLE;
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (op == APIKEY_DELETE && resp->status == 404) {
		/* The documented text, whatever the server wrote. */
		out->verdict = ACCOUNT_NOT_FOUND;
		snprintf(out->text, sizeof(out->text), "%s", N_("API key not found"));
		return;
	}
	out->verdict = ACCOUNT_REFUSED;
	snprintf(out->text, sizeof(out->text), "%s",
		 err.message[0] != '\0' ? err.message : N_("The JWT API refused the request"));
}

void
apikey_result_wipe(struct apikey_result *r)
{
	api_key_new_wipe(&r->created);
	api_key_list_free(&r->list);
	explicit_bzero(r, sizeof(*r));
}

const struct profile profile_jwt = {
	.name = "jwt",
	.default_ttl = JWT_ACCESS_TTL,
	.refresh = &jwt_refresh,
	.login = jwt_login,
	.on_reply = jwt_on_reply,
	.logout = jwt_logout,
};

const struct profile profile_jwt_totp = {
	.name = "jwt-totp",
	.local_totp = true,
	.default_ttl = JWT_ACCESS_TTL,
	.refresh = &jwt_refresh,
	.login = jwt_login,
	.on_reply = jwt_on_reply,
	.logout = jwt_logout,
};
