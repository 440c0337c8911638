/*
 * AIUS (aius-authentication):
 *   POST /v1/login {email, password} -> session_token, or
 *     {requires_2fa: true, challenge_token} when the account has 2FA
 *   POST /v1/2fa/login {challenge_token, code} -> session_token; the code
 *     is the authenticator's TOTP or a recovery code, checked by AIUS.
 *   POST /v1/tokens with the session in the __Host-aius_session cookie
 *     -> a durable aius_ token, kept in the cache in place of a refresh
 *     token and checked with GET /v1/2fa/status (Authorization: Bearer).
 *   GET /v1/2fa/status, POST /v1/2fa/setup, /enable, /disable with that
 *     token: freddyctl 2fa.
 *   POST /v1/password/reset/request {email}, /confirm {token,
 *     new_password}: passwd.
 * Errors: {"detail": {"code", "message"}} with INVALID_CREDENTIALS,
 * INVALID_CHALLENGE, INVALID_CODE.  require_2fa refuses accounts that
 * log in without a challenge.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/aius.h"
#include "api/profile.h"
#include "core/secret.h"
#include "fr_error.h"

#define CODE_PROMPT    N_("Authenticator or recovery code: ")
#define SESSION_COOKIE "__Host-aius_session"
/* Host names are at most 64 bytes on Linux; the rest is room. */
#define TOKEN_NAME_MAX 128

struct aius {
	bool challenged;
	char challenge[API_CHALLENGE_MAX + 1]; /* secret: it is the credential for /v1/2fa/login */
};

static void
post_login(const char *name, const char *password, struct profile_step *out)
{
	step_post(out, "/v1/login", json_pack("{s:s, s:s}", "email", name, "password", password), false, NULL);
}

static void
aius_login(void *state, const struct config *cfg, const char *name, const char *password, struct profile_step *out)
{
	(void)state;
	(void)cfg;
	post_login(name, password, out);
}

/* The session, for the engine to mint the durable token from; it is
 * never cached. */
static void
succeed_with_session(struct profile_step *out, char **session)
{
	out->tokens.access_token = *session;
	out->tokens.expires_in = -1;
	*session = NULL;
	out->verdict = STEP_SUCCESS;
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
		out->factor = AUDIT_FACTOR_TOTP; /* until the answer says it is a recovery code */
		return;
	}
	if (cfg->require_2fa) {
		api_aius_login_wipe(&reply);
		step_refused(
		    out, fr_tr(out->lang, "Two-factor authentication is required; enable it for your AIUS account"));
		snprintf(out->note, sizeof(out->note), "has no two-factor authentication and require_2fa is set");
		return;
	}
	succeed_with_session(out, &reply.session_token);
	api_aius_login_wipe(&reply);
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
		out->tokens.expires_in = -1; /* the session is the engine's, to mint from */
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
 * False for an answer no server could accept.  *digits: all digits, a
 * TOTP (recovery codes have letters). */
static bool
normalise_code(const char *answer, char *out, size_t cap, bool *digits)
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
	*digits = digits_only;
	return n > 0;
}

bool
aius_normalise_code(const char *answer, char *out, size_t cap)
{
	bool digits;

	return normalise_code(answer, out, cap, &digits);
}

