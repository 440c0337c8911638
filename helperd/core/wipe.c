#include "config.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "core/wipe.h"

/* Blocks at least this large are wiped page by page, only where a page is
 * resident.  A page of anonymous memory that is not resident was never
 * written since the heap got it (or since it was trimmed), so it holds
 * nothing; wiping it anyway would fault it in and keep it resident.
 * curl's 16 KiB upload buffer, one per HTTP/2 request in flight, holds a
 * request of a few hundred bytes in its first page: wiping the other three
 * made 1000 requests in flight cost 12 MiB more than they touch (on the
 * heap then; big_blocks.c now holds such blocks).  A page
 * swapped out is not resident either; wiping it would not reach the copy
 * on the swap device, which the kernel leaves there when it swaps in. */
#define WIPE_BY_PAGE_MIN    (8 * 1024)
#define WIPE_PAGES_PER_CALL 64

void
wipe_resident(void *p, size_t size)
{
	static long page;

	if (p == NULL || size == 0)
		return;
	if (page <= 0)
		page = sysconf(_SC_PAGESIZE);
	if (size < WIPE_BY_PAGE_MIN || page <= 0) {
		explicit_bzero(p, size);
		return;
	}
	uintptr_t pg = (uintptr_t)page, start = (uintptr_t)p, end = start + size;
	unsigned char resident[WIPE_PAGES_PER_CALL];
	for (uintptr_t base = start & ~(pg - 1); base < end; base += WIPE_PAGES_PER_CALL * pg) {
		uintptr_t stop = base + WIPE_PAGES_PER_CALL * pg < end ? base + WIPE_PAGES_PER_CALL * pg : end;
		if (mincore((void *)base, stop - base, resident) != 0) {
			/* Cannot tell: wipe the rest whole. */
			uintptr_t from = base > start ? base : start;
			explicit_bzero((void *)from, end - from);
			return;
		}
		for (uintptr_t i = 0; base + i * pg < stop; i++) {
			if (!(resident[i] & 1))
				continue;
			uintptr_t from = base + i * pg > start ? base + i * pg : start;
			uintptr_t to = base + (i + 1) * pg < end ? base + (i + 1) * pg : end;
			explicit_bzero((void *)from, to - from);
		}
	}
}
