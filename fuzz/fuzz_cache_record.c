/* libFuzzer: a cache file as anyone who could write to cache_dir (or a
 * torn write) might leave it: the two-slot layout's reader, then the
 * record decoder on what it finds, and on the input as the older layout.
 * A slot found must lie inside the input and survive being written into
 * a fresh image; a record accepted must be of exactly one user, within
 * its limits, and survive a round trip: encode it again, decode that,
 * and the record is the same (and encoding that gives the same bytes). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_error.h"
#include "core/secret.h"
#include "store/cache_image.h"
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

static void
check_decode(const char *buf, size_t size)
{
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
}

static void
check_image(const uint8_t *data, size_t size)
{
	struct cache_image_newest newest;
	static unsigned char fresh[2 * CACHE_SLOT_MAX];

	if (cache_image_newest(data, size, &newest) != FR_OK) {
		if (newest.record != NULL || newest.record_len != 0)
			__builtin_trap();
		return;
	}
	const char *end = (const char *)data + size;
	if (newest.slot > 1 || newest.slot_size != size / 2 || newest.record_len == 0 ||
	    newest.record != (const char *)data + newest.slot * newest.slot_size + CACHE_SLOT_HEADER ||
	    newest.record_len > (size_t)(end - newest.record) ||
	    cache_image_slot_size(newest.record_len) > newest.slot_size)
		__builtin_trap();
	/* What the writer would make of it: the record in slot 1 of a fresh
	 * image, one number higher, found again. */
	struct cache_image_newest again;
	memset(fresh, 0, 2 * newest.slot_size);
	cache_image_fill_slot(fresh + newest.slot_size, newest.slot_size, newest.seq + 1, newest.record,
			      newest.record_len);
	if (cache_image_newest(fresh, 2 * newest.slot_size, &again) != FR_OK || again.slot != 1 ||
	    again.seq != newest.seq + 1 || again.record_len != newest.record_len ||
	    memcmp(again.record, newest.record, newest.record_len) != 0)
		__builtin_trap();
	check_decode(newest.record, newest.record_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_image(data, size);
	check_decode((const char *)data, size);
	return 0;
}
