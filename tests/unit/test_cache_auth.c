/* The pure parts of the token cache features: the cache record with its
 * verifier, yescrypt verifiers, the cached re-auth window, and the
 * usersfile reader of offline TOTP. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/profile.h"
#include "auth/cached_auth.h"
#include "check.h"
#include "fr_error.h"
#include "core/log.h"
#include "auth/offline.h"
#include "store/token_cache.h"
#include "auth/refresh.h"
#include "crypto/verifier.h"

static void
test_verifier(void)
{
	char *v = verifier_make("Correct-Horse-1");
	char *w = verifier_make("Correct-Horse-1");

	CHECK(v != NULL && strncmp(v, "$y$", 3) == 0);
	CHECK(v != NULL && strstr(v, "Correct") == NULL);
	/* A fresh salt each time. */
	CHECK(v != NULL && w != NULL && strcmp(v, w) != 0);
	CHECK(verifier_check(v, "Correct-Horse-1"));
	CHECK(verifier_check(w, "Correct-Horse-1"));
	CHECK(!verifier_check(v, "Correct-Horse-2"));
	CHECK(!verifier_check(v, ""));
	CHECK(!verifier_check(NULL, "Correct-Horse-1"));
	/* Anything but yescrypt is refused, even a matching weaker hash. */
	CHECK(!verifier_check("$1$abcdefgh$wHbbPT1r0jkgL8YQO1NYM1", "x"));
	CHECK(!verifier_check("", ""));
	free(v);
	free(w);
}

static void
test_record(void)
{
	struct cache_record in = { .refresh_token = "r.t",
				   .access_token = "a.t",
				   .access_expires = 10,
				   .last_login = 20,
				   .verifier = "$y$j9T$salt$hash",
				   .last_online = 30 };
	struct cache_record out;
	char *text = NULL;
	size_t len = 0;

	CHECK(cache_record_encode("alice", &in, &text, &len) == 0);
	CHECK(cache_record_decode("alice", text, len, &out) == 0);
	CHECK(out.verifier != NULL && strcmp(out.verifier, "$y$j9T$salt$hash") == 0);
	CHECK(out.last_online == 30 && out.last_login == 20);
	cache_record_wipe(&out);
	free(text);

	/* A file written before verifiers existed still loads, without one. */
	const char *old = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":\"r\","
			  "\"access_expires\":5,\"last_login\":6}";
	CHECK(cache_record_decode("alice", old, strlen(old), &out) == 0);
	CHECK(out.verifier == NULL && out.last_online == 0 && out.last_login == 6);
	cache_record_wipe(&out);

	/* A verifier that is not yescrypt, or of the wrong type, spoils the record. */
	const char *weak = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":\"r\","
			   "\"access_expires\":5,\"last_login\":6,\"verifier\":\"plain\"}";
	CHECK(cache_record_decode("alice", weak, strlen(weak), &out) == FR_ERR_INVALID);
	const char *badtime = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":\"r\","
			      "\"access_expires\":5,\"last_login\":6,\"last_online\":\"x\"}";
	CHECK(cache_record_decode("alice", badtime, strlen(badtime), &out) == FR_ERR_INVALID);
}

static void
test_window(void)
{
	CHECK(cached_auth_in_window(1000, 1000, 60));
	CHECK(cached_auth_in_window(1000, 1060, 60));
	CHECK(!cached_auth_in_window(1000, 1061, 60));
	CHECK(!cached_auth_in_window(1000, 1001, 0));
	CHECK(!cached_auth_in_window(0, 10, 60));
	/* From the future: the clock went back, or the file lies. */
	CHECK(!cached_auth_in_window(2000, 1000, 60));
}

/* Each profile says its refresh request once (the logout relies on it). */
static void
test_refresh_table(void)
{
	const struct profile_refresh *f = profile_freddy_email.refresh;
	const struct profile_refresh *j = profile_jwt.refresh;

	CHECK(f != NULL && strcmp(f->path, "/auth/refresh") == 0 && strcmp(f->request_key, "refresh_token") == 0);
	CHECK(f != NULL && f->reply_refresh_key == NULL && f->default_ttl == 86400);
	CHECK(j != NULL && strcmp(j->path, "/auth/refresh") == 0 && strcmp(j->request_key, "refreshToken") == 0);
	CHECK(j != NULL && j->default_ttl == 3600);
	CHECK(profile_freddy_totp.refresh == f && profile_jwt_totp.refresh == j);
	CHECK(profile_aius.refresh == NULL);
}

static void
test_offline_delay(void)
{
	CHECK(offline_delay_after(3, 0) == 0);
	CHECK(offline_delay_after(3, 2) == 0);
	CHECK(offline_delay_after(3, 3) == OFFLINE_DELAY_S);
	CHECK(offline_delay_after(3, 4) == 2 * OFFLINE_DELAY_S);
	CHECK(offline_delay_after(3, 5) == 4 * OFFLINE_DELAY_S);
	CHECK(offline_delay_after(3, 100) == OFFLINE_DELAY_MAX_S);
	CHECK(offline_delay_after(1, 4000000000u) == OFFLINE_DELAY_MAX_S);
}

int
main(void)
{
	log_init("test_cache_auth", true, false);
	test_verifier();
	test_record();
	test_window();
	test_refresh_table();
	test_offline_delay();
	return check_finish("test_cache_auth");
}
