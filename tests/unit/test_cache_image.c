/*
 * The two-slot layout of a cache file (store/cache_image.h): sizes, the
 * CRC, which slot wins, and that no damaged slot is ever taken.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fr_error.h"
#include "store/cache_image.h"

static const char rec_a[] = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":\"A\"}";
static const char rec_b[] = "{\"version\":1,\"user\":\"alice\",\"refresh_token\":\"B\"}";

static unsigned char *
image_of(size_t slot_size, uint64_t seq0, const char *r0, uint64_t seq1, const char *r1)
{
	unsigned char *img = calloc(2, slot_size);

	CHECK(img != NULL);
	if (r0 != NULL)
		cache_image_fill_slot(img, slot_size, seq0, r0, strlen(r0));
	if (r1 != NULL)
		cache_image_fill_slot(img + slot_size, slot_size, seq1, r1, strlen(r1));
	return img;
}

static bool
newest_is(const unsigned char *img, size_t len, unsigned slot, uint64_t seq, const char *rec)
{
	struct cache_image_newest n;

	return cache_image_newest(img, len, &n) == FR_OK && n.slot == slot && n.seq == seq && n.slot_size == len / 2 &&
	       n.record_len == strlen(rec) && memcmp(n.record, rec, n.record_len) == 0;
}

/* The CRC bit by bit, as its definition has it. */
static uint32_t
crc32_bitwise(const unsigned char *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1u) ? 0xedb88320u : 0);
	}
	return crc ^ 0xffffffffu;
}

static void
test_crc_and_sizes(void)
{
	unsigned char buf[600];
	uint32_t x = 12345;

	/* Every byte value at every place the table is indexed from. */
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(i < 256 ? i : x >> 16);
	}
	for (size_t len = 0; len <= sizeof(buf); len += 7)
		CHECK(cache_image_crc32(buf, len) == crc32_bitwise(buf, len));
	/* The check value of CRC-32/ISO-HDLC, the CRC zlib computes. */
	CHECK(cache_image_crc32("123456789", 9) == 0xcbf43926u);
	CHECK(cache_image_crc32("", 0) == 0);
	CHECK(cache_image_slot_size(0) == 4096);
	CHECK(cache_image_slot_size(4096 - CACHE_SLOT_HEADER) == 4096);
	CHECK(cache_image_slot_size(4096 - CACHE_SLOT_HEADER + 1) == 8192);
	CHECK(cache_image_slot_size(CACHE_RECORD_MAX) == CACHE_SLOT_MAX);
	CHECK(cache_image_slot_size(CACHE_RECORD_MAX + 1) == 0);
	CHECK(cache_image_slot_size((size_t)-1) == 0);
}

static void
test_newest(void)
{
	unsigned char *img = image_of(4096, 5, rec_a, 0, NULL);
	CHECK(newest_is(img, 8192, 0, 5, rec_a));
	free(img);
	img = image_of(4096, 0, NULL, 9, rec_b);
	CHECK(newest_is(img, 8192, 1, 9, rec_b));
	free(img);
	/* The higher number wins wherever it is. */
	img = image_of(4096, 7, rec_a, 8, rec_b);
	CHECK(newest_is(img, 8192, 1, 8, rec_b));
	free(img);
	img = image_of(4096, 8, rec_a, 7, rec_b);
	CHECK(newest_is(img, 8192, 0, 8, rec_a));
	free(img);
	img = image_of(8192, 1, rec_a, 2, rec_b);
	CHECK(newest_is(img, 16384, 1, 2, rec_b));
	free(img);
	/* Both empty: nothing to take. */
	struct cache_image_newest n;
	img = image_of(4096, 0, NULL, 0, NULL);
	CHECK(cache_image_newest(img, 8192, &n) == FR_ERR_INVALID && n.record == NULL);
	free(img);
}

/* A torn write of the newer slot: every byte the CRC covers, and the
 * header's, changed in turn, leaves the older record the answer. */
