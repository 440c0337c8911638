/* The pool for the libraries' large blocks: which sizes it takes, that a
 * freed block reads zero when its slot is handed out again, that a trim
 * gives the pages of all but the few freed last back to the kernel, that
 * a block in use can give its pages back and stay its owner's, that
 * a full pool sends callers to the heap, that it survives threads, that
 * misuse stops the process, and that the allocator the helper gives
 * OpenSSL and jansson uses it (moves between the pool and the heap keep
 * the contents). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "check.h"
#include "core/big_blocks.h"
#include "core/secret.h"

static size_t
resident_pages(const void *p, size_t len)
{
	unsigned char vec[BIG_BLOCK_MAX / 4096 + 1];
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, count = 0;

	CHECK(n <= sizeof(vec));
	CHECK(mincore((void *)p, len, vec) == 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	return count;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static bool
aborts(void (*misuse)(void *), void *block)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		misuse(block);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
free_twice(void *block)
{
	big_block_free(block);
	big_block_free(block);
}

static void
free_inside(void *block)
{
	big_block_free((unsigned char *)block + 64);
}

#define THREADS 4
#define ROUNDS	20000

static void *
churn(void *arg)
{
	unsigned char mark = (unsigned char)(uintptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		unsigned char *b = big_block_alloc(BIG_BLOCK_MIN);
		if (b == NULL)
			continue; /* all slots busy in the other threads */
		if (b[0] != 0 || b[BIG_BLOCK_MIN - 1] != 0)
			return (void *)1; /* another thread's data, or not zeroed */
		b[0] = mark;
		b[BIG_BLOCK_MIN - 1] = mark;
		if (b[0] != mark)
			return (void *)1;
		b[0] = 0;
		b[BIG_BLOCK_MIN - 1] = 0;
		big_block_free(b);
	}
	return NULL;
}