static void
aius_on_answer(void *state, const struct config *cfg, const char *answer, struct profile_step *out)
{
	struct aius *st = state;
	char code[AIUS_CODE_MAX + 1];
	bool digits = true;

	(void)cfg;
	if (!normalise_code(answer, code, sizeof(code), &digits)) {
		explicit_bzero(code, sizeof(code));
		step_wrong_answer(out, NULL); /* costs an attempt, but no request */
		return;
	}
	step_post(out, "/v1/2fa/login", json_pack("{s:s, s:s}", "challenge_token", st->challenge, "code", code), false,
		  NULL);
	out->factor = digits ? AUDIT_FACTOR_TOTP : AUDIT_FACTOR_RECOVERY_CODE;
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

/* ---- the durable token ------------------------------------------------- */

static void
durable_check(const char *token, struct profile_step *out)
{
	step_fetch(out, "GET", "/v1/2fa/status", token);
}

/* "pam_freddy HOST", so that the person can tell the helper's tokens
 * from their own in the AIUS console. */
static void
token_name(char *out, size_t cap)
{
	char host[TOKEN_NAME_MAX];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	snprintf(out, cap, "pam_freddy %s", host);
}

static void
durable_mint(const char *session, struct profile_step *out)
{
	char name[TOKEN_NAME_MAX + 16];
	size_t n = strlen(SESSION_COOKIE) + 1 + strlen(session) + 1;

	/* The session goes into a header: it must be a plain token. */
	if (!api_token_valid(session, strlen(session))) {
		step_unavailable(out, "the session token cannot go into a cookie");
		return;
	}
	token_name(name, sizeof(name));
	step_post(out, "/v1/tokens", json_pack("{s:s}", "token_name", name), false, NULL);
	if (out->verdict != STEP_REQUEST)
		return;
	if ((out->request.cookie = malloc(n)) == NULL) {
		step_wipe(out);
		step_unavailable(out, "out of memory building a request");
		return;
	}
	snprintf(out->request.cookie, n, "%s=%s", SESSION_COOKIE, session);
}

/* DOCS SILENT: the mint reply's example is missing; the token is taken
 * from its "token" member ({"token": "aius_…", …}). */
static int
durable_minted(const struct http_response *resp, char **token)
{
	*token = NULL;
	if (resp->status < 200 || resp->status >= 300)
		return FR_ERR_PERMISSION;
	return api_parse_aius_mint(resp->body, resp->body_len, token);
}

/* DOCS SILENT: enable and disable say nothing of a wrong code; a 401
 * whose detail.code is INVALID_CODE (the code of /v1/2fa/login) is a
 * wrong code, not a refused token.  Every other 401 refuses the token
 * ("invalid token", "missing bearer token", ...). */
static bool
durable_refused(const struct http_response *resp)
{
	struct api_error err;

	if (resp->status != 401)
		return false;
	api_parse_error(resp->body, resp->body_len, &err);
	return strcmp(err.code, "INVALID_CODE") != 0;
}

static const struct profile_durable aius_durable = {
	.check = durable_check,
	.mint = durable_mint,
	.minted = durable_minted,
	.refused = durable_refused,
};

/* ---- the password change ---------------------------------------------- */

/* The server's message, else ours: an N_() text, which the engine shows
 * through fr_tr (the server's own words pass through it unchanged). */
static void
copy_message(char *text, const struct http_response *resp, const char *fallback)
{
	struct api_error err;

	api_parse_error(resp->body, resp->body_len, &err);
	snprintf(text, PROFILE_TEXT_MAX, "%s", err.message[0] != '\0' ? err.message : fallback);
}

/* A 2FA challenge is as good as a session here: the password was right
 * (the rule).  Neither is used; both are wiped. */
static enum passwd_reply
password_checked(const struct http_response *resp, char *text)
{
	struct aius_login_reply reply;

	if (resp->status != 200) {
		copy_message(text, resp, N_("Invalid email or password"));
		return PASSWD_WRONG_PASSWORD;
	}
	if (api_parse_aius_login(resp->body, resp->body_len, &reply) != 0) {
		snprintf(text, PROFILE_TEXT_MAX, "login: reply with neither a session nor a 2FA challenge");
		return PASSWD_UNUSABLE;
	}
	api_aius_login_wipe(&reply);
	return PASSWD_GO_ON;
}

static void
request_code(const char *name, struct profile_step *out)
{
	step_post(out, "/v1/password/reset/request", json_pack("{s:s}", "email", name), false, NULL);
}

/* "always 200, even if the email is unknown": any 2xx goes on. */
static enum passwd_reply
code_requested(const struct http_response *resp, char *text)
{
	if (resp->status >= 200 && resp->status < 300)
		return PASSWD_GO_ON;
	copy_message(text, resp, N_("The password reset could not be requested"));
	return PASSWD_REFUSED;
}

static void
confirm(const char *code, const char *new_password, struct profile_step *out)
{
	step_post(out, "/v1/password/reset/confirm",
		  json_pack("{s:s, s:s}", "token", code, "new_password", new_password), false, NULL);
}

/* DOCS SILENT: the confirm errors are not documented.  A reset token
 * refused (INVALID_RESET_TOKEN) is asked again, the new password kept;
 * any other 400 or 422 refuses the new password (too weak, say), which is
 * asked again with the code kept; 401 and 403 end the change. */
static enum passwd_reply
confirmed(const struct http_response *resp, char *text)
{
	struct api_error err;

	if (resp->status >= 200 && resp->status < 300)
		return PASSWD_GO_ON;
	api_parse_error(resp->body, resp->body_len, &err);
	if (strcmp(err.code, "INVALID_RESET_TOKEN") == 0)
		return PASSWD_WRONG_CODE;
	if (resp->status == 401 || resp->status == 403) {
		copy_message(text, resp, N_("The password change was refused"));
		return PASSWD_REFUSED;
	}
	copy_message(text, resp, N_("The new password was refused"));
	return PASSWD_WEAK;
}

static const struct profile_passwd aius_passwd = {
	.check_password = post_login,
	.password_checked = password_checked,
	.request_code = request_code,
	.code_requested = code_requested,
	.confirm = confirm,
	.confirmed = confirmed,
};

/* ---- 2FA managed by its owner (freddyctl 2fa) --------------------------- */

void
aius_twofa_request(enum twofa_op op, const char *token, const char *code, struct profile_step *out)
{
	switch (op) {
	case TWOFA_STATUS:
		step_fetch(out, "GET", "/v1/2fa/status", token);
		return;
	case TWOFA_SETUP:
		/* DOCS SILENT: the setup request shows no body; {} is sent. */
		step_post(out, "/v1/2fa/setup", json_object(), false, token);
		return;
	case TWOFA_ENABLE:
	case TWOFA_DISABLE:
		/* DOCS SILENT: the bodies of enable and disable are not shown;
		 * {"code": "…"} is sent, the code as a string as at /v1/2fa/login. */
		step_post(out, op == TWOFA_ENABLE ? "/v1/2fa/enable" : "/v1/2fa/disable",
			  json_pack("{s:s}", "code", code), false, token);
		return;
	}
	step_unavailable(out, "no such request");
}

static const char *
twofa_fallback(const char *code)
{
	if (strcmp(code, "TWO_FACTOR_NOT_SET_UP") == 0)
		return N_("Run freddyctl 2fa setup first");
	if (strcmp(code, "TWO_FACTOR_NOT_ENABLED") == 0)
		return N_("Two-factor authentication is not enabled");
	if (strcmp(code, "TWO_FACTOR_ALREADY_ENABLED") == 0)
		return N_("Two-factor authentication is already enabled");
	return N_("The AIUS API refused the request");
}

static bool
twofa_parsed(enum twofa_op op, const struct http_response *resp, struct twofa_result *out)
{
	switch (op) {
	case TWOFA_STATUS:
		return api_parse_twofa_status(resp->body, resp->body_len, &out->enabled) == 0;
	case TWOFA_SETUP:
		return api_parse_twofa_setup(resp->body, resp->body_len, &out->secret) == 0;
	case TWOFA_ENABLE:
		out->enabled = true;
		return api_parse_twofa_enable(resp->body, resp->body_len, &out->codes) == 0;
	case TWOFA_DISABLE:
		out->enabled = false;
		return api_parse_twofa_disable(resp->body, resp->body_len) == 0;
	}
	return false;
}

void
aius_twofa_reply(enum twofa_op op, const struct http_response *resp, struct twofa_result *out)
{
	struct api_error err;

	memset(out, 0, sizeof(*out));
	if (resp->status >= 200 && resp->status < 300) {
		out->verdict = twofa_parsed(op, resp, out) ? ACCOUNT_DONE : ACCOUNT_UNUSABLE;
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	/* A wrong code: 400 INVALID_CODE, or the 401 of durable_refused. */
	if ((op == TWOFA_ENABLE || op == TWOFA_DISABLE) && strcmp(err.code, "INVALID_CODE") == 0) {
		out->verdict = ACCOUNT_WRONG_CODE;
		return;
	}
	out->verdict = ACCOUNT_REFUSED;
	snprintf(out->text, sizeof(out->text), "%s", err.message[0] != '\0' ? err.message : twofa_fallback(err.code));
}

void
twofa_result_wipe(struct twofa_result *r)
{
	api_twofa_secret_wipe(&r->secret);
	api_recovery_codes_wipe(&r->codes);
	explicit_bzero(r, sizeof(*r));
}

const struct profile profile_aius = {
	.name = "aius",
	.state_size = sizeof(struct aius),
	.login = aius_login,
	.on_reply = aius_on_reply,
	.on_answer = aius_on_answer,
	.again_prompt = aius_again_prompt,
	.wipe = aius_wipe,
	.durable = &aius_durable,
	.passwd = &aius_passwd,
};
