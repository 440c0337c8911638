/*
 * Large library buffers (curl's upload buffer, OpenSSL's record buffers)
 * in slots of one reserved mapping, whose pages go back to the kernel as
 * soon as a block is freed.
 *
 * libcurl 7.88 gives every HTTP/2 request in flight a 16 KiB upload
 * buffer and writes a few hundred bytes into it.  On the heap that block
 * is resident as far as any earlier user of the same memory wrote, and
 * free() keeps it: 1000 requests in flight cost about 16 MiB.  In a slot,
 * only the pages the request writes are resident, and only until the
 * block is freed or, once curl has sent the request, discarded
 * (big_block_discard, from api/http.c).
 * glibc's own mmap threshold does not do this: it applies only when the
 * heap's top cannot serve the request.
 */
#ifndef BIG_BLOCKS_H
#define BIG_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests in [BIG_BLOCK_MIN, BIG_BLOCK_MAX] bytes get a slot. */
#define BIG_BLOCK_MIN (16 * 1024)
#define BIG_BLOCK_MAX (32 * 1024)

/* Slots for the libraries' large blocks: enough for 1600 HTTP/2 requests
 * in flight (16 connections of 100 streams) or for the record and upload
 * buffers of about 1300 HTTP/1.1 connections.  128 MiB of address space,
 * none of it memory until written.  Blocks beyond that come from the heap. */
#define BIG_BLOCK_SLOTS 4096

/* Free slots that keep their (wiped) pages for the next blocks: a block
 * freed beyond that many gives its pages back at once, and
 * big_blocks_trim leaves no more. */
#define BIG_BLOCK_HOT 32

/* Reserve `slots` slots of BIG_BLOCK_MAX bytes (address space only).
 * Returns 0, or -1 with errno set (then big_block_alloc always returns
 * NULL and the caller uses the heap).  Call once, before any thread
 * allocates. */
int big_blocks_init(size_t slots);

/* A page-aligned block of `size` bytes, or NULL when the size is out of
 * range or every slot is taken (the caller falls back to the heap).
 * Thread-safe.  Not promised zero (see big_block_free); calloc must clear
 * it. */
void *big_block_alloc(size_t size);

/* Whether p is a block from big_block_alloc. */
bool big_block_owns(const void *p);

/* The size last asked for p (big_block_alloc or big_block_resize). */
size_t big_block_size(const void *p);

/* Record a new size for p, in place; false when it does not fit the slot. */
bool big_block_resize(void *p, size_t size);

/* Wipe p and give its slot back.  The wipe reaches the resident pages
 * only (wipe_resident): a page swapped out meanwhile comes back with what
 * it held, so a slot handed out again reads zero only as long as nothing
 * was swapped.  Its pages stay, for the next block: OpenSSL frees and takes a
 * record buffer around every TLS read (curl sets SSL_MODE_RELEASE_BUFFERS),
 * and giving them back each time would cost a system call and page
 * faults per record. */
void big_block_free(void *p);

/* Which allocation of its slot the block that `inside` points into is: a
 * number that changes whenever the slot is handed out.  0 when `inside`
 * is in no allocated block. */
uint64_t big_block_generation(const void *inside);

/* Wipe the block that `inside` points into and give its pages back,
 * leaving it allocated to its owner, who may write it again (its pages
 * then come back zeroed).  For a block whose contents its owner is done
 * with but will not free for a while: curl's upload buffer of a request
 * already sent (api/http.c).  Only if the block is still the allocation
 * `generation` names (big_block_generation), so that a pointer kept
 * after its block was freed and handed out again cannot reach the new
 * owner's data; and only from the thread that frees the block.  False
 * when nothing was done. */
bool big_block_discard(void *inside, uint64_t generation);

/* Give the pages of the free slots back to the kernel, except those of
 * the `keep` freed last (a copy on swap goes too).  For a quiet moment,
 * like malloc_trim. */
void big_blocks_trim(size_t keep);

#endif
