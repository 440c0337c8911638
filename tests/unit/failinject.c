/* The wrappers behind failinject.h.  Each __wrap_NAME counts its call and
 * fails it when chosen; otherwise it calls __real_NAME, which the linker
 * binds to the real function (libc, or the sanitizer's interceptor). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "failinject.h"

static atomic_bool armed;
static atomic_uint armed_mask, always_mask;
static atomic_ulong armed_nth, armed_every, calls, injected;
static atomic_int armed_effect;
static atomic_ulong log_lines;

void
fi_arm(unsigned mask, unsigned long nth, unsigned long every, enum fi_effect effect)
{
	atomic_store(&armed, false);
	atomic_store(&always_mask, 0);
	atomic_store(&calls, 0);
	atomic_store(&injected, 0);
	atomic_store(&armed_mask, mask);
	atomic_store(&armed_nth, nth);
	atomic_store(&armed_every, every);
	atomic_store(&armed_effect, (int)effect);
	atomic_store(&armed, true);
}

void
fi_always(unsigned mask)
{
	atomic_store(&always_mask, mask);
}

void
fi_disarm(void)
{
	atomic_store(&armed, false);
}

unsigned long
fi_calls(void)
{
	return atomic_load(&calls);
}

unsigned long
fi_injected(void)
{
	return atomic_load(&injected);
}

unsigned long
fi_log_lines(void)
{
	return atomic_load(&log_lines);
}

#define NO_EFFECT (-1)

/* The effect this call of `kind` gets, or NO_EFFECT.  `transfer`: the call
 * moves bytes, so FI_SHORT and FI_EINTR apply to it. */
static int
hit(unsigned kind, bool transfer)
{
	if (!atomic_load(&armed))
		return NO_EFFECT;
	if (atomic_load(&always_mask) & kind) {
		atomic_fetch_add(&injected, 1);
		return FI_FAIL;
	}
	if ((atomic_load(&armed_mask) & kind) == 0)
		return NO_EFFECT;
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	unsigned long nth = atomic_load(&armed_nth), every = atomic_load(&armed_every);
	if (n != nth && (every == 0 || n % every != 0))
		return NO_EFFECT;
	int effect = atomic_load(&armed_effect);
	if (effect != FI_FAIL && !transfer)
		return NO_EFFECT;
	atomic_fetch_add(&injected, 1);
	return effect;
}

/* ---- memory ---------------------------------------------------------- */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
char *__wrap_strndup(const char *s, size_t n);

void *
__wrap_malloc(size_t size)
{
	if (hit(FI_ALLOC, false) == FI_FAIL) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(size);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	if (hit(FI_ALLOC, false) == FI_FAIL) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t size)
{
	if (hit(FI_ALLOC, false) == FI_FAIL) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, size);
}

void *
fi_real_malloc(size_t size)
{
	return __real_malloc(size);
}

char *
__wrap_strdup(const char *s)
{
	if (hit(FI_ALLOC, false) == FI_FAIL) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	if (hit(FI_ALLOC, false) == FI_FAIL) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strndup(s, n);
}

/* ---- opening ----------------------------------------------------------
 * With _FORTIFY_SOURCE a call may reach __open_2/__openat_2 instead, and
 * with a 64-bit off_t the *64 names: all of them are wrapped. */

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __real_openat64(int dirfd, const char *path, int flags, ...);
int __wrap_openat64(int dirfd, const char *path, int flags, ...);
int __real___open_2(const char *path, int flags);
int __wrap___open_2(const char *path, int flags);
int __real___open64_2(const char *path, int flags);
int __wrap___open64_2(const char *path, int flags);
int __real___openat_2(int dirfd, const char *path, int flags);
int __wrap___openat_2(int dirfd, const char *path, int flags);
int __real___openat64_2(int dirfd, const char *path, int flags);
int __wrap___openat64_2(int dirfd, const char *path, int flags);

static bool
open_fails(void)
{
	if (hit(FI_OPEN, false) != FI_FAIL)
		return false;
	errno = EMFILE; /* out of descriptors: the likeliest real failure */
	return true;
}

#define MODE_ARG(flags, mode) \
	do { \
		if ((flags) & (O_CREAT | O_TMPFILE)) { \
			va_list ap; \
			va_start(ap, flags); \
			(mode) = (mode_t)va_arg(ap, int); \
			va_end(ap); \
		} \
	} while (0)

int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_fails() ? -1 : __real_open(path, flags, mode);
}

int
__wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_fails() ? -1 : __real_open64(path, flags, mode);
}

int
__wrap_openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_fails() ? -1 : __real_openat(dirfd, path, flags, mode);
}

int
__wrap_openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_fails() ? -1 : __real_openat64(dirfd, path, flags, mode);
}

int
__wrap___open_2(const char *path, int flags)
{
	return open_fails() ? -1 : __real___open_2(path, flags);
}

