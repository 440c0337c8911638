#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api/profile.h"
#include "core/secret.h"

void
step_init(struct profile_step *s)
{
	memset(s, 0, sizeof(*s));
	s->retry_after = -1;
	s->tokens.expires_in = -1;
}

void
step_wipe(struct profile_step *s)
{
	secret_free(s->request.body);
	secret_free(s->request.bearer);
	secret_free(s->request.cookie);
	api_tokens_wipe(&s->tokens);
	explicit_bzero(s, sizeof(*s));
	s->retry_after = -1;
	s->tokens.expires_in = -1;
}

void
step_post(struct profile_step *s, const char *path, json_t *body, bool api_key, const char *bearer)
{
	size_t len = 0;
	char *text = body != NULL ? secret_json_dump(body, &len) : NULL;

	json_decref(body);
	if ((body != NULL && text == NULL) || strlen(path) >= sizeof(s->request.path) ||
	    (bearer != NULL && (s->request.bearer = secret_strdup(bearer)) == NULL)) {
		secret_free(text);
		step_unavailable(s, "out of memory building a request");
		return;
	}
	s->verdict = STEP_REQUEST;
	s->request.method = "POST";
	memcpy(s->request.path, path, strlen(path) + 1);
	s->request.body = text;
	s->request.body_len = len;
	s->request.api_key = api_key;
}

void
step_fetch(struct profile_step *s, const char *method, const char *path, const char *bearer)
{
	if (strlen(path) >= sizeof(s->request.path) ||
	    (bearer != NULL && (s->request.bearer = secret_strdup(bearer)) == NULL)) {
		step_unavailable(s, "out of memory building a request");
		return;
	}
	s->verdict = STEP_REQUEST;
	s->request.method = method;
	memcpy(s->request.path, path, strlen(path) + 1);
}

void
profile_request_http(const struct profile_request *pr, struct http_request *out)
{
	*out = (struct http_request){
		.method = pr->method,
		.path = pr->path,
		.body = pr->body,
		.body_len = pr->body_len,
		.bearer = pr->bearer,
		.cookie = pr->cookie,
		.api_key = pr->api_key,
	};
}

bool
profile_reply_failed(const struct http_response *resp, const char *step, char *why, size_t len)
{
	if (resp->outcome != HTTP_ANSWERED)
		snprintf(why, len, "%s: %s (%s)", step, http_outcome_name(resp->outcome), resp->error);
	else if (resp->status >= 500 || resp->status < 200 || (resp->status >= 300 && resp->status < 400))
		snprintf(why, len, "%s: HTTP status %ld", step, resp->status);
	else
		return false;
	return true;
}

void
step_prompt(struct profile_step *s, const char *info, const char *prompt)
{
	s->verdict = STEP_PROMPT;
	snprintf(s->info, sizeof(s->info), "%s", info != NULL ? info : "");
	snprintf(s->prompt, sizeof(s->prompt), "%s", prompt);
}

void
step_refused(struct profile_step *s, const char *text)
{
	s->verdict = STEP_REFUSED;
	snprintf(s->text, sizeof(s->text), "%s", text);
}

void
step_unavailable(struct profile_step *s, const char *why)
{
	s->verdict = STEP_UNAVAILABLE;
	snprintf(s->text, sizeof(s->text), "%s", why);
}

void
step_wrong_answer(struct profile_step *s, const char *text)
{
	s->verdict = STEP_WRONG_ANSWER;
	snprintf(s->text, sizeof(s->text), "%s", text != NULL ? text : "");
}

/* helper_config.c's check_combinations has already refused the pairs
 * that make no sense (email without freddy, totp with aius, ...). */
const struct profile *
profile_for(const struct config *cfg)
{
	switch (cfg->api) {
	case API_FREDDY:
		if (cfg->second_factor == SECOND_FACTOR_EMAIL)
			return &profile_freddy_email;
		if (cfg->second_factor == SECOND_FACTOR_TOTP)
			return &profile_freddy_totp;
		return NULL;
	case API_AIUS:
		return cfg->second_factor == SECOND_FACTOR_NONE ? &profile_aius : NULL;
	case API_JWT:
		if (cfg->second_factor == SECOND_FACTOR_NONE)
			return &profile_jwt;
		if (cfg->second_factor == SECOND_FACTOR_TOTP)
			return &profile_jwt_totp;
		return NULL;
	}
	return NULL;
}