static void
test_damaged_slot_is_never_taken(void)
{
	const size_t len = strlen(rec_b);
	unsigned long flips = 0;

	for (size_t pos = 0; pos < CACHE_SLOT_HEADER + len; pos++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			unsigned char *img = image_of(4096, 1, rec_a, 2, rec_b);
			img[4096 + pos] ^= (unsigned char)(1u << bit);
			/* A changed sequence number is caught by the CRC too. */
			CHECK(newest_is(img, 8192, 0, 1, rec_a));
			if (!newest_is(img, 8192, 0, 1, rec_a))
				fprintf(stderr, "slot taken with byte %zu bit %u changed\n", pos, bit);
			free(img);
			flips++;
		}
	}
	CHECK(flips == 8 * (CACHE_SLOT_HEADER + len));
	/* A write cut short: the slot's first page holds only part of the
	 * new record, the rest is the older contents of that slot. */
	unsigned char *img = image_of(4096, 3, rec_a, 2, rec_b);
	unsigned char *cut = image_of(4096, 3, rec_a, 4, rec_a);
	memcpy(img + 4096, cut + 4096, CACHE_SLOT_HEADER + 10);
	CHECK(newest_is(img, 8192, 0, 3, rec_a));
	free(cut);
	free(img);
}

static void
test_sizes_refused(void)
{
	struct cache_image_newest n;
	unsigned char *img = image_of(4096, 1, rec_a, 0, NULL);

	CHECK(cache_image_newest(img, 8191, &n) == FR_ERR_INVALID);
	CHECK(cache_image_newest(img, 4096, &n) == FR_ERR_INVALID);
	CHECK(cache_image_newest(img, 0, &n) == FR_ERR_INVALID);
	free(img);
	img = image_of(6144, 1, rec_a, 0, NULL); /* slots not a multiple of 4096 */
	CHECK(cache_image_newest(img, 12288, &n) == FR_ERR_INVALID);
	free(img);
	img = image_of(CACHE_SLOT_MAX + 4096, 1, rec_a, 0, NULL);
	CHECK(cache_image_newest(img, 2 * (CACHE_SLOT_MAX + 4096), &n) == FR_ERR_INVALID);
	free(img);
	/* A length field past the slot's end is not believed. */
	img = image_of(4096, 1, rec_a, 0, NULL);
	img[16] = 0xff;
	img[17] = 0xff;
	CHECK(cache_image_newest(img, 8192, &n) == FR_ERR_INVALID);
	free(img);
	/* The reserved bytes must be zero. */
	img = image_of(4096, 1, rec_a, 0, NULL);
	img[30] = 1;
	CHECK(cache_image_newest(img, 8192, &n) == FR_ERR_INVALID);
	free(img);
}

static void
test_record_in_either_layout(void)
{
	const char *rec;
	size_t len;

	/* A file from before the slots: its whole text. */
	CHECK(cache_image_record((const unsigned char *)rec_a, strlen(rec_a), &rec, &len) == FR_OK);
	CHECK(rec == rec_a && len == strlen(rec_a));
	unsigned char *img = image_of(4096, 1, rec_a, 2, rec_b);
	CHECK(cache_image_record(img, 8192, &rec, &len) == FR_OK);
	CHECK(len == strlen(rec_b) && memcmp(rec, rec_b, len) == 0 && rec == (const char *)img + 4096 + 32);
	free(img);
	static const unsigned char zeros[10];
	CHECK(cache_image_record(zeros, sizeof(zeros), &rec, &len) == FR_ERR_INVALID && rec == NULL && len == 0);
	CHECK(cache_image_record(zeros, 0, &rec, &len) == FR_ERR_INVALID);
}

int
main(void)
{
	test_crc_and_sizes();
	test_newest();
	test_damaged_slot_is_never_taken();
	test_sizes_refused();
	test_record_in_either_layout();
	return check_finish("test_cache_image");
}
