#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api/parse.h"
#include "check.h"
#include "fr_error.h"

#define P(s) s, strlen(s)

static void
test_errors(void)
{
	struct api_error e;

	api_parse_error(P("{\"success\": false, \"error\": {\"code\": \"INVALID_CREDENTIALS\", "
			  "\"message\": \"Invalid email or password. Please try again.\", \"status\": 401, "
			  "\"details\": {}}}"),
			&e);
	CHECK(strcmp(e.code, "INVALID_CREDENTIALS") == 0);
	CHECK(strcmp(e.message, "Invalid email or password. Please try again.") == 0);
	CHECK(e.retry_after == -1);

	api_parse_error(P("{\"success\": false, \"error\": {\"code\": \"TOO_MANY_LOGIN_ATTEMPTS\", "
			  "\"message\": \"Too many\", \"details\": {\"retry_after\": 300}}}"),
			&e);
	CHECK(e.retry_after == 300);

	api_parse_error(P("{\"detail\": {\"code\": \"INVALID_CODE\", \"message\": \"bad\"}}"), &e);
	CHECK(strcmp(e.code, "INVALID_CODE") == 0 && strcmp(e.message, "bad") == 0);

	api_parse_error(P("{\"error\": \"Invalid credentials\"}"), &e);
	CHECK(e.code[0] == '\0' && strcmp(e.message, "Invalid credentials") == 0);

	/* Hostile text is neutralised, odd codes dropped, odd numbers ignored. */
	api_parse_error(P("{\"error\": {\"code\": \"x; rm\", \"message\": \"\\u001b[31mEVIL\\r\\nX\", "
			  "\"details\": {\"retry_after\": \"300\"}}}"),
			&e);
	CHECK(e.code[0] == '\0');
	CHECK(strcmp(e.message, "?[31mEVIL? X") == 0);
	CHECK(e.retry_after == -1);

	api_parse_error(P("<html>500</html>"), &e);
	CHECK(e.code[0] == '\0' && e.message[0] == '\0');
	api_parse_error(P("[1,2]"), &e);
	CHECK(e.message[0] == '\0');
	api_parse_error(P("{\"error\": {\"code\": \"A\", \"code\": \"B\"}}"), &e);
	CHECK(e.code[0] == '\0'); /* duplicate keys refused */
}

/* The documents' error envelopes carry trace_id; it is kept only when it
 * is a plain id. */
static void
test_trace_id(void)
{
	char id[API_TRACE_ID_MAX + 1];

	api_parse_trace_id(P("{\"success\": false, \"error\": {\"code\": \"INVALID_CREDENTIALS\", "
			     "\"status\": 401, \"details\": {}, \"trace_id\": \"abc-123-def\", "
			     "\"timestamp\": \"2025-12-22T15:30:00Z\"}}"),
			   id);
	CHECK(strcmp(id, "abc-123-def") == 0);
	api_parse_trace_id(P("{\"error\": {\"trace_id\": \"req_abc123xyz\"}}"), id);
	CHECK(strcmp(id, "req_abc123xyz") == 0);
	/* The documented 429 has none; a success body has none. */
	api_parse_trace_id(P("{\"success\": false, \"error\": {\"code\": \"TOO_MANY_LOGIN_ATTEMPTS\", "
			     "\"details\": {\"retry_after\": 300}}}"),
			   id);
	CHECK(id[0] == '\0');
	api_parse_trace_id(P("{\"token\": \"t\", \"trace_id\": \"top-level\"}"), id);
	CHECK(id[0] == '\0');
	/* Hostile or odd ids are dropped, not cleaned. */
	api_parse_trace_id(P("{\"error\": {\"trace_id\": \"a\\\"},{\\\"x\"}}"), id);
	CHECK(id[0] == '\0');
	api_parse_trace_id(P("{\"error\": {\"trace_id\": \"req\\n1\"}}"), id);
	CHECK(id[0] == '\0');
	api_parse_trace_id(P("{\"error\": {\"trace_id\": \"\"}}"), id);
	CHECK(id[0] == '\0');
	api_parse_trace_id(P("{\"error\": {\"trace_id\": 12345}}"), id);
	CHECK(id[0] == '\0');
	char longer[128];
	memset(longer, 0, sizeof(longer));
	int n = snprintf(longer, sizeof(longer), "{\"error\": {\"trace_id\": \"%065d\"}}", 0);
	CHECK(n > 0);
	api_parse_trace_id(longer, strlen(longer), id);
	CHECK(id[0] == '\0');
	n = snprintf(longer, sizeof(longer), "{\"error\": {\"trace_id\": \"%064d\"}}", 0);
	api_parse_trace_id(longer, strlen(longer), id);
	CHECK(strlen(id) == 64);
	api_parse_trace_id(P("not json"), id);
	CHECK(id[0] == '\0');
}

