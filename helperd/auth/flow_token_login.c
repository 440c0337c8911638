#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_parse.h"
#include "auth/flow_token_login.h"
#include "auth/flow_util.h"
#include "fr_error.h"
#include "core/log.h"
#include "auth/offline_login.h"
#include "core/secret.h"
#include "crypto/totp.h"

enum token_state {
	TL_ASK_PASSWORD,
	TL_CACHED_AUTH,		/* cached_auth.c is refreshing the token */
	TL_LOGGING_IN,
	TL_ASK_CODE,
	TL_OFFLINE_CODE,	/* offline_login.c asked for a TOTP code */
};

struct token_login {
	const struct token_login_api *api;
	enum token_state state;
	struct flow_password pw;
	struct api_tokens tokens;	/* held until the second factor passes */
	struct totp_entry totp;
	unsigned failures;
	bool totp_missing;		/* refused once the password is known good */
};

static struct token_login *
state_of(struct login *lg)
{
	return lg->flow_data;
}

static void
succeed(struct login *lg)
{
	struct token_login *st = state_of(lg);

	flow_store_tokens(lg, &st->tokens, st->api->default_ttl, &st->pw);
	api_tokens_wipe(&st->tokens);
	login_finish(lg, FR_RESULT_SUCCESS, NULL);
}

static void
on_login(struct login *lg, const struct http_response *resp)
{
	struct token_login *st = state_of(lg);
	struct api_error err;
	char text[192];

	switch (flow_password_try_offline(lg, &st->pw, resp)) {
	case FLOW_OFFLINE_FINISHED:
		return;
	case FLOW_OFFLINE_ASK_CODE:
		st->state = TL_OFFLINE_CODE;
		return;
	case FLOW_OFFLINE_NO:
		break;
	}
	if (resp->outcome == HTTP_ANSWERED && resp->status == 200)
		flow_password_accepted(lg, &st->pw);
	flow_password_wipe(&st->pw);
	if (flow_service_failed(lg, resp, st->api->login_path))
		return;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, st->api->access_key, st->api->refresh_key,
				     st->api->parse_flags, &st->tokens) != 0) {
			login_unavailable(lg, "login: reply without valid tokens");
			return;
		}
		if (!st->api->local_totp) {
			succeed(lg);
			return;
		}
		/* Only someone who knows the password learns whether the
		 * account has an authenticator enrolled. */
		if (st->totp_missing) {
			flow_totp_refuse_missing(lg);
			return;
		}
		st->state = TL_ASK_CODE;
		flow_totp_ask(lg);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	log_debug("%s: login of %s refused (%ld %s)", lg->flow->name, lg->user, resp->status, err.code);
	if (st->api->helper_refused != NULL && st->api->helper_refused(resp->status, err.code)) {
		snprintf(text, sizeof(text), "%s: the API refused the helper's API key (HTTP %ld %s)",
			 st->api->login_path, resp->status, err.code);
		login_unavailable(lg, text);
		return;
	}
	if (flow_password_retry(lg, &st->pw)) {
		st->state = TL_ASK_PASSWORD;
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR,
		     err.message[0] != '\0' ? err.message : "Invalid user name or password");
}

static void
send_login(struct login *lg)
{
	struct token_login *st = state_of(lg);

	if (flow_password_try_cached(lg, &st->pw, send_login)) {
		st->state = TL_CACHED_AUTH;
		return;
	}
	if (!login_password_attempt(lg))
		return;
	char *name = login_remote_name(lg);

	if (name == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	json_t *body = st->api->login_body(name, st->pw.password);
	free(name);
	if (body == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->state = TL_LOGGING_IN;
	login_post(lg, st->api->login_path, body, NULL, st->api->api_key, on_login);
}

void
token_login_start(struct login *lg, const struct token_login_api *api)
{
	struct token_login *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->api = api;
	st->tokens.expires_in = -1;
	lg->flow_data = st;
	/* A broken users file ends the login before the password is sent. */
	if (api->local_totp) {
		int r = flow_totp_load(lg, &st->totp);
		if (r != 0 && r != FR_ERR_NOT_FOUND)
			return;
		st->totp_missing = r == FR_ERR_NOT_FOUND;
	}
	st->state = TL_ASK_PASSWORD;
	if (flow_password_begin(lg, &st->pw))
		send_login(lg);
}

void
token_login_answer(struct login *lg, const char *text)
{
	struct token_login *st = state_of(lg);

	switch (st->state) {
	case TL_ASK_PASSWORD:
		if (flow_password_set(lg, &st->pw, text))
			send_login(lg);
		return;
	case TL_ASK_CODE:
		if (flow_totp_check(lg, &st->totp, text, &st->failures) == FLOW_TOTP_ACCEPTED)
			succeed(lg);
		return;
	case TL_OFFLINE_CODE:
		offline_login_code(lg, text);
		return;
	case TL_CACHED_AUTH:
	case TL_LOGGING_IN:
		break;
	}
	/* The connection state table makes this unreachable. */
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

void
token_login_destroy(struct login *lg)
{
	struct token_login *st = lg->flow_data;

	if (st == NULL)
		return;
	flow_password_free(lg, &st->pw);
	/* succeed() has taken the tokens; any left belong to a refused login. */
	if (st->tokens.access_token != NULL && st->api->discard != NULL) {
		st->api->discard(lg->helper, lg->user, st->tokens.access_token);
		st->tokens.access_token = NULL;
	}
	api_tokens_wipe(&st->tokens);
	totp_entry_wipe(&st->totp);
	explicit_bzero(st, sizeof(*st));
	free(st);
	lg->flow_data = NULL;
}
