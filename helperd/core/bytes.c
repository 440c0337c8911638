#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "fr_error.h"

int
bytes_reserve(struct bytes *b, size_t need, size_t limit)
{
	if (need > limit)
		return FR_ERR_TOO_LARGE;
	if (need <= b->cap)
		return FR_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	uint8_t *grown = malloc(cap);
	if (grown == NULL)
		return FR_ERR_NOMEM;
	if (b->data != NULL) {
		memcpy(grown, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = grown;
	b->cap = cap;
	return FR_OK;
}

int
bytes_append(struct bytes *b, const void *data, size_t n, size_t limit)
{
	int r;

	if (n > limit || b->len > limit - n)
		return FR_ERR_TOO_LARGE;
	if ((r = bytes_reserve(b, b->len + n, limit)) != 0)
		return r;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return FR_OK;
}

void
bytes_consume(struct bytes *b, size_t n)
{
	if (n >= b->len) {
		if (b->data != NULL)
			explicit_bzero(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	explicit_bzero(b->data + b->len - n, n);
	b->len -= n;
}

void
bytes_free(struct bytes *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}
