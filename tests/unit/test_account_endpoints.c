/*
 * What the API files say of the account endpoints (api/aius.c, api/jwt.c):
 * the requests they build (paths, bodies, bearer, cookie), what each
 * reply means, and the header checks http.c makes before any transfer.
 * Pure functions, no network.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/aius.h"
#include "api/http.h"
#include "api/jwt.h"
#include "api/profile.h"
#include "check.h"
#include "core/helper_config.h"
#include "core/loop.h"
#include "fr_error.h"

static struct http_response
reply(long status, const char *body)
{
	struct http_response r = { .outcome = HTTP_ANSWERED, .status = status, .body = body, .body_len = strlen(body) };

	return r;
}

/* A member of a request body, "" when absent. */
static const char *
member(const struct profile_step *s, const char *key)
{
	static char value[256];
	json_t *root = s->request.body != NULL ? json_loads(s->request.body, 0, NULL) : NULL;

	const char *v = json_string_value(json_object_get(root, key));

	snprintf(value, sizeof(value), "%s", v != NULL ? v : "");
	json_decref(root);
	return value;
}

static void
test_twofa(void)
{
	struct profile_step s;
	struct twofa_result r;
	struct http_response resp;

	step_init(&s);
	aius_twofa_request(TWOFA_STATUS, "aius_T", NULL, &s);
	CHECK(s.verdict == STEP_REQUEST && strcmp(s.request.method, "GET") == 0);
	CHECK(strcmp(s.request.path, "/v1/2fa/status") == 0 && s.request.body == NULL);
	CHECK(strcmp(s.request.bearer, "aius_T") == 0 && s.request.cookie == NULL);
	step_wipe(&s);
	aius_twofa_request(TWOFA_SETUP, "aius_T", NULL, &s);
	CHECK(strcmp(s.request.method, "POST") == 0 && strcmp(s.request.body, "{}") == 0);
	step_wipe(&s);
	aius_twofa_request(TWOFA_DISABLE, "aius_T", "123456", &s);
	CHECK(strcmp(s.request.path, "/v1/2fa/disable") == 0 && strcmp(member(&s, "code"), "123456") == 0);
	step_wipe(&s);

	resp = reply(200, "{\"enabled\": true}");
	aius_twofa_reply(TWOFA_STATUS, &resp, &r);
	CHECK(r.verdict == ACCOUNT_DONE && r.enabled);
	twofa_result_wipe(&r);
	resp = reply(200, "{\"enabled\": \"true\"}");
	aius_twofa_reply(TWOFA_STATUS, &resp, &r);
	CHECK(r.verdict == ACCOUNT_UNUSABLE);
	twofa_result_wipe(&r);
	resp = reply(200, "{\"enabled\": true, \"recovery_codes\": [\"a-b\", \"c-d\"]}");
	aius_twofa_reply(TWOFA_ENABLE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_DONE && r.enabled && r.codes.count == 2);
	twofa_result_wipe(&r);
	/* A wrong code, as the emulator says it and as a server modelled on
	 * /v1/2fa/login might. */
	resp = reply(400, "{\"detail\": {\"code\": \"INVALID_CODE\", \"message\": \"Invalid two-factor code\"}}");
	aius_twofa_reply(TWOFA_ENABLE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_WRONG_CODE);
	resp = reply(401, "{\"detail\": {\"code\": \"INVALID_CODE\", \"message\": \"x\"}}");
	aius_twofa_reply(TWOFA_DISABLE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_WRONG_CODE);
	CHECK(!profile_aius.durable->refused(&resp));
	resp = reply(401, "{\"detail\": {\"code\": \"INVALID_TOKEN\", \"message\": \"invalid token\"}}");
	CHECK(profile_aius.durable->refused(&resp));
	resp = reply(401, "not json");
	CHECK(profile_aius.durable->refused(&resp));
	/* Refusals: the API's text, or the fallback of its code. */
	resp = reply(409, "{\"detail\": {\"code\": \"TWO_FACTOR_ALREADY_ENABLED\"}}");
	aius_twofa_reply(TWOFA_SETUP, &resp, &r);
	CHECK(r.verdict == ACCOUNT_REFUSED && strcmp(r.text, "Two-factor authentication is already enabled") == 0);
	resp = reply(400, "{\"detail\": {\"code\": \"TWO_FACTOR_NOT_SET_UP\", \"message\": \"Call \\u001b setup\"}}");
	aius_twofa_reply(TWOFA_ENABLE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_REFUSED && strcmp(r.text, "Call ? setup") == 0);

	char code[AIUS_CODE_MAX + 1];
	CHECK(aius_normalise_code(" 123 456 ", code, sizeof(code)) && strcmp(code, "123456") == 0);
	CHECK(aius_normalise_code(" ab12-cd34 ", code, sizeof(code)) && strcmp(code, "ab12-cd34") == 0);
	CHECK(!aius_normalise_code("  ", code, sizeof(code)) && !aius_normalise_code("12\n34", code, sizeof(code)));
}

