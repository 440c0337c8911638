/*
 * The Freddy API (freddy-authentication-guide, freddy-dev-login).
 *
 * Email code (second_factor = email):
 *   POST /auth/login {email_or_username, password} -> email_key; a code is emailed
 *   POST /auth/verify {email_key, verification_code} -> token, refreshToken
 *   POST /auth/resend-email {email_key} when the person answers with an empty line
 * Authenticator app (second_factor = totp):
 *   POST /auth/dev-login {email_or_username, password} with X-API-Key
 *     -> access_token, refresh_token; no email is sent, and the engine
 *     checks a local TOTP code before the login counts.
 * Refresh (step 4 of the guide): {"refresh_token"} -> {"token", "device_id"}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/profile.h"
#include "core/secret.h"

/* The guide's token lifetime table: access tokens last 24 hours.  Used
 * when a reply carries no expires_in; DOCS SILENT: the refresh reply has
 * none either, so the same is assumed. */
#define FREDDY_ACCESS_TTL 86400
#define CODE_PROMPT	  N_("4-digit code, or Enter to resend: ")

enum freddy_phase { FREDDY_LOGGING_IN = 0, FREDDY_VERIFYING, FREDDY_RESENDING };

struct freddy {
	enum freddy_phase phase;
	unsigned resends;
	/* From the login reply; allocated then, not before: a storm's
	 * thousand logins waiting for that reply hold neither. */
	char *email_key;    /* secret_free */
	char *masked_email; /* NULL when the reply had none that masks */
};

static const struct profile_refresh freddy_refresh = {
	.path = "/auth/refresh",
	.request_key = "refresh_token",
	.reply_access_key = "token",
	.reply_refresh_key = NULL,
	.default_ttl = FREDDY_ACCESS_TTL,
};

static void
email_login(void *state, const struct config *cfg, const char *name, const char *password, struct profile_step *out)
{
	struct freddy *st = state;

	(void)cfg;
	st->phase = FREDDY_LOGGING_IN;
	step_post(out, "/auth/login", json_pack("{s:s, s:s}", "email_or_username", name, "password", password), false,
		  NULL);
}

/* "Code emailed to u***@example.com." above the prompt: short lines that
 * a screen locker's narrow label column does not break mid-phrase.  Four
 * whole sentences rather than pieces put together, so that each language
 * can word them its own way; the masked address goes in as it is. */
static void
announce_code(struct freddy *st, bool again, struct profile_step *out)
{
	char info[PROFILE_TEXT_MAX];

	if (st->masked_email == NULL)
		snprintf(info, sizeof(info), "%s",
			 again ? fr_tr(out->lang, "New code emailed to your email address.") :
				 fr_tr(out->lang, "Code emailed to your email address."));
	else if (again)
		snprintf(info, sizeof(info), fr_tr(out->lang, "New code emailed to %s."), st->masked_email);
	else
		snprintf(info, sizeof(info), fr_tr(out->lang, "Code emailed to %s."), st->masked_email);
	step_prompt(out, info, fr_tr(out->lang, CODE_PROMPT));
	out->factor = AUDIT_FACTOR_EMAIL_CODE;
}

