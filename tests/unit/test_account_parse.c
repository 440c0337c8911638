/* The parsers of the self-service replies (api/account_parse.h): every
 * field checked, duplicates and wrong types refused, text sanitised. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/account_parse.h"
#include "api/parse.h"
#include "check.h"
#include "fr_error.h"

#define P(s) s, strlen(s)

static void
test_mint(void)
{
	char *t;

	CHECK(api_parse_aius_mint(P("{\"token\": \"aius_abc-DEF_123\", \"token_name\": \"x\"}"), &t) == 0);
	CHECK(t != NULL && strcmp(t, "aius_abc-DEF_123") == 0);
	free(t);
	const char *bad[] = {
		"{\"token\": \"abc\"}",		     /* not an aius_ token */
		"{\"token\": \"aius_\"}",	     /* the prefix alone */
		"{\"token\": \"aius_a b\"}",	     /* a blank inside */
		"{\"token\": \"aius_a\\r\\nX: y\"}", /* a header of its own */
		"{\"token\": 5}",
		"{\"token\": \"aius_a\", \"token\": \"aius_b\"}",
		"[\"aius_a\"]",
		"{}",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(api_parse_aius_mint(P(bad[i]), &t) == FR_ERR_INVALID);
		CHECK(t == NULL);
	}
}

static void
test_status_and_disable(void)
{
	bool on = true;

	CHECK(api_parse_twofa_status(P("{\"enabled\": false}"), &on) == 0 && !on);
	CHECK(api_parse_twofa_status(P("{\"enabled\": true}"), &on) == 0 && on);
	CHECK(api_parse_twofa_status(P("{\"enabled\": \"false\"}"), &on) == FR_ERR_INVALID && !on);
	CHECK(api_parse_twofa_status(P("{\"enabled\": 1}"), &on) == FR_ERR_INVALID);
	CHECK(api_parse_twofa_status(P("{}"), &on) == FR_ERR_INVALID);
	CHECK(api_parse_twofa_disable(P("{\"enabled\": false}")) == 0);
	CHECK(api_parse_twofa_disable(P("{\"enabled\": 0}")) == FR_ERR_INVALID);
	CHECK(api_parse_twofa_disable(P("{\"enabled\": true}")) == FR_ERR_INVALID);
}

static void
test_setup(void)
{
	struct twofa_secret s;

	CHECK(api_parse_twofa_setup(P("{\"secret\": \"JBSWY3DPEHPK3PXP\", \"otpauth_uri\": "
				      "\"otpauth://totp/AIUS:a@example.com?secret=JBSWY3DPEHPK3PXP&issuer=AIUS\"}"),
				    &s) == 0);
	CHECK(strcmp(s.secret, "JBSWY3DPEHPK3PXP") == 0 && strncmp(s.otpauth_uri, "otpauth://totp/", 15) == 0);
	api_twofa_secret_wipe(&s);
	CHECK(s.secret == NULL && s.otpauth_uri == NULL);
	CHECK(api_parse_twofa_setup(P("{\"secret\": \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PX=\", \"otpauth_uri\": "
				      "\"otpauth://totp/x\"}"),
				    &s) == 0);
	api_twofa_secret_wipe(&s);
	const char *bad[] = {
		"{\"secret\": \"JBSWY3DP\", \"otpauth_uri\": \"otpauth://totp/x\"}",	       /* too short */
		"{\"secret\": \"jbswy3dpehpk3pxp\", \"otpauth_uri\": \"otpauth://totp/x\"}",   /* not base32 */
		"{\"secret\": \"JBSWY3DPEHPK3PX1\", \"otpauth_uri\": \"otpauth://totp/x\"}",   /* 1 is not base32 */
		"{\"secret\": \"JBSWY3DPEHPK3PXP\", \"otpauth_uri\": \"https://evil/x\"}",     /* no otpauth */
		"{\"secret\": \"JBSWY3DPEHPK3PXP\", \"otpauth_uri\": \"otpauth://totp/a b\"}", /* a blank */
		"{\"secret\": \"JBSWY3DPEHPK3PXP\", \"otpauth_uri\": \"otpauth://totp/\\u001b[2J\"}",
		"{\"secret\": 5, \"otpauth_uri\": []}",
		"{\"secret\": \"JBSWY3DPEHPK3PXP\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(api_parse_twofa_setup(P(bad[i]), &s) == FR_ERR_INVALID);
		CHECK(s.secret == NULL && s.otpauth_uri == NULL);
	}
	/* Longer than API_OTPAUTH_URI_MAX. */
	char *big = malloc(API_OTPAUTH_URI_MAX + 100);
	CHECK(big != NULL);
	if (big != NULL) {
		int n = snprintf(big, 80, "{\"secret\": \"JBSWY3DPEHPK3PXP\", \"otpauth_uri\": \"otpauth://totp/");
		memset(big + n, 'a', API_OTPAUTH_URI_MAX);
		memcpy(big + n + API_OTPAUTH_URI_MAX, "\"}", 3);
		CHECK(api_parse_twofa_setup(P(big), &s) == FR_ERR_INVALID);
		free(big);
	}
}

