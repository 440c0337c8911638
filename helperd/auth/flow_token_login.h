/*
 * The engine of the flows whose API answers a password with tokens at
 * once (Freddy dev-login, JWT): ask the password, POST it, and, when the
 * profile wants it, check a local TOTP code before the tokens are cached
 * and the login succeeds.  Each flow file supplies a description.
 */
#ifndef FLOW_TOKEN_LOGIN_H
#define FLOW_TOKEN_LOGIN_H

#include <stdbool.h>

#include <jansson.h>

#include "auth/login.h"

struct token_login_api {
	const char *login_path;
	/* The login body for the API's login name and the password. */
	json_t *(*login_body)(const char *name, const char *password);
	bool api_key;			/* send X-API-Key */
	const char *access_key, *refresh_key;
	unsigned parse_flags;		/* API_REFRESH_REQUIRED */
	long default_ttl;		/* when the reply has no expires_in */
	bool local_totp;
	/* Optional: true when a refusal is about the helper's own
	 * credentials (an API key), not the person's: the login is then
	 * unavailable rather than failed. */
	bool (*helper_refused)(long status, const char *code);
	/* Optional: the API gave tokens but the login did not succeed (wrong
	 * second factor, abandoned): end that API session. */
	void (*discard)(struct helper *h, const char *user, char *access_token);
};

void token_login_start(struct login *lg, const struct token_login_api *api);
void token_login_answer(struct login *lg, const char *text);
void token_login_destroy(struct login *lg);

#endif
