/*
 * A request to the API on behalf of a user, with the login the helper
 * holds for them (freddyctl 2fa, apikey).  The credential comes from the
 * user's cache record: a profile's durable token (AIUS), or the access
 * token, refreshed first when it is near expiry and once more when the API
 * refuses it (JWT).  What is no answer of the API's (a transport failure,
 * a 5xx, a 429) and the refusal of the credential itself are sorted out
 * here; the caller sees the other replies.
 */
#ifndef ACCOUNT_CALL_H
#define ACCOUNT_CALL_H

#include "api/profile.h"
#include "helper.h"

struct account_call;

enum call_outcome {
	CALL_ANSWERED,	    /* `resp` is a 2xx or a 4xx for the caller to read */
	CALL_LOGIN_REFUSED, /* the API refused the cached login: the record was dropped */
	CALL_UNAVAILABLE,   /* the API could not be asked, or failed */
	CALL_RATE_LIMITED,  /* the API's 429: `retry_after` seconds, -1 unknown */
};

struct call_result {
	enum call_outcome outcome;
	const struct http_response *resp; /* CALL_ANSWERED only; valid during the call */
	long retry_after;
};

/* The request, with `bearer` (the credential, valid during the call) as
 * its Authorization; a STEP_REQUEST, or anything else for "cannot". */
typedef void (*call_build_fn)(void *ctx, const char *bearer, struct profile_step *out);
typedef void (*call_done_fn)(void *ctx, const struct call_result *result);

/*
 * 0 and *call: `done` runs once, later, from the loop (*call is NULL again
 * by then).  Otherwise an FR_ERR code at once and no call, and nothing was
 * sent: FR_ERR_NOT_FOUND when `user` has no cached login, FR_ERR_UNEXPECTED
 * when the profile has no credential to present.
 */
int account_call_start(struct helper *h, const char *user, call_build_fn build, call_done_fn done, void *ctx,
		       struct account_call **call);
/* The owner is going away; NULL is fine; `done` will not run. */
void account_call_cancel(struct helper *h, struct account_call **call);

#endif
