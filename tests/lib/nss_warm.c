/*
 * Preloaded after nss_wrapper into the test helpers (tests/lib/freddytest.py
 * nss_wrapper_preload): one passwd and one group lookup before main(), on
 * the only thread there is then.
 *
 * Why: nss_wrapper 1.1.15 (Debian 12) loads its passwd and group files on
 * first use, and concurrent first lookups race in that load.  The helper
 * looks accounts up on four threads (core/job_pool.c), so a test whose
 * first requests arrive together saw "no such user" (ENOENT) now and then,
 * and crashes under ASan: 4 threads x 20000 getpwnam_r, 12 runs under
 * ASan, 8 failed; with this lookup first, 0 of 12.  Once loaded, the
 * files are only stat()ed per lookup, which is safe.  Real NSS modules
 * (files, sss, ldap) are thread-safe: this is a test double's fix, not
 * the helper's.
 *
 * Linked against nss_wrapper so that its constructor runs before this one.
 */
#define _DEFAULT_SOURCE
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

__attribute__((constructor)) static void
load_the_files_once(void)
{
	char buf[4096];
	struct passwd pw, *found = NULL;
	gid_t groups[16];
	int n = 16;

	if (getpwnam_r("root", &pw, buf, sizeof(buf), &found) != 0)
		return;
	(void)getgrouplist("root", 0, groups, &n);
}
