#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "fr_error.h"
#include "secret.h"

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

/* Jansson frees without telling us the size, so every block carries it. */
struct alloc_header {
	size_t size;
	max_align_t align;	/* keeps the payload aligned like malloc's */
};

static void *
wiping_malloc(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct alloc_header))
		return NULL;
	struct alloc_header *h = malloc(sizeof(*h) + size);
	if (h == NULL)
		return NULL;
	h->size = size;
	secret_nodump(&h->size, sizeof(*h) + size);
	return (char *)h + sizeof(*h);
}

static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	struct alloc_header *h = (struct alloc_header *)((char *)p - sizeof(struct alloc_header));
	explicit_bzero(p, h->size);
	free(h);
}

int
secret_process_init(void)
{
	struct rlimit no_core = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &no_core) != 0)
		return FR_ERR_IO;
	json_set_alloc_funcs(wiping_malloc, wiping_free);
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
