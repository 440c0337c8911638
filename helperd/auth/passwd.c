#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "api/parse.h"
#include "api/profile.h"
#include "auth/passwd.h"
#include "core/audit.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/secret.h"
#include "crypto/verifier_worker.h"
#include "fr_error.h"
#include "fr_text.h"
#include "store/token_cache.h"

/* Rounds of "New password: " (mismatches and refusals together). */
#define PASSWD_ROUNDS	3
#define PASSWD_CODE_MAX 128
#define PROMPT_CURRENT	N_("Current Freddy password: ")
#define PROMPT_CODE	N_("Reset code from the email: ")
#define PROMPT_NEW	N_("New password: ")
#define PROMPT_RETYPE	N_("Retype new password: ")

enum passwd_state {
	ASK_CURRENT, /* "Current Freddy password: " is out */
	CHECKING,    /* the current password is at the API */
	REQUESTING,  /* the reset code is being mailed */
	ASK_CODE,    /* "Reset code from the email: " is out */
	ASK_NEW,     /* "New password: " is out */
	ASK_RETYPE,  /* "Retype new password: " is out */
	CONFIRMING,  /* the code and the new password are at the API */
	OVER,
};

struct passwd_change {
	struct helper *h;
	const struct login_io *io;
	void *io_ctx;
	const struct profile *profile;
	enum passwd_state state;
	char *user, *service, *rhost;
	char *name; /* the API's name of the user (user_template), the reset address */
	uid_t caller;
	pid_t caller_pid;
	struct access_claim claim;
	const struct fr_catalog *lang; /* read-only, the helper's for its life */
	char *code;		       /* secret: the reset code */
	char *new_password;	       /* secret */
	bool retyped;		       /* new_password was typed twice alike */
	unsigned rounds;	       /* failed rounds of the new password */
	unsigned wrong_codes;
	struct http_xfer *xfer;
	struct verifier_job *verifier_job; /* the new password's, for the cache */
	int64_t started_ms;
	char login_id[AUDIT_LOGIN_ID_MAX]; /* its audit record's */
	struct loop_deferred release;
};

static void on_reply(void *ctx, const struct http_response *resp);

static void
set_state(struct passwd_change *pc, enum passwd_state state)
{
	if (pc->state != OVER)
		pc->state = state;
}

/* ---- what the person sees --------------------------------------------- */

static void
ask(struct passwd_change *pc, enum passwd_state state, unsigned flags, const char *text)
{
	set_state(pc, state);
	if (pc->state != OVER)
		pc->io->prompt(pc->io_ctx, FR_PROMPT_ECHO_OFF, flags, text);
}

static void
say_info(struct passwd_change *pc, const char *text)
{
	if (pc->state != OVER)
		pc->io->info(pc->io_ctx, text);
}

static void
say_error(struct passwd_change *pc, const char *text)
{
	if (pc->state != OVER)
		pc->io->error(pc->io_ctx, text);
}

/* ---- the end ------------------------------------------------------------ */

static void
release(void *arg)
{
	struct passwd_change *pc = arg;

	secret_free(pc->code);
	secret_free(pc->new_password);
	free(pc->user);
	free(pc->service);
	free(pc->rhost);
	free(pc->name);
	access_claim_free(&pc->claim);
	explicit_bzero(pc, sizeof(*pc));
	free(pc);
}

static void
end(struct passwd_change *pc)
{
	pc->state = OVER;
	if (pc->xfer != NULL) {
		pc->h->api.cancel(pc->h->api.impl, pc->xfer);
		pc->xfer = NULL;
	}
	verifier_job_cancel(&pc->verifier_job);
	secret_free(pc->code);
	secret_free(pc->new_password);
	pc->code = pc->new_password = NULL;
	loop_defer(pc->h->loop, &pc->release, release, pc);
}

