/*
 * The bytes of a user's cache file: two slots of equal size, a multiple
 * of 4096 bytes, each able to hold one record (cache_record.h's JSON).  A
 * store overwrites the slot that does not hold the newest record, syncs
 * it, and only then clears the other; so a crash, or a write torn by a
 * power cut, always leaves one whole record, and the reader takes the
 * whole slot with the higher sequence number.  Overwriting a file in
 * place costs the kernel a fraction of what creating and renaming a new
 * one does (doc/design.md has the figures).  A slot:
 *
 *   offset 0   8 bytes  CACHE_SLOT_MAGIC
 *          8   8        sequence number, little-endian
 *         16   4        length of the record, little-endian
 *         20   4        CRC-32 (IEEE 802.3, as zlib's crc32) of bytes
 *                       0-19 and of the record, little-endian
 *         24   8        zero
 *         32            the record, then zero bytes to the slot's end
 *
 * The CRC tells a torn or cleared slot from a whole one.  It is no
 * defence against anyone who can write the file, and need not be: the
 * file is the helper's own (mode 0600 in a folder of mode 0700), and a
 * record's contents are checked by cache_record_decode all the same.
 * Files written before this layout hold the record's JSON alone; they
 * are still read, and the next store replaces them.  Pure functions.
 */
#ifndef CACHE_IMAGE_H
#define CACHE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_SLOT_MAGIC  "FCSLOT01"
#define CACHE_SLOT_HEADER 32
#define CACHE_SLOT_ALIGN  4096
#define CACHE_SLOT_MAX	  (32 * 1024)
/* The largest record a slot holds. */
#define CACHE_RECORD_MAX (CACHE_SLOT_MAX - CACHE_SLOT_HEADER)

uint32_t cache_image_crc32(const void *data, size_t len);

/* The slot size a record of `record_len` bytes needs; 0 when it exceeds
 * CACHE_RECORD_MAX. */
size_t cache_image_slot_size(size_t record_len);

/* Fill `slot` (slot_size bytes, at least cache_image_slot_size(len)) with
 * the header, the record and zeros. */
void cache_image_fill_slot(unsigned char *slot, size_t slot_size, uint64_t seq, const char *record, size_t len);

struct cache_image_newest {
	size_t slot_size;
	unsigned slot; /* 0 or 1 */
	uint64_t seq;
	const char *record; /* inside the image */
	size_t record_len;
};

/* The newest whole slot of a file's bytes.  FR_OK; FR_ERR_INVALID when
 * the bytes are not two slots of a valid size or neither slot is whole. */
int cache_image_newest(const unsigned char *image, size_t len, struct cache_image_newest *out);

/* The record in a file's bytes, whichever layout: the newest whole slot,
 * or the whole text of an older file (which begins with '{').  FR_OK or
 * FR_ERR_INVALID. */
int cache_image_record(const unsigned char *image, size_t len, const char **record, size_t *record_len);

#endif
