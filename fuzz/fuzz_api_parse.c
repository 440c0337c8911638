/* libFuzzer: every API reply parser, on bytes a hostile server chose. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/account_parse.h"
#include "api/parse.h"
#include "fr_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap + 1);

	if (n > cap)
		__builtin_trap();
	/* Sanitised: no control characters reach a terminal or a log. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			__builtin_trap();
}

/* A key's fields go into wire tags and a terminal: bounded and clean,
 * and its id safe in a path. */
static void
check_key(const struct api_key_info *k)
{
	if (!api_key_id_valid(k->key_id, strlen(k->key_id)))
		__builtin_trap();
	check_text(k->name, API_KEY_NAME_MAX);
	check_text(k->created_at, API_KEY_TIME_MAX);
	check_text(k->last_used, API_KEY_TIME_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct api_error err;
	struct freddy_login_reply login;
	struct api_tokens tokens;
	char masked[API_EMAIL_MAX + 1];

	api_parse_error(body, size, &err);
	check_text(err.message, API_MESSAGE_MAX);
	check_text(err.code, sizeof(err.code) - 1);
	char trace_id[API_TRACE_ID_MAX + 1];
	api_parse_trace_id(body, size, trace_id);
	check_text(trace_id, API_TRACE_ID_MAX);

	if (api_parse_freddy_login(body, size, &login) == 0) {
		check_text(login.email_key, API_EMAIL_KEY_MAX);
		check_text(login.email, API_EMAIL_MAX);
		if (login.email[0] != '\0' && api_mask_email(login.email, masked, sizeof(masked)))
			check_text(masked, API_EMAIL_MAX);
	}

	static const char *const shapes[][2] = {
		{ "token", NULL },
		{ "token", "refresh_token" },
		{ "accessToken", "refreshToken" },
		{ "session_token", NULL },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (unsigned flags = 0; flags <= API_REFRESH_REQUIRED; flags++) {
			memset(&tokens, 0, sizeof(tokens));
			if (api_parse_tokens(body, size, shapes[i][0], shapes[i][1], flags, &tokens) == 0) {
				if (tokens.access_token == NULL || strlen(tokens.access_token) > API_TOKEN_MAX ||
				    ((flags & API_REFRESH_REQUIRED) && shapes[i][1] != NULL &&
				     tokens.refresh_token == NULL))
					__builtin_trap();
			}
			api_tokens_wipe(&tokens);
		}
	}

	/* The self-service replies. */
	char *durable = NULL;
	if (api_parse_aius_mint(body, size, &durable) == 0 &&
	    (durable == NULL || strncmp(durable, API_DURABLE_TOKEN_PREFIX, 5) != 0 ||
	     !api_token_valid(durable, strlen(durable))))
		__builtin_trap();
	free(durable);
	bool enabled;
	(void)api_parse_twofa_status(body, size, &enabled);
	(void)api_parse_twofa_disable(body, size);
	struct twofa_secret secret;
	if (api_parse_twofa_setup(body, size, &secret) == 0) {
		check_text(secret.secret, API_TOTP_SECRET_MAX);
		check_text(secret.otpauth_uri, API_OTPAUTH_URI_MAX);
	}
	api_twofa_secret_wipe(&secret);
	struct recovery_codes codes;
	if (api_parse_twofa_enable(body, size, &codes) == 0) {
		if (codes.count > API_RECOVERY_CODES_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < codes.count; i++)
			check_text(codes.code[i], API_RECOVERY_CODE_MAX);
	}
	api_recovery_codes_wipe(&codes);
	struct api_key_new key;
	if (api_parse_key_new(body, size, &key) == 0) {
		check_key(&key.info);
		check_text(key.api_key, API_KEY_SECRET_MAX);
	}
	api_key_new_wipe(&key);
	struct api_key_list list;
	if (api_parse_key_list(body, size, &list) == 0) {
		if (list.count > API_KEY_LIST_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < list.count; i++)
			check_key(&list.keys[i]);
	}
	api_key_list_free(&list);

	/* The e-mail masker on raw text, NUL-terminated copy. */
	char email[API_EMAIL_MAX + 2];
	size_t n = size < sizeof(email) - 1 ? size : sizeof(email) - 1;
	memcpy(email, data, n);
	email[n] = '\0';
	if (api_mask_email(email, masked, sizeof(masked)))
		check_text(masked, API_EMAIL_MAX);
	return 0;
}