static void
test_enable(void)
{
	struct recovery_codes c;
	char body[4096];

	CHECK(api_parse_twofa_enable(
		  P("{\"enabled\": true, \"recovery_codes\": [\"a1b2-c3d4-e5f6\", \"0000-1111-2222\"]}"), &c) == 0);
	CHECK(c.count == 2 && strcmp(c.code[0], "a1b2-c3d4-e5f6") == 0 && strcmp(c.code[1], "0000-1111-2222") == 0);
	api_recovery_codes_wipe(&c);
	CHECK(c.count == 0);
	const char *bad[] = {
		"{\"enabled\": \"true\", \"recovery_codes\": \"0000-0000-0000\"}",
		"{\"enabled\": false, \"recovery_codes\": []}",
		"{\"enabled\": true, \"recovery_codes\": [5]}",
		"{\"enabled\": true, \"recovery_codes\": [\"a b\"]}",
		"{\"enabled\": true, \"recovery_codes\": [\"\"]}",
		"{\"enabled\": true}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(api_parse_twofa_enable(P(bad[i]), &c) == FR_ERR_INVALID);
		CHECK(c.count == 0);
	}
	/* At most API_RECOVERY_CODES_MAX codes. */
	size_t n = (size_t)snprintf(body, sizeof(body), "{\"enabled\": true, \"recovery_codes\": [");
	for (int i = 0; i <= API_RECOVERY_CODES_MAX; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"code-%d\"", i ? ", " : "", i);
	snprintf(body + n, sizeof(body) - n, "]}");
	CHECK(api_parse_twofa_enable(P(body), &c) == FR_ERR_INVALID);
}

