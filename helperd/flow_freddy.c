/*
 * The Freddy email-code flow (freddy-authentication-guide):
 *   POST /auth/login {email_or_username, password} -> email_key, a code is emailed
 *   POST /auth/verify {email_key, verification_code} -> token, refreshToken
 *   POST /auth/resend-email {email_key} when the person answers with an empty line
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_parse.h"
#include "cached_auth.h"
#include "flows.h"
#include "fr_error.h"
#include "log.h"
#include "offline_login.h"
#include "secret.h"
#include "token_cache.h"
#include "verifier.h"

/* The guide's token lifetime table: access tokens last 24 hours.  Used
 * when a reply carries no expires_in. */
#define FREDDY_DEFAULT_ACCESS_TTL 86400

enum freddy_state {
	FREDDY_ASK_PASSWORD,
	FREDDY_LOGGING_IN,
	FREDDY_ASK_CODE,
	FREDDY_VERIFYING,
	FREDDY_RESENDING,
	FREDDY_CACHED_AUTH,		/* cached_auth.c is refreshing the token */
	FREDDY_OFFLINE_CODE,		/* offline_login.c asked for a TOTP code */
};

struct freddy {
	enum freddy_state state;
	char *password;			/* secret */
	bool password_from_stack;	/* came from PAM_AUTHTOK */
	unsigned failures;		/* wrong codes so far */
	unsigned resends;
	char email_key[API_EMAIL_KEY_MAX + 1];
	char masked_email[API_EMAIL_MAX + 8];
	char *verifier;			/* of the password the API accepted, for the cache */
	struct cached_attempt *cached;
};

static void ask_password(struct login *lg);
static void ask_code(struct login *lg);

static struct freddy *
state_of(struct login *lg)
{
	return lg->flow_data;
}

/* "Too many login attempts, try again in 5 minutes" */
static void
finish_rate_limited(struct login *lg, long retry_after)
{
	char text[96];

	if (retry_after >= 60)
		snprintf(text, sizeof(text), "Too many login attempts, try again in %ld minute%s",
			 (retry_after + 59) / 60, (retry_after + 59) / 60 == 1 ? "" : "s");
	else if (retry_after > 0)
		snprintf(text, sizeof(text), "Too many login attempts, try again in %ld second%s",
			 retry_after, retry_after == 1 ? "" : "s");
	else
		snprintf(text, sizeof(text), "Too many login attempts, try again later");
	login_finish(lg, FR_RESULT_MAXTRIES, text);
}

/* Everything that is neither an answer nor a client error: the service
 * could not be asked properly. */
static bool
service_failed(struct login *lg, const struct http_response *resp, const char *step)
{
	char why[160];

	if (resp->outcome != HTTP_ANSWERED) {
		snprintf(why, sizeof(why), "%s: %s (%s)", step, http_outcome_name(resp->outcome), resp->error);
	} else if (resp->status >= 500 || resp->status < 200 ||
		   (resp->status >= 300 && resp->status < 400)) {
		snprintf(why, sizeof(why), "%s: HTTP status %ld", step, resp->status);
	} else {
		return false;
	}
	login_unavailable(lg, why);
	return true;
}

static void
store_tokens(struct login *lg, struct api_tokens *tokens)
{
	time_t now = time(NULL);
	struct cache_record rec = {
		.refresh_token = tokens->refresh_token,
		.access_token = tokens->access_token,
		.access_expires = now + (tokens->expires_in > 0 ? tokens->expires_in : FREDDY_DEFAULT_ACCESS_TTL),
		.last_login = now,
		.verifier = state_of(lg)->verifier,
		.last_online = now,
	};
	int r = token_cache_store(lg->helper->cache, lg->user, &rec);

	if (r != 0)
		log_err("freddy: login of %s succeeded but its tokens were not cached: %s", lg->user,
			fr_strerror(r));
}

static void
on_verify(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct api_error err;
	struct api_tokens tokens;
	char text[64];

	if (service_failed(lg, resp, "verify"))
		return;
	if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, "token", "refreshToken",
				     API_REFRESH_REQUIRED, &tokens) != 0) {
			login_unavailable(lg, "verify: reply without valid tokens");
			return;
		}
		store_tokens(lg, &tokens);
		api_tokens_wipe(&tokens);
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		finish_rate_limited(lg, err.retry_after);
		return;
	}
	/* DOCS SILENT: the guide names no error for a wrong code.  Any other
	 * 4xx from /auth/verify counts as a wrong code. */
	st->failures++;
	log_debug("freddy: verify for %s refused (%ld %s)", lg->user, resp->status, err.code);
	if (st->failures >= lg->helper->cfg->max_code_attempts) {
		login_finish(lg, FR_RESULT_MAXTRIES, "Invalid code, no attempts left");
		return;
	}
	unsigned left = lg->helper->cfg->max_code_attempts - st->failures;
	snprintf(text, sizeof(text), "Invalid code, %u attempt%s left", left, left == 1 ? "" : "s");
	login_error(lg, text);
	ask_code(lg);
}

static void
on_resend(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct api_error err;
	char text[API_EMAIL_MAX + 64];

	if (service_failed(lg, resp, "resend-email"))
		return;
	if (resp->status == 200) {
		st->resends++;
		snprintf(text, sizeof(text), "A new code was emailed to %s.", st->masked_email);
		login_info(lg, text);
		ask_code(lg);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		finish_rate_limited(lg, err.retry_after);
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR, "The login has expired, please start again");
}

