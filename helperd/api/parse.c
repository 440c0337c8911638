#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/parse.h"
#include "fr_error.h"
#include "fr_text.h"
#include "core/secret.h"

static json_t *
load_object(const char *body, size_t len)
{
	json_error_t err;
	/* Duplicate keys could let two parsers disagree about one reply. */
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);

	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void
copy_code(char *out, size_t outlen, const json_t *code)
{
	const char *s = json_string_value(code);
	size_t n = json_string_length(code);

	out[0] = '\0';
	if (s == NULL || n == 0 || n >= outlen)
		return;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return;
	memcpy(out, s, n + 1);
}

static void
copy_message(char *out, size_t outlen, const json_t *msg)
{
	const char *s = json_string_value(msg);

	out[0] = '\0';
	if (s != NULL)
		fr_text_sanitize(out, outlen, s, json_string_length(msg), 0);
}

void
api_parse_error(const char *body, size_t len, struct api_error *out)
{
	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	json_t *root = load_object(body, len);
	if (root == NULL)
		return;

	json_t *err = json_object_get(root, "error");
	json_t *detail = json_object_get(root, "detail");
	if (json_is_object(err)) {
		copy_code(out->code, sizeof(out->code), json_object_get(err, "code"));
		copy_message(out->message, sizeof(out->message), json_object_get(err, "message"));
		json_t *retry = json_object_get(json_object_get(err, "details"), "retry_after");
		if (json_is_integer(retry) && json_integer_value(retry) >= 0 && json_integer_value(retry) <= 86400)
			out->retry_after = (long)json_integer_value(retry);
	} else if (json_is_string(err)) {
		copy_message(out->message, sizeof(out->message), err);
	} else if (json_is_object(detail)) {
		copy_code(out->code, sizeof(out->code), json_object_get(detail, "code"));
		copy_message(out->message, sizeof(out->message), json_object_get(detail, "message"));
	} else if (json_is_string(detail)) {
		copy_message(out->message, sizeof(out->message), detail);
	}
	json_decref(root);
}

void
api_parse_trace_id(const char *body, size_t len, char out[API_TRACE_ID_MAX + 1])
{
	out[0] = '\0';
	json_t *root = load_object(body, len);
	if (root == NULL)
		return;
	json_t *id = json_object_get(json_object_get(root, "error"), "trace_id");
	const char *s = json_string_value(id);
	size_t n = json_string_length(id);
	bool ok = s != NULL && n > 0 && n <= API_TRACE_ID_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		char c = s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		     c == '_' || c == ':' || c == '-';
	}
	if (ok)
		memcpy(out, s, n + 1);
	json_decref(root);
}

static bool
valid_email_key(const char *s, size_t n)
{
	if (n == 0 || n > API_EMAIL_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool
valid_email(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);

	if (n < 3 || n > API_EMAIL_MAX || at == NULL || at == s || at == s + n - 1 ||
	    memchr(at + 1, '@', n - (size_t)(at + 1 - s)) != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int
api_parse_freddy_login(const char *body, size_t len, struct freddy_login_reply *out)
{
	int r = FR_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *key = json_object_get(root, "email_key");
	json_t *email = json_object_get(root, "email");
	if (json_is_string(key) && valid_email_key(json_string_value(key), json_string_length(key))) {
		memcpy(out->email_key, json_string_value(key), json_string_length(key) + 1);
		if (json_is_string(email) && valid_email(json_string_value(email), json_string_length(email)))
			memcpy(out->email, json_string_value(email), json_string_length(email) + 1);
		r = FR_OK;
	}
	json_decref(root);
	return r;
}

bool
api_token_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > API_TOKEN_MAX)
		return false;
	for (; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
			break;
	}
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

static int
take_token(json_t *root, const char *key, char **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL)
		return FR_ERR_NOT_FOUND;
	if (!json_is_string(v) || !api_token_valid(json_string_value(v), json_string_length(v)))
		return FR_ERR_INVALID;
	if ((*out = secret_strndup(json_string_value(v), json_string_length(v))) == NULL)
		return FR_ERR_NOMEM;
	return FR_OK;
}

int
api_parse_tokens(const char *body, size_t len, const char *access_key, const char *refresh_key, unsigned flags,
		 struct api_tokens *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	out->expires_in = -1;
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	if ((r = take_token(root, access_key, &out->access_token)) != 0) {
		if (r == FR_ERR_NOT_FOUND)
			r = FR_ERR_INVALID;
		goto out;
	}
	if (refresh_key != NULL) {
		r = take_token(root, refresh_key, &out->refresh_token);
		if (r == FR_ERR_NOT_FOUND && !(flags & API_REFRESH_REQUIRED))
			r = FR_OK;
		else if (r == FR_ERR_NOT_FOUND)
			r = FR_ERR_INVALID;
		if (r != 0)
			goto out;
	}
	json_t *exp = json_object_get(root, "expires_in");
	if (exp != NULL) {
		/* One second to ten years; anything else is a broken reply. */
		if (!json_is_integer(exp) || json_integer_value(exp) < 1 || json_integer_value(exp) > 315360000) {
			r = FR_ERR_INVALID;
			goto out;
		}
		out->expires_in = (long)json_integer_value(exp);
	}
	r = FR_OK;
out:
	json_decref(root);
	if (r != 0)
		api_tokens_wipe(out);
	return r;
}

void
api_tokens_wipe(struct api_tokens *t)
{
	secret_free(t->access_token);
	secret_free(t->refresh_token);
	t->access_token = NULL;
	t->refresh_token = NULL;
	t->expires_in = -1;
}

bool
api_mask_email(const char *email, char *out, size_t outlen)
{
	size_t n = strlen(email);
	const char *at = strchr(email, '@');

	if (outlen > 0)
		out[0] = '\0';
	if (!valid_email(email, n) || at == NULL)
		return false;
	int w = snprintf(out, outlen, "%c***%s", email[0], at);
	if (w < 0 || (size_t)w >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

void
api_aius_login_wipe(struct aius_login_reply *r)
{
	secret_free(r->session_token);
	secret_free(r->challenge_token);
	memset(r, 0, sizeof(*r));
}

int
api_parse_aius_login(const char *body, size_t len, struct aius_login_reply *out)
{
	int r = FR_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *needs = json_object_get(root, "requires_2fa");
	/* DOCS SILENT: the 2FA body is described in prose only.  requires_2fa
	 * must be the JSON true and then a challenge_token is required; a
	 * requires_2fa of any other type is a broken reply, never a pass. */
	if (needs != NULL && !json_is_boolean(needs))
		goto out;
	if (json_is_true(needs)) {
		json_t *ch = json_object_get(root, "challenge_token");
		if (!json_is_string(ch) || json_string_length(ch) > API_CHALLENGE_MAX ||
		    !api_token_valid(json_string_value(ch), json_string_length(ch)))
			goto out;
		if ((out->challenge_token = secret_strndup(json_string_value(ch), json_string_length(ch))) == NULL) {
			r = FR_ERR_NOMEM;
			goto out;
		}
		out->kind = AIUS_LOGIN_CHALLENGE;
		r = FR_OK;
		goto out;
	}
	if ((r = take_token(root, "session_token", &out->session_token)) != 0) {
		if (r == FR_ERR_NOT_FOUND)
			r = FR_ERR_INVALID;
		goto out;
	}
	out->kind = AIUS_LOGIN_SESSION;
	r = FR_OK;
out:
	json_decref(root);
	if (r != 0)
		api_aius_login_wipe(out);
	return r;
}
