#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fr_error.h"
#include "core/big_blocks.h"
#include "core/wipe.h"
#include "core/log.h"
#include "core/secret.h"

/* Keep the pages under a secret out of any core dump, in case dumps get
 * re-enabled (a debugger, a changed rlimit): MADV_DONTDUMP on the whole
 * pages the block touches.  Neighbouring heap data loses nothing by it;
 * failure is harmless because dumps are already off. */
static void
secret_nodump(const void *p, size_t size)
{
	static long page;

	if (p == NULL || size == 0)
		return;
	if (page <= 0 && (page = sysconf(_SC_PAGESIZE)) <= 0)
		return;
	uintptr_t start = (uintptr_t)p & ~((uintptr_t)page - 1);
	uintptr_t end = ((uintptr_t)p + size + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	(void)madvise((void *)start, end - start, MADV_DONTDUMP);
}

/*
 * Every block a library frees is wiped first.  Jansson holds request and
 * reply bodies; curl copies each request (the password in it) into its
 * upload buffer and keeps replies (tokens) in its receive buffer; OpenSSL
 * decrypts replies in place.  None of them wipes what it frees, and their
 * buffers outlive the login that used them.
 */
static void *
library_malloc(size_t size)
{
	void *block = big_block_alloc(size);

	return block != NULL ? block : malloc(size);
}

static void *
library_calloc(size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	void *block = big_block_alloc(count * size);

	/* A freed slot is wiped only where resident: a page swapped out while
	 * the slot was free would come back with its old bytes. */
	if (block != NULL)
		memset(block, 0, count * size);
	return block != NULL ? block : calloc(count, size);
}

static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	if (big_block_owns(p)) {
		big_block_free(p); /* wipes it */
		return;
	}
	wipe_resident(p, malloc_usable_size(p));
	free(p);
}

static void *
wiping_realloc(void *p, size_t size)
{
	if (p == NULL)
		return library_malloc(size);
	if (size == 0) {
		wiping_free(p);
		return NULL;
	}
	size_t usable;
	if (big_block_owns(p)) {
		if (big_block_resize(p, size))
			return p;
		usable = big_block_size(p);
	} else if (size <= (usable = malloc_usable_size(p))) {
		return p;
	}
	/* Never realloc(): it could move the block and free the old copy
	 * unwiped. */
	void *bigger = library_malloc(size);
	if (bigger == NULL)
		return NULL;
	memcpy(bigger, p, usable);
	wiping_free(p);
	return bigger;
}

static char *
plain_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = library_malloc(n);

	if (copy != NULL)
		memcpy(copy, s, n);
	return copy;
}

static void *
openssl_malloc(size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return library_malloc(size);
}

static void *
openssl_realloc(void *p, size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return wiping_realloc(p, size);
}

static void
openssl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	wiping_free(p);
}

int
secret_process_init(void)
{
	struct rlimit no_core = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &no_core) != 0)
		return FR_ERR_IO;
	return FR_OK;
}

/* jansson 2.14 (Debian 12) does not survive an allocation failing in the
 * middle of a parse: it can return a wrong string as success or write out
 * of bounds (akheron/jansson#362, reproduced here with failure
 * injection).  The helper parses every API reply with it, so it stops
 * instead: systemd restarts it, and no login is decided on a corrupt
 * heap. */
static void *
json_malloc_or_abort(size_t size)
{
	void *p = library_malloc(size);

	if (p == NULL && size > 0) {
		log_err("out of memory inside the JSON parser; stopping rather than risk a corrupt parse");
		abort();
	}
	return p;
}

int
secret_libraries_init(void)
{
	if (big_blocks_init(BIG_BLOCK_SLOTS) != 0)
		log_warn("cannot reserve address space for TLS and upload buffers (%s); they stay on the heap, "
			 "where a login storm leaves more memory resident",
			 strerror(errno));
	/* OpenSSL accepts an allocator only before its first allocation, and
	 * curl_global_init is what would make it.  Should a future library
	 * allocate earlier (a constructor), the helper still runs: dumps are
	 * off and this is a second line, not worth an outage of every login. */
	if (CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) != 1)
		log_warn("OpenSSL was initialised before the helper could give it a wiping allocator; "
			 "TLS buffers will be freed without being wiped");
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, library_malloc, wiping_free, wiping_realloc, plain_strdup,
				 library_calloc) != CURLE_OK)
		return FR_ERR_INTERNAL;
	/* Wiping only, no MADV_DONTDUMP per JSON node: a login allocates about
	 * a hundred, each madvise splits the heap's mapping under the mm lock
	 * (a fifth of the helper's syscall time in a login storm), and the
	 * trees live only until the reply is copied out. */
	json_set_alloc_funcs(json_malloc_or_abort, wiping_free);
	return FR_OK;
}

char *
secret_strndup(const char *s, size_t n)
{
	char *copy = malloc(n + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	secret_nodump(copy, n + 1);
	return copy;
}

char *
secret_strdup(const char *s)
{
	return secret_strndup(s, strlen(s));
}

void
secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
secret_set(char **slot, const char *s)
{
	char *copy = NULL;

	if (s != NULL && (copy = secret_strdup(s)) == NULL)
		return FR_ERR_NOMEM;
	secret_free(*slot);
	*slot = copy;
	return FR_OK;
}

char *
secret_json_dump(const json_t *json, size_t *len_out)
{
	size_t need = json_dumpb(json, NULL, 0, JSON_COMPACT);
	char *buf;

	*len_out = 0;
	if (need == 0 || (buf = malloc(need + 1)) == NULL)
		return NULL;
	if (json_dumpb(json, buf, need, JSON_COMPACT) != need) {
		explicit_bzero(buf, need);
		free(buf);
		return NULL;
	}
	buf[need] = '\0';
	secret_nodump(buf, need + 1);
	*len_out = need;
	return buf;
}
