/*
 * The JWT API's endpoints that are not part of a login: API keys managed
 * by their owner (freddyctl apikey).  The login and the refresh are
 * profile_jwt's (profile.h).
 */
#ifndef JWT_H
#define JWT_H

#include "api/account_parse.h"
#include "api/profile.h"

enum apikey_op { APIKEY_CREATE, APIKEY_LIST, APIKEY_DELETE };

/* The request of `op` with the access token `bearer`: `arg` is the new
 * key's name (CREATE) or the key's id (DELETE), checked by the caller
 * (api_key_id_valid). */
void jwt_apikey_request(enum apikey_op op, const char *bearer, const char *arg, struct profile_step *out);

struct apikey_result {
	enum account_verdict verdict;
	struct api_key_new created;  /* CREATE */
	struct api_key_list list;    /* LIST */
	char text[PROFILE_TEXT_MAX]; /* REFUSED, NOT_FOUND */
};

/* The reply (2xx or a 4xx other than 401) to `op`. */
void jwt_apikey_reply(enum apikey_op op, const struct http_response *resp, struct apikey_result *out);
void apikey_result_wipe(struct apikey_result *r);

#endif
