/*
 * Wiping memory that may be mostly untouched: the libraries' large
 * buffers, of which a request writes only the first page.
 */
#ifndef WIPE_H
#define WIPE_H

#include <stddef.h>

/* explicit_bzero(p, size), except that in a large block the pages that
 * are not resident (never written) are left alone, so a wipe does not
 * fault them in.  The libraries' allocator wipes every block with it. */
void wipe_resident(void *p, size_t size);

#endif