static void
test_durable_and_passwd(void)
{
	const struct profile_durable *d = profile_aius.durable;
	const struct profile_passwd *pw = profile_aius.passwd;
	struct profile_step s;
	struct http_response resp;
	char text[PROFILE_TEXT_MAX], host[256], name[300], *token;

	CHECK(d != NULL && pw != NULL);
	CHECK(profile_jwt.durable == NULL && profile_jwt.passwd == NULL && profile_freddy_email.passwd == NULL);
	CHECK(profile_freddy_totp.passwd == NULL && profile_jwt_totp.passwd == NULL);
	step_init(&s);
	d->mint("st-1.x_y", &s);
	CHECK(s.verdict == STEP_REQUEST && strcmp(s.request.path, "/v1/tokens") == 0 && s.request.bearer == NULL);
	CHECK(s.request.cookie != NULL && strcmp(s.request.cookie, "__Host-aius_session=st-1.x_y") == 0);
	CHECK(gethostname(host, sizeof(host)) == 0);
	snprintf(name, sizeof(name), "pam_freddy %s", host);
	CHECK(strcmp(member(&s, "token_name"), name) == 0);
	step_wipe(&s);
	d->mint("st;Path=/", &s); /* never into a header */
	CHECK(s.verdict == STEP_UNAVAILABLE && s.request.cookie == NULL);
	step_wipe(&s);
	resp = reply(200, "{\"token\": \"aius_abc\"}");
	CHECK(d->minted(&resp, &token) == 0 && strcmp(token, "aius_abc") == 0);
	free(token);
	resp = reply(400, "{\"detail\": {\"code\": \"TOKEN_NAME_REQUIRED\"}}");
	CHECK(d->minted(&resp, &token) == FR_ERR_PERMISSION && token == NULL);

	pw->request_code("a@example.com", &s);
	CHECK(strcmp(s.request.path, "/v1/password/reset/request") == 0 &&
	      strcmp(member(&s, "email"), "a@example.com") == 0);
	step_wipe(&s);
	resp = reply(200, "{\"requires_2fa\": true, \"challenge_token\": \"c\"}");
	CHECK(pw->password_checked(&resp, text) == PASSWD_GO_ON);
	resp = reply(401,
		     "{\"detail\": {\"code\": \"INVALID_CREDENTIALS\", \"message\": \"Invalid email or password\"}}");
	CHECK(pw->password_checked(&resp, text) == PASSWD_WRONG_PASSWORD &&
	      strcmp(text, "Invalid email or password") == 0);
	resp = reply(200, "{\"requires_2fa\": \"yes\"}");
	CHECK(pw->password_checked(&resp, text) == PASSWD_UNUSABLE);
	resp = reply(200, "{}");
	CHECK(pw->code_requested(&resp, text) == PASSWD_GO_ON && pw->confirmed(&resp, text) == PASSWD_GO_ON);
	resp = reply(400, "{\"detail\": {\"code\": \"INVALID_RESET_TOKEN\", \"message\": \"x\"}}");
	CHECK(pw->confirmed(&resp, text) == PASSWD_WRONG_CODE);
	resp = reply(422, "{\"detail\": {\"code\": \"VALIDATION_ERROR\", \"message\": \"new_password: too long\"}}");
	CHECK(pw->confirmed(&resp, text) == PASSWD_WEAK && strcmp(text, "new_password: too long") == 0);
	resp = reply(403, "{}");
	CHECK(pw->confirmed(&resp, text) == PASSWD_REFUSED);
}

