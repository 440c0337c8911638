/* A growable byte buffer that wipes every copy it leaves behind; the
 * helper's connection buffers carry passwords and codes. */
#ifndef BYTES_H
#define BYTES_H

#include <stddef.h>
#include <stdint.h>

struct bytes {
	uint8_t *data;
	size_t len, cap;
};

int bytes_reserve(struct bytes *b, size_t need, size_t limit);
int bytes_append(struct bytes *b, const void *data, size_t n, size_t limit);
/* Drop the first n bytes. */
void bytes_consume(struct bytes *b, size_t n);
void bytes_free(struct bytes *b);

#endif
