#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth/access.h"
#include "fr_error.h"
#include "core/audit.h"
#include "core/log.h"
#include "store/ratelimit.h"

static const struct ratelimit_policy *
policy_for(const struct config *cfg, bool user_key, struct ratelimit_policy *p)
{
	p->threshold = cfg->rate_limit_failures;
	p->delay = cfg->rate_limit_delay;
	/* The user's own key is every origin's together: capped low, so a
	 * stranger cannot hold the account shut for long; each origin (and
	 * each non-root caller) has the long cap of its own. */
	p->max_delay = user_key ? cfg->rate_limit_user_max_delay : RATELIMIT_MAX_DELAY;
	if (p->max_delay < p->delay)
		p->max_delay = p->delay;
	return p;
}

/* Where a root caller's attempt comes from: the network peer for sshd,
 * the invoking user for su and sudo, else the terminal.  Values are the
 * cleaned copies of AUTH_BEGIN's tags. */
static void
origin_of(const struct access_request *rq, char *out, size_t outlen)
{
	if (rq->rhost != NULL && rq->rhost[0] != '\0')
		(void)snprintf(out, outlen, "rhost=%s", rq->rhost);
	else if (rq->ruser != NULL && rq->ruser[0] != '\0')
		(void)snprintf(out, outlen, "ruser=%s", rq->ruser);
	else if (rq->tty != NULL && rq->tty[0] != '\0')
		(void)snprintf(out, outlen, "tty=%s", rq->tty);
	else
		(void)snprintf(out, outlen, "local");
}

/* Both keys in one allocation: "caller\0user\0". */
static int
claim_set_keys(struct access_claim *claim, const char *caller_key, const char *user_key)
{
	size_t clen = strlen(caller_key), ulen = strlen(user_key);
	char *keys = malloc(clen + 1 + ulen + 1);

	if (keys == NULL)
		return FR_ERR_NOMEM;
	memcpy(keys, caller_key, clen + 1);
	memcpy(keys + clen + 1, user_key, ulen + 1);
	claim->caller_key = keys;
	claim->user_key = keys + clen + 1;
	return FR_OK;
}

static int
claim_keys(const struct access_request *rq, const char *name, struct access_claim *claim)
{
	char origin[512], caller_key[RATELIMIT_KEY_MAX + 1], user_key[RATELIMIT_KEY_MAX + 1];
	int r = FR_OK;

	memset(claim, 0, sizeof(*claim));
	claim->non_root = rq->caller_uid != 0;
	(void)snprintf(user_key, sizeof(user_key), "user:%s", name);
	if (claim->non_root) {
		(void)snprintf(caller_key, sizeof(caller_key), "uid:%u", (unsigned)rq->caller_uid);
	} else {
		origin_of(rq, origin, sizeof(origin));
		r = ratelimit_origin_key(caller_key, sizeof(caller_key), name, origin);
	}
	return r != FR_OK ? r : claim_set_keys(claim, caller_key, user_key);
}

int
access_claim_copy(struct access_claim *dst, const struct access_claim *src)
{
	*dst = *src;
	dst->caller_key = dst->user_key = NULL;
	if (src->caller_key == NULL)
		return FR_OK;
	int r = claim_set_keys(dst, src->caller_key, src->user_key);
	if (r != FR_OK)
		memset(dst, 0, sizeof(*dst));
	return r;
}

void
access_claim_free(struct access_claim *claim)
{
	free(claim->caller_key);
	memset(claim, 0, sizeof(*claim));
}

/* The ratelimit table's key for a claim's key: none is "", as before the
 * keys were allocated. */
static const char *
key_or_empty(const char *key)
{
	return key != NULL ? key : "";
}

static void
refuse(struct access_verdict *v, enum fr_result result, const char *text)
{
	v->outcome = ACCESS_REFUSED;
	v->result = result;
	(void)snprintf(v->text, sizeof(v->text), "%s", text != NULL ? text : "");
}

static void
refuse_throttled(struct helper *h, const struct access_request *rq, const char *user, struct access_verdict *v,
		 unsigned wait)
{
	v->outcome = ACCESS_REFUSED;
	v->result = FR_RESULT_AUTH_ERR;
	/* TRANSLATORS: %u is a number of seconds; "s" is the unit symbol. */
	(void)snprintf(v->text, sizeof(v->text), fr_tr(rq->lang, "Too many failed attempts; try again in %u s"), wait);
	audit_emit(h->audit, &(struct audit_record){
				 .event = AUDIT_RATE_LIMITED,
				 .user = user,
				 .service = rq->service,
				 .rhost = rq->rhost,
				 .tty = rq->tty,
				 .caller_uid = rq->caller_uid,
				 .result = fr_result_name((int)v->result),
				 .login_id = rq->login_id,
			     });
}