int
__wrap___open64_2(const char *path, int flags)
{
	return open_fails() ? -1 : __real___open64_2(path, flags);
}

int
__wrap___openat_2(int dirfd, const char *path, int flags)
{
	return open_fails() ? -1 : __real___openat_2(dirfd, path, flags);
}

int
__wrap___openat64_2(int dirfd, const char *path, int flags)
{
	return open_fails() ? -1 : __real___openat64_2(dirfd, path, flags);
}

/* ---- moving bytes -------------------------------------------------------- */

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __real___read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real___recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __wrap___recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);

/* -1 when the call must fail now (errno set), else the length to pass on. */
static ssize_t
transfer_length(unsigned kind, size_t n, int fail_errno)
{
	switch (hit(kind, true)) {
	case FI_FAIL:
		errno = fail_errno;
		return -1;
	case FI_EINTR:
		errno = EINTR;
		return -1;
	case FI_SHORT:
		return n > 1 ? 1 : (ssize_t)n;
	default:
		return (ssize_t)n;
	}
}

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	ssize_t len = transfer_length(FI_READ, n, EIO);

	return len < 0 ? -1 : __real_read(fd, buf, (size_t)len);
}

ssize_t
__wrap___read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ssize_t len = transfer_length(FI_READ, n, EIO);

	return len < 0 ? -1 : __real___read_chk(fd, buf, (size_t)len, buflen);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	ssize_t len = transfer_length(FI_WRITE, n, ENOSPC);

	return len < 0 ? -1 : __real_write(fd, buf, (size_t)len);
}

ssize_t
__wrap_recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t len = transfer_length(FI_READ, n, EIO);

	return len < 0 ? -1 : __real_recv(fd, buf, (size_t)len, flags);
}

ssize_t
__wrap___recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	ssize_t len = transfer_length(FI_READ, n, EIO);

	return len < 0 ? -1 : __real___recv_chk(fd, buf, (size_t)len, buflen, flags);
}

ssize_t
__wrap_send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t len = transfer_length(FI_WRITE, n, ENOBUFS);

	return len < 0 ? -1 : __real_send(fd, buf, (size_t)len, flags);
}

/* ---- files: sync, rename, close, unlink ---------------------------------- */

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
int __real_renameat(int fromdir, const char *from, int todir, const char *to);
int __wrap_renameat(int fromdir, const char *from, int todir, const char *to);
int __real_close(int fd);
int __wrap_close(int fd);
int __real_unlinkat(int dirfd, const char *path, int flags);
int __wrap_unlinkat(int dirfd, const char *path, int flags);

int
__wrap_fsync(int fd)
{
	if (hit(FI_SYNC, false) == FI_FAIL) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

int
__wrap_rename(const char *from, const char *to)
{
	if (hit(FI_RENAME, false) == FI_FAIL) {
		errno = ENOSPC;
		return -1;
	}
	return __real_rename(from, to);
}

int
__wrap_renameat(int fromdir, const char *from, int todir, const char *to)
{
	if (hit(FI_RENAME, false) == FI_FAIL) {
		errno = ENOSPC;
		return -1;
	}
	return __real_renameat(fromdir, from, todir, to);
}

int
__wrap_close(int fd)
{
	/* Linux releases the descriptor even when close reports an error
	 * (NFS reports a failed write-back here), so that is what happens. */
	if (hit(FI_CLOSE, false) == FI_FAIL) {
		(void)__real_close(fd);
		errno = EIO;
		return -1;
	}
	return __real_close(fd);
}

int
__wrap_unlinkat(int dirfd, const char *path, int flags)
{
	if (hit(FI_UNLINK, false) == FI_FAIL) {
		errno = EIO;
		return -1;
	}
	return __real_unlinkat(dirfd, path, flags);
}

/* ---- threads ------------------------------------------------------------- */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (hit(FI_THREAD, false) == FI_FAIL)
		return EAGAIN;
	return __real_pthread_create(t, attr, fn, arg);
}

/* ---- the log ----------------------------------------------------------
 * A sweep makes thousands of error paths log; none of it belongs in the
 * machine's syslog.  FAILINJECT_LOG=1 shows the lines on stderr. */

void __wrap_syslog(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void __wrap___syslog_chk(int priority, int flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

__attribute__((format(printf, 1, 0))) static void
quiet_log(const char *fmt, va_list ap)
{
	atomic_fetch_add(&log_lines, 1);
	if (getenv("FAILINJECT_LOG") != NULL) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

void
__wrap_syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	(void)priority;
	va_start(ap, fmt);
	quiet_log(fmt, ap);
	va_end(ap);
}

void
__wrap___syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)priority;
	(void)flag;
	va_start(ap, fmt);
	quiet_log(fmt, ap);
	va_end(ap);
}