int
main(void)
{
	/* Before the pool exists, nobody gets a block and nothing is its. */
	CHECK(big_block_alloc(BIG_BLOCK_MIN) == NULL);
	int on_stack = 0;
	CHECK(!big_block_owns(&on_stack));

	/* The helper's own set-up: the pool, then the libraries' allocators. */
	CHECK(secret_libraries_init() == 0);
	CHECK(big_blocks_init(8) == -1 && errno == EINVAL); /* only once */

	/* Sizes: only [MIN, MAX]. */
	CHECK(big_block_alloc(BIG_BLOCK_MIN - 1) == NULL);
	CHECK(big_block_alloc(BIG_BLOCK_MAX + 1) == NULL);
	unsigned char *a = big_block_alloc(BIG_BLOCK_MIN);
	unsigned char *b = big_block_alloc(BIG_BLOCK_MAX);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(big_block_owns(a) && big_block_owns(b) && big_block_owns(a + BIG_BLOCK_MIN - 1));
	CHECK(((uintptr_t)a % (uintptr_t)sysconf(_SC_PAGESIZE)) == 0);
	CHECK(big_block_size(a) == BIG_BLOCK_MIN && big_block_size(b) == BIG_BLOCK_MAX);
	void *heap = malloc(BIG_BLOCK_MIN);
	CHECK(heap != NULL && !big_block_owns(heap));
	free(heap);

	/* A request of a few hundred bytes makes one page resident.  Freed,
	 * it reads zero; the slot freed last is handed out first. */
	CHECK(resident_pages(a, BIG_BLOCK_MIN) == 0);
	memset(a, 0x5A, 300);
	CHECK(resident_pages(a, BIG_BLOCK_MIN) == 1);
	big_block_free(a);
	CHECK(all_zero(a, BIG_BLOCK_MAX));
	unsigned char *again = big_block_alloc(BIG_BLOCK_MIN + 100);
	CHECK(again == a);
	CHECK(all_zero(again, BIG_BLOCK_MIN + 100));

	/* Freed slots keep their pages for the next blocks, but no more than
	 * BIG_BLOCK_HOT of them: a block freed beyond that gives its pages
	 * back at once (a storm's thousand upload buffers, freed at their
	 * transfers' ends, would otherwise stay resident until the trim). */
	unsigned char *burst[BIG_BLOCK_HOT + 8];
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++) {
		burst[i] = big_block_alloc(BIG_BLOCK_MIN);
		CHECK(burst[i] != NULL);
		memset(burst[i], 0x77, 5000); /* two pages */
	}
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++)
		big_block_free(burst[i]);
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++) {
		CHECK(resident_pages(burst[i], BIG_BLOCK_MAX) == (i < BIG_BLOCK_HOT ? 2u : 0u));
		/* Reading a given-back page would map the zero page, which
		 * mincore counts: only the kept ones are read. */
		if (i < BIG_BLOCK_HOT)
			CHECK(all_zero(burst[i], 5000));
	}
	/* The trim leaves only the resident ones among the BIG_BLOCK_HOT
	 * freed last (the next handed out): after a burst, the blocks freed
	 * first are out of memory. */
	big_blocks_trim(BIG_BLOCK_HOT);
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++)
		CHECK(resident_pages(burst[i], BIG_BLOCK_MAX) == (i >= 8 && i < BIG_BLOCK_HOT ? 2u : 0u));
	/* What the trim kept counts against the bound: 16 blocks taken again
	 * (the 8 emptied slots on top, then 8 resident ones) and freed all
	 * keep their pages, up to BIG_BLOCK_HOT resident free slots in all. */
	for (size_t i = 0; i < 16; i++) {
		unsigned char *again16 = big_block_alloc(BIG_BLOCK_MIN);
		CHECK(again16 == burst[BIG_BLOCK_HOT + 7 - i]);
		memset(again16, 0x78, 5000);
	}
	for (size_t i = 0; i < 16; i++)
		big_block_free(burst[BIG_BLOCK_HOT - 8 + i]);
	size_t resident_slots = 0;
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++)
		resident_slots += resident_pages(burst[i], BIG_BLOCK_MAX) == 2;
	CHECK(resident_slots == BIG_BLOCK_HOT);
	big_blocks_trim(0);
	for (size_t i = 0; i < BIG_BLOCK_HOT + 8; i++)
		CHECK(resident_pages(burst[i], BIG_BLOCK_MAX) == 0);
	/* A block in use keeps its pages through a trim. */
	unsigned char *busy = big_block_alloc(BIG_BLOCK_MIN);
	CHECK(busy != NULL);
	memset(busy, 0x66, 100);
	big_blocks_trim(0);
	CHECK(resident_pages(busy, BIG_BLOCK_MAX) == 1 && busy[99] == 0x66);
	big_block_free(busy);

	/* A discarded block stays its owner's, wiped and with no page left,
	 * whichever address inside it is given; written again, it works as
	 * before.  Nothing outside an allocated block is touched. */
	unsigned char *sent = big_block_alloc(BIG_BLOCK_MIN);
	CHECK(sent != NULL);
	uint64_t generation = big_block_generation(sent + 300);
	CHECK(generation != 0 && generation == big_block_generation(sent));
	memset(sent, 0x55, 5000);
	CHECK(resident_pages(sent, BIG_BLOCK_MAX) == 2);
	CHECK(big_block_discard(sent + 300, generation));
	CHECK(resident_pages(sent, BIG_BLOCK_MAX) == 0);
	CHECK(big_block_size(sent) == BIG_BLOCK_MIN);
	memset(sent, 0x56, 100);
	CHECK(sent[99] == 0x56 && resident_pages(sent, BIG_BLOCK_MAX) == 1);
	/* (Read after the count: reading maps the kernel's zero page, which
	 * mincore counts.) */
	CHECK(all_zero(sent + 100, BIG_BLOCK_MIN - 100));
	CHECK(big_block_discard(sent, generation));
	CHECK(!big_block_discard(&on_stack, generation));
	CHECK(big_block_generation(&on_stack) == 0);
	big_block_free(sent);
	CHECK(big_block_generation(sent) == 0);
	CHECK(!big_block_discard(sent, generation)); /* freed: no owner */
	/* Handed out again, the same slot is a new allocation: a pointer kept
	 * from the old one cannot reach the new owner's data. */
	unsigned char *next_owner = big_block_alloc(BIG_BLOCK_MIN);
	CHECK(next_owner == sent);
	CHECK(big_block_generation(next_owner) != generation);
	memset(next_owner, 0x57, 100);
	CHECK(!big_block_discard(sent, generation));
	CHECK(next_owner[99] == 0x57 && resident_pages(next_owner, BIG_BLOCK_MAX) == 1);
	big_block_free(next_owner);

	/* Resizing stays in the slot up to its size. */
	CHECK(big_block_resize(again, BIG_BLOCK_MAX));
	CHECK(big_block_size(again) == BIG_BLOCK_MAX);
	CHECK(big_block_resize(again, 10) && big_block_size(again) == 10);
	CHECK(!big_block_resize(again, BIG_BLOCK_MAX + 1));
	CHECK(!big_block_resize(again, 0));
	big_block_free(again);
	big_block_free(b);

	/* Misuse stops the process rather than corrupt the pool. */
	unsigned char *victim = big_block_alloc(BIG_BLOCK_MIN);
	CHECK(victim != NULL);
	CHECK(aborts(free_twice, victim));
	CHECK(aborts(free_inside, victim));
	big_block_free(victim);

	/* A full pool: the callers fall back to the heap. */
	void *held[BIG_BLOCK_SLOTS];
	size_t taken = 0;
	while (taken < BIG_BLOCK_SLOTS && (held[taken] = big_block_alloc(BIG_BLOCK_MIN)) != NULL)
		taken++;
	CHECK(taken == BIG_BLOCK_SLOTS);
	CHECK(big_block_alloc(BIG_BLOCK_MIN) == NULL);
	unsigned char *spill = OPENSSL_malloc(BIG_BLOCK_MIN);
	CHECK(spill != NULL && !big_block_owns(spill));
	OPENSSL_free(spill);
	for (size_t i = 0; i < taken; i++)
		big_block_free(held[i]);

	/* Several threads at once: every block zeroed and their own. */
	pthread_t threads[THREADS];
	for (uintptr_t t = 0; t < THREADS; t++)
		CHECK(pthread_create(&threads[t], NULL, churn, (void *)(t + 1)) == 0);
	for (int t = 0; t < THREADS; t++) {
		void *result = (void *)1;
		CHECK(pthread_join(threads[t], &result) == 0);
		CHECK(result == NULL);
	}

	/* Through the allocator the libraries have: large blocks from the
	 * pool, and a block that grows or shrinks out of its range moves with
	 * its contents. */
	unsigned char *tls = OPENSSL_malloc(17 * 1024);
	CHECK(tls != NULL && big_block_owns(tls));
	memset(tls, 0x42, 17 * 1024);
	unsigned char *grown = OPENSSL_realloc(tls, 20 * 1024);
	CHECK(grown == tls); /* in place */
	unsigned char *huge = OPENSSL_realloc(grown, 64 * 1024);
	CHECK(huge != NULL && !big_block_owns(huge));
	CHECK(huge[0] == 0x42 && huge[17 * 1024 - 1] == 0x42);
	CHECK(all_zero(grown, 17 * 1024)); /* the old slot, wiped */
	OPENSSL_free(huge);
	unsigned char *small = OPENSSL_malloc(1000);
	CHECK(small != NULL && !big_block_owns(small));
	memset(small, 0x24, 1000);
	unsigned char *moved = OPENSSL_realloc(small, 18 * 1024);
	CHECK(moved != NULL && big_block_owns(moved));
	CHECK(moved[0] == 0x24 && moved[999] == 0x24 && moved[1000] == 0);
	OPENSSL_free(moved);

	json_malloc_t json_alloc = NULL;
	json_free_t json_release = NULL;
	json_get_alloc_funcs(&json_alloc, &json_release);
	unsigned char *tree = json_alloc(BIG_BLOCK_MIN);
	CHECK(tree != NULL && big_block_owns(tree));
	memset(tree, 0x31, 100);
	json_release(tree);
	CHECK(all_zero(tree, BIG_BLOCK_MIN));

	return check_finish("test_big_blocks");
}