static void
test_apikeys(void)
{
	struct profile_step s;
	struct apikey_result r;
	struct http_response resp;

	step_init(&s);
	jwt_apikey_request(APIKEY_CREATE, "jwt.a.b", "CI deploys", &s);
	CHECK(strcmp(s.request.method, "POST") == 0 && strcmp(s.request.path, "/auth/keys") == 0);
	CHECK(strcmp(member(&s, "name"), "CI deploys") == 0 && strcmp(s.request.bearer, "jwt.a.b") == 0);
	step_wipe(&s);
	jwt_apikey_request(APIKEY_DELETE, "jwt.a.b", "key_abc123", &s);
	CHECK(strcmp(s.request.method, "DELETE") == 0 && strcmp(s.request.path, "/auth/keys/key_abc123") == 0);
	CHECK(s.request.body == NULL);
	step_wipe(&s);
	jwt_apikey_request(APIKEY_DELETE, "jwt.a.b", "../keys", &s);
	CHECK(s.verdict == STEP_UNAVAILABLE);
	step_wipe(&s);

	resp = reply(201, "{\"keyId\": \"key_1\", \"apiKey\": \"sk_live_x\", \"name\": \"n\", \"createdAt\": \"t\"}");
	jwt_apikey_reply(APIKEY_CREATE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_DONE && strcmp(r.created.api_key, "sk_live_x") == 0);
	apikey_result_wipe(&r);
	resp = reply(204, "");
	jwt_apikey_reply(APIKEY_DELETE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_DONE);
	resp = reply(404, "{\"error\": \"no such thing \\u001b\"}");
	jwt_apikey_reply(APIKEY_DELETE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_NOT_FOUND && strcmp(r.text, "API key not found") == 0);
	resp = reply(200, "[{\"keyId\": 5}]");
	jwt_apikey_reply(APIKEY_LIST, &resp, &r);
	CHECK(r.verdict == ACCOUNT_UNUSABLE);
	resp = reply(400, "{\"error\": \"Invalid request body\"}");
	jwt_apikey_reply(APIKEY_CREATE, &resp, &r);
	CHECK(r.verdict == ACCOUNT_REFUSED && strcmp(r.text, "Invalid request body") == 0);
}

static void
never(void *ctx, const struct http_response *resp)
{
	(void)resp;
	*(int *)ctx += 1;
}

/* Refused before any transfer: a header a server's text could split, a
 * body on a GET, a method curl would be told nothing about. */
static void
test_http_refusals(void)
{
	struct loop *loop;
	struct config cfg;
	struct http_client *c;
	struct http_xfer *x;
	char err[128];
	const char *text = "api_url = https://127.0.0.1:9/api\n";
	int called = 0;

	config_init(&cfg);
	CHECK(config_parse(text, strlen(text), "t.conf", &cfg, err, sizeof(err)) == 0);
	CHECK(loop_new(&loop) == 0);
	CHECK(http_client_new(loop, &cfg, NULL, &c) == 0);
	const struct http_request bad[] = {
		{ .method = "GET", .path = "/x", .bearer = "a b" },
		{ .method = "GET", .path = "/x", .bearer = "tok\r\nX-Evil: 1" },
		{ .method = "POST", .path = "/x", .cookie = "s=a;b" },
		{ .method = "POST", .path = "/x", .cookie = "noequals" },
		{ .method = "POST", .path = "/x", .cookie = "s=a\r\nX: y" },
		{ .method = "POST", .path = "/x", .cookie = "s=a", .bearer = "t" },
		{ .method = "GET", .path = "/x", .body = "{}", .body_len = 2 },
		{ .method = "DELETE", .path = "/x", .body = "{}", .body_len = 2 },
		{ .method = "PUT", .path = "/x" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(http_start(c, &bad[i], never, &called, &x) == FR_ERR_INVALID);
		CHECK(x == NULL);
	}
	CHECK(http_transfers_active(c) == 0 && called == 0);
	http_client_free(c);
	loop_free(loop);
	config_free(&cfg);
}

int
main(void)
{
	test_twofa();
	test_durable_and_passwd();
	test_apikeys();
	test_http_refusals();
	return check_finish("test_account_endpoints");
}