static void
test_keys(void)
{
	struct api_key_new k;
	struct api_key_list l;

	CHECK(api_key_id_valid(P("key_abc123")) && api_key_id_valid(P("A-z_9")));
	CHECK(!api_key_id_valid(P("../keys")) && !api_key_id_valid(P("key?x=1")) && !api_key_id_valid(P("key abc")));
	CHECK(!api_key_id_valid(P("")) && !api_key_id_valid("k/", 2));
	char id[API_KEY_ID_MAX + 2];
	memset(id, 'k', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	CHECK(!api_key_id_valid(id, strlen(id)) && api_key_id_valid(id, strlen(id) - 1));

	CHECK(api_parse_key_new(
		  P("{\"keyId\": \"key_abc123\", \"apiKey\": \"sk_live_xyz\", \"name\": \"CI \\u001b[31m\", "
		    "\"createdAt\": \"2023-10-27T10:00:00Z\"}"),
		  &k) == 0);
	CHECK(strcmp(k.info.key_id, "key_abc123") == 0 && strcmp(k.api_key, "sk_live_xyz") == 0);
	CHECK(strcmp(k.info.name, "CI ?[31m") == 0); /* sanitised */
	CHECK(strcmp(k.info.created_at, "2023-10-27T10:00:00Z") == 0 && k.info.last_used[0] == '\0');
	api_key_new_wipe(&k);
	CHECK(k.api_key == NULL);
	CHECK(api_parse_key_new(P("{\"keyId\": \"k\", \"apiKey\": \"sk\"}"), &k) == 0 && k.info.name[0] == '\0');
	api_key_new_wipe(&k);
	const char *bad_new[] = {
		"{\"keyId\": 5, \"apiKey\": [], \"name\": {}, \"createdAt\": 1}",
		"{\"keyId\": \"key/1\", \"apiKey\": \"sk\"}",
		"{\"keyId\": \"k\", \"apiKey\": \"sk live\"}",
		"{\"keyId\": \"k\"}",
		"{\"keyId\": \"k\", \"apiKey\": \"sk\", \"name\": 5}",
	};
	for (size_t i = 0; i < sizeof(bad_new) / sizeof(bad_new[0]); i++) {
		CHECK(api_parse_key_new(P(bad_new[i]), &k) == FR_ERR_INVALID);
		CHECK(k.api_key == NULL);
	}

	CHECK(api_parse_key_list(P("[{\"keyId\": \"key_abc123\", \"name\": \"My Integration Key\", \"createdAt\": "
				   "\"2023-10-27T10:00:00Z\", \"lastUsed\": \"2023-10-27T11:30:00Z\"}, "
				   "{\"keyId\": \"key_def456\", \"name\": \"Staging Key\", \"createdAt\": "
				   "\"2023-10-25T09:00:00Z\", \"lastUsed\": null, \"apiKey\": \"ignored\"}]"),
				 &l) == 0);
	CHECK(l.count == 2 && !l.truncated);
	CHECK(l.count == 2 && strcmp(l.keys[0].last_used, "2023-10-27T11:30:00Z") == 0);
	CHECK(l.count == 2 && strcmp(l.keys[1].key_id, "key_def456") == 0 && l.keys[1].last_used[0] == '\0');
	api_key_list_free(&l);
	CHECK(api_parse_key_list(P("[]"), &l) == 0 && l.count == 0 && l.keys == NULL);
	const char *bad_list[] = {
		"{\"keyId\": \"k\"}",
		"[{\"keyId\": \"k\"}, 5]",
		"[{\"keyId\": \"k\", \"lastUsed\": 5}]",
		"[{\"keyId\": \"k\", \"createdAt\": null}]",
		"[{\"name\": \"no id\"}]",
		"[{\"keyId\": \"k\", \"keyId\": \"j\"}]",
	};
	for (size_t i = 0; i < sizeof(bad_list) / sizeof(bad_list[0]); i++) {
		CHECK(api_parse_key_list(P(bad_list[i]), &l) == FR_ERR_INVALID);
		CHECK(l.count == 0 && l.keys == NULL);
	}
	/* More than a listing shows: the first API_KEY_LIST_MAX, and a note. */
	size_t cap = 64 * 1024, n = 1;
	char *body = malloc(cap);
	CHECK(body != NULL);
	if (body == NULL)
		return;
	body[0] = '[';
	for (int i = 0; i < API_KEY_LIST_MAX + 5; i++)
		n += (size_t)snprintf(body + n, cap - n, "%s{\"keyId\": \"k%d\"}", i ? "," : "", i);
	snprintf(body + n, cap - n, "]");
	CHECK(api_parse_key_list(P(body), &l) == 0 && l.count == API_KEY_LIST_MAX && l.truncated);
	CHECK(l.count > 0 && strcmp(l.keys[0].key_id, "k0") == 0);
	api_key_list_free(&l);
	free(body);
}

int
main(void)
{
	test_mint();
	test_status_and_disable();
	test_setup();
	test_enable();
	test_keys();
	return check_finish("test_account_parse");
}
