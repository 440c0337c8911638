#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "api/api_health.h"
#include "auth/cached_auth.h"
#include "auth/flow_util.h"
#include "fr_error.h"
#include "core/log.h"
#include "auth/offline_login.h"
#include "core/secret.h"
#include "store/token_cache.h"
#include "store/totp_replay.h"
#include "crypto/verifier_worker.h"

bool
flow_password_begin(struct login *lg, struct flow_password *pw)
{
	if (lg->authtok != NULL) {
		if ((pw->password = secret_strdup(lg->authtok)) == NULL) {
			login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
			return false;
		}
		pw->from_stack = true;
		return true;
	}
	if (lg->authtok_mode == FR_AUTHTOK_USE) {
		login_finish(lg, FR_RESULT_AUTH_ERR, NULL);
		return false;
	}
	flow_password_ask(lg);
	return false;
}

void
flow_password_ask(struct login *lg)
{
	login_prompt(lg, FR_PROMPT_ECHO_OFF, FR_PROMPT_IS_PASSWORD, "Password: ");
}

bool
flow_password_set(struct login *lg, struct flow_password *pw, const char *answer)
{
	if (secret_set(&pw->password, answer) != 0) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return false;
	}
	return true;
}

bool
flow_password_retry(struct login *lg, struct flow_password *pw)
{
	if (!pw->from_stack || lg->authtok_mode != FR_AUTHTOK_TRY)
		return false;
	pw->from_stack = false;
	flow_password_ask(lg);
	return true;
}

void
flow_password_wipe(struct flow_password *pw)
{
	secret_free(pw->password);
	pw->password = NULL;
}

void
flow_password_free(struct login *lg, struct flow_password *pw)
{
	cached_auth_cancel(lg, &pw->cached);
	flow_password_wipe(pw);
	verifier_job_cancel(&pw->verifier_job);
}

bool
flow_password_try_cached(struct login *lg, struct flow_password *pw, void (*resume)(struct login *lg))
{
	/* Once it has declined (resume was called), never try it again. */
	if (pw->cached_tried || pw->password == NULL)
		return false;
	pw->cached_tried = true;
	return cached_auth_try(lg, pw->password, resume, &pw->cached);
}

enum flow_offline
flow_password_try_offline(struct login *lg, struct flow_password *pw, const struct http_response *resp)
{
	/* DOCS SILENT: only a transport failure (refused, DNS, timeout)
	 * opens the offline path; a TLS failure may be an impostor and a 5xx
	 * is a server that answers, so both stay "unavailable", as does a
	 * failure of this host's own resources (a local user who exhausts the
	 * ports must not switch Freddy off).  And only an outage that has
	 * lasted offline_after seconds, seen by the probes: one failed request
	 * is no outage. */
	if (resp->outcome != HTTP_UNREACHABLE || pw->password == NULL || !lg->helper->cfg->offline_login)
		return FLOW_OFFLINE_NO;
	if (!api_health_outage_for(lg->helper->health, lg->helper->cfg->offline_after)) {
		log_auth(LOG_NOTICE, "%s: the API is unreachable, but not yet for offline_after = %u s; "
			 "no offline login for %s", lg->flow->name, lg->helper->cfg->offline_after, lg->user);
		return FLOW_OFFLINE_NO;
	}
	switch (offline_login_try(lg, pw->password)) {
	case OFFLINE_FINISHED:
		return FLOW_OFFLINE_FINISHED;
	case OFFLINE_ASK_CODE:
		flow_password_wipe(pw);
		return FLOW_OFFLINE_ASK_CODE;
	case OFFLINE_NOT_APPLICABLE:
		break;
	}
	return FLOW_OFFLINE_NO;
}

void
flow_password_accepted(struct login *lg, struct flow_password *pw)
{
	const struct config *cfg = lg->helper->cfg;

	/* The verifier is kept only when a feature will read it. */
	if (pw->password == NULL || (cfg->cached_auth_timeout == 0 && !cfg->offline_login))
		return;
	verifier_job_cancel(&pw->verifier_job);
	int r = verifier_job_start(lg->helper->verifiers, pw->password, lg->peer.uid, &pw->verifier_job);
	if (r != 0)
		log_err("%s: no password verifier for %s: %s", lg->flow->name, lg->user, fr_strerror(r));
}

void
flow_finish_rate_limited(struct login *lg, long retry_after)
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

bool
flow_service_failed(struct login *lg, const struct http_response *resp, const char *step)
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

bool
flow_code_failed(struct login *lg, unsigned *failures)
{
	unsigned max = lg->helper->cfg->max_code_attempts;
	char text[64];

	(*failures)++;
	if (*failures >= max) {
		login_finish(lg, FR_RESULT_MAXTRIES, "Invalid code, no attempts left");
		return false;
	}
	snprintf(text, sizeof(text), "Invalid code, %u attempt%s left", max - *failures,
		 max - *failures == 1 ? "" : "s");
	login_error(lg, text);
	return true;
}

