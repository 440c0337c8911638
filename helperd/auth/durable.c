#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "api/profile.h"
#include "auth/durable.h"
#include "core/log.h"
#include "core/secret.h"
#include "fr_error.h"
#include "hostlib/user_name.h"
#include "store/token_cache.h"

enum durable_phase {
	CHECKING,	  /* durable_check: the cached token at the API */
	KEEPING_CHECKING, /* durable_keep: the cached token, before minting */
	MINTING,	  /* durable_keep: a new token from the session */
};

struct durable_job {
	struct helper *h;
	const struct profile *profile;
	enum durable_phase phase;
	char user[USER_NAME_MAX + 1];
	char *session; /* secret: durable_keep's, until the mint is sent */
	char *token;   /* secret: the cached token being checked */
	bool refused;  /* the cached token was refused */
	struct http_xfer *xfer;
	durable_kept_fn kept;
	durable_checked_fn checked;
	void *ctx;
	struct durable_job **owner;
};

static void on_reply(void *ctx, const struct http_response *resp);

static void
job_free(struct durable_job *job)
{
	secret_free(job->session);
	secret_free(job->token);
	explicit_bzero(job, sizeof(*job));
	free(job);
}

static int
job_new(struct helper *h, const char *user, enum durable_phase phase, void *ctx, struct durable_job **out)
{
	const struct profile *p = profile_for(h->cfg);
	struct durable_job *job;

	*out = NULL;
	if (p == NULL || p->durable == NULL)
		return FR_ERR_UNEXPECTED;
	if (strlen(user) > USER_NAME_MAX)
		return FR_ERR_INVALID;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return FR_ERR_NOMEM;
	job->h = h;
	job->profile = p;
	job->phase = phase;
	job->ctx = ctx;
	memcpy(job->user, user, strlen(user) + 1);
	*out = job;
	return FR_OK;
}

/* The step's request, sent; FR_ERR code when it could not be. */
static int
send_step(struct durable_job *job, struct profile_step *step)
{
	struct http_request req;
	int r = FR_ERR_IO;

	if (step->verdict == STEP_REQUEST) {
		profile_request_http(&step->request, &req);
		r = job->h->api.start(job->h->api.impl, &req, on_reply, job, &job->xfer);
	} else {
		log_err("%s: %s", job->profile->name, step->text);
	}
	step_wipe(step);
	return r;
}

static int
send_check(struct durable_job *job)
{
	struct profile_step step;

	step_init(&step);
	job->profile->durable->check(job->token, &step);
	return send_step(job, &step);
}

static int
send_mint(struct durable_job *job)
{
	struct profile_step step;

	step_init(&step);
	job->phase = MINTING;
	job->profile->durable->mint(job->session, &step);
	/* Sent (or not): the session has served. */
	secret_free(job->session);
	job->session = NULL;
	return send_step(job, &step);
}

int
durable_forget(struct helper *h, const char *user, const char *token)
{
	struct cache_record rec;
	int r = FR_ERR_NOT_FOUND;

	if (token_cache_load(h->cache, user, &rec) != 0)
		return FR_ERR_NOT_FOUND;
	if (strcmp(rec.refresh_token, token) == 0)
		r = token_cache_forget(h->cache, user);
	cache_record_wipe(&rec);
	return r;
}

/* Ends the job: the owner's pointer cleared, the job freed, then the
 * owner told (it may start another). */
static void
conclude_kept(struct durable_job *job, char *token)
{
	durable_kept_fn done = job->kept;
	void *ctx = job->ctx;

	*job->owner = NULL;
	job_free(job);
	done(ctx, token);
}

static void
conclude_checked(struct durable_job *job, int result)
{
	durable_checked_fn done = job->checked;
	void *ctx = job->ctx;

	*job->owner = NULL;
	job_free(job);
	done(ctx, result);
}

/* A login goes on without a durable token: say why, and drop a cached
 * one the API refused. */
static void
no_token(struct durable_job *job, const char *why)
{
	log_warn("%s: no durable token for %s: %s", job->profile->name, job->user, why);
	if (job->refused && durable_forget(job->h, job->user, job->token) == 0)
		log_auth(LOG_NOTICE, "%s: dropped the refused cached login of %s", job->profile->name, job->user);
	conclude_kept(job, NULL);
}

