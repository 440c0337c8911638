/* libFuzzer: the token cache's record decoder, on a file anyone who could
 * write to cache_dir (or a torn write) might leave.  What it accepts must
 * be a record of exactly one user, within its limits, and must survive a
 * round trip: encode it again, decode that, and the record is the same
 * (and encoding that gives the same bytes). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_error.h"
#include "core/secret.h"
#include "store/cache_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The name inside a file must be the name asked for: at most one of these
 * accepts any input. */
static const char *const users[] = { "alice", "bob", "alice2", "a.b-c_d@e+f" };

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
same_record(const struct cache_record *a, const struct cache_record *b)
{
	return same_text(a->refresh_token, b->refresh_token) && same_text(a->access_token, b->access_token) &&
	       same_text(a->verifier, b->verifier) && a->access_expires == b->access_expires &&
	       a->last_login == b->last_login && a->last_online == b->last_online;
}

static int
is_zero(const struct cache_record *r)
{
	static const struct cache_record zero;

	return memcmp(r, &zero, sizeof(*r)) == 0;
}

static void
check_secret(const char *s, int required)
{
	if (s == NULL) {
		if (required)
			__builtin_trap();
		return;
	}
	size_t n = strnlen(s, 8193);
	if (n == 0 || n > 8192)
		__builtin_trap();
}

static void
check_record(const struct cache_record *r)
{
	check_secret(r->refresh_token, 1);
	check_secret(r->access_token, 0);
	check_secret(r->verifier, 0);
	if (r->verifier != NULL && strncmp(r->verifier, "$y$", 3) != 0)
		__builtin_trap(); /* only yescrypt reaches crypt_r */
	if (r->access_expires < 0 || r->last_login < 0 || r->last_online < 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	int accepted = 0;

	for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++) {
		struct cache_record rec, again;
		char *text = NULL, *text2 = NULL;
		size_t len = 0, len2 = 0;

		int r = cache_record_decode(users[u], buf, size, &rec);
		if (r != 0) {
			if (r != FR_ERR_INVALID || !is_zero(&rec))
				__builtin_trap();
			continue;
		}
		accepted++;
		check_record(&rec);
		if (cache_record_encode(users[u], &rec, &text, &len) != 0 || text == NULL || strlen(text) != len)
			__builtin_trap();
		if (cache_record_decode(users[u], text, len, &again) != 0 || !same_record(&rec, &again))
			__builtin_trap();
		if (cache_record_encode(users[u], &again, &text2, &len2) != 0 || len2 != len ||
		    memcmp(text, text2, len) != 0)
			__builtin_trap();
		secret_free(text);
		secret_free(text2);
		cache_record_wipe(&rec);
		cache_record_wipe(&again);
		if (!is_zero(&rec))
			__builtin_trap();
	}
	if (accepted > 1)
		__builtin_trap();
	return 0;
}
