/*
 * Pure parsers for the replies of the account self-service endpoints
 * (AIUS durable tokens and 2FA, JWT API keys): bytes in, validated fields
 * out, as api/parse.h does for the logins.  Duplicate keys and wrong
 * types make a reply unusable (FR_ERR_INVALID); secrets are heap strings
 * wiped by the matching *_wipe.  Fuzzed by fuzz/fuzz_api_parse.c.
 */
#ifndef ACCOUNT_PARSE_H
#define ACCOUNT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define API_RECOVERY_CODES_MAX	 32
#define API_RECOVERY_CODE_MAX	 64
#define API_OTPAUTH_URI_MAX	 1024
#define API_TOTP_SECRET_MIN	 16
#define API_TOTP_SECRET_MAX	 128
#define API_KEY_ID_MAX		 128
#define API_KEY_NAME_MAX	 200
#define API_KEY_TIME_MAX	 64
#define API_KEY_SECRET_MAX	 512
#define API_KEY_LIST_MAX	 400
#define API_DURABLE_TOKEN_PREFIX "aius_"

/* AIUS POST /v1/tokens: the durable aius_… token (secret). */
int api_parse_aius_mint(const char *body, size_t len, char **token);

/* AIUS GET /v1/2fa/status: {"enabled": bool}. */
int api_parse_twofa_status(const char *body, size_t len, bool *enabled);

/* AIUS POST /v1/2fa/setup: a new TOTP secret, not yet active. */
struct twofa_secret {
	char *secret;	   /* secret: base32 */
	char *otpauth_uri; /* secret: otpauth://totp/… */
};
int api_parse_twofa_setup(const char *body, size_t len, struct twofa_secret *out);
void api_twofa_secret_wipe(struct twofa_secret *s);

/* AIUS POST /v1/2fa/enable: {"enabled": true, "recovery_codes": […]}. */
struct recovery_codes {
	unsigned count;
	char *code[API_RECOVERY_CODES_MAX]; /* secrets, in the API's order */
};
int api_parse_twofa_enable(const char *body, size_t len, struct recovery_codes *out);
void api_recovery_codes_wipe(struct recovery_codes *c);

/* AIUS POST /v1/2fa/disable: {"enabled": false}. */
int api_parse_twofa_disable(const char *body, size_t len);

/* A JWT API key as the API describes it (never the key itself).  Empty
 * strings are members the reply did not have (lastUsed null: never). */
struct api_key_info {
	char key_id[API_KEY_ID_MAX + 1];
	char name[API_KEY_NAME_MAX + 1];       /* sanitised */
	char created_at[API_KEY_TIME_MAX + 1]; /* sanitised */
	char last_used[API_KEY_TIME_MAX + 1];  /* sanitised */
};

/* [A-Za-z0-9_-]{1,128}: what may go into the path of DELETE /auth/keys/. */
bool api_key_id_valid(const char *s, size_t n);

/* JWT POST /auth/keys: {"keyId", "apiKey", "name", "createdAt"}. */
struct api_key_new {
	struct api_key_info info;
	char *api_key; /* secret */
};
int api_parse_key_new(const char *body, size_t len, struct api_key_new *out);
void api_key_new_wipe(struct api_key_new *k);

/* JWT GET /auth/keys: an array of keys; the first API_KEY_LIST_MAX are
 * kept (every element is checked), `truncated` says there were more. */
struct api_key_list {
	unsigned count;
	bool truncated;
	struct api_key_info *keys; /* heap, count entries */
};
int api_parse_key_list(const char *body, size_t len, struct api_key_list *out);
void api_key_list_free(struct api_key_list *l);

#endif
