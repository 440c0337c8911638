/*
 * The Freddy email-code flow (freddy-authentication-guide):
 *   POST /auth/login {email_or_username, password} -> email_key, a code is emailed
 *   POST /auth/verify {email_key, verification_code} -> token, refreshToken
 *   POST /auth/resend-email {email_key} when the person answers with an empty line
 * The password step (stacked passwords, cached re-authentication, the
 * offline path) is shared with the other flows in flow_util.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "flow_util.h"
#include "flows.h"
#include "log.h"
#include "offline_login.h"

/* The guide's token lifetime table: access tokens last 24 hours.  Used
 * when a reply carries no expires_in. */
#define FREDDY_DEFAULT_ACCESS_TTL 86400

enum freddy_state {
	FREDDY_ASK_PASSWORD,
	FREDDY_CACHED_AUTH,		/* cached_auth.c is refreshing the token */
	FREDDY_LOGGING_IN,
	FREDDY_ASK_CODE,
	FREDDY_VERIFYING,
	FREDDY_RESENDING,
	FREDDY_OFFLINE_CODE,		/* offline_login.c asked for a TOTP code */
};

struct freddy {
	enum freddy_state state;
	struct flow_password pw;
	unsigned failures;		/* wrong codes so far */
	unsigned resends;
	char email_key[API_EMAIL_KEY_MAX + 1];
	char masked_email[API_EMAIL_MAX + 8];
};

static struct freddy *
state_of(struct login *lg)
{
	return lg->flow_data;
}

static void
ask_code(struct login *lg)
{
	state_of(lg)->state = FREDDY_ASK_CODE;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, "4-digit code, or Enter to resend: ");
}

/* "Code emailed to u***@example.com." above the prompt: short lines that
 * a screen locker's narrow label column does not break mid-phrase. */
static void
announce_code(struct login *lg, const char *what)
{
	char text[API_EMAIL_MAX + 64];

	snprintf(text, sizeof(text), "%s emailed to %s.", what, state_of(lg)->masked_email);
	login_info(lg, text);
	ask_code(lg);
}

static void
code_refused(struct login *lg)
{
	if (flow_code_failed(lg, &state_of(lg)->failures))
		ask_code(lg);
}

static void
on_verify(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct api_error err;
	struct api_tokens tokens;

	if (flow_service_failed(lg, resp, "verify"))
		return;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "token", "refreshToken",
				     API_REFRESH_REQUIRED, &tokens) != 0) {
			login_unavailable(lg, "verify: reply without valid tokens");
			return;
		}
		flow_store_tokens(lg, &tokens, FREDDY_DEFAULT_ACCESS_TTL, &st->pw);
		api_tokens_wipe(&tokens);
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	/* DOCS SILENT: the guide names no error for a wrong code.  Any other
	 * 4xx from /auth/verify counts as a wrong code. */
	log_debug("freddy: verify for %s refused (%ld %s)", lg->user, resp->status, err.code);
	code_refused(lg);
}

static void
on_resend(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct api_error err;

	if (flow_service_failed(lg, resp, "resend-email"))
		return;
	if (resp->status == 200) {
		st->resends++;
		announce_code(lg, "New code");
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR, "The login has expired, please start again");
}

/* A code is exactly 4 digits (blanks ignored); -1 when the answer is
 * empty, -2 when it is not a code. */
static int
parse_code(const char *answer)
{
	int value = 0, digits = 0;

	for (const char *p = answer; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (*p < '0' || *p > '9' || digits == 4)
			return -2;
		value = value * 10 + (*p - '0');
		digits++;
	}
	return digits == 0 ? -1 : digits == 4 ? value : -2;
}

