/*
 * One user's cache record as JSON: what is kept, and what a file must be
 * to be trusted.  Pure functions, unit-tested and fuzzed; token_cache.c
 * does the file I/O.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/secret.h"
#include "fr_error.h"
#include "store/cache_record.h"

#define CACHE_FORMAT_VERSION 1

void
cache_record_wipe(struct cache_record *rec)
{
	secret_free(rec->refresh_token);
	secret_free(rec->access_token);
	secret_free(rec->verifier);
	memset(rec, 0, sizeof(*rec));
}

int
cache_record_encode(const char *user, const struct cache_record *rec, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (rec->refresh_token == NULL)
		return FR_ERR_INVALID;
	json_t *obj = json_pack("{s:i, s:s, s:s, s:I, s:I}", "version", CACHE_FORMAT_VERSION, "user", user,
				"refresh_token", rec->refresh_token, "access_expires", (json_int_t)rec->access_expires,
				"last_login", (json_int_t)rec->last_login);
	if (obj == NULL)
		return FR_ERR_NOMEM;
	if ((rec->access_token != NULL &&
	     json_object_set_new(obj, "access_token", json_string(rec->access_token)) != 0) ||
	    (rec->verifier != NULL && json_object_set_new(obj, "verifier", json_string(rec->verifier)) != 0) ||
	    (rec->last_online > 0 &&
	     json_object_set_new(obj, "last_online", json_integer((json_int_t)rec->last_online)) != 0)) {
		json_decref(obj);
		return FR_ERR_NOMEM;
	}
	*out = secret_json_dump(obj, len);
	json_decref(obj);
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

static int
take_secret(json_t *root, const char *key, int required, char **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL)
		return required ? FR_ERR_INVALID : FR_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 8192 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return FR_ERR_INVALID;
	*out = secret_strndup(json_string_value(v), json_string_length(v));
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

static int
take_time(json_t *root, const char *key, int required, int64_t *out)
{
	json_t *v = json_object_get(root, key);

	*out = 0;
	if (v == NULL && !required)
		return FR_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return FR_ERR_INVALID;
	*out = (int64_t)json_integer_value(v);
	return FR_OK;
}

int
cache_record_decode(const char *user, const char *buf, size_t len, struct cache_record *out)
{
	json_error_t jerr;
	int r = FR_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return FR_ERR_INVALID;
	json_t *version = json_object_get(root, "version");
	json_t *owner = json_object_get(root, "user");
	/* The name inside must match the file name: a renamed file must not
	 * hand one user another's tokens. */
	if (!json_is_object(root) || !json_is_integer(version) || json_integer_value(version) != CACHE_FORMAT_VERSION ||
	    !json_is_string(owner) || strcmp(json_string_value(owner), user) != 0)
		goto out;
	if ((r = take_secret(root, "refresh_token", 1, &out->refresh_token)) != 0 ||
	    (r = take_secret(root, "access_token", 0, &out->access_token)) != 0 ||
	    (r = take_time(root, "access_expires", 1, &out->access_expires)) != 0 ||
	    (r = take_time(root, "last_login", 1, &out->last_login)) != 0 ||
	    (r = take_secret(root, "verifier", 0, &out->verifier)) != 0 ||
	    (r = take_time(root, "last_online", 0, &out->last_online)) != 0)
		goto out;
	/* Only a yescrypt string can be a verifier of ours; anything else
	 * would let crypt_r pick a weaker (or no) hash. */
	if (out->verifier != NULL && strncmp(out->verifier, "$y$", 3) != 0) {
		r = FR_ERR_INVALID;
		goto out;
	}
	r = FR_OK;
out:
	json_decref(root);
	if (r != 0)
		cache_record_wipe(out);
	return r;
}
