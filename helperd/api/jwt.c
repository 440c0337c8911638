/*
 * The generic JWT API (jwt-authentication-reference):
 *   POST /auth/login {username, password} -> token, refreshToken, expires_in
 *   POST /auth/refresh {refreshToken} -> token, expires_in
 *   POST /auth/logout with Authorization: Bearer when the user's last PAM
 *     session closes, or when a login with a local TOTP code is refused
 *     after the API gave tokens.
 */
#include "config.h"

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
