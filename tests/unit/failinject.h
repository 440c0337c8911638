/*
 * Failure injection for the unit tests, in the manner of pam-u2f's
 * fuzz/wrap.c: a test program is linked with -Wl,--wrap=NAME for each
 * function below (FAILINJECT_WRAP_FLAGS in Makefile.am), so every call the
 * project's code makes to it goes through a wrapper in failinject.c that
 * counts the call and, when told to, makes it fail.
 *
 * Why --wrap and not a preloaded shim: the project's libraries
 * (libfrcommon, libhostlib, libhelperd) are libtool convenience
 * libraries, i.e. static archives whose objects are copied into the test
 * program at link time, and the linker rewrites the undefined references
 * of every one of those objects.  So the wrappers see exactly the calls
 * of the code under test (and of the test itself), and nothing else: not
 * stdio or pthread inside libc, not the ASan runtime, not valgrind's
 * replacement allocator, which a preloaded malloc would fight with (ASan
 * insists on being first in the library order).  What --wrap cannot
 * reach are calls made inside shared libraries (jansson, curl); a test
 * that wants jansson's allocations to fail hands it the wrapped malloc
 * with json_set_alloc_funcs().
 *
 * Counting is per process and thread-safe (the token cache writes on a
 * thread of its own); only calls of the kinds in the armed mask count.
 */
#ifndef FAILINJECT_H
#define FAILINJECT_H

#include <stdbool.h>
#include <stddef.h>

/* Kinds of call, as a mask. */
#define FI_ALLOC  0x001u /* malloc calloc realloc strdup strndup */
#define FI_OPEN	  0x002u /* open openat (and their fortified and 64 forms) */
#define FI_READ	  0x004u /* read recv */
#define FI_WRITE  0x008u /* write send */
#define FI_SYNC	  0x010u /* fsync */
#define FI_RENAME 0x020u /* rename renameat */
#define FI_CLOSE  0x040u /* close: the descriptor is closed, then EIO is reported */
#define FI_THREAD 0x080u /* pthread_create */
#define FI_UNLINK 0x100u /* unlinkat */
/* Everything but unlinkat: a failed unlink of a temporary file is the one
 * failure after which a stray file is expected (see test_failinject_cache). */
#define FI_DEFAULT  (FI_ALLOC | FI_OPEN | FI_READ | FI_WRITE | FI_SYNC | FI_RENAME | FI_CLOSE | FI_THREAD)
#define FI_TRANSFER (FI_READ | FI_WRITE)

enum fi_effect {
	FI_FAIL,  /* the call fails: NULL/ENOMEM, -1 with an errno, or an error number */
	FI_SHORT, /* read/write/send/recv move at most one byte (others: no effect) */
	FI_EINTR, /* read/write/send/recv fail with EINTR (others: no effect) */
};

/* From now on count the calls of the kinds in `mask`; the call numbered
 * `nth` (1 = the next one) gets `effect`, and so does every call whose
 * number is a multiple of `every`.  0 disables either; both 0 only
 * counts. */
void fi_arm(unsigned mask, unsigned long nth, unsigned long every, enum fi_effect effect);
/* While armed, every call of the kinds in `mask` fails as well, uncounted
 * (e.g. FI_THREAD: the code runs without its helper threads).  fi_arm
 * clears it. */
void fi_always(unsigned mask);
/* Stop counting and injecting.  The counters keep their values. */
void fi_disarm(void);
/* Calls counted, and calls given the effect, since the last fi_arm. */
unsigned long fi_calls(void);
unsigned long fi_injected(void);

/* The real malloc, never failed, for a library that must not see the
 * wrapper (jansson: see test_failinject_cache.c). */
void *fi_real_malloc(size_t size);

/* syslog() and __syslog_chk() are wrapped too, so that a sweep's error
 * messages stay out of the machine's log: lines logged so far (shown on
 * stderr when FAILINJECT_LOG is set). */
unsigned long fi_log_lines(void);

#endif