static void
finish(struct passwd_change *pc, enum fr_result result, const char *text)
{
	char why[256] = "";

	if (pc->state == OVER)
		return;
	if (text != NULL)
		fr_text_sanitize(why, sizeof(why), text, strlen(text), 0);
	log_auth(result == FR_RESULT_SUCCESS ? LOG_INFO : LOG_NOTICE,
		 "%s: password change %s for user=%s service=%s rhost=%s caller_uid=%u (%lld ms)%s%s",
		 pc->profile->name, fr_result_name((int)result), pc->user, pc->service, pc->rhost ? pc->rhost : "-",
		 (unsigned)pc->caller, (long long)(loop_now_ms() - pc->started_ms), why[0] ? ": " : "", why);
	/* Only the current password's check holds an attempt, and its reply
	 * settles it; one still held here had no verdict. */
	if (pc->claim.held)
		access_claim_finish(pc->h, &pc->claim, FR_RESULT_CONV_ERR);
	/* The reset code mailed to the account is what authorised it. */
	audit_password_change(pc->h->audit,
			      &(struct audit_record){
				  .user = pc->user,
				  .service = pc->service,
				  .rhost = pc->rhost,
				  .caller_uid = pc->caller,
				  .factor = AUDIT_FACTOR_EMAIL_CODE,
				  .login_id = pc->login_id,
			      },
			      result == FR_RESULT_SUCCESS ? AUDIT_SUCCESS : fr_result_name((int)result));
	const struct login_io *io = pc->io;
	void *ctx = pc->io_ctx;
	end(pc);
	io->finish(ctx, result, text);
}

void
passwd_abandon(struct passwd_change *pc)
{
	if (pc->state == OVER)
		return;
	log_auth(LOG_INFO, "%s: password change of %s (service %s) abandoned by the client", pc->profile->name,
		 pc->user, pc->service);
	/* Held prompts are throttled like guesses, as for a login. */
	access_claim_abandon(pc->h, &pc->claim);
	end(pc);
}

static void
unavailable(struct passwd_change *pc, const char *why)
{
	if (pc->claim.held)
		access_claim_finish(pc->h, &pc->claim, FR_RESULT_AUTHINFO_UNAVAIL); /* released */
	if (pc->h->cfg->fail_mode == FAIL_SAFE) {
		log_auth(LOG_WARNING,
			 "%s: API unavailable (%s); fail_mode=safe leaves the password change of %s to "
			 "the rest of the PAM stack",
			 pc->profile->name, why, pc->user);
		finish(pc, FR_RESULT_IGNORE, fr_tr(pc->lang, "Authentication service unavailable"));
		return;
	}
	log_err("%s: API unavailable: %s", pc->profile->name, why);
	finish(pc, FR_RESULT_AUTHINFO_UNAVAIL, fr_tr(pc->lang, "Authentication service unavailable"));
}

/* ---- the steps ---------------------------------------------------------- */

static void
send_step(struct passwd_change *pc, enum passwd_state state, struct profile_step *step)
{
	struct http_request req;

	if (step->verdict != STEP_REQUEST) {
		unavailable(pc, step->text);
		return;
	}
	profile_request_http(&step->request, &req);
	set_state(pc, state);
	int r = pc->h->api.start(pc->h->api.impl, &req, on_reply, pc, &pc->xfer);
	if (r != 0) {
		log_err("cannot start a request to %s: %s", step->request.path, fr_strerror(r));
		unavailable(pc, "request not started");
	}
}

static void
request_code(struct passwd_change *pc)
{
	struct profile_step step;

	step_init(&step);
	step.lang = pc->lang;
	pc->profile->passwd->request_code(pc->name, &step);
	send_step(pc, REQUESTING, &step);
	step_wipe(&step);
}

/* A wrong or unusable code: "Invalid code, N attempts left", and asked
 * again; false when none are left (the change is over). */
static bool
code_failed(struct passwd_change *pc)
{
	unsigned max = pc->h->cfg->max_code_attempts;
	char text[64];

	secret_free(pc->code);
	pc->code = NULL;
	if (++pc->wrong_codes >= max) {
		finish(pc, FR_RESULT_MAXTRIES, fr_tr(pc->lang, "Invalid code, no attempts left"));
		return false;
	}
	unsigned left = max - pc->wrong_codes;
	snprintf(text, sizeof(text),
		 fr_trn(pc->lang, "Invalid code, %u attempt left", "Invalid code, %u attempts left", left), left);
	say_error(pc, text);
	ask(pc, ASK_CODE, 0, fr_tr(pc->lang, PROMPT_CODE));
	return true;
}

