/*
 * Per-user token cache: one file per user in cache_dir (0700, owned by
 * the helper), each file 0600 and opened with O_NOFOLLOW relative to the
 * folder's descriptor.  A file holds two slots (cache_image.h), so that a
 * store overwrites it in place and a crash still leaves a whole record;
 * a user's first file is written whole and renamed into place
 * (cache_file.h).  A file that is corrupt, foreign-owned or too open is
 * ignored with a log line, never trusted.
 */
#ifndef TOKEN_CACHE_H
#define TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/cache_record.h"

#define CACHE_FILE_MAX (64 * 1024)

struct token_cache;

int token_cache_open(const char *dir, struct token_cache **out);
void token_cache_close(struct token_cache *cache);

int token_cache_store(struct token_cache *cache, const char *user, const struct cache_record *rec);
/* FR_ERR_NOT_FOUND when there is no usable record. */
int token_cache_load(struct token_cache *cache, const char *user, struct cache_record *out);
int token_cache_forget(struct token_cache *cache, const char *user);
/* A password verifier made after its login was stored: it joins `user`'s
 * record if that is still the one stored at `last_login` and has none (a
 * newer login may be for another password).  *verifier is taken either
 * way (freed; NULL after).  0, FR_ERR_NOT_FOUND when the record moved on,
 * or the store's error. */
int token_cache_add_verifier(struct token_cache *cache, const char *user, long long last_login, char **verifier);
/* Stores are written behind, on a thread of their own; loads see them at
 * once.  Wait until every store so far is on disk. */
void token_cache_flush(struct token_cache *cache);
/* Number of user files, -1 on error (stores still queued may be missing). */
int token_cache_count(struct token_cache *cache);

/* Calls fn for each user with a usable record, in directory order; stops
 * early when fn returns non-zero.  Corrupt files are skipped (logged). */
typedef int (*token_cache_each_fn)(void *ctx, const char *user, const struct cache_record *rec);
int token_cache_each(struct token_cache *cache, token_cache_each_fn fn, void *ctx);

#endif
