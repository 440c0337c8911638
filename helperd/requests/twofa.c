/*
 * TWOFA_STATUS_GET, TWOFA_SETUP, TWOFA_ENABLE, TWOFA_DISABLE: the caller's
 * own two-factor authentication at the AIUS API (freddyctl 2fa), with the
 * durable token the helper holds for them.  The secrets that come back
 * (the TOTP secret, its URI, the recovery codes) go to the caller once and
 * are wiped: never stored, cached or logged.
 */
#include "config.h"

#include <string.h>

#include "api/aius.h"
#include "core/secret.h"
#include "requests/account.h"

static const struct account_kind twofa_kind = {
	.api = API_AIUS,
	.wrong_api = N_("freddyctl 2fa is for the aius API; this helper uses api = "),
	.unreachable = N_("The AIUS API cannot be reached"),
};

static void
twofa_build(struct account_req *ar, const char *bearer, struct profile_step *out)
{
	aius_twofa_request((enum twofa_op)ar->op, bearer, ar->arg, out);
}

/* TWOFA_STATE, and after an enable one RECOVERY_CODE per code in the
 * API's order; or TWOFA_SECRET after a setup. */
static bool
send_result(struct account_req *ar, const struct twofa_result *res)
{
	struct fr_frame frame;

	if (ar->op == TWOFA_SETUP) {
		fr_frame_init(&frame, FR_MSG_TWOFA_SECRET);
		fr_frame_put_str(&frame, FR_TAG_OTPAUTH_URI, res->secret.otpauth_uri);
		fr_frame_put_str(&frame, FR_TAG_TOTP_SECRET, res->secret.secret);
		return account_req_send_frame(ar, &frame);
	}
	fr_frame_init(&frame, FR_MSG_TWOFA_STATE);
	fr_frame_put_u32(&frame, FR_TAG_TWOFA_ENABLED, res->enabled ? 1 : 0);
	if (!account_req_send_frame(ar, &frame))
		return false;
	for (unsigned i = 0; ar->op == TWOFA_ENABLE && i < res->codes.count; i++) {
		fr_frame_init(&frame, FR_MSG_RECOVERY_CODE);
		fr_frame_put_str(&frame, FR_TAG_CODE, res->codes.code[i]);
		if (!account_req_send_frame(ar, &frame))
			return false;
	}
	return true;
}

static void
twofa_answered(struct account_req *ar, const struct http_response *resp)
{
	struct twofa_result res;

	aius_twofa_reply((enum twofa_op)ar->op, resp, &res);
	switch (res.verdict) {
	case ACCOUNT_DONE:
		if (send_result(ar, &res))
			account_req_done(ar, FR_RESULT_SUCCESS, NULL);
		else
			account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL); /* the client has gone */
		break;
	case ACCOUNT_WRONG_CODE:
		ar->wrong = true;
		account_req_done(ar, FR_RESULT_AUTH_ERR, N_("Invalid two-factor code"));
		break;
	case ACCOUNT_REFUSED:
		account_req_done(ar, FR_RESULT_AUTH_ERR, res.text);
		break;
	case ACCOUNT_NOT_FOUND:
		account_req_done(ar, FR_RESULT_NOT_FOUND, res.text);
		break;
	case ACCOUNT_UNUSABLE:
		account_req_done(ar, FR_RESULT_AUTHINFO_UNAVAIL, N_("The API sent a reply that cannot be used"));
		break;
	}
	twofa_result_wipe(&res);
}

static void
twofa_start(struct request *rq, enum twofa_op op)
{
	bool takes_code = op == TWOFA_ENABLE || op == TWOFA_DISABLE;
	struct account_req *ar = account_req_new(rq, &twofa_kind, takes_code);
	char code[AIUS_CODE_MAX + 1];

	if (ar == NULL)
		return;
	ar->op = (int)op;
	ar->build = twofa_build;
	ar->answered = twofa_answered;
	if (takes_code) {
		const char *answer = fr_msg_str(rq->msg, FR_TAG_CODE);
		/* A code no server could accept is a wrong one, without a request. */
		if (answer == NULL || !aius_normalise_code(answer, code, sizeof(code))) {
			explicit_bzero(code, sizeof(code));
			ar->wrong = true;
			account_req_done(ar, FR_RESULT_AUTH_ERR, N_("Invalid two-factor code"));
			return;
		}
		ar->arg = secret_strdup(code);
		explicit_bzero(code, sizeof(code));
		if (ar->arg == NULL) {
			account_req_done(ar, FR_RESULT_SYSTEM_ERR, NULL);
			return;
		}
	}
	account_req_send(ar);
}

void
request_twofa_status(struct request *rq)
{
	twofa_start(rq, TWOFA_STATUS);
}

void
request_twofa_setup(struct request *rq)
{
	twofa_start(rq, TWOFA_SETUP);
}

void
request_twofa_enable(struct request *rq)
{
	twofa_start(rq, TWOFA_ENABLE);
}

void
request_twofa_disable(struct request *rq)
{
	twofa_start(rq, TWOFA_DISABLE);
}