/* A new password that did not make it (a mismatch, empty, refused by the
 * API): asked again, at most PASSWD_ROUNDS rounds in all. */
static void
round_failed(struct passwd_change *pc, const char *text)
{
	secret_free(pc->new_password);
	pc->new_password = NULL;
	pc->retyped = false;
	verifier_job_cancel(&pc->verifier_job);
	say_error(pc, text);
	if (++pc->rounds >= PASSWD_ROUNDS) {
		finish(pc, FR_RESULT_MAXTRIES, fr_tr(pc->lang, "Too many attempts; the password is unchanged"));
		return;
	}
	ask(pc, ASK_NEW, FR_PROMPT_IS_PASSWORD, fr_tr(pc->lang, PROMPT_NEW));
}

static void
confirm(struct passwd_change *pc)
{
	struct profile_step step;

	step_init(&step);
	step.lang = pc->lang;
	pc->profile->passwd->confirm(pc->code, pc->new_password, &step);
	send_step(pc, CONFIRMING, &step);
	step_wipe(&step);
}

/* The cached verifier is to be the new password's, when cached
 * re-authentication or offline login keeps one: made on a verifier thread
 * while the API sets the password. */
static void
start_verifier(struct passwd_change *pc)
{
	const struct config *cfg = pc->h->cfg;

	verifier_job_cancel(&pc->verifier_job);
	if (cfg->cached_auth_timeout == 0 && !cfg->offline_login)
		return;
	int r = verifier_job_start(pc->h->verifiers, pc->new_password, pc->caller, &pc->verifier_job);
	if (r != 0)
		log_err("%s: no password verifier for %s: %s", pc->profile->name, pc->user, fr_strerror(r));
}

/* The old password's verifier goes at once, whatever happens to the new
 * one's: the old password must no longer skip a second factor or log in
 * offline.  The record keeps its token, last_login and last_online. */
static void
replace_verifier(struct passwd_change *pc)
{
	struct cache_record rec;

	if (token_cache_load(pc->h->cache, pc->user, &rec) != 0) {
		verifier_job_cancel(&pc->verifier_job);
		return;
	}
	char *made = verifier_job_take(&pc->verifier_job);
	if (made != NULL || rec.verifier != NULL) {
		secret_free(rec.verifier);
		rec.verifier = made; /* cache_record_wipe frees it */
		int r = token_cache_store(pc->h->cache, pc->user, &rec);
		if (r != 0)
			log_err("%s: the cached verifier of %s could not be replaced: %s", pc->profile->name, pc->user,
				fr_strerror(r));
	}
	/* Still being made: it joins the record when ready (login.h,
	 * login_verifier_ready), since the record now has none. */
	if (pc->verifier_job != NULL)
		verifier_job_hand_off(&pc->verifier_job, pc->user, (long long)rec.last_login);
	cache_record_wipe(&rec);
}

static void
succeeded(struct passwd_change *pc)
{
	log_auth(LOG_NOTICE, "%s: password of %s changed at the API (asked by uid %u)", pc->profile->name, pc->user,
		 (unsigned)pc->caller);
	replace_verifier(pc);
	finish(pc, FR_RESULT_SUCCESS, NULL);
}

/* "A password reset code was emailed to a***@example.com." */
static void
announce_code(struct passwd_change *pc)
{
	char masked[API_EMAIL_MAX + 8], info[API_EMAIL_MAX + 64];

	if (api_mask_email(pc->name, masked, sizeof(masked)))
		snprintf(info, sizeof(info), fr_tr(pc->lang, "A password reset code was emailed to %s."), masked);
	else
		snprintf(info, sizeof(info), "%s", fr_tr(pc->lang, "A password reset code was emailed to you."));
	say_info(pc, info);
	ask(pc, ASK_CODE, 0, fr_tr(pc->lang, PROMPT_CODE));
}

/* ---- replies ---------------------------------------------------------------- */

