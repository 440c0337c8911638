#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api/health.h"
#include "auth/cached_auth.h"
#include "auth/durable.h"
#include "auth/login.h"
#include "auth/logout.h"
#include "auth/offline.h"
#include "auth/totp_step.h"
#include "core/audit.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/secret.h"
#include "crypto/verifier_worker.h"
#include "fr_error.h"
#include "fr_text.h"
#include "store/token_cache.h"

enum login_state {
	ASK_PASSWORD,	/* "Password: " is out */
	CACHED_AUTH,	/* cached_auth.c is checking the password */
	SENDING,	/* a request of the profile's is in flight */
	ASK_PROFILE,	/* the profile's prompt is out (a code) */
	ASK_TOTP,	/* the local TOTP prompt is out, tokens held */
	OFFLINE_CHECK,	/* auth/offline.c is checking the password */
	ASK_OFFLINE,	/* auth/offline.c's TOTP prompt is out */
	ASK_NO_ACCOUNT, /* a decoy password prompt (no local account) */
	KEEPING,	/* logged in: the profile's durable token is checked or minted */
	OVER,
};

/* Which decision the audit record names (core/audit.h). */
enum login_path {
	PATH_ONLINE,	/* login_success / login_failure */
	PATH_CACHED,	/* cached_auth */
	PATH_OFFLINE,	/* offline_login */
	PATH_THROTTLED, /* rate_limited: the failure budget refused the password */
};

struct login {
	struct helper *h;
	const struct login_io *io;
	void *io_ctx;
	const struct profile *profile;
	void *pstate; /* the profile's, profile->state_size bytes */
	enum login_state state;
	char *user, *service, *rhost, *tty, *ruser;
	uid_t caller;
	pid_t caller_pid;
	struct access_claim claim;
	enum fr_authtok_mode authtok_mode;
	char *authtok;	/* secret: PAM_AUTHTOK from an earlier module */
	char *password; /* secret: until the API has seen it */
	bool password_from_stack;
	bool cached_tried;    /* cached re-authentication: at most once */
	bool login_in_flight; /* the request in flight carries the password */
	struct cached_attempt *cached;
	struct offline_attempt *offline;
	struct verifier_job *verifier_job; /* yescrypt of the password the API accepted */
	struct durable_job *durable;	   /* KEEPING */
	struct http_xfer *xfer;
	unsigned wrong_codes;
	struct totp_entry totp; /* secret: the local second factor */
	bool totp_missing;	/* refused once the password is known good */
	bool no_account;	/* a decoy: a root caller named no local account */
	struct api_tokens held; /* tokens waiting for the local TOTP code */
	int64_t started_ms;
	/* Every text this login shows, whatever its profile: the catalogue
	 * of the client's locale (requests/table.c), NULL for English.  It
	 * lives as long as the helper (core/l10n.h), so a login needs no
	 * copy, and logins in different languages run side by side. */
	const struct fr_catalog *lang;
	struct loop_deferred release;
	/* For the audit record and the LOG_AUTHPRIV line. */
	char login_id[AUDIT_LOGIN_ID_MAX];
	char *trace_id;		  /* of the last API reply that carried one; NULL before */
	enum audit_factor factor; /* the last one asked for */
	enum login_path path;
};

static void send_login(struct login *lg);
static void run_step(struct login *lg, struct profile_step *step);

/* A fresh step for the profile, in the login's language. */
static void
new_step(const struct login *lg, struct profile_step *step)
{
	step_init(step);
	step->lang = lg->lang;
}

/* A login that ended (even from inside a call to the person, when the
 * client went away) stays ended. */
static void
set_state(struct login *lg, enum login_state state)
{
	if (lg->state != OVER)
		lg->state = state;
}

static const char *
login_profile_name(const struct login *lg)
{
	return lg->no_account || lg->profile == NULL ? "no-account" : lg->profile->name;
}