void
access_gate(struct helper *h, const struct access_request *rq, struct access_verdict *v)
{
	const struct config *cfg = h->cfg;
	struct ratelimit_policy policy;
	char key[RATELIMIT_KEY_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	uid_t caller = rq->caller_uid;
	unsigned wait;
	int r;

	memset(v, 0, sizeof(*v));
	/* A throttled caller is refused before it learns anything else. */
	if (caller != 0) {
		(void)snprintf(key, sizeof(key), "uid:%u", (unsigned)caller);
		if ((wait = ratelimit_wait(h->ratelimit, key, policy_for(cfg, false, &policy), now)) > 0) {
			log_auth(LOG_NOTICE,
				 "refusing a login for %s from uid %u: that caller is "
				 "rate-limited for %u more s",
				 rq->user, (unsigned)caller, wait);
			refuse_throttled(h, rq, rq->user, v, wait);
			return;
		}
	}
	if (rq->account == NULL && cfg->allowed_groups != NULL) {
		log_auth(LOG_INFO,
			 "%s has no local account, so is not in allowed_groups; leaving the "
			 "decision to the rest of the PAM stack",
			 rq->user);
		refuse(v, FR_RESULT_IGNORE, NULL);
		return;
	}
	if (rq->account == NULL) {
		/* Not sent to the API: a stranger's guesses at names that are
		 * no account here must not spend a real account's budget at
		 * the API (its 429 would lock the owner out). */
		log_auth(LOG_NOTICE,
			 "refusing a login for %s (rhost %s): no local account; nothing sent "
			 "to the API",
			 rq->user, rq->rhost != NULL ? rq->rhost : "-");
		v->outcome = ACCESS_NO_ACCOUNT;
		v->result = FR_RESULT_AUTH_ERR;
		return;
	}
	v->account = *rq->account;
	const char *name = v->account.name;
	if ((r = rq->groups_result) != 0) {
		if (r == FR_ERR_PERMISSION) {
			log_auth(LOG_INFO,
				 "%s is not in allowed_groups; leaving the decision to the rest "
				 "of the PAM stack",
				 name);
			refuse(v, FR_RESULT_IGNORE, NULL);
		} else {
			log_err("cannot look up the groups of %s: %s", name, fr_strerror(r));
			refuse(v, FR_RESULT_AUTHINFO_UNAVAIL, NULL);
		}
		return;
	}
	if (claim_keys(rq, name, &v->claim) != 0) {
		log_err("cannot make the rate-limit key of %s", name);
		refuse(v, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	if (!v->claim.non_root &&
	    (wait = ratelimit_wait(h->ratelimit, v->claim.caller_key, policy_for(cfg, false, &policy), now)) > 0) {
		log_auth(LOG_NOTICE,
			 "refusing a login for %s from uid 0 (%s): that origin is rate-limited "
			 "for %u more s",
			 name, v->claim.caller_key, wait);
		refuse_throttled(h, rq, name, v, wait);
		return;
	}
	if ((wait = ratelimit_wait(h->ratelimit, v->claim.user_key, policy_for(cfg, true, &policy), now)) > 0) {
		log_auth(LOG_NOTICE,
			 "refusing a login for %s from uid %u: the user is "
			 "rate-limited for %u more s",
			 name, (unsigned)caller, wait);
		refuse_throttled(h, rq, name, v, wait);
		return;
	}
	v->outcome = ACCESS_GO;
}

unsigned
access_claim_reserve(struct helper *h, struct access_claim *claim)
{
	struct ratelimit_policy caller_policy, user_policy;
	int64_t now = (int64_t)time(NULL);

	if (claim->held)
		return 0;
	policy_for(h->cfg, false, &caller_policy);
	policy_for(h->cfg, true, &user_policy);
	const char *caller_key = key_or_empty(claim->caller_key), *user_key = key_or_empty(claim->user_key);
	unsigned wait = ratelimit_reserve(h->ratelimit, caller_key, &caller_policy, now);
	if (wait > 0)
		return wait;
	wait = ratelimit_reserve(h->ratelimit, user_key, &user_policy, now);
	if (wait > 0) {
		ratelimit_release(h->ratelimit, caller_key);
		return wait;
	}
	claim->held = true;
	return 0;
}

void
access_claim_finish(struct helper *h, struct access_claim *claim, enum fr_result result)
{
	int64_t now = (int64_t)time(NULL);
	bool failed = result == FR_RESULT_AUTH_ERR || result == FR_RESULT_MAXTRIES || result == FR_RESULT_USER_UNKNOWN;

	bool held = claim->held;
	const char *caller_key = key_or_empty(claim->caller_key), *user_key = key_or_empty(claim->user_key);

	claim->held = false;
	if (held && failed) {
		ratelimit_commit_failure(h->ratelimit, caller_key, now);
		ratelimit_commit_failure(h->ratelimit, user_key, now);
		return;
	}
	if (held) {
		ratelimit_release(h->ratelimit, caller_key);
		ratelimit_release(h->ratelimit, user_key);
	}
	/* A success clears the budgets even when no password went to the API
	 * (a cached re-authentication matched the verifier). */
	if (result == FR_RESULT_SUCCESS && user_key[0] != '\0') {
		ratelimit_success(h->ratelimit, caller_key, now);
		ratelimit_success(h->ratelimit, user_key, now);
	}
}

void
access_claim_abandon(struct helper *h, struct access_claim *claim)
{
	access_claim_finish(h, claim, FR_RESULT_CONV_ERR); /* released: no verdict */
	if (claim->non_root && claim->caller_key != NULL && claim->caller_key[0] != '\0')
		ratelimit_failure(h->ratelimit, claim->caller_key, (int64_t)time(NULL));
}