static void
on_checked(struct passwd_change *pc, enum passwd_reply verdict, const char *text)
{
	switch (verdict) {
	case PASSWD_GO_ON:
		access_claim_finish(pc->h, &pc->claim, FR_RESULT_SUCCESS);
		request_code(pc);
		return;
	case PASSWD_UNUSABLE:
		unavailable(pc, text);
		return;
	case PASSWD_WRONG_PASSWORD:
	case PASSWD_WRONG_CODE:
	case PASSWD_WEAK:
	case PASSWD_REFUSED:
		/* Nothing is mailed for a wrong password. */
		access_claim_finish(pc->h, &pc->claim, FR_RESULT_AUTH_ERR);
		finish(pc, FR_RESULT_AUTH_ERR, fr_tr(pc->lang, text));
		return;
	}
}

static void
on_confirmed(struct passwd_change *pc, enum passwd_reply verdict, const char *text)
{
	switch (verdict) {
	case PASSWD_GO_ON:
		succeeded(pc);
		return;
	case PASSWD_WRONG_CODE:
		(void)code_failed(pc); /* the new password is kept */
		return;
	case PASSWD_WEAK:
		round_failed(pc, fr_tr(pc->lang, text)); /* the code is kept */
		return;
	case PASSWD_UNUSABLE:
		unavailable(pc, text);
		return;
	case PASSWD_WRONG_PASSWORD:
	case PASSWD_REFUSED:
		finish(pc, FR_RESULT_AUTH_ERR, fr_tr(pc->lang, text));
		return;
	}
}

static void
on_reply(void *ctx, const struct http_response *resp)
{
	struct passwd_change *pc = ctx;
	const struct profile_passwd *api = pc->profile->passwd;
	char text[PROFILE_TEXT_MAX] = "", why[192];
	struct api_error err;
	enum passwd_reply verdict;

	pc->xfer = NULL;
	if (profile_reply_failed(resp, pc->state == CHECKING ? "login" : "password reset", why, sizeof(why))) {
		unavailable(pc, why);
		return;
	}
	if (resp->status == 429) {
		api_parse_error(resp->body, resp->body_len, &err);
		login_rate_limited_text(pc->lang, err.retry_after, text, sizeof(text));
		if (pc->claim.held)
			access_claim_finish(pc->h, &pc->claim, FR_RESULT_MAXTRIES);
		finish(pc, FR_RESULT_MAXTRIES, text);
		return;
	}
	switch (pc->state) {
	case CHECKING:
		on_checked(pc, api->password_checked(resp, text), text);
		return;
	case REQUESTING:
		verdict = api->code_requested(resp, text);
		if (verdict == PASSWD_GO_ON)
			announce_code(pc);
		else if (verdict == PASSWD_UNUSABLE)
			unavailable(pc, text);
		else
			finish(pc, FR_RESULT_AUTH_ERR, fr_tr(pc->lang, text));
		return;
	case CONFIRMING:
		on_confirmed(pc, api->confirmed(resp, text), text);
		return;
	case ASK_CURRENT:
	case ASK_CODE:
	case ASK_NEW:
	case ASK_RETYPE:
	case OVER:
		break;
	}
	finish(pc, FR_RESULT_SYSTEM_ERR, NULL);
}

/* ---- answers ---------------------------------------------------------------- */

static void
answer_current(struct passwd_change *pc, const char *text)
{
	struct profile_step step;
	char msg[96];

	if (text[0] == '\0') {
		finish(pc, FR_RESULT_AUTH_ERR, fr_tr(pc->lang, "The current password is empty"));
		return;
	}
	unsigned wait = access_claim_reserve(pc->h, &pc->claim);
	if (wait > 0) {
		log_auth(LOG_NOTICE, "%s: current password of %s (%s) not sent: out of attempts for %u s",
			 pc->profile->name, pc->user, pc->claim.caller_key != NULL ? pc->claim.caller_key : "-", wait);
		snprintf(msg, sizeof(msg), fr_tr(pc->lang, "Too many failed attempts; try again in %u s"), wait);
		finish(pc, FR_RESULT_AUTH_ERR, msg);
		return;
	}
	step_init(&step);
	step.lang = pc->lang;
	pc->profile->passwd->check_password(pc->name, text, &step);
	send_step(pc, CHECKING, &step);
	step_wipe(&step); /* the password's copy in the request body */
}

