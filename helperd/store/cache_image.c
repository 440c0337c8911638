/*
 * The two-slot layout of a cache file (cache_image.h).  Pure functions,
 * unit-tested and fuzzed; cache_file.c does the I/O.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "fr_error.h"
#include "store/cache_image.h"

#define SEQ_OFFSET    8
#define LENGTH_OFFSET 16
#define CRC_OFFSET    20
#define ZERO_OFFSET   24

/* Bitwise rather than table-driven: a slot is checked once per load and
 * once per store, and a record of a few hundred bytes takes a few
 * microseconds either way.  Runs on the complemented value (zlib's
 * crc32 is crc_update(~0, ...) ^ ~0). */
static uint32_t
crc_update(uint32_t crc, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return crc;
}

uint32_t
cache_image_crc32(const void *data, size_t len)
{
	return crc_update(0xffffffffu, data, len) ^ 0xffffffffu;
}

static void
put_le(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Bytes 0-19 and the record: the CRC field itself and the zero bytes
 * after it are not covered. */
static uint32_t
slot_crc(const unsigned char *slot, size_t record_len)
{
	uint32_t crc = crc_update(0xffffffffu, slot, CRC_OFFSET);

	return crc_update(crc, slot + CACHE_SLOT_HEADER, record_len) ^ 0xffffffffu;
}

size_t
cache_image_slot_size(size_t record_len)
{
	if (record_len > CACHE_RECORD_MAX)
		return 0;
	size_t need = CACHE_SLOT_HEADER + record_len;
	return (need + CACHE_SLOT_ALIGN - 1) / CACHE_SLOT_ALIGN * CACHE_SLOT_ALIGN;
}

void
cache_image_fill_slot(unsigned char *slot, size_t slot_size, uint64_t seq, const char *record, size_t len)
{
	memset(slot, 0, slot_size);
	memcpy(slot, CACHE_SLOT_MAGIC, 8);
	put_le(slot + SEQ_OFFSET, seq, 8);
	put_le(slot + LENGTH_OFFSET, len, 4);
	memcpy(slot + CACHE_SLOT_HEADER, record, len);
	put_le(slot + CRC_OFFSET, slot_crc(slot, len), 4);
}

static bool
slot_whole(const unsigned char *slot, size_t slot_size, uint64_t *seq, size_t *record_len)
{
	static const unsigned char zeros[8];

	if (memcmp(slot, CACHE_SLOT_MAGIC, 8) != 0 || memcmp(slot + ZERO_OFFSET, zeros, 8) != 0)
		return false;
	uint64_t len = get_le(slot + LENGTH_OFFSET, 4);
	if (len == 0 || len > slot_size - CACHE_SLOT_HEADER)
		return false;
	if (get_le(slot + CRC_OFFSET, 4) != slot_crc(slot, (size_t)len))
		return false;
	*seq = get_le(slot + SEQ_OFFSET, 8);
	*record_len = (size_t)len;
	return true;
}

int
cache_image_newest(const unsigned char *image, size_t len, struct cache_image_newest *out)
{
	memset(out, 0, sizeof(*out));
	size_t slot_size = len / 2;
	if (len % 2 != 0 || slot_size < CACHE_SLOT_ALIGN || slot_size > CACHE_SLOT_MAX ||
	    slot_size % CACHE_SLOT_ALIGN != 0)
		return FR_ERR_INVALID;
	bool found = false;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t seq;
		size_t record_len;
		const unsigned char *slot = image + i * slot_size;
		/* Equal numbers cannot come from the writer; take the first. */
		if (!slot_whole(slot, slot_size, &seq, &record_len) || (found && seq <= out->seq))
			continue;
		found = true;
		out->slot = i;
		out->seq = seq;
		out->record = (const char *)slot + CACHE_SLOT_HEADER;
		out->record_len = record_len;
	}
	if (!found)
		return FR_ERR_INVALID;
	out->slot_size = slot_size;
	return FR_OK;
}

int
cache_image_record(const unsigned char *image, size_t len, const char **record, size_t *record_len)
{
	struct cache_image_newest newest;

	*record = NULL;
	*record_len = 0;
	if (len > 0 && image[0] == '{') {
		*record = (const char *)image;
		*record_len = len;
		return FR_OK;
	}
	if (cache_image_newest(image, len, &newest) != FR_OK)
		return FR_ERR_INVALID;
	*record = newest.record;
	*record_len = newest.record_len;
	return FR_OK;
}