static void
on_code(struct login *lg, const char *answer)
{
	struct freddy *st = state_of(lg);
	int code = parse_code(answer);

	if (code == -1 && st->resends < lg->helper->cfg->max_resends) {
		st->state = FREDDY_RESENDING;
		login_post(lg, "/auth/resend-email", json_pack("{s:s}", "email_key", st->email_key), NULL,
			   false, on_resend);
		return;
	}
	if (code < 0) {
		/* Malformed answers cost an attempt but no request. */
		if (code == -1)
			login_error(lg, "No more codes can be sent");
		code_refused(lg);
		return;
	}
	st->state = FREDDY_VERIFYING;
	/* The guide sends the code as a JSON integer (2290), so codes are
	 * 4 digits without a leading zero in practice; we send the number. */
	login_post(lg, "/auth/verify",
		   json_pack("{s:s, s:i}", "email_key", st->email_key, "verification_code", code), NULL,
		   false, on_verify);
}

static void
on_login(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct freddy_login_reply reply;
	struct api_error err;

	switch (flow_password_try_offline(lg, &st->pw, resp)) {
	case FLOW_OFFLINE_FINISHED:
		return;
	case FLOW_OFFLINE_ASK_CODE:
		st->state = FREDDY_OFFLINE_CODE;
		return;
	case FLOW_OFFLINE_NO:
		break;
	}
	if (resp->outcome == HTTP_ANSWERED && resp->status == 200)
		flow_password_accepted(lg, &st->pw);
	flow_password_wipe(&st->pw);
	if (flow_service_failed(lg, resp, "login"))
		return;
	if (resp->status == 200) {
		if (api_parse_freddy_login(resp->body, resp->body_len, &reply) != 0) {
			login_unavailable(lg, "login: reply without a valid email_key");
			return;
		}
		memcpy(st->email_key, reply.email_key, sizeof(st->email_key));
		if (!api_mask_email(reply.email, st->masked_email, sizeof(st->masked_email)))
			snprintf(st->masked_email, sizeof(st->masked_email), "your email address");
		announce_code(lg, "Code");
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	/* try_first_pass: the stacked password was not ours; ask once. */
	if (flow_password_retry(lg, &st->pw)) {
		st->state = FREDDY_ASK_PASSWORD;
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR,
		     err.message[0] != '\0' ? err.message : "Invalid user name or password");
}

static void
send_login(struct login *lg)
{
	struct freddy *st = state_of(lg);

	if (flow_password_try_cached(lg, &st->pw, send_login)) {
		st->state = FREDDY_CACHED_AUTH;
		return;
	}
	char *name = login_remote_name(lg);
	if (name == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->state = FREDDY_LOGGING_IN;
	login_post(lg, "/auth/login",
		   json_pack("{s:s, s:s}", "email_or_username", name, "password", st->pw.password), NULL,
		   false, on_login);
	free(name);
}

static void
freddy_start(struct login *lg)
{
	struct freddy *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lg->flow_data = st;
	st->state = FREDDY_ASK_PASSWORD;
	if (flow_password_begin(lg, &st->pw))
		send_login(lg);
}

static void
freddy_answer(struct login *lg, const char *text)
{
	struct freddy *st = state_of(lg);

	switch (st->state) {
	case FREDDY_ASK_PASSWORD:
		if (flow_password_set(lg, &st->pw, text))
			send_login(lg);
		return;
	case FREDDY_ASK_CODE:
		on_code(lg, text);
		return;
	case FREDDY_OFFLINE_CODE:
		offline_login_code(lg, text);
		return;
	case FREDDY_CACHED_AUTH:
	case FREDDY_LOGGING_IN:
	case FREDDY_VERIFYING:
	case FREDDY_RESENDING:
		break;
	}
	/* The connection state table makes this unreachable. */
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

static void
freddy_destroy(struct login *lg)
{
	struct freddy *st = lg->flow_data;

	if (st == NULL)
		return;
	flow_password_free(lg, &st->pw);
	explicit_bzero(st, sizeof(*st));
	free(st);
	lg->flow_data = NULL;
}

const struct flow_ops flow_freddy_email = {
	.name = "freddy",
	.start = freddy_start,
	.answer = freddy_answer,
	.destroy = freddy_destroy,
};