static void
on_login_reply(struct freddy *st, const struct http_response *resp, struct profile_step *out)
{
	struct freddy_login_reply reply;
	struct api_error err;

	if (resp->status == 200) {
		if (api_parse_freddy_login(resp->body, resp->body_len, &reply) != 0) {
			step_unavailable(out, "login: reply without a valid email_key");
			return;
		}
		char masked[API_EMAIL_MAX + 8];
		bool has_mask = api_mask_email(reply.email, masked, sizeof(masked));
		secret_free(st->email_key);
		free(st->masked_email);
		st->email_key = secret_strndup(reply.email_key, strlen(reply.email_key));
		st->masked_email = has_mask ? strdup(masked) : NULL;
		explicit_bzero(&reply, sizeof(reply));
		if (st->email_key == NULL || (has_mask && st->masked_email == NULL)) {
			step_unavailable(out, "login: out of memory");
			return;
		}
		announce_code(st, false, out);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	/* The API's own message, as it wrote it (and in its language), when
	 * it sent one: server text, shown as data, never looked up. */
	step_refused(out, err.message[0] != '\0' ? err.message : fr_tr(out->lang, "Invalid user name or password"));
}

static void
email_on_reply(void *state, const struct config *cfg, const struct http_response *resp, struct profile_step *out)
{
	struct freddy *st = state;

	(void)cfg;
	switch (st->phase) {
	case FREDDY_LOGGING_IN:
		on_login_reply(st, resp, out);
		return;
	case FREDDY_VERIFYING:
		if (resp->status != 200) {
			/* DOCS SILENT: the guide names no error for a wrong
			 * code.  Any 4xx from /auth/verify is a wrong code. */
			step_wrong_answer(out, NULL);
			return;
		}
		if (api_parse_tokens(resp->body, resp->body_len, "token", "refreshToken", API_REFRESH_REQUIRED,
				     &out->tokens) != 0) {
			step_unavailable(out, "verify: reply without valid tokens");
			return;
		}
		out->verdict = STEP_SUCCESS;
		return;
	case FREDDY_RESENDING:
		if (resp->status != 200) {
			step_refused(out, fr_tr(out->lang, "The login has expired, please start again"));
			return;
		}
		st->resends++;
		announce_code(st, true, out);
		return;
	}
	step_unavailable(out, "reply in an unknown phase");
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
email_on_answer(void *state, const struct config *cfg, const char *answer, struct profile_step *out)
{
	struct freddy *st = state;
	int code = parse_code(answer);

	if (st->email_key == NULL) {
		step_unavailable(out, "a code before the login reply");
		return;
	}

	if (code == -1 && st->resends < cfg->max_resends) {
		st->phase = FREDDY_RESENDING;
		step_post(out, "/auth/resend-email", json_pack("{s:s}", "email_key", st->email_key), false, NULL);
		return;
	}
	if (code < 0) {
		/* A malformed answer costs an attempt but no request. */
		step_wrong_answer(out, code == -1 ? fr_tr(out->lang, "No more codes can be sent") : NULL);
		return;
	}
	st->phase = FREDDY_VERIFYING;
	/* The guide sends the code as a JSON integer (2290), so codes are
	 * 4 digits without a leading zero in practice; we send the number. */
	step_post(out, "/auth/verify", json_pack("{s:s, s:i}", "email_key", st->email_key, "verification_code", code),
		  false, NULL);
}

static const char *
email_again_prompt(void *state)
{
	(void)state;
	return CODE_PROMPT;
}

static void
freddy_wipe(void *state)
{
	struct freddy *st = state;

	secret_free(st->email_key);
	free(st->masked_email);
	explicit_bzero(st, sizeof(*st));
}

const struct profile profile_freddy_email = {
	.name = "freddy",
	.state_size = sizeof(struct freddy),
	.default_ttl = FREDDY_ACCESS_TTL,
	.refresh = &freddy_refresh,
	.login = email_login,
	.on_reply = email_on_reply,
	.on_answer = email_on_answer,
	.again_prompt = email_again_prompt,
	.wipe = freddy_wipe,
};

/* ---- dev-login, for the authenticator-app second factor ----------------- */

static void
dev_login(void *state, const struct config *cfg, const char *name, const char *password, struct profile_step *out)
{
	(void)state;
	(void)cfg;
	/* device_information is optional and left out. */
	step_post(out, "/auth/dev-login", json_pack("{s:s, s:s}", "email_or_username", name, "password", password),
		  true, NULL);
}

/* The page's 401 AUTHENTICATION_REQUIRED and 403 INSUFFICIENT_PERMISSIONS
 * are about the API key in api_key_file, not about the person: the login
 * is unavailable.  DOCS SILENT: the page names no error for a wrong
 * password; any other 4xx is a refused password. */
static bool
dev_login_key_refused(long status, const char *code)
{
	return status == 403 || strcmp(code, "AUTHENTICATION_REQUIRED") == 0 ||
	       strcmp(code, "INSUFFICIENT_PERMISSIONS") == 0;
}

static void
dev_login_on_reply(void *state, const struct config *cfg, const struct http_response *resp, struct profile_step *out)
{
	struct api_error err;
	char why[PROFILE_TEXT_MAX];

	(void)state;
	(void)cfg;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "access_token", "refresh_token", API_REFRESH_REQUIRED,
				     &out->tokens) != 0) {
			step_unavailable(out, "login: reply without valid tokens");
			return;
		}
		out->verdict = STEP_SUCCESS;
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (dev_login_key_refused(resp->status, err.code)) {
		snprintf(why, sizeof(why), "/auth/dev-login: the API refused the helper's API key (HTTP %ld %s)",
			 resp->status, err.code);
		step_unavailable(out, why);
		return;
	}
	step_refused(out, err.message[0] != '\0' ? err.message : fr_tr(out->lang, "Invalid user name or password"));
}

const struct profile profile_freddy_totp = {
	.name = "freddy-totp",
	.state_size = sizeof(struct freddy),
	.local_totp = true,
	.default_ttl = FREDDY_ACCESS_TTL,
	.refresh = &freddy_refresh,
	.login = dev_login,
	.on_reply = dev_login_on_reply,
	.wipe = freddy_wipe,
};