static void
test_freddy_login(void)
{
	struct freddy_login_reply r;

	CHECK(api_parse_freddy_login(P("{\"success\": true, \"email_key\": \"uuid-12345678-1234\", "
				       "\"email\": \"user@example.com\"}"),
				     &r) == 0);
	CHECK(strcmp(r.email_key, "uuid-12345678-1234") == 0);
	CHECK(strcmp(r.email, "user@example.com") == 0);
	CHECK(api_parse_freddy_login(P("{\"email_key\": \"k\", \"email\": \"not an email\"}"), &r) == 0);
	CHECK(r.email[0] == '\0');
	CHECK(api_parse_freddy_login(P("{\"email_key\": 123}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_freddy_login(P("{\"email_key\": \"../../etc\"}"), &r) != 0 || strchr(r.email_key, '/') == NULL);
	CHECK(api_parse_freddy_login(P("{\"email_key\": \"a/b\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_freddy_login(P("{\"email_key\": \"\"}"), &r) == FR_ERR_INVALID);
	CHECK(api_parse_freddy_login(P("{\"email_key\": \"k\""), &r) == FR_ERR_INVALID);
	CHECK(r.email_key[0] == '\0');
}

static void
test_tokens(void)
{
	struct api_tokens t;

	CHECK(api_parse_tokens(P("{\"token\": \"eyJ.a.b\", \"refreshToken\": \"eyJ.c.d\", \"expires_in\": 86400}"),
			       "token", "refreshToken", API_REFRESH_REQUIRED, &t) == 0);
	CHECK(strcmp(t.access_token, "eyJ.a.b") == 0 && strcmp(t.refresh_token, "eyJ.c.d") == 0);
	CHECK(t.expires_in == 86400);
	api_tokens_wipe(&t);
	CHECK(t.access_token == NULL && t.refresh_token == NULL);

	CHECK(api_parse_tokens(P("{\"token\": \"abc\", \"device_id\": \"d\"}"), "token", "refreshToken", 0, &t) == 0);
	CHECK(t.refresh_token == NULL && t.expires_in == -1);
	api_tokens_wipe(&t);

	CHECK(api_parse_tokens(P("{\"token\": \"abc\"}"), "token", "refreshToken", API_REFRESH_REQUIRED, &t) ==
	      FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"token\": [], \"refreshToken\": {}}"), "token", "refreshToken", 0, &t) ==
	      FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"token\": \"a b\"}"), "token", NULL, 0, &t) == FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"token\": \"abc\", \"expires_in\": \"x\"}"), "token", NULL, 0, &t) ==
	      FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"token\": \"abc\", \"expires_in\": -5}"), "token", NULL, 0, &t) == FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"access_token\": \"abc==\", \"refresh_token\": \"r\"}"), "access_token",
			       "refresh_token", API_REFRESH_REQUIRED, &t) == 0);
	api_tokens_wipe(&t);
	CHECK(api_parse_tokens(P("{\"token\": \"ab=c\"}"), "token", NULL, 0, &t) == FR_ERR_INVALID);
	CHECK(api_parse_tokens(P("{\"token\": \"abc\""), "token", NULL, 0, &t) == FR_ERR_INVALID);
	CHECK(t.access_token == NULL);
}

static void
test_mask(void)
{
	char out[64];

	CHECK(api_mask_email("user@example.com", out, sizeof(out)) && strcmp(out, "u***@example.com") == 0);
	CHECK(api_mask_email("x@y.z", out, sizeof(out)) && strcmp(out, "x***@y.z") == 0);
	CHECK(!api_mask_email("nobody", out, sizeof(out)) && out[0] == '\0');
	CHECK(!api_mask_email("@example.com", out, sizeof(out)));
	CHECK(!api_mask_email("a@b@c", out, sizeof(out)));
	CHECK(!api_mask_email("user@example.com", out, 8));
}

int
main(void)
{
	test_errors();
	test_trace_id();
	test_freddy_login();
	test_tokens();
	test_mask();
	return check_finish("test_api_parse");
}
