/*
 * AIUS (aius-authentication):
 *   POST /v1/login {email, password} -> session_token, or
 *     {requires_2fa: true, challenge_token} when the account has 2FA
 *   POST /v1/2fa/login {challenge_token, code} -> session_token; the code
 *     is the authenticator's TOTP or a recovery code, checked by AIUS.
 * Errors: {"detail": {"code", "message"}} with INVALID_CREDENTIALS,
 * INVALID_CHALLENGE, INVALID_CODE.  require_2fa refuses accounts that
 * log in without a challenge.
 *
 * DOCS SILENT: nothing is cached.  AIUS returns a session token only, with
 * no refresh token and no logout to spend it on, so the token cache (which
 * keeps refresh tokens) has nothing to hold.  The session token of an
 * account refused by require_2fa is dropped unused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "api/api_parse.h"
#include "auth/flow_util.h"
#include "auth/flows.h"
#include "core/log.h"
#include "core/secret.h"

/* Recovery codes are short ("abcd-efgh-ijkl"); anything longer is a
 * mistake, not worth a request. */
#define AIUS_CODE_MAX 64

enum aius_state {
	AIUS_ASK_PASSWORD,
	AIUS_LOGGING_IN,
	AIUS_ASK_CODE,
	AIUS_VERIFYING,
};

struct aius {
	enum aius_state state;
	struct flow_password pw;
	char *challenge;		/* secret: it is the credential for /v1/2fa/login */
	unsigned failures;
};

static struct aius *
state_of(struct login *lg)
{
	return lg->flow_data;
}

static void
ask_code(struct login *lg)
{
	state_of(lg)->state = AIUS_ASK_CODE;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, "Authenticator or recovery code: ");
}

static void
wrong_code(struct login *lg)
{
	if (flow_code_failed(lg, &state_of(lg)->failures))
		ask_code(lg);
}

static void
on_2fa(struct login *lg, const struct http_response *resp)
{
	struct api_tokens tokens;
	struct api_error err;

	if (flow_service_failed(lg, resp, "2fa/login"))
		return;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "session_token", NULL, 0, &tokens) != 0) {
			login_unavailable(lg, "2fa/login: reply without a valid session_token");
			return;
		}
		api_tokens_wipe(&tokens);
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	log_debug("aius: 2fa/login for %s refused (%ld %s)", lg->user, resp->status, err.code);
	if (strcmp(err.code, "INVALID_CHALLENGE") == 0) {
		login_finish(lg, FR_RESULT_AUTH_ERR, "The login has expired, please start again");
		return;
	}
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	/* INVALID_CODE, and DOCS SILENT: any other 4xx from /v1/2fa/login
	 * also counts as a wrong code. */
	wrong_code(lg);
}

/* Trim blanks; a TOTP typed as "123 456" loses its inner space too.
 * False for an answer no server could accept. */
static bool
normalise_code(const char *answer, char *out, size_t cap)
{
	const char *s = answer, *e = answer + strlen(answer);
	bool digits_only = true;
	size_t n = 0;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (const char *p = s; p < e; p++)
		if (!((*p >= '0' && *p <= '9') || *p == ' '))
			digits_only = false;
	for (const char *p = s; p < e; p++) {
		if (digits_only && *p == ' ')
			continue;
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || n + 1 >= cap)
			return false;
		out[n++] = *p;
	}
	out[n] = '\0';
	return n > 0;
}

static void
on_code(struct login *lg, const char *answer)
{
	struct aius *st = state_of(lg);
	char code[AIUS_CODE_MAX + 1];

	if (!normalise_code(answer, code, sizeof(code))) {
		explicit_bzero(code, sizeof(code));
		wrong_code(lg);	/* costs an attempt, but no request */
		return;
	}
	json_t *body = json_pack("{s:s, s:s}", "challenge_token", st->challenge, "code", code);
	explicit_bzero(code, sizeof(code));
	if (body == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->state = AIUS_VERIFYING;
	login_post(lg, "/v1/2fa/login", body, NULL, false, on_2fa);
}

static void
on_login(struct login *lg, const struct http_response *resp)
{
	struct aius *st = state_of(lg);
	struct aius_login_reply reply;
	struct api_error err;

	flow_password_wipe(&st->pw);
	if (flow_service_failed(lg, resp, "login"))
		return;
	if (resp->status == 200) {
		if (api_parse_aius_login(resp->body, resp->body_len, &reply) != 0) {
			login_unavailable(lg, "login: reply with neither a session nor a 2FA challenge");
			return;
		}
		if (reply.kind == AIUS_LOGIN_CHALLENGE) {
			st->challenge = reply.challenge_token;
			reply.challenge_token = NULL;
			api_aius_login_wipe(&reply);
			ask_code(lg);
			return;
		}
		api_aius_login_wipe(&reply);
		if (lg->helper->cfg->require_2fa) {
			log_auth(LOG_NOTICE, "aius: %s has no two-factor authentication and require_2fa is set",
				 lg->user);
			login_finish(lg, FR_RESULT_AUTH_ERR,
				     "Two-factor authentication is required; enable it for your AIUS account");
			return;
		}
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	log_debug("aius: login of %s refused (%ld %s)", lg->user, resp->status, err.code);
	if (resp->status == 429) {
		flow_finish_rate_limited(lg, err.retry_after);
		return;
	}
	if (flow_password_retry(lg, &st->pw)) {
		st->state = AIUS_ASK_PASSWORD;
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR,
		     err.message[0] != '\0' ? err.message : "Invalid email or password");
}

static void
send_login(struct login *lg)
{
	struct aius *st = state_of(lg);
	if (!login_password_attempt(lg))
		return;
	char *name = login_remote_name(lg);

	if (name == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	json_t *body = json_pack("{s:s, s:s}", "email", name, "password", st->pw.password);
	free(name);
	if (body == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->state = AIUS_LOGGING_IN;
	login_post(lg, "/v1/login", body, NULL, false, on_login);
}

static void
aius_start(struct login *lg)
{
	struct aius *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lg->flow_data = st;
	st->state = AIUS_ASK_PASSWORD;
	if (flow_password_begin(lg, &st->pw))
		send_login(lg);
}

static void
aius_answer(struct login *lg, const char *text)
{
	struct aius *st = state_of(lg);

	switch (st->state) {
	case AIUS_ASK_PASSWORD:
		if (flow_password_set(lg, &st->pw, text))
			send_login(lg);
		return;
	case AIUS_ASK_CODE:
		on_code(lg, text);
		return;
	case AIUS_LOGGING_IN:
	case AIUS_VERIFYING:
		break;
	}
	/* The connection state table makes this unreachable. */
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

static void
aius_destroy(struct login *lg)
{
	struct aius *st = lg->flow_data;

	if (st == NULL)
		return;
	flow_password_wipe(&st->pw);
	secret_free(st->challenge);
	explicit_bzero(st, sizeof(*st));
	free(st);
	lg->flow_data = NULL;
}

const struct flow_ops flow_aius = {
	.name = "aius",
	.start = aius_start,
	.answer = aius_answer,
	.destroy = aius_destroy,
};
