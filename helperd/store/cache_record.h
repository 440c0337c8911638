/*
 * A user's cached login: the tokens, their expiry, when the user last
 * logged in in full and online, and the password verifier.  The record's
 * encoding is JSON with a format version; the decoder trusts nothing.
 */
#ifndef CACHE_RECORD_H
#define CACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct cache_record {
	char *refresh_token;	/* secret */
	char *access_token;	/* secret, may be NULL */
	int64_t access_expires; /* unix time, 0 unknown */
	int64_t last_login;	/* unix time of the last full login */
	/* Optional since format 1 (older files lack them and still load):
	 * a yescrypt verifier of the password ($y$…, never the password)
	 * and the last time the API confirmed this user online. */
	char *verifier;
	int64_t last_online; /* unix time, 0 unknown */
};

void cache_record_wipe(struct cache_record *rec);

/* Pure: the record as JSON for `user`, and back.  The decoder checks the
 * version, every field's type and length, that the name inside is the
 * name asked for (a renamed file must not hand one user another's
 * tokens), and that a verifier is a yescrypt string. */
int cache_record_encode(const char *user, const struct cache_record *rec, char **out, size_t *len);
int cache_record_decode(const char *user, const char *buf, size_t len, struct cache_record *out);

#endif