char *
login_remote_name(const char *user, const char *tpl)
{
	size_t ulen = strlen(user), cap = 1;

	for (const char *p = tpl; *p != '\0'; p++)
		cap += (p[0] == '%' && p[1] == 'u') ? ulen : 1;
	char *out = malloc(cap), *o = out;
	if (out == NULL)
		return NULL;
	for (const char *p = tpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			memcpy(o, user, ulen);
			o += ulen;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			*o++ = '%';
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* ---- what the person sees --------------------------------------------- */

static void
login_prompt(struct login *lg, enum fr_prompt_style style, unsigned flags, const char *text)
{
	if (lg->state != OVER)
		lg->io->prompt(lg->io_ctx, style, flags, text);
}

static void
login_info(struct login *lg, const char *text)
{
	if (lg->state != OVER)
		lg->io->info(lg->io_ctx, text);
}

static void
login_error(struct login *lg, const char *text)
{
	if (lg->state != OVER)
		lg->io->error(lg->io_ctx, text);
}

/* ---- the end of a login --------------------------------------------------- */

static void
release(void *arg)
{
	struct login *lg = arg;

	secret_free(lg->authtok);
	secret_free(lg->password);
	access_claim_free(&lg->claim);
	free(lg->trace_id);
	totp_entry_wipe(&lg->totp);
	free(lg->user);
	free(lg->service);
	free(lg->rhost);
	free(lg->tty);
	free(lg->ruser);
	if (lg->pstate != NULL) {
		if (lg->profile->wipe != NULL)
			lg->profile->wipe(lg->pstate);
		free(lg->pstate);
	}
	lg->h->logins_active--;
	explicit_bzero(lg, sizeof(*lg));
	free(lg);
}

/* Nothing of this login may run again: its request, checks and jobs are
 * cancelled now, its memory freed after the current loop pass. */
static void
end(struct login *lg)
{
	lg->state = OVER;
	if (lg->xfer != NULL) {
		lg->h->api.cancel(lg->h->api.impl, lg->xfer);
		lg->xfer = NULL;
	}
	cached_auth_cancel(lg->h, &lg->cached);
	offline_login_cancel(lg->h, &lg->offline);
	durable_cancel(lg->h, &lg->durable);
	verifier_job_cancel(&lg->verifier_job);
	secret_free(lg->password);
	lg->password = NULL;
	/* Tokens held for a local TOTP code that never passed: the API session
	 * must not outlive the refused login. */
	if (lg->held.access_token != NULL && lg->profile->logout != NULL) {
		logout_discard(lg->h, lg->user, lg->held.access_token);
		lg->held.access_token = NULL;
	}
	api_tokens_wipe(&lg->held);
	loop_defer(lg->h->loop, &lg->release, release, lg);
}

/* The outcome line gets the text as the person saw it, in their
 * language: what support is told ("it said ...") can be found in it; the
 * result's name before it (AUTH_ERR, MAXTRIES) is the same for every
 * language. */
static void
log_outcome(const struct login *lg, enum fr_result result, const char *text)
{
	char why[256] = "";

	if (text != NULL)
		fr_text_sanitize(why, sizeof(why), text, strlen(text), 0);
	log_auth(result == FR_RESULT_SUCCESS ? LOG_INFO : LOG_NOTICE,
		 "%s: %s for user=%s service=%s rhost=%s tty=%s caller_uid=%u login_id=%s (%lld ms)%s%s",
		 login_profile_name(lg), fr_result_name((int)result), lg->user, lg->service,
		 lg->rhost ? lg->rhost : "-", lg->tty ? lg->tty : "-", (unsigned)lg->caller, lg->login_id,
		 (long long)(loop_now_ms() - lg->started_ms), why[0] ? ": " : "", why);
}

/* The one audit record of this login's decision; `result` is "success"
 * or the failure's name. */
static void
audit_outcome(const struct login *lg, bool success, const char *result)
{
	static const enum audit_event events[] = {
		[PATH_CACHED] = AUDIT_CACHED_AUTH,
		[PATH_OFFLINE] = AUDIT_OFFLINE_LOGIN,
		[PATH_THROTTLED] = AUDIT_RATE_LIMITED,
	};
	enum audit_event event = lg->path == PATH_ONLINE ? (success ? AUDIT_LOGIN_SUCCESS : AUDIT_LOGIN_FAILURE) :
							   events[lg->path];

	audit_emit(lg->h->audit, &(struct audit_record){
				     .event = event,
				     .user = lg->user,
				     .service = lg->service,
				     .rhost = lg->rhost,
				     .tty = lg->tty,
				     .caller_uid = lg->caller,
				     .factor = lg->path == PATH_THROTTLED ? AUDIT_FACTOR_NONE : lg->factor,
				     .result = result,
				     .trace_id = lg->trace_id,
				     .login_id = lg->login_id,
				 });
}

static void
login_finish(struct login *lg, enum fr_result result, const char *text)
{
	if (lg->state == OVER)
		return;
	log_outcome(lg, result, text);
	audit_outcome(lg, result == FR_RESULT_SUCCESS,
		      result == FR_RESULT_SUCCESS ? AUDIT_SUCCESS : fr_result_name((int)result));
	access_claim_finish(lg->h, &lg->claim, result);
	const struct login_io *io = lg->io;
	void *ctx = lg->io_ctx;
	end(lg);
	io->finish(ctx, result, text);
}

void
login_abandon(struct login *lg)
{
	if (lg->state == OVER)
		return;
	log_auth(LOG_INFO, "%s: login for %s (service %s) abandoned by the client (login_id=%s)",
		 login_profile_name(lg), lg->user, lg->service, lg->login_id);
	audit_outcome(lg, false, AUDIT_ABANDONED);
	access_claim_abandon(lg->h, &lg->claim);
	end(lg);
}

static void
login_unavailable(struct login *lg, const char *why)
{
	if (lg->h->cfg->fail_mode == FAIL_SAFE) {
		log_auth(LOG_WARNING,
			 "%s: API unavailable (%s); fail_mode=safe lets the PAM stack "
			 "decide without Freddy for user=%s service=%s",
			 login_profile_name(lg), why, lg->user, lg->service);
		login_finish(lg, FR_RESULT_IGNORE, fr_tr(lg->lang, "Authentication service unavailable"));
		return;
	}
	log_err("%s: API unavailable: %s", login_profile_name(lg), why);
	login_finish(lg, FR_RESULT_AUTHINFO_UNAVAIL, fr_tr(lg->lang, "Authentication service unavailable"));
}

static bool
login_code_failed(struct login *lg)
{
	unsigned max = lg->h->cfg->max_code_attempts;
	char text[PROFILE_TEXT_MAX];

	if (++lg->wrong_codes >= max) {
		login_finish(lg, FR_RESULT_MAXTRIES, fr_tr(lg->lang, "Invalid code, no attempts left"));
		return false;
	}
	unsigned left = max - lg->wrong_codes;
	snprintf(text, sizeof(text),
		 fr_trn(lg->lang, "Invalid code, %u attempt left", "Invalid code, %u attempts left", left), left);
	login_error(lg, text);
	return true;
}

void
login_rate_limited_text(const struct fr_catalog *lang, long retry_after, char *text, size_t len)
{
	if (retry_after >= 60) {
		unsigned long minutes = (unsigned long)(retry_after + 59) / 60;
		snprintf(text, len,
			 fr_trn(lang, "Too many login attempts, try again in %lu minute",
				"Too many login attempts, try again in %lu minutes", minutes),
			 minutes);
	} else if (retry_after > 0) {
		unsigned long seconds = (unsigned long)retry_after;
		snprintf(text, len,
			 fr_trn(lang, "Too many login attempts, try again in %lu second",
				"Too many login attempts, try again in %lu seconds", seconds),
			 seconds);
	} else {
		snprintf(text, len, "%s", fr_tr(lang, "Too many login attempts, try again later"));
	}
}

/* The API's 429: "Too many login attempts, try again in 5 minutes". */
static void
finish_rate_limited(struct login *lg, long retry_after)
{
	char text[PROFILE_TEXT_MAX];

	login_rate_limited_text(lg->lang, retry_after, text, sizeof(text));
	login_finish(lg, FR_RESULT_MAXTRIES, text);
}

/* ---- the password step ------------------------------------------------------ */

static void
ask_password(struct login *lg)
{
	set_state(lg, ASK_PASSWORD);
	lg->factor = AUDIT_FACTOR_PASSWORD;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, FR_PROMPT_IS_PASSWORD, fr_tr(lg->lang, "Password: "));
}

/* The password to send: from the PAM stack, or asked. */
static void
begin_password(struct login *lg)
{
	if (lg->authtok != NULL) {
		if ((lg->password = secret_strdup(lg->authtok)) == NULL) {
			login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
			return;
		}
		lg->password_from_stack = true;
		send_login(lg);
		return;
	}
	if (lg->authtok_mode == FR_AUTHTOK_USE) {
		login_finish(lg, FR_RESULT_AUTH_ERR, NULL);
		return;
	}
	ask_password(lg);
}

/* The API refused the password.  try_first_pass with a stacked one: ask
 * once (true).  Otherwise false: the caller ends the login. */
static bool
retry_password(struct login *lg)
{
	if (!lg->password_from_stack || lg->authtok_mode != FR_AUTHTOK_TRY)
		return false;
	lg->password_from_stack = false;
	ask_password(lg);
	return true;
}

/* The API accepted the password: its verifier is made on a verifier
 * thread while the person types the code, when cached re-authentication
 * or offline login will need it. */
static void
password_accepted(struct login *lg)
{
	const struct config *cfg = lg->h->cfg;

	if (lg->password == NULL || (cfg->cached_auth_timeout == 0 && !cfg->offline_login))
		return;
	verifier_job_cancel(&lg->verifier_job);
	int r = verifier_job_start(lg->h->verifiers, lg->password, lg->caller, &lg->verifier_job);
	if (r != 0)
		log_err("%s: no password verifier for %s: %s", login_profile_name(lg), lg->user, fr_strerror(r));
}

/* The verdict of cached re-authentication (auth/cached_auth.h). */
static void
cached_done(void *ctx, enum cached_verdict verdict)
{
	struct login *lg = ctx;

	if (verdict != CACHED_DECLINED) {
		lg->path = PATH_CACHED;
		lg->factor = AUDIT_FACTOR_CACHED;
	}
	switch (verdict) {
	case CACHED_SUCCESS:
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	case CACHED_REFUSED:
		login_finish(lg, FR_RESULT_AUTH_ERR, fr_tr(lg->lang, "Your Freddy login is no longer valid"));
		return;
	case CACHED_DECLINED:
		set_state(lg, SENDING);
		send_login(lg);
		return;
	}
}

/* The password is about to be sent to the API: one attempt of the
 * failure budget is reserved (access.c).  False when the budget is spent:
 * the login was finished, nothing is sent. */
static bool
password_attempt(struct login *lg)
{
	unsigned wait = access_claim_reserve(lg->h, &lg->claim);
	char text[PROFILE_TEXT_MAX];

	if (wait == 0)
		return true;
	log_auth(LOG_NOTICE,
		 "%s: password of %s (%s) not sent: out of attempts for %u s "
		 "(attempts in flight count)",
		 login_profile_name(lg), lg->user, lg->claim.caller_key != NULL ? lg->claim.caller_key : "-", wait);
	lg->path = PATH_THROTTLED;
	snprintf(text, sizeof(text), fr_tr(lg->lang, "Too many failed attempts; try again in %u s"), wait);
	login_finish(lg, FR_RESULT_AUTH_ERR, text);
	return false;
}

static void
send_login(struct login *lg)
{
	struct profile_step step;

	if (!lg->cached_tried && lg->password != NULL) {
		lg->cached_tried = true;
		switch (cached_auth_try(lg->h, lg->user, lg->service, lg->caller, lg->password, cached_done, lg,
					&lg->cached)) {
		case CACHED_CHECKING:
			set_state(lg, CACHED_AUTH);
			return;
		case CACHED_BUSY:
			log_auth(LOG_NOTICE,
				 "%s: login of %s from uid %u refused: that caller has its share of "
				 "password checks in progress",
				 login_profile_name(lg), lg->user, (unsigned)lg->caller);
			login_finish(lg, FR_RESULT_BUSY, "Too many logins in progress for your account");
			return;
		case CACHED_NOT_TRIED:
			break;
		}
	}
	if (!password_attempt(lg))
		return;
	char *name = login_remote_name(lg->user, lg->h->cfg->user_template);
	if (name == NULL) {
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	lg->factor = AUDIT_FACTOR_PASSWORD;
	new_step(lg, &step);
	lg->profile->login(lg->pstate, lg->h->cfg, name, lg->password, &step);
	free(name);
	lg->login_in_flight = step.verdict == STEP_REQUEST;
	run_step(lg, &step);
	step_wipe(&step);
}

/* ---- storing a success ---------------------------------------------------- */

/* Cache the tokens (logged, never fatal), with the password verifier
 * when there is one: at once if it is ready, otherwise the verifier
 * thread adds it to the record when it is. */
static void
store_tokens(struct login *lg, const struct api_tokens *tokens)
{
	time_t now = time(NULL);
	char *verifier = verifier_job_take(&lg->verifier_job);
	struct cache_record rec = {
		.refresh_token = tokens->refresh_token,
		.access_token = tokens->access_token,
		/* A durable token alone (AIUS) does not expire. */
		.access_expires = tokens->access_token == NULL ?
				      0 :
				      now + (tokens->expires_in > 0 ? tokens->expires_in : lg->profile->default_ttl),
		.last_login = now,
		.verifier = verifier,
		.last_online = now,
	};

	if (tokens->refresh_token == NULL) {
		/* The cache keeps refresh tokens; without one there is nothing
		 * it could renew, so nothing is stored. */
		if (tokens->access_token != NULL)
			log_info("%s: login of %s returned no refresh token; nothing cached", login_profile_name(lg),
				 lg->user);
		free(verifier);
		return;
	}
	int r = token_cache_store(lg->h->cache, lg->user, &rec);
	free(verifier);
	if (r != 0) {
		log_err("%s: login of %s succeeded but its tokens were not cached: %s", login_profile_name(lg),
			lg->user, fr_strerror(r));
		return;
	}
	/* Still being made: it joins this record when ready. */
	if (lg->verifier_job != NULL)
		verifier_job_hand_off(&lg->verifier_job, lg->user, (long long)now);
}

void
login_verifier_ready(void *ctx, const char *user, long long last_login, char **verifier)
{
	struct helper *h = ctx;
	int r = token_cache_add_verifier(h->cache, user, last_login, verifier);

	if (r != 0 && r != FR_ERR_NOT_FOUND)
		log_err("cannot store the password verifier of %s: %s", user, fr_strerror(r));
}

/* The durable token to cache (durable.h), or NULL: the login succeeds
 * either way. */
static void
durable_kept(void *ctx, char *token)
{
	struct login *lg = ctx;
	struct api_tokens tokens = { .refresh_token = token, .expires_in = -1 };

	if (token != NULL)
		store_tokens(lg, &tokens);
	api_tokens_wipe(&tokens);
	login_finish(lg, FR_RESULT_SUCCESS, NULL);
}

/* A profile with a durable credential: the login's session (the
 * tokens' access token) serves to keep or mint it, and is then wiped;
 * the session itself is never cached. */
static void
keep_durable(struct login *lg, struct api_tokens *tokens)
{
	int r = FR_ERR_INVALID;

	if (tokens->access_token != NULL)
		r = durable_keep(lg->h, lg->user, tokens->access_token, durable_kept, lg, &lg->durable);
	api_tokens_wipe(tokens);
	if (r != 0) {
		log_warn("%s: no durable token for %s: %s", login_profile_name(lg), lg->user, fr_strerror(r));
		login_finish(lg, FR_RESULT_SUCCESS, NULL);
		return;
	}
	set_state(lg, KEEPING);
}

static void
succeed(struct login *lg, struct api_tokens *tokens)
{
	if (lg->profile->durable != NULL) {
		keep_durable(lg, tokens);
		return;
	}
	store_tokens(lg, tokens);
	api_tokens_wipe(tokens);
	login_finish(lg, FR_RESULT_SUCCESS, NULL);
}

/* The API said yes; a local TOTP code may still be owed. */
static void
api_success(struct login *lg, struct profile_step *step)
{
	if (!lg->profile->local_totp) {
		succeed(lg, &step->tokens);
		return;
	}
	lg->held = step->tokens;
	memset(&step->tokens, 0, sizeof(step->tokens));
	/* Only someone who knows the password learns whether the account
	 * has an authenticator enrolled. */
	if (lg->totp_missing) {
		/* No line for the user, or no file yet (nobody enrolled). */
		log_auth(LOG_NOTICE, "%s: %s has no TOTP secret in %s", login_profile_name(lg), lg->user,
			 lg->h->cfg->totp_users_file);
		login_finish(lg, FR_RESULT_AUTH_ERR,
			     fr_tr(lg->lang, "No authenticator app is enrolled for this account"));
		return;
	}
	set_state(lg, ASK_TOTP);
	lg->factor = AUDIT_FACTOR_TOTP;
	login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, fr_tr(lg->lang, "Authenticator code: "));
}

/* ---- the profile's steps ---------------------------------------------------- */

static void on_http_done(void *ctx, const struct http_response *resp);

static void
send_request(struct login *lg, const struct profile_request *pr)
{
	struct http_request req;

	profile_request_http(pr, &req);
	set_state(lg, SENDING);
	int r = lg->h->api.start(lg->h->api.impl, &req, on_http_done, lg, &lg->xfer);
	if (r != 0) {
		log_err("cannot start a request to %s: %s", pr->path, fr_strerror(r));
		login_unavailable(lg, "request not started");
	}
}

static void
run_step(struct login *lg, struct profile_step *step)
{
	if (lg->state == OVER)
		return;
	if (step->factor != AUDIT_FACTOR_NONE)
		lg->factor = step->factor;
	if (step->note[0] != '\0')
		log_auth(LOG_NOTICE, "%s: %s %s", login_profile_name(lg), lg->user, step->note);
	switch (step->verdict) {
	case STEP_PROMPT:
		if (step->info[0] != '\0')
			login_info(lg, step->info);
		set_state(lg, ASK_PROFILE);
		login_prompt(lg, FR_PROMPT_ECHO_OFF, step->prompt_is_password ? FR_PROMPT_IS_PASSWORD : 0,
			     step->prompt);
		return;
	case STEP_REQUEST:
		send_request(lg, &step->request);
		return;
	case STEP_SUCCESS:
		api_success(lg, step);
		return;
	case STEP_WRONG_ANSWER:
		if (step->text[0] != '\0')
			login_error(lg, step->text);
		if (login_code_failed(lg)) {
			set_state(lg, ASK_PROFILE);
			login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, fr_tr(lg->lang, lg->profile->again_prompt(lg->pstate)));
		}
		return;
	case STEP_REFUSED:
		login_finish(lg, FR_RESULT_AUTH_ERR, step->text);
		return;
	case STEP_UNAVAILABLE:
		login_unavailable(lg, step->text);
		return;
	case STEP_RATE_LIMITED:
		finish_rate_limited(lg, step->retry_after);
		return;
	}
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

/* What auth/offline.c decided, shown and done. */
static void
offline_act(struct login *lg, const struct offline_verdict *v)
{
	if (v->kind != OFFLINE_NOT_APPLICABLE) {
		lg->path = PATH_OFFLINE;
		lg->factor = AUDIT_FACTOR_OFFLINE;
	}
	if (v->info[0] != '\0')
		login_info(lg, v->info);
	switch (v->kind) {
	case OFFLINE_ASK_CODE:
		set_state(lg, ASK_OFFLINE);
		login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, v->prompt);
		return;
	case OFFLINE_SUCCEEDED:
		login_finish(lg, FR_RESULT_SUCCESS, v->text);
		return;
	case OFFLINE_REFUSED:
		login_finish(lg, FR_RESULT_AUTH_ERR, v->text);
		return;
	case OFFLINE_DELAYED:
		login_finish(lg, FR_RESULT_MAXTRIES, v->text);
		return;
	case OFFLINE_UNAVAILABLE:
		login_unavailable(lg, v->text);
		return;
	case OFFLINE_ERROR:
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	case OFFLINE_NOT_APPLICABLE:
		break;
	}
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

/* The offline password check is done (auth/offline.h). */
static void
offline_checked(void *ctx, const struct offline_verdict *verdict)
{
	offline_act(ctx, verdict);
}

/* The password request did not reach the API.  Offline login, when there
 * is an outage that has lasted offline_after (api_health.h).  DOCS
 * SILENT: only a transport failure (refused, DNS, timeout) opens the
 * offline path; a TLS failure may be an impostor, a 5xx is a server that
 * answers, and a failure of this host's own resources is not the API's:
 * all of them stay "unavailable".  True when the offline path took over. */
static bool
try_offline(struct login *lg, const struct http_response *resp)
{
	const struct config *cfg = lg->h->cfg;

	if (resp->outcome != HTTP_UNREACHABLE || lg->password == NULL || !cfg->offline_login)
		return false;
	if (!api_health_outage_for(lg->h->health, cfg->offline_after)) {
		log_auth(LOG_NOTICE,
			 "%s: the API is unreachable, but not yet for offline_after = %u s; "
			 "no offline login for %s",
			 login_profile_name(lg), cfg->offline_after, lg->user);
		return false;
	}
	struct offline_verdict verdict;
	struct offline_login who = { lg->user, lg->service, lg->rhost, lg->caller, lg->lang };
	if (offline_login_start(lg->h, &who, lg->password, &lg->totp, offline_checked, lg, &lg->offline, &verdict)) {
		/* The attempt has its own copy. */
		secret_free(lg->password);
		lg->password = NULL;
		set_state(lg, OFFLINE_CHECK);
		return true;
	}
	if (verdict.kind == OFFLINE_NOT_APPLICABLE)
		return false;
	offline_act(lg, &verdict);
	return true;
}

/* A reply that is no answer of the API's (transport failure, 1xx, 3xx,
 * 5xx): the login is unavailable.  True when it was. */
static bool
service_failed(struct login *lg, const struct http_response *resp, const char *step)
{
	char why[192];

	if (!profile_reply_failed(resp, step, why, sizeof(why)))
		return false;
	login_unavailable(lg, why);
	return true;
}

static void
on_http_done(void *ctx, const struct http_response *resp)
{
	struct login *lg = ctx;
	bool was_login = lg->login_in_flight;
	struct profile_step step;
	struct api_error err;

	lg->xfer = NULL;
	lg->login_in_flight = false;
	if (resp->outcome == HTTP_ANSWERED) {
		char trace_id[API_TRACE_ID_MAX + 1];
		api_parse_trace_id(resp->body, resp->body_len, trace_id);
		/* Allocated when one comes: most APIs send none.  Out of
		 * memory, the audit record goes without it. */
		if (trace_id[0] != '\0') {
			free(lg->trace_id);
			lg->trace_id = strdup(trace_id);
		}
	}
	if (was_login && try_offline(lg, resp))
		return;
	if (service_failed(lg, resp, was_login ? "login" : "request"))
		return;
	if (resp->status == 429) {
		api_parse_error(resp->body, resp->body_len, &err);
		finish_rate_limited(lg, err.retry_after);
		return;
	}
	new_step(lg, &step);
	lg->profile->on_reply(lg->pstate, lg->h->cfg, resp, &step);
	if (was_login) {
		if (step.verdict == STEP_PROMPT || step.verdict == STEP_SUCCESS)
			password_accepted(lg);
		secret_free(lg->password);
		lg->password = NULL;
		if (step.verdict == STEP_REFUSED) {
			log_debug("%s: login of %s refused (HTTP %ld)", login_profile_name(lg), lg->user, resp->status);
			/* try_first_pass: the stacked password was not ours; ask once. */
			if (retry_password(lg)) {
				step_wipe(&step);
				return;
			}
		}
	}
	run_step(lg, &step);
	step_wipe(&step);
}

/* ---- answers ------------------------------------------------------------------ */

/* The local TOTP code, with the API's tokens held until it passes. */
static void
answer_totp(struct login *lg, const char *text)
{
	enum totp_verdict verdict = totp_step_check(lg->h, login_profile_name(lg), lg->user, &lg->totp, text);

	switch (verdict) {
	case TOTP_ACCEPTED:
		succeed(lg, &lg->held);
		return;
	case TOTP_REPLAYED:
	case TOTP_WRONG:
		/* A replay costs an attempt like a wrong code. */
		if (verdict == TOTP_REPLAYED)
			login_error(lg, fr_tr(lg->lang, "This code was already used; wait for the next one"));
		if (login_code_failed(lg))
			login_prompt(lg, FR_PROMPT_ECHO_OFF, 0, fr_tr(lg->lang, "Authenticator code: "));
		return;
	case TOTP_ERROR:
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

void
login_answer(struct login *lg, const char *text)
{
	struct profile_step step;

	switch (lg->state) {
	case ASK_PASSWORD:
		if (secret_set(&lg->password, text) != 0) {
			login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
			return;
		}
		set_state(lg, SENDING);
		send_login(lg);
		return;
	case ASK_PROFILE:
		if (lg->profile->on_answer == NULL)
			break;
		new_step(lg, &step);
		lg->profile->on_answer(lg->pstate, lg->h->cfg, text, &step);
		run_step(lg, &step);
		step_wipe(&step);
		return;
	case ASK_TOTP:
		answer_totp(lg, text);
		return;
	case ASK_OFFLINE: {
		struct offline_verdict verdict;
		offline_login_code(lg->h,
				   &(struct offline_login){ lg->user, lg->service, lg->rhost, lg->caller, lg->lang },
				   &lg->totp, text, &verdict);
		offline_act(lg, &verdict);
		return;
	}
	case ASK_NO_ACCOUNT:
		login_finish(lg, FR_RESULT_AUTH_ERR, fr_tr(lg->lang, "Invalid user name or password"));
		return;
	case CACHED_AUTH:
	case OFFLINE_CHECK:
	case SENDING:
	case KEEPING:
	case OVER:
		break;
	}
	/* The connection state table makes this unreachable. */
	login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
}

/* ---- the start ------------------------------------------------------------------ */

static char *
copy_or_null(const char *s, bool *failed)
{
	char *c = s != NULL ? strdup(s) : NULL;

	if (s != NULL && c == NULL)
		*failed = true;
	return c;
}

struct login *
login_new(struct helper *h, const struct login_request *rq, const struct login_io *io, void *io_ctx)
{
	const struct profile *profile = profile_for(h->cfg);
	struct login *lg = calloc(1, sizeof(*lg));
	bool failed = false;

	if (lg == NULL)
		return NULL;
	lg->h = h;
	lg->io = io;
	lg->io_ctx = io_ctx;
	lg->profile = profile;
	lg->caller = rq->caller_uid;
	lg->caller_pid = rq->caller_pid;
	if (access_claim_copy(&lg->claim, &rq->claim) != FR_OK)
		failed = true;
	lg->authtok_mode = rq->authtok_mode;
	lg->lang = rq->lang;
	lg->started_ms = loop_now_ms();
	lg->held.expires_in = -1;
	lg->user = copy_or_null(rq->user, &failed);
	lg->service = copy_or_null(rq->service, &failed);
	lg->rhost = copy_or_null(rq->rhost, &failed);
	lg->tty = copy_or_null(rq->tty, &failed);
	lg->ruser = copy_or_null(rq->ruser, &failed);
	if (rq->authtok != NULL && rq->authtok_mode != FR_AUTHTOK_NONE &&
	    (lg->authtok = secret_strdup(rq->authtok)) == NULL)
		failed = true;
	if (profile != NULL && profile->state_size > 0 && (lg->pstate = calloc(1, profile->state_size)) == NULL)
		failed = true;
	h->logins_active++;
	h->logins_total++;
	if (failed || lg->user == NULL || lg->service == NULL || profile == NULL) {
		if (profile == NULL)
			log_err("api = %s is not available in this build", config_api_name(h->cfg->api));
		lg->state = OVER;
		loop_defer(h->loop, &lg->release, release, lg);
		return NULL;
	}
	lg->no_account = rq->no_account;
	if (rq->login_id != NULL && rq->login_id[0] != '\0')
		(void)snprintf(lg->login_id, sizeof(lg->login_id), "%s", rq->login_id);
	else
		audit_next_login_id(h->audit, lg->login_id);
	return lg;
}

void
login_begin(struct login *lg)
{
	const struct profile *profile = lg->profile;

	log_debug("%s: login for %s service %s from uid %u pid %d", profile->name, lg->user, lg->service,
		  (unsigned)lg->caller, (int)lg->caller_pid);
	if (lg->no_account) {
		/* The person still sees the password prompt, so that a remote
		 * stranger cannot tell accounts from non-accounts by whether one
		 * is asked; the answer is dropped unread, nothing reaches the API. */
		set_state(lg, ASK_NO_ACCOUNT);
		lg->factor = AUDIT_FACTOR_PASSWORD;
		login_prompt(lg, FR_PROMPT_ECHO_OFF, FR_PROMPT_IS_PASSWORD, fr_tr(lg->lang, "Password: "));
		return;
	}
	/* A broken users file ends the login before the password is sent. */
	if (profile->local_totp) {
		int r = totp_step_load(lg->h, profile->name, lg->user, &lg->totp);
		if (r != 0 && r != FR_ERR_NOT_FOUND) {
			login_finish(lg, FR_RESULT_AUTHINFO_UNAVAIL,
				     fr_tr(lg->lang, "Authentication service unavailable"));
			return;
		}
		lg->totp_missing = r == FR_ERR_NOT_FOUND;
	}
	begin_password(lg);
}
