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

/* The reflected CRC-32 of IEEE 802.3 (polynomial 0xedb88320), a byte at a
 * time from a table whose entry n is n run through the bitwise loop
 * eight times (test_cache_image checks the result against that loop).
 * A table, because the bitwise loop was a few per cent of the helper's
 * CPU in a login storm.  Runs on the complemented value (zlib's crc32 is
 * crc_update(~0, ...) ^ ~0). */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu, 0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u, 0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t
crc_update(uint32_t crc, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
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
