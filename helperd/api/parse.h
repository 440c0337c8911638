/*
 * Pure parsers for API replies: bytes in, validated fields out.  Every
 * field is type- and length-checked; server text is sanitised before it
 * can reach a terminal or a log.  Fuzzed by fuzz/fuzz_api_parse.c.
 */
#ifndef API_PARSE_H
#define API_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define API_TOKEN_MAX	  8192
#define API_EMAIL_KEY_MAX 128
#define API_EMAIL_MAX	  254
#define API_MESSAGE_MAX	  200

/* Error bodies of all three API shapes:
 *   Freddy {"success": false, "error": {"code", "message", "details": {"retry_after"}}}
 *   AIUS   {"detail": {"code", "message"}}
 *   JWT    {"error": "message"} */
struct api_error {
	char code[64];			   /* [A-Z0-9_] only, else empty */
	char message[API_MESSAGE_MAX + 1]; /* sanitised, one line */
	long retry_after;		   /* seconds, -1 when absent */
};

/* Never fails: fields stay empty when the body has no usable error. */
void api_parse_error(const char *body, size_t len, struct api_error *out);

/* The id the API gave its handling of a request, for audit records.
 * DOCS SILENT on where else: the Freddy documents show it only inside
 * error bodies ({"error": {"trace_id": "req_abc123xyz", ...}}), never in
 * a success body or a header, so only that member is read.  Server text:
 * kept only when it is 1-API_TRACE_ID_MAX of [A-Za-z0-9._:-], else out
 * is "". */
#define API_TRACE_ID_MAX 64
void api_parse_trace_id(const char *body, size_t len, char out[API_TRACE_ID_MAX + 1]);

struct freddy_login_reply {
	char email_key[API_EMAIL_KEY_MAX + 1];
	char email[API_EMAIL_MAX + 1]; /* empty when absent or implausible */
};

/* POST /auth/login: email_key required. */
int api_parse_freddy_login(const char *body, size_t len, struct freddy_login_reply *out);

/* Tokens are secrets: heap strings freed with api_tokens_wipe. */
struct api_tokens {
	char *access_token;
	char *refresh_token; /* NULL when the reply carries none */
	long expires_in;     /* seconds, -1 when absent */
};

#define API_REFRESH_REQUIRED 0x1

/* A reply carrying tokens under the given member names, e.g.
 * ("token", "refreshToken", "expires_in").  refresh_key may be NULL. */
int api_parse_tokens(const char *body, size_t len, const char *access_key, const char *refresh_key, unsigned flags,
		     struct api_tokens *out);
void api_tokens_wipe(struct api_tokens *t);

/* AIUS POST /v1/login: either a session (no 2FA on the account) or a
 * challenge to answer at /v1/2fa/login. */
#define API_CHALLENGE_MAX 512
enum aius_login_kind { AIUS_LOGIN_SESSION = 1, AIUS_LOGIN_CHALLENGE };
struct aius_login_reply {
	enum aius_login_kind kind;
	char *session_token;   /* secret, SESSION only */
	char *challenge_token; /* secret (it is the credential), CHALLENGE only */
};
int api_parse_aius_login(const char *body, size_t len, struct aius_login_reply *out);
void api_aius_login_wipe(struct aius_login_reply *r);

/* RFC 6750 b64token (JWTs and opaque tokens alike): what a token must be
 * before it goes into a header or the cache. */
bool api_token_valid(const char *s, size_t n);

/* "user@example.com" -> "u***@example.com"; false when `email` does not
 * look like one address. */
bool api_mask_email(const char *email, char *out, size_t outlen);

#endif
