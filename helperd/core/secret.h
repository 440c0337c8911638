/*
 * Secrets in the helper (passwords, codes, tokens, API keys) live in heap
 * strings that are wiped before they are freed.  The libraries that see
 * them (jansson, curl, OpenSSL) get an allocator that wipes too.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include <jansson.h>

/* Process set-up: no core dumps, no ptrace by other users.  Returns 0 or
 * an FR_ERR code. */
int secret_process_init(void);

/* Give OpenSSL, curl and jansson allocators that wipe every block they
 * free, and run curl_global_init.  Must come before anything else uses
 * OpenSSL or curl; the caller ends with curl_global_cleanup.  Fails only
 * when curl cannot be initialised; OpenSSL refusing the allocator (it
 * already allocated) is logged. */
int secret_libraries_init(void);

char *secret_strdup(const char *s);
char *secret_strndup(const char *s, size_t n);
void secret_free(char *s);
/* Replace *slot with a copy of s (or NULL). */
int secret_set(char **slot, const char *s);

/* Serialise `json` compactly into a fresh heap buffer that the caller
 * frees with secret_free.  The intermediate copies are wiped. */
char *secret_json_dump(const json_t *json, size_t *len_out);

#endif
