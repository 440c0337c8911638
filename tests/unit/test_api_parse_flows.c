/* The reply parsers of the AIUS, JWT and dev-login flows. */
#include "config.h"

#include <string.h>

#include "api/parse.h"
#include "check.h"
#include "fr_error.h"

#define P(s) s, strlen(s)

static void
test_aius_login(void)
{
	struct aius_login_reply r;

	CHECK(api_parse_aius_login(P("{\"user\": {\"id\": \"u1\"}, \"message\": \"Logged in\", "
				     "\"session_token\": \"eyJ.a.b\"}"),
				   &r) == 0);
	CHECK(r.kind == AIUS_LOGIN_SESSION && strcmp(r.session_token, "eyJ.a.b") == 0 && r.challenge_token == NULL);
	api_aius_login_wipe(&r);
	CHECK(r.session_token == NULL && r.kind == 0);

	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true, \"challenge_token\": \"ch_-123\", "
				     "\"message\": \"Two-factor authentication required\"}"),
				   &r) == 0);
	CHECK(r.kind == AIUS_LOGIN_CHALLENGE && strcmp(r.challenge_token, "ch_-123") == 0 && r.session_token == NULL);
	api_aius_login_wipe(&r);

	/* A challenge wins over a token in the same body: 2FA is never skipped. */
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true, \"challenge_token\": \"c\", "
				     "\"session_token\": \"s\"}"),
				   &r) == 0);
	CHECK(r.kind == AIUS_LOGIN_CHALLENGE && r.session_token == NULL);
	api_aius_login_wipe(&r);

	/* requires_2fa false is a plain session. */
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": false, \"session_token\": \"s\"}"), &r) == 0);
	CHECK(r.kind == AIUS_LOGIN_SESSION);
	api_aius_login_wipe(&r);

	/* Broken replies: wrong types, missing fields, hostile tokens. */
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": \"true\", \"challenge_token\": \"c\"}"), &r) ==
	      FR_ERR_INVALID);
	CHECK(r.kind == 0 && r.challenge_token == NULL && r.session_token == NULL);
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true, \"challenge_token\": 7}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true, \"challenge_token\": \"\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"requires_2fa\": true, \"challenge_token\": \"a b\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"message\": \"Logged in\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"session_token\": 5}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"session_token\": \"x\\u0000y\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("{\"session_token\": \"a\", \"session_token\": \"b\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("[\"session_token\"]"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login(P("<html>"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_aius_login("", 0, &r) == FR_ERR_INVALID);

	char big[API_CHALLENGE_MAX + 64];
	int n = snprintf(big, sizeof(big), "{\"requires_2fa\": true, \"challenge_token\": \"");
	memset(big + n, 'a', API_CHALLENGE_MAX + 1);
	memcpy(big + n + API_CHALLENGE_MAX + 1, "\"}", 3);
	CHECK(api_parse_aius_login(P(big), &r) == FR_ERR_INVALID);
}

static void
test_flow_tokens(void)
{
	struct api_tokens t;

	/* dev-login: access_token and refresh_token, both required. */
	CHECK(api_parse_tokens(P("{\"refresh_token\": \"r1\", \"access_token\": \"a1\", "
				 "\"token_type\": \"default\", \"expires_in\": 1, \"device_id\": null, "
				 "\"user\": {}}"),
			       "access_token", "refresh_token", API_REFRESH_REQUIRED, &t) == 0);
	CHECK(strcmp(t.access_token, "a1") == 0 && strcmp(t.refresh_token, "r1") == 0 && t.expires_in == 1);
	api_tokens_wipe(&t);
	CHECK(api_parse_tokens(P("{\"access_token\": \"a1\"}"), "access_token", "refresh_token", API_REFRESH_REQUIRED,
			       &t) == FR_ERR_INVALID);

	/* JWT: token, refreshToken optional (the reference's example has none). */
	CHECK(api_parse_tokens(P("{\"token\": \"eyJ.x.y\", \"expires_in\": 3600, \"user\": {}}"), "token",
			       "refreshToken", 0, &t) == 0);
	CHECK(strcmp(t.access_token, "eyJ.x.y") == 0 && t.refresh_token == NULL && t.expires_in == 3600);
	api_tokens_wipe(&t);
	CHECK(api_parse_tokens(P("{\"token\": \"t\", \"refreshToken\": \"r\"}"), "token", "refreshToken", 0, &t) == 0);
	CHECK(strcmp(t.refresh_token, "r") == 0);
	api_tokens_wipe(&t);
	CHECK(api_parse_tokens(P("{\"token\": \"t\", \"refreshToken\": 3}"), "token", "refreshToken", 0, &t) ==
	      FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"error\": \"Invalid credentials\"}"), "token", "refreshToken", 0, &t) ==
	      FR_ERR_INVALID);

	/* AIUS 2fa/login: session_token only. */
	CHECK(api_parse_tokens(P("{\"user\": {}, \"message\": \"Logged in\", \"session_token\": \"s\"}"),
			       "session_token", NULL, 0, &t) == 0);
	api_tokens_wipe(&t);
}

static void
test_flow_errors(void)
{
	struct api_error e;

	api_parse_error(P("{\"detail\": {\"code\": \"INVALID_CHALLENGE\", \"message\": "
			  "\"Invalid or expired challenge\"}}"),
			&e);
	CHECK(strcmp(e.code, "INVALID_CHALLENGE") == 0);
	api_parse_error(P("{\"detail\": {\"code\": \"INVALID_CREDENTIALS\", \"message\": "
			  "\"Invalid email or password\"}}"),
			&e);
	CHECK(strcmp(e.code, "INVALID_CREDENTIALS") == 0 && strcmp(e.message, "Invalid email or password") == 0);
	api_parse_error(P("{\"error\": \"User not found\"}"), &e);
	CHECK(strcmp(e.message, "User not found") == 0 && e.code[0] == '\0');
}

int
main(void)
{
	test_aius_login();
	test_flow_tokens();
	test_flow_errors();
	return check_finish("test_api_parse_flows");
}
