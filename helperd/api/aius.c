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
 * keeps refresh tokens) has nothing to hold.
 */
#include "config.h"

#include <string.h>

#include "api/profile.h"
#include "core/secret.h"

/* Recovery codes are short ("abcd-efgh-ijkl"); anything longer is a
 * mistake, not worth a request. */
#define AIUS_CODE_MAX 64
#define CODE_PROMPT   N_("Authenticator or recovery code: ")

struct aius {
	bool challenged;
	char challenge[API_CHALLENGE_MAX + 1]; /* secret: it is the credential for /v1/2fa/login */
};

static void
aius_login(void *state, const struct config *cfg, const char *name, const char *password, struct profile_step *out)
{
	(void)state;
	(void)cfg;
	step_post(out, "/v1/login", json_pack("{s:s, s:s}", "email", name, "password", password), false, NULL);
}

static void
on_login_reply(struct aius *st, const struct config *cfg, const struct http_response *resp, struct profile_step *out)
{
	struct aius_login_reply reply;
	struct api_error err;

	if (resp->status != 200) {
		api_parse_error(resp->body, resp->body_len, &err);
		step_refused(out, err.message[0] != '\0' ? err.message : fr_tr(out->lang, "Invalid email or password"));
		return;
	}
	if (api_parse_aius_login(resp->body, resp->body_len, &reply) != 0) {
		step_unavailable(out, "login: reply with neither a session nor a 2FA challenge");
		return;
	}
	if (reply.kind == AIUS_LOGIN_CHALLENGE) {
		/* api_parse caps it at API_CHALLENGE_MAX. */
		memcpy(st->challenge, reply.challenge_token, strlen(reply.challenge_token) + 1);
		st->challenged = true;
		api_aius_login_wipe(&reply);
		step_prompt(out, NULL, fr_tr(out->lang, CODE_PROMPT));
		return;
	}
	api_aius_login_wipe(&reply);
	if (cfg->require_2fa) {
		step_refused(
		    out, fr_tr(out->lang, "Two-factor authentication is required; enable it for your AIUS account"));
		snprintf(out->note, sizeof(out->note), "has no two-factor authentication and require_2fa is set");
		return;
	}
	out->verdict = STEP_SUCCESS; /* the session token is dropped unused */
}

static void
on_2fa_reply(const struct http_response *resp, struct profile_step *out)
{
	struct api_error err;

	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "session_token", NULL, 0, &out->tokens) != 0) {
			step_unavailable(out, "2fa/login: reply without a valid session_token");
			return;
		}
		api_tokens_wipe(&out->tokens); /* nothing to cache (see above) */
		out->tokens.expires_in = -1;
		out->verdict = STEP_SUCCESS;
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (strcmp(err.code, "INVALID_CHALLENGE") == 0) {
		step_refused(out, fr_tr(out->lang, "The login has expired, please start again"));
		return;
	}
	/* INVALID_CODE, and DOCS SILENT: any other 4xx from /v1/2fa/login
	 * also counts as a wrong code. */
	step_wrong_answer(out, NULL);
}

static void
aius_on_reply(void *state, const struct config *cfg, const struct http_response *resp, struct profile_step *out)
{
	struct aius *st = state;

	if (st->challenged)
		on_2fa_reply(resp, out);
	else
		on_login_reply(st, cfg, resp, out);
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
aius_on_answer(void *state, const struct config *cfg, const char *answer, struct profile_step *out)
{
	struct aius *st = state;
	char code[AIUS_CODE_MAX + 1];

	(void)cfg;
	if (!normalise_code(answer, code, sizeof(code))) {
		explicit_bzero(code, sizeof(code));
		step_wrong_answer(out, NULL); /* costs an attempt, but no request */
		return;
	}
	step_post(out, "/v1/2fa/login", json_pack("{s:s, s:s}", "challenge_token", st->challenge, "code", code), false,
		  NULL);
	explicit_bzero(code, sizeof(code));
}

static const char *
aius_again_prompt(void *state)
{
	(void)state;
	return CODE_PROMPT;
}

static void
aius_wipe(void *state)
{
	explicit_bzero(state, sizeof(struct aius));
}

const struct profile profile_aius = {
	.name = "aius",
	.state_size = sizeof(struct aius),
	.login = aius_login,
	.on_reply = aius_on_reply,
	.on_answer = aius_on_answer,
	.again_prompt = aius_again_prompt,
	.wipe = aius_wipe,
};