void
flow_store_tokens(struct login *lg, const struct api_tokens *tokens, long default_ttl,
		  struct flow_password *pw)
{
	time_t now = time(NULL);
	char *verifier = pw != NULL ? verifier_job_take(&pw->verifier_job) : NULL;
	struct cache_record rec = {
		.refresh_token = tokens->refresh_token,
		.access_token = tokens->access_token,
		.access_expires = now + (tokens->expires_in > 0 ? tokens->expires_in : default_ttl),
		.last_login = now,
		.verifier = verifier,
		.last_online = now,
	};

	if (tokens->refresh_token == NULL) {
		/* The cache keeps refresh tokens; without one there is nothing
		 * it could renew, so nothing is stored. */
		log_info("%s: login of %s returned no refresh token; nothing cached", lg->flow->name,
			 lg->user);
		free(verifier);
		return;
	}
	int r = token_cache_store(lg->helper->cache, lg->user, &rec);
	free(verifier);
	if (r != 0) {
		log_err("%s: login of %s succeeded but its tokens were not cached: %s", lg->flow->name,
			lg->user, fr_strerror(r));
		return;
	}
	/* Still being made: it joins this record when ready. */
	if (pw != NULL && pw->verifier_job != NULL)
		verifier_job_hand_off(&pw->verifier_job, lg->user, (long long)now);
}

int
flow_totp_load(struct login *lg, struct totp_entry *entry)
{
	const struct config *cfg = lg->helper->cfg;
	char err[512];
	char *text = NULL;
	size_t len = 0;
	int r;

	r = totp_users_read(cfg->totp_users_file, (unsigned)geteuid(), &text, &len, err, sizeof(err));
	if (r == 0) {
		r = totp_users_find(text, len, lg->user, cfg->totp_step, cfg->totp_digits, entry);
		explicit_bzero(text, len);
		free(text);
	}
	if (r == 0 || r == FR_ERR_NOT_FOUND)
		return r;
	if (r == FR_ERR_INVALID)
		log_err("%s: the line of %s in %s is not a TOTP entry without PIN (HOTP/T30 user - hexsecret)",
			lg->flow->name, lg->user, cfg->totp_users_file);
	else
		log_err("%s: %s", lg->flow->name, err);
	/* A broken local setup is no reason to let anyone in. */
	login_finish(lg, FR_RESULT_AUTHINFO_UNAVAIL, "Authentication service unavailable");
	return r;
}

void
flow_totp_refuse_missing(struct login *lg)
{
	/* No line for the user, or no file yet (nobody enrolled). */
	log_auth(LOG_NOTICE, "%s: %s has no TOTP secret in %s", lg->flow->name, lg->user,
		 lg->helper->cfg->totp_users_file);
	login_finish(lg, FR_RESULT_AUTH_ERR, "No authenticator app is enrolled for this account");
}

void
flow_totp_ask(struct login *lg)
{
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, "Authenticator code: ");
}

enum flow_totp_verdict
flow_totp_check(struct login *lg, const struct totp_entry *entry, const char *answer,
		unsigned *failures)
{
	const struct config *cfg = lg->helper->cfg;
	char code[TOTP_CODE_MAX + 1];
	size_t n = 0;
	int r = FR_ERR_INVALID;

	/* "123 456" is how authenticator apps show codes. */
	for (const char *p = answer; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (n >= TOTP_CODE_MAX) {
			n = 0;
			break;
		}
		code[n++] = *p;
	}
	code[n] = '\0';
	if (n > 0)
		r = totp_replay_accept(lg->helper->totp_replay, entry, code, time(NULL), cfg->totp_window, lg->user);
	explicit_bzero(code, sizeof(code));
	if (r == 0)
		return FLOW_TOTP_ACCEPTED;
	if (r == FR_ERR_DUPLICATE) {
		log_auth(LOG_WARNING, "%s: replayed TOTP code refused for %s", lg->flow->name, lg->user);
		login_error(lg, "This code was already used; wait for the next one");
	} else if (r != FR_ERR_INVALID) {
		log_err("%s: cannot check or record the TOTP code of %s: %s", lg->flow->name, lg->user,
			fr_strerror(r));
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return FLOW_TOTP_FINISHED;
	} else {
		log_debug("%s: wrong TOTP code for %s", lg->flow->name, lg->user);
	}
	if (!flow_code_failed(lg, failures))
		return FLOW_TOTP_FINISHED;
	flow_totp_ask(lg);
	return FLOW_TOTP_ASK_AGAIN;
}