/* Blanks around a code typed from an email do not count; an empty answer
 * or a control character is a wrong code, without a request. */
static void
answer_code(struct passwd_change *pc, const char *text)
{
	const char *s = text, *e = text + strlen(text);

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	bool usable = e > s && (size_t)(e - s) <= PASSWD_CODE_MAX;
	for (const char *p = s; usable && p < e; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			usable = false;
	if (!usable) {
		(void)code_failed(pc);
		return;
	}
	secret_free(pc->code);
	if ((pc->code = secret_strndup(s, (size_t)(e - s))) == NULL) {
		finish(pc, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	if (pc->retyped)
		confirm(pc); /* the code was refused: the new password stands */
	else
		ask(pc, ASK_NEW, FR_PROMPT_IS_PASSWORD, fr_tr(pc->lang, PROMPT_NEW));
}

static void
answer_new(struct passwd_change *pc, const char *text)
{
	if (text[0] == '\0') {
		round_failed(pc, fr_tr(pc->lang, "The new password is empty."));
		return;
	}
	if (secret_set(&pc->new_password, text) != 0) {
		finish(pc, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	ask(pc, ASK_RETYPE, 0, fr_tr(pc->lang, PROMPT_RETYPE));
}

static void
answer_retype(struct passwd_change *pc, const char *text)
{
	if (strcmp(text, pc->new_password) != 0) {
		round_failed(pc, fr_tr(pc->lang, "Sorry, passwords do not match."));
		return;
	}
	pc->retyped = true;
	start_verifier(pc);
	confirm(pc);
}

void
passwd_answer(struct passwd_change *pc, const char *text)
{
	switch (pc->state) {
	case ASK_CURRENT:
		answer_current(pc, text);
		return;
	case ASK_CODE:
		answer_code(pc, text);
		return;
	case ASK_NEW:
		answer_new(pc, text);
		return;
	case ASK_RETYPE:
		answer_retype(pc, text);
		return;
	case CHECKING:
	case REQUESTING:
	case CONFIRMING:
	case OVER:
		break;
	}
	/* The connection state table makes this unreachable. */
	finish(pc, FR_RESULT_SYSTEM_ERR, NULL);
}

/* ---- the start -------------------------------------------------------------- */

struct passwd_change *
passwd_new(struct helper *h, const struct passwd_request *rq, const struct login_io *io, void *io_ctx)
{
	const struct profile *profile = profile_for(h->cfg);
	struct passwd_change *pc;

	if (profile == NULL || profile->passwd == NULL || (pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	pc->h = h;
	pc->io = io;
	pc->io_ctx = io_ctx;
	pc->profile = profile;
	pc->caller = rq->caller_uid;
	pc->caller_pid = rq->caller_pid;
	pc->lang = rq->lang;
	pc->started_ms = loop_now_ms();
	audit_next_login_id(h->audit, pc->login_id);
	pc->user = strdup(rq->user);
	pc->service = strdup(rq->service);
	pc->rhost = rq->rhost != NULL ? strdup(rq->rhost) : NULL;
	pc->name = login_remote_name(rq->user, h->cfg->user_template);
	int claim_r = access_claim_copy(&pc->claim, &rq->claim);
	if (pc->user == NULL || pc->service == NULL || (rq->rhost != NULL && pc->rhost == NULL) || pc->name == NULL ||
	    claim_r != FR_OK) {
		pc->state = OVER;
		loop_defer(h->loop, &pc->release, release, pc);
		return NULL;
	}
	return pc;
}

void
passwd_begin(struct passwd_change *pc)
{
	log_debug("%s: password change for %s service %s by uid %u pid %d", pc->profile->name, pc->user, pc->service,
		  (unsigned)pc->caller, (int)pc->caller_pid);
	/* Root is not asked for the current password (as passwd(1) does not). */
	if (pc->caller != 0)
		ask(pc, ASK_CURRENT, 0, fr_tr(pc->lang, PROMPT_CURRENT));
	else
		request_code(pc);
}
