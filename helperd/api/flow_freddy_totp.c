/*
 * Freddy with a local TOTP second factor (freddy-dev-login):
 *   POST /auth/dev-login {email_or_username, password} with X-API-Key
 *     -> access_token, refresh_token; no email is sent
 * then the code from the person's authenticator app, checked locally
 * against totp_users_file.  The tokens are cached only after the code.
 */
#include "config.h"

#include <string.h>

#include "api/api_parse.h"
#include "auth/flow_token_login.h"
#include "auth/flows.h"

/* The guide's token lifetime table: access tokens last 24 hours. */
#define FREDDY_DEFAULT_ACCESS_TTL 86400

static json_t *
dev_login_body(const char *name, const char *password)
{
	/* device_information is optional and left out. */
	return json_pack("{s:s, s:s}", "email_or_username", name, "password", password);
}

/* The page's 401 AUTHENTICATION_REQUIRED and 403 INSUFFICIENT_PERMISSIONS
 * are about the API key in api_key_file, not about the person: the login
 * is unavailable.  DOCS SILENT: the page names no error for a wrong
 * password; any other 4xx (except 429) is a refused password. */
static bool
dev_login_key_refused(long status, const char *code)
{
	return status == 403 || strcmp(code, "AUTHENTICATION_REQUIRED") == 0 ||
	       strcmp(code, "INSUFFICIENT_PERMISSIONS") == 0;
}

static const struct token_login_api freddy_dev_login = {
	.login_path = "/auth/dev-login",
	.login_body = dev_login_body,
	.api_key = true,
	.access_key = "access_token",
	.refresh_key = "refresh_token",
	.parse_flags = API_REFRESH_REQUIRED,
	.default_ttl = FREDDY_DEFAULT_ACCESS_TTL,
	.local_totp = true,
	.helper_refused = dev_login_key_refused,
};

static void
freddy_totp_start(struct login *lg)
{
	token_login_start(lg, &freddy_dev_login);
}

const struct flow_ops flow_freddy_totp = {
	.name = "freddy-totp",
	.start = freddy_totp_start,
	.answer = token_login_answer,
	.destroy = token_login_destroy,
};
