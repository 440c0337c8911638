#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/account_parse.h"
#include "api/parse.h"
#include "core/secret.h"
#include "fr_error.h"
#include "fr_text.h"

/* Any JSON value; the caller checks its type.  Duplicate keys could let
 * two parsers disagree about one reply. */
static json_t *
load_json(const char *body, size_t len)
{
	json_error_t err;

	return json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
}

static json_t *
load_object(const char *body, size_t len)
{
	json_t *root = load_json(body, len);

	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Printable ASCII without blanks, 1..max bytes: a code, a key, a URI. */
static bool
word_valid(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL || n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static char *
take_word(const json_t *v)
{
	return secret_strndup(json_string_value(v), json_string_length(v));
}

int
api_parse_aius_mint(const char *body, size_t len, char **token)
{
	int r = FR_ERR_INVALID;

	*token = NULL;
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *v = json_object_get(root, "token");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	size_t plen = strlen(API_DURABLE_TOKEN_PREFIX);
	if (s != NULL && n > plen && strncmp(s, API_DURABLE_TOKEN_PREFIX, plen) == 0 && api_token_valid(s, n))
		r = (*token = secret_strndup(s, n)) != NULL ? FR_OK : FR_ERR_NOMEM;
	json_decref(root);
	return r;
}

int
api_parse_twofa_status(const char *body, size_t len, bool *enabled)
{
	int r = FR_ERR_INVALID;

	*enabled = false;
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *v = json_object_get(root, "enabled");
	if (json_is_boolean(v)) {
		*enabled = json_is_true(v);
		r = FR_OK;
	}
	json_decref(root);
	return r;
}

/* RFC 4648 base32, optional '=' padding. */
static bool
base32_valid(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i = 0;

	if (s == NULL || n < API_TOTP_SECRET_MIN || n > API_TOTP_SECRET_MAX)
		return false;
	while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
		i++;
	if (i == 0)
		return false;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

void
api_twofa_secret_wipe(struct twofa_secret *s)
{
	secret_free(s->secret);
	secret_free(s->otpauth_uri);
	s->secret = s->otpauth_uri = NULL;
}

int
api_parse_twofa_setup(const char *body, size_t len, struct twofa_secret *out)
{
	static const char prefix[] = "otpauth://totp/";
	int r = FR_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *secret = json_object_get(root, "secret");
	json_t *uri = json_object_get(root, "otpauth_uri");
	if (base32_valid(secret) && word_valid(uri, API_OTPAUTH_URI_MAX) &&
	    strncmp(json_string_value(uri), prefix, sizeof(prefix) - 1) == 0) {
		out->secret = take_word(secret);
		out->otpauth_uri = take_word(uri);
		r = out->secret != NULL && out->otpauth_uri != NULL ? FR_OK : FR_ERR_NOMEM;
	}
	json_decref(root);
	if (r != 0)
		api_twofa_secret_wipe(out);
	return r;
}

void
api_recovery_codes_wipe(struct recovery_codes *c)
{
	for (unsigned i = 0; i < c->count; i++)
		secret_free(c->code[i]);
	memset(c, 0, sizeof(*c));
}

int
api_parse_twofa_enable(const char *body, size_t len, struct recovery_codes *out)
{
	int r = FR_ERR_INVALID;
	size_t i;
	json_t *v;

	memset(out, 0, sizeof(*out));
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *codes = json_object_get(root, "recovery_codes");
	if (!json_is_true(json_object_get(root, "enabled")) || !json_is_array(codes) ||
	    json_array_size(codes) > API_RECOVERY_CODES_MAX)
		goto out;
	json_array_foreach (codes, i, v) {
		if (!word_valid(v, API_RECOVERY_CODE_MAX))
			goto out;
	}
	r = FR_OK;
	json_array_foreach (codes, i, v) {
		if ((out->code[out->count] = take_word(v)) == NULL) {
			r = FR_ERR_NOMEM;
			break;
		}
		out->count++;
	}
out:
	json_decref(root);
	if (r != 0)
		api_recovery_codes_wipe(out);
	return r;
}

int
api_parse_twofa_disable(const char *body, size_t len)
{
	json_t *root = load_object(body, len);
	int r = root != NULL && json_is_false(json_object_get(root, "enabled")) ? FR_OK : FR_ERR_INVALID;

	json_decref(root);
	return r;
}

bool
api_key_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > API_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* An optional text member: absent (or null when `null_ok`) leaves `out`
 * empty; a string of at most `max` bytes is sanitised into it; anything
 * else is a broken reply. */
static bool
take_text(json_t *obj, const char *key, bool null_ok, char *out, size_t max)
{
	json_t *v = json_object_get(obj, key);

	out[0] = '\0';
	if (v == NULL || (null_ok && json_is_null(v)))
		return true;
	if (!json_is_string(v) || json_string_length(v) > max)
		return false;
	fr_text_sanitize(out, max + 1, json_string_value(v), json_string_length(v), 0);
	return true;
}

static bool
take_key_info(json_t *obj, struct api_key_info *out)
{
	json_t *id = json_object_get(obj, "keyId");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj) || !json_is_string(id) ||
	    !api_key_id_valid(json_string_value(id), json_string_length(id)))
		return false;
	memcpy(out->key_id, json_string_value(id), json_string_length(id) + 1);
	return take_text(obj, "name", false, out->name, API_KEY_NAME_MAX) &&
	       take_text(obj, "createdAt", false, out->created_at, API_KEY_TIME_MAX) &&
	       take_text(obj, "lastUsed", true, out->last_used, API_KEY_TIME_MAX);
}

void
api_key_new_wipe(struct api_key_new *k)
{
	secret_free(k->api_key);
	memset(k, 0, sizeof(*k));
}

int
api_parse_key_new(const char *body, size_t len, struct api_key_new *out)
{
	int r = FR_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	json_t *root = load_object(body, len);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *key = json_object_get(root, "apiKey");
	if (take_key_info(root, &out->info) && word_valid(key, API_KEY_SECRET_MAX))
		r = (out->api_key = take_word(key)) != NULL ? FR_OK : FR_ERR_NOMEM;
	json_decref(root);
	if (r != 0)
		api_key_new_wipe(out);
	return r;
}

void
api_key_list_free(struct api_key_list *l)
{
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

int
api_parse_key_list(const char *body, size_t len, struct api_key_list *out)
{
	struct api_key_info info;
	int r = FR_ERR_INVALID;
	size_t i;
	json_t *v;

	memset(out, 0, sizeof(*out));
	json_t *root = load_json(body, len);
	if (!json_is_array(root))
		goto out;
	size_t n = json_array_size(root);
	size_t keep = n < API_KEY_LIST_MAX ? n : API_KEY_LIST_MAX;
	if (keep > 0 && (out->keys = calloc(keep, sizeof(*out->keys))) == NULL) {
		r = FR_ERR_NOMEM;
		goto out;
	}
	/* Every element is checked, kept or not: one of the wrong type makes
	 * the whole listing unusable. */
	json_array_foreach (root, i, v) {
		if (!take_key_info(v, &info))
			goto out;
		if (i < keep)
			out->keys[out->count++] = info;
	}
	out->truncated = n > keep;
	r = FR_OK;
out:
	json_decref(root);
	if (r != 0)
		api_key_list_free(out);
	return r;
}
