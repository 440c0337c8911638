#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "core/big_blocks.h"
#include "core/wipe.h"

/*
 * One process-wide pool, because the libraries' allocator hooks
 * (curl_global_init_mem, CRYPTO_set_mem_functions, json_set_alloc_funcs)
 * are process-wide and take no context.  Set once by big_blocks_init,
 * before any thread allocates; afterwards only the free list, the sizes
 * and the residency marks change, under the lock.
 */
static struct {
	unsigned char *base;
	size_t slots;
	uint32_t *free_slots; /* a stack of slot numbers */
	size_t free_count;
	uint32_t *sizes;       /* 0: slot free */
	uint64_t *generations; /* allocations of each slot so far */
	uint64_t next_generation;
	unsigned char *resident; /* a free slot that may still have pages */
	size_t resident_free;	 /* how many free slots are marked resident */
	pthread_mutex_t lock;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

int
big_blocks_init(size_t slots)
{
	if (pool.base != NULL || slots == 0 || slots > UINT32_MAX || slots > SIZE_MAX / BIG_BLOCK_MAX) {
		errno = EINVAL;
		return -1;
	}
	uint32_t *free_slots = calloc(slots, sizeof(*free_slots));
	uint32_t *sizes = calloc(slots, sizeof(*sizes));
	unsigned char *resident = calloc(slots, 1);
	uint64_t *generations = calloc(slots, sizeof(*generations));
	/* MAP_NORESERVE: the reservation is address space; a page costs
	 * memory only while a block has it written. */
	void *base = mmap(NULL, slots * BIG_BLOCK_MAX, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (free_slots == NULL || sizes == NULL || resident == NULL || generations == NULL || base == MAP_FAILED) {
		int saved = errno;
		free(free_slots);
		free(sizes);
		free(resident);
		free(generations);
		if (base != MAP_FAILED)
			(void)munmap(base, slots * BIG_BLOCK_MAX);
		errno = saved;
		return -1;
	}
	/* These blocks hold requests and replies (passwords, tokens).  Dumps
	 * are off already, so a failure here weakens nothing. */
	(void)madvise(base, slots * BIG_BLOCK_MAX, MADV_DONTDUMP);
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer scans the heap, stacks and globals for pointers, not
	 * other mappings: a heap block referred to only from a slot (a
	 * library's large table of pointers) would be reported as leaked. */
	__lsan_register_root_region(base, slots * BIG_BLOCK_MAX);
#endif
	/* Lowest slot on top: a quiet helper keeps reusing the same few. */
	for (size_t i = 0; i < slots; i++)
		free_slots[i] = (uint32_t)(slots - 1 - i);
	pool.free_slots = free_slots;
	pool.sizes = sizes;
	pool.resident = resident;
	pool.generations = generations;
	pool.free_count = slots;
	pool.slots = slots;
	pool.base = base;
	return 0;
}

bool
big_block_owns(const void *p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)pool.base;

	return pool.base != NULL && a >= base && a < base + pool.slots * BIG_BLOCK_MAX;
}

/* The slot of a block; a pointer inside a slot but not at its start is a
 * caller's bug that would corrupt the pool, so the helper stops there. */
static size_t
slot_of(const void *p)
{
	size_t offset = (size_t)((const unsigned char *)p - pool.base);

	if (offset % BIG_BLOCK_MAX != 0)
		abort();
	return offset / BIG_BLOCK_MAX;
}

/* The slot of any address inside a block (big_block_owns(p) first). */
static size_t
slot_containing(const void *p)
{
	return (size_t)((const unsigned char *)p - pool.base) / BIG_BLOCK_MAX;
}

void *
big_block_alloc(size_t size)
{
	if (pool.base == NULL || size < BIG_BLOCK_MIN || size > BIG_BLOCK_MAX)
		return NULL;
	if (pthread_mutex_lock(&pool.lock) != 0)
		return NULL;
	void *block = NULL;
	if (pool.free_count > 0) {
		uint32_t slot = pool.free_slots[--pool.free_count];
		if (pool.resident[slot] != 0)
			pool.resident_free--;
		pool.resident[slot] = 0;
		pool.sizes[slot] = (uint32_t)size;
		pool.generations[slot] = ++pool.next_generation;
		block = pool.base + (size_t)slot * BIG_BLOCK_MAX;
	}
	(void)pthread_mutex_unlock(&pool.lock);
	return block;
}

size_t
big_block_size(const void *p)
{
	size_t slot = slot_of(p);

	if (pthread_mutex_lock(&pool.lock) != 0)
		abort();
	size_t size = pool.sizes[slot];
	(void)pthread_mutex_unlock(&pool.lock);
	return size;
}

bool
big_block_resize(void *p, size_t size)
{
	size_t slot = slot_of(p);

	/* Not below 1: a size of 0 marks a free slot. */
	if (size == 0 || size > BIG_BLOCK_MAX)
		return false;
	if (pthread_mutex_lock(&pool.lock) != 0)
		abort();
	if (pool.sizes[slot] == 0)
		abort(); /* resizing a freed block */
	pool.sizes[slot] = (uint32_t)size;
	(void)pthread_mutex_unlock(&pool.lock);
	return true;
}

void
big_block_free(void *p)
{
	size_t slot = slot_of(p);

	/* What it held (a request, a decrypted reply) is a secret. */
	wipe_resident(p, BIG_BLOCK_MAX);
	if (pthread_mutex_lock(&pool.lock) != 0)
		abort();
	if (pool.sizes[slot] == 0)
		abort(); /* a double free */
	/* OpenSSL frees and takes a record buffer around every TLS read, so
	 * a few slots keep their pages for the next block.  Not all: over
	 * HTTP/1.1 each of 256 connections holds curl's upload buffer, freed
	 * with its transfer, and all those pages stayed until the trim after
	 * the burst (1000 logins in flight, 2026-12-04: 1.7 MiB resident in
	 * the slots, 1.0 MiB with this bound). */
	bool keep = pool.resident_free < BIG_BLOCK_HOT;
	if (keep) {
		pool.sizes[slot] = 0;
		pool.free_slots[pool.free_count++] = (uint32_t)slot;
		pool.resident[slot] = 1;
		pool.resident_free++;
	}
	(void)pthread_mutex_unlock(&pool.lock);
	if (keep)
		return;
	/* Still marked in use, so no other thread takes it meanwhile; a
	 * failure only leaves the (wiped) pages resident. */
	(void)madvise(p, BIG_BLOCK_MAX, MADV_DONTNEED);
	if (pthread_mutex_lock(&pool.lock) != 0)
		abort();
	pool.sizes[slot] = 0;
	pool.free_slots[pool.free_count++] = (uint32_t)slot;
	(void)pthread_mutex_unlock(&pool.lock);
}

uint64_t
big_block_generation(const void *inside)
{
	if (!big_block_owns(inside))
		return 0;
	size_t slot = slot_containing(inside);
	if (pthread_mutex_lock(&pool.lock) != 0)
		return 0;
	uint64_t generation = pool.sizes[slot] != 0 ? pool.generations[slot] : 0;
	(void)pthread_mutex_unlock(&pool.lock);
	return generation;
}

bool
big_block_discard(void *inside, uint64_t generation)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!big_block_owns(inside) || page <= 0 || generation == 0)
		return false;
	size_t slot = slot_containing(inside);
	if (pthread_mutex_lock(&pool.lock) != 0)
		return false;
	size_t size = pool.generations[slot] == generation ? pool.sizes[slot] : 0;
	(void)pthread_mutex_unlock(&pool.lock);
	if (size == 0)
		return false;
	/* Outside the lock: only the thread that would free the block calls
	 * this, so it stays allocated to the same owner meanwhile. */
	unsigned char *block = pool.base + slot * BIG_BLOCK_MAX;
	size_t span = (size + (size_t)page - 1) / (size_t)page * (size_t)page;
	/* Wiped first: the kernel does not clear a page it takes back until
	 * it hands it out again. */
	wipe_resident(block, size);
	return madvise(block, span, MADV_DONTNEED) == 0;
}

/* Discard the pages of the free slots that have any, except the `keep`
 * freed last (the next ones handed out), one madvise per run of
 * neighbouring slots. */
void
big_blocks_trim(size_t keep)
{
	if (pool.base == NULL || pthread_mutex_lock(&pool.lock) != 0)
		return;
	for (size_t i = 0; i < keep && i < pool.free_count; i++) {
		unsigned char *mark = &pool.resident[pool.free_slots[pool.free_count - 1 - i]];
		if (*mark == 1)
			*mark = 2; /* kept */
	}
	size_t run = 0, kept = 0;
	for (size_t slot = 0; slot <= pool.slots; slot++) {
		if (slot < pool.slots && pool.resident[slot] == 1) {
			pool.resident[slot] = 0;
			run++;
			continue;
		}
		/* Already wiped: a failure only leaves the pages resident. */
		if (run > 0)
			(void)madvise(pool.base + (slot - run) * BIG_BLOCK_MAX, run * BIG_BLOCK_MAX, MADV_DONTNEED);
		run = 0;
		if (slot < pool.slots && pool.resident[slot] == 2) {
			pool.resident[slot] = 1;
			kept++;
		}
	}
	pool.resident_free = kept;
	(void)pthread_mutex_unlock(&pool.lock);
}
