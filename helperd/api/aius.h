/*
 * The AIUS account endpoints that are not part of a login: two-factor
 * authentication managed by its owner (freddyctl 2fa).  The login, the
 * durable token and the password change are profile_aius's (profile.h).
 */
#ifndef AIUS_H
#define AIUS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/account_parse.h"
#include "api/profile.h"

/* Recovery codes are short ("abcd-efgh-ijkl"); anything longer is a
 * mistake, not worth a request. */
#define AIUS_CODE_MAX 64

/* A code as typed: blanks trimmed, and a TOTP typed as "123 456" loses
 * its inner space too.  False for an answer no server could accept
 * (empty, control characters, longer than cap - 1). */
bool aius_normalise_code(const char *answer, char *out, size_t cap);

enum twofa_op { TWOFA_STATUS, TWOFA_SETUP, TWOFA_ENABLE, TWOFA_DISABLE };

/* The request of `op` with the durable token `token` as the bearer;
 * `code` (normalised) for enable and disable. */
void aius_twofa_request(enum twofa_op op, const char *token, const char *code, struct profile_step *out);

struct twofa_result {
	enum account_verdict verdict;
	bool enabled;		     /* STATUS, ENABLE, DISABLE */
	struct twofa_secret secret;  /* SETUP */
	struct recovery_codes codes; /* ENABLE */
	char text[PROFILE_TEXT_MAX]; /* REFUSED */
};

/* The reply (2xx or 4xx) to `op`. */
void aius_twofa_reply(enum twofa_op op, const struct http_response *resp, struct twofa_result *out);
void twofa_result_wipe(struct twofa_result *r);

#endif