static void
send_verify(struct login *lg, unsigned code)
{
	struct freddy *st = state_of(lg);

	st->state = FREDDY_VERIFYING;
	/* The guide sends the code as a JSON integer (2290), so codes are
	 * 4 digits without a leading zero in practice; we send the number. */
	login_post(lg, "/auth/verify",
		   json_pack("{s:s, s:i}", "email_key", st->email_key, "verification_code", (int)code),
		   NULL, false, on_verify);
}

static void
ask_code(struct login *lg)
{
	state_of(lg)->state = FREDDY_ASK_CODE;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, "4-digit code (Enter for a new one): ");
}

static void
on_code(struct login *lg, const char *answer)
{
	struct freddy *st = state_of(lg);
	char code[8];
	size_t n = 0;

	for (const char *p = answer; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (*p < '0' || *p > '9' || n >= 4) {
			n = 5;	/* not a code */
			break;
		}
		code[n++] = *p;
	}
	if (n == 0 && st->resends < lg->helper->cfg->max_resends) {
		st->state = FREDDY_RESENDING;
		login_post(lg, "/auth/resend-email", json_pack("{s:s}", "email_key", st->email_key), NULL,
			   false, on_resend);
		return;
	}
	if (n != 4) {
		/* Malformed answers cost an attempt but no request. */
		struct http_response fake = { .outcome = HTTP_ANSWERED, .status = 400, .body = "", .body_len = 0 };
		if (n == 0)
			login_error(lg, "No more codes can be sent");
		on_verify(lg, &fake);
		explicit_bzero(code, sizeof(code));
		return;
	}
	unsigned value = (unsigned)(code[0] - '0') * 1000 + (unsigned)(code[1] - '0') * 100 +
			 (unsigned)(code[2] - '0') * 10 + (unsigned)(code[3] - '0');
	explicit_bzero(code, sizeof(code));
	send_verify(lg, value);
}

static void
on_login(struct login *lg, const struct http_response *resp)
{
	struct freddy *st = state_of(lg);
	struct freddy_login_reply reply;
	struct api_error err;
	char text[API_EMAIL_MAX + 64];

	/* DOCS SILENT: only a transport failure (refused, DNS, timeout)
	 * opens the offline path; a TLS failure may be an impostor and a 5xx
	 * is a server that answers, so both stay "unavailable". */
	if (resp->outcome == HTTP_UNREACHABLE) {
		switch (offline_login_try(lg, st->password)) {
		case OFFLINE_FINISHED:
			return;
		case OFFLINE_ASK_CODE:
			secret_free(st->password);
			st->password = NULL;
			st->state = FREDDY_OFFLINE_CODE;
			return;
		case OFFLINE_NOT_APPLICABLE:
			break;
		}
	}
	/* The verifier is kept only when a feature will read it. */
	if (resp->outcome == HTTP_ANSWERED && resp->status == 200 && st->password != NULL &&
	    (lg->helper->cfg->cached_auth_timeout > 0 || lg->helper->cfg->offline_login)) {
		free(st->verifier);
		st->verifier = verifier_make(st->password);
	}
	secret_free(st->password);
	st->password = NULL;
	if (service_failed(lg, resp, "login"))
		return;
	if (resp->status == 200) {
		if (api_parse_freddy_login(resp->body, resp->body_len, &reply) != 0) {
			login_unavailable(lg, "login: reply without a valid email_key");
			return;
		}
		memcpy(st->email_key, reply.email_key, sizeof(st->email_key));
		if (!api_mask_email(reply.email, st->masked_email, sizeof(st->masked_email)))
			snprintf(st->masked_email, sizeof(st->masked_email), "your email address");
		snprintf(text, sizeof(text), "A verification code was emailed to %s.", st->masked_email);
		login_info(lg, text);
		ask_code(lg);
		return;
	}
	api_parse_error(resp->body, resp->body_len, &err);
	if (resp->status == 429) {
		finish_rate_limited(lg, err.retry_after);
		return;
	}
	/* try_first_pass: the stacked password was not ours; ask once. */
	if (st->password_from_stack && lg->authtok_mode == FR_AUTHTOK_TRY) {
		st->password_from_stack = false;
		ask_password(lg);
		return;
	}
	login_finish(lg, FR_RESULT_AUTH_ERR,
		     err.message[0] != '\0' ? err.message : "Invalid user name or password");
}

static void
send_login(struct login *lg)
{
	struct freddy *st = state_of(lg);
	char *name = login_remote_name(lg);

	if (name != NULL && st->state != FREDDY_CACHED_AUTH &&
	    cached_auth_try(lg, st->password, send_login, &st->cached)) {
		st->state = FREDDY_CACHED_AUTH;
		free(name);
		return;
	}

	if (name == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	st->state = FREDDY_LOGGING_IN;
	login_post(lg, "/auth/login",
		   json_pack("{s:s, s:s}", "email_or_username", name, "password", st->password), NULL,
		   false, on_login);
	free(name);
}

static void
ask_password(struct login *lg)
{
	state_of(lg)->state = FREDDY_ASK_PASSWORD;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, FR_PROMPT_IS_PASSWORD, "Password: ");
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
	if (lg->authtok != NULL) {
		if ((st->password = secret_strdup(lg->authtok)) == NULL) {
			login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
			return;
		}
		st->password_from_stack = true;
		send_login(lg);
	} else if (lg->authtok_mode == FR_AUTHTOK_USE) {
		login_finish(lg, FR_RESULT_AUTH_ERR, NULL);
	} else {
		ask_password(lg);
	}
}

static void
freddy_answer(struct login *lg, const char *text)
{
	struct freddy *st = state_of(lg);

	switch (st->state) {
	case FREDDY_ASK_PASSWORD:
		if (secret_set(&st->password, text) != 0) {
			login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
			return;
		}
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
	cached_auth_cancel(lg, &st->cached);
	free(st->verifier);
	secret_free(st->password);
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
