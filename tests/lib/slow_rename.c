/*
 * Test shim (LD_PRELOAD into freddy-helperd, never installed): makes the
 * token cache's writes observable so a test can kill -9 the helper inside
 * them.  For renames of a ".USER.tmp" file it writes
 * "$SLOW_RENAME_MARK.before" (or ".after"), then sleeps
 * SLOW_RENAME_SECONDS before (SLOW_RENAME_PHASE=before) or after
 * (=after) the real renameat.  With SLOW_RENAME_PHASE=inplace it does the
 * same ("$SLOW_RENAME_MARK.inplace") before an fsync of a file named
 * $SLOW_FSYNC_NAME, which is what a store that overwrites a cache file in
 * place syncs.  The helper's code is not changed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*fsync_fn)(int);

static void
mark(const char *phase)
{
	const char *base = getenv("SLOW_RENAME_MARK");
	char path[4096];

	if (base == NULL)
		return;
	snprintf(path, sizeof(path), "%s.%s", base, phase);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

int
renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	renameat_fn real = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
	const char *phase = getenv("SLOW_RENAME_PHASE");
	const char *secs = getenv("SLOW_RENAME_SECONDS");
	size_t n = strlen(oldpath);
	int slow = oldpath[0] == '.' && n > 4 && strcmp(oldpath + n - 4, ".tmp") == 0 && phase != NULL;
	unsigned delay = secs != NULL ? (unsigned)strtoul(secs, NULL, 10) : 30;

	if (slow && strcmp(phase, "before") == 0) {
		mark("before");
		sleep(delay);
	}
	int r = real(olddirfd, oldpath, newdirfd, newpath);
	if (slow && strcmp(phase, "after") == 0) {
		mark("after");
		sleep(delay);
	}
	return r;
}

int
fsync(int fd)
{
	fsync_fn real = (fsync_fn)dlsym(RTLD_NEXT, "fsync");
	const char *phase = getenv("SLOW_RENAME_PHASE");
	const char *name = getenv("SLOW_FSYNC_NAME");
	const char *secs = getenv("SLOW_RENAME_SECONDS");
	char link[64], target[4096];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n > 0 && phase != NULL && name != NULL && strcmp(phase, "inplace") == 0) {
		target[n] = '\0';
		if (strcmp(basename(target), name) == 0) {
			mark("inplace");
			sleep(secs != NULL ? (unsigned)strtoul(secs, NULL, 10) : 30);
		}
	}
	return real(fd);
}
