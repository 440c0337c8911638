/*
 * APIKEY_CREATE, APIKEY_LIST, APIKEY_DELETE: the caller's own API keys at
 * the JWT API (freddyctl apikey), with the access token the helper holds
 * for them.  A new key goes to the caller once and is wiped: never
 * stored, cached or logged; a listing never carries a key.
 */
#include "config.h"

#include <string.h>

#include "api/jwt.h"
#include "core/secret.h"
#include "fr_text.h"
#include "requests/account.h"

static const struct account_kind apikey_kind = {
	.api = API_JWT,
	.wrong_api = N_("freddyctl apikey is for the jwt API; this helper uses api = "),
	.unreachable = N_("The JWT API cannot be reached"),
};

static void
apikey_build(struct account_req *ar, const char *bearer, struct profile_step *out)
{
	jwt_apikey_request((enum apikey_op)ar->op, bearer, ar->arg, out);
}

static void
put_info(struct fr_frame *frame, const struct api_key_info *k)
{
	fr_frame_put_str(frame, FR_TAG_KEY_ID, k->key_id);
	if (k->name[0] != '\0')
		fr_frame_put_str(frame, FR_TAG_KEY_NAME, k->name);
	if (k->created_at[0] != '\0')
		fr_frame_put_str(frame, FR_TAG_CREATED_AT, k->created_at);
}

static bool
send_result(struct account_req *ar, const struct apikey_result *res)
{
	struct fr_frame frame;

	switch ((enum apikey_op)ar->op) {
	case APIKEY_CREATE:
		fr_frame_init(&frame, FR_MSG_APIKEY_NEW);
		put_info(&frame, &res->created.info);
		fr_frame_put_str(&frame, FR_TAG_API_KEY, res->created.api_key);
		return account_req_send_frame(ar, &frame);
	case APIKEY_LIST:
		for (unsigned i = 0; i < res->list.count; i++) {
			fr_frame_init(&frame, FR_MSG_APIKEY_ENTRY);
			put_info(&frame, &res->list.keys[i]);
			if (res->list.keys[i].last_used[0] != '\0')
				fr_frame_put_str(&frame, FR_TAG_LAST_USED, res->list.keys[i].last_used);
			if (!account_req_send_frame(ar, &frame))
				return false;
		}
		return true;
	case APIKEY_DELETE:
		return true;
	}
	return false;
}

static void
apikey_answered(struct account_req *ar, const struct http_response *resp)
{
	struct apikey_result res;

	jwt_apikey_reply((enum apikey_op)ar->op, resp, &res);
	switch (res.verdict) {
	case ACCOUNT_DONE:
		if (!send_result(ar, &res))
			account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL); /* the client has gone */
		else if (res.list.truncated)
			account_req_done(ar, FR_RESULT_SUCCESS, N_("More API keys than one listing shows"));
		else
			account_req_done(ar, FR_RESULT_SUCCESS, NULL);
		break;
	case ACCOUNT_NOT_FOUND:
		account_req_done(ar, FR_RESULT_NOT_FOUND, res.text);
		break;
	case ACCOUNT_WRONG_CODE:
	case ACCOUNT_REFUSED:
		account_req_done(ar, FR_RESULT_AUTH_ERR, res.text);
		break;
	case ACCOUNT_UNUSABLE:
		account_req_done(ar, FR_RESULT_AUTHINFO_UNAVAIL, N_("The API sent a reply that cannot be used"));
		break;
	}
	apikey_result_wipe(&res);
}

/* 1..API_KEY_NAME_MAX bytes of UTF-8 with no control or invisible
 * characters: what sanitising leaves unchanged. */
static bool
key_name_valid(const char *name)
{
	char clean[API_KEY_NAME_MAX + 1];
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > API_KEY_NAME_MAX)
		return false;
	return fr_text_sanitize(clean, sizeof(clean), name, n, 0) == n && memcmp(clean, name, n) == 0;
}

static void
apikey_start(struct request *rq, enum apikey_op op)
{
	struct account_req *ar = account_req_new(rq, &apikey_kind, false);
	const char *arg = NULL;

	if (ar == NULL)
		return;
	ar->op = (int)op;
	ar->build = apikey_build;
	ar->answered = apikey_answered;
	if (op == APIKEY_CREATE) {
		arg = fr_msg_str(rq->msg, FR_TAG_KEY_NAME);
		if (!key_name_valid(arg)) {
			account_req_done(ar, FR_RESULT_AUTH_ERR, N_("Invalid API key name"));
			return;
		}
	} else if (op == APIKEY_DELETE) {
		/* Checked before it goes into a path: no request for an id
		 * that could be one ("../keys", "key?x=1"). */
		arg = fr_msg_str(rq->msg, FR_TAG_KEY_ID);
		if (arg == NULL || !api_key_id_valid(arg, strlen(arg))) {
			account_req_done(ar, FR_RESULT_NOT_FOUND, N_("API key not found"));
			return;
		}
	}
	if (arg != NULL && (ar->arg = secret_strdup(arg)) == NULL) {
		account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL);
		return;
	}
	account_req_send(ar);
}

void
request_apikey_create(struct request *rq)
{
	apikey_start(rq, APIKEY_CREATE);
}

void
request_apikey_list(struct request *rq)
{
	apikey_start(rq, APIKEY_LIST);
}

void
request_apikey_delete(struct request *rq)
{
	apikey_start(rq, APIKEY_DELETE);
}