static void
on_minted(struct durable_job *job, const struct http_response *resp)
{
	char why[192], *token = NULL;

	if (profile_reply_failed(resp, "mint", why, sizeof(why))) {
		no_token(job, why);
		return;
	}
	int r = job->profile->durable->minted(resp, &token);
	if (r != 0) {
		snprintf(why, sizeof(why), "mint: %s (HTTP %ld)",
			 r == FR_ERR_PERMISSION ? "refused" : "a reply without a usable token", resp->status);
		no_token(job, why);
		return;
	}
	log_auth(LOG_INFO, "%s: minted a durable token for %s", job->profile->name, job->user);
	conclude_kept(job, token);
}

/* 1: the API accepts the token; 0: it refused it; -1: it cannot tell. */
static int
check_verdict(const struct durable_job *job, const struct http_response *resp)
{
	char why[192];

	if (profile_reply_failed(resp, "check", why, sizeof(why))) {
		log_warn("%s: durable token of %s not checked: %s", job->profile->name, job->user, why);
		return -1;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 1;
	if (resp->status >= 400 && resp->status < 500 && job->profile->durable->refused(resp))
		return 0;
	log_warn("%s: durable token of %s not checked: HTTP status %ld", job->profile->name, job->user, resp->status);
	return -1;
}

static void
on_reply(void *ctx, const struct http_response *resp)
{
	struct durable_job *job = ctx;
	int verdict;

	job->xfer = NULL;
	switch (job->phase) {
	case MINTING:
		on_minted(job, resp);
		return;
	case CHECKING:
		verdict = check_verdict(job, resp);
		if (verdict == 0) {
			int r = durable_forget(job->h, job->user, job->token);
			log_auth(LOG_NOTICE, "%s: the API refused the durable token of %s; cached login %s",
				 job->profile->name, job->user, r == 0 ? "dropped" : "already replaced");
		}
		conclude_checked(job, verdict == 1 ? FR_OK : verdict == 0 ? FR_ERR_PERMISSION : FR_ERR_IO);
		return;
	case KEEPING_CHECKING:
		verdict = check_verdict(job, resp);
		if (verdict != 0) {
			/* Accepted, or the API could not tell: the token is kept,
			 * and nothing is minted on a guess. */
			char *token = job->token;
			job->token = NULL;
			conclude_kept(job, token);
			return;
		}
		log_auth(LOG_NOTICE, "%s: the API refused the durable token of %s; minting a new one",
			 job->profile->name, job->user);
		job->refused = true;
		if (send_mint(job) != 0)
			no_token(job, "the mint request could not be sent");
		return;
	}
}

int
durable_keep(struct helper *h, const char *user, const char *session, durable_kept_fn done, void *ctx,
	     struct durable_job **out)
{
	struct durable_job *job;
	struct cache_record rec;
	int r;

	*out = NULL;
	if ((r = job_new(h, user, KEEPING_CHECKING, ctx, &job)) != 0)
		return r;
	job->kept = done;
	job->owner = out;
	if ((job->session = secret_strdup(session)) == NULL) {
		job_free(job);
		return FR_ERR_NOMEM;
	}
	if (token_cache_load(h->cache, user, &rec) == 0) {
		job->token = secret_strdup(rec.refresh_token);
		cache_record_wipe(&rec);
		if (job->token == NULL) {
			job_free(job);
			return FR_ERR_NOMEM;
		}
		r = send_check(job);
	} else {
		r = send_mint(job);
	}
	if (r != 0) {
		job_free(job);
		return r;
	}
	*out = job;
	return FR_OK;
}

int
durable_check(struct helper *h, const char *user, durable_checked_fn done, void *ctx, struct durable_job **out)
{
	struct durable_job *job;
	struct cache_record rec;
	int r;

	*out = NULL;
	if ((r = job_new(h, user, CHECKING, ctx, &job)) != 0)
		return r;
	job->checked = done;
	job->owner = out;
	if ((r = token_cache_load(h->cache, user, &rec)) != 0) {
		job_free(job);
		return r;
	}
	job->token = secret_strdup(rec.refresh_token);
	cache_record_wipe(&rec);
	if (job->token == NULL) {
		job_free(job);
		return FR_ERR_NOMEM;
	}
	if ((r = send_check(job)) != 0) {
		job_free(job);
		return r;
	}
	*out = job;
	return FR_OK;
}

void
durable_cancel(struct helper *h, struct durable_job **jobp)
{
	struct durable_job *job = *jobp;

	if (job == NULL)
		return;
	if (job->xfer != NULL)
		h->api.cancel(h->api.impl, job->xfer);
	*jobp = NULL;
	job_free(job);
}
