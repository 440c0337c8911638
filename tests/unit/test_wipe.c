/* wipe_resident, which the libraries' allocator runs on every block they
 * free: every byte of the block that was written reads zero afterwards,
 * no byte outside it changes, and in a large block the pages never
 * written stay out of memory (wiping them would fault them in). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "check.h"
#include "core/wipe.h"

static bool
all(const unsigned char *p, size_t n, unsigned char value)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != value)
			return false;
	return true;
}

static bool
resident(const void *page_start, size_t page)
{
	unsigned char vec = 0;

	CHECK(mincore((void *)page_start, page, &vec) == 0);
	return vec & 1;
}

int
main(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* Small and large heap blocks, written whole: zero afterwards. */
	size_t sizes[] = { 1, 31, 4096, 8191, 8192, 16384 + 17, 300000 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned char *b = malloc(sizes[k]);
		CHECK(b != NULL);
		memset(b, 0xA5, sizes[k]);
		wipe_resident(b, sizes[k]);
		CHECK(all(b, sizes[k], 0));
		free(b);
	}

	/* Eight fresh pages: written in pages 0, 3 (partly) and 7; the block
	 * starts and ends inside a page, and the bytes around it are kept. */
	unsigned char *map = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	memset(map, 0x11, page);
	memset(map + 3 * page + 100, 0x22, 200);
	memset(map + 7 * page, 0x33, page);
	unsigned char *block = map + 40;
	size_t block_len = 7 * page + 10 - 40;
	wipe_resident(block, block_len);
	CHECK(all(map, 40, 0x11));
	CHECK(all(block, page - 40, 0));
	CHECK(all(map + 3 * page, page, 0));
	CHECK(all(map + 7 * page, 10, 0));
	CHECK(all(map + 7 * page + 10, page - 10, 0x33));
	for (size_t i = 1; i < 7; i++)
		CHECK(resident(map + i * page, page) == (i == 3));
	CHECK(munmap(map, 8 * page) == 0);

	/* More pages than one residency query covers. */
	size_t big = 200 * page;
	unsigned char *wide = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(wide != MAP_FAILED);
	for (size_t i = 0; i < 200; i += 9)
		memset(wide + i * page, 0x44, page);
	wipe_resident(wide, big);
	/* Residency first: reading a page never written maps it (to the zero
	 * page), and mincore counts that as resident. */
	for (size_t i = 0; i < 200; i++)
		CHECK(resident(wide + i * page, page) == (i % 9 == 0));
	for (size_t i = 0; i < 200; i += 9)
		CHECK(all(wide + i * page, page, 0));
	CHECK(munmap(wide, big) == 0);

	wipe_resident(NULL, 10);
	return check_finish("test_wipe");
}
