/* libFuzzer: the AIUS login reply (POST /v1/login), on bytes a hostile
 * server chose.  fuzz_api_parse does not call api_parse_aius_login.  The
 * harness reads the same JSON with jansson on its own and holds the
 * parser to the rule both ways:
 *   - "requires_2fa": true and a valid "challenge_token" (a b64token of
 *     at most API_CHALLENGE_MAX bytes) is a challenge, with that token;
 *   - no "requires_2fa" (or false) and a valid "session_token" (at most
 *     API_TOKEN_MAX) is a session, with that token;
 *   - anything else, including a requires_2fa that is not a boolean and
 *     a top level that is not an object, is refused with nothing kept. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fr_error.h"
#include "api/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
 * The parser's valid_token also takes a token of padding alone ("=",
 * "=="), which the RFC does not; harmless (the server chose the token),
 * and stated here as the parser does it. */
static bool
token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~' || c == '+' || c == '/';
}

static bool
b64token(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i = 0;

	if (s == NULL || n == 0 || n > max)
		return false;
	while (i < n && token_char(s[i]))
		i++;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

static bool
holds(const char *got, const json_t *v)
{
	return got != NULL && strlen(got) == json_string_length(v) &&
	       memcmp(got, json_string_value(v), json_string_length(v)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aius_login_reply out;
	static const struct aius_login_reply zero;
	json_error_t jerr;

	int r = api_parse_aius_login((const char *)data, size, &out);

	enum { REFUSED, SESSION, CHALLENGE } want = REFUSED;
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	json_t *needs = json_object_get(root, "requires_2fa");
	json_t *challenge = json_object_get(root, "challenge_token");
	json_t *session = json_object_get(root, "session_token");
	if (json_is_object(root) && (needs == NULL || json_is_boolean(needs))) {
		if (json_is_true(needs))
			want = b64token(challenge, API_CHALLENGE_MAX) ? CHALLENGE : REFUSED;
		else
			want = b64token(session, API_TOKEN_MAX) ? SESSION : REFUSED;
	}

	switch (want) {
	case CHALLENGE:
		if (r != FR_OK || out.kind != AIUS_LOGIN_CHALLENGE || out.session_token != NULL ||
		    !holds(out.challenge_token, challenge))
			__builtin_trap();
		break;
	case SESSION:
		if (r != FR_OK || out.kind != AIUS_LOGIN_SESSION || out.challenge_token != NULL ||
		    !holds(out.session_token, session))
			__builtin_trap();
		break;
	case REFUSED:
		if (r != FR_ERR_INVALID || memcmp(&out, &zero, sizeof(out)) != 0)
			__builtin_trap();
		break;
	}
	json_decref(root);
	api_aius_login_wipe(&out);
	if (memcmp(&out, &zero, sizeof(out)) != 0)
		__builtin_trap();
	return 0;
}
