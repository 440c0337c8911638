/* The module must export pam_sm_* and nothing else: a stray symbol could
 * clash with the application that loads it. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int
main(void)
{
	char cmd[512];

	void *h = dlopen(PAM_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return check_finish("test_exports");
	}
	CHECK(dlsym(h, "pam_sm_authenticate") != NULL);
	CHECK(dlsym(h, "pam_sm_setcred") != NULL);
	CHECK(dlsym(h, "pam_sm_open_session") != NULL);
	CHECK(dlsym(h, "pam_sm_close_session") != NULL);
	CHECK(dlsym(h, "pam_sm_chauthtok") != NULL);
	/* Nothing else of the PAM API: libpam treats a present entry point as
	 * a module that takes part in that group. */
	CHECK(dlsym(h, "pam_sm_acct_mgmt") == NULL);
	CHECK(dlsym(h, "module_exchange_chauthtok") == NULL);
	CHECK(dlsym(h, "fr_msg_decode") == NULL);
	CHECK(dlsym(h, "module_exchange_authenticate") == NULL);
	dlclose(h);

	/* Every defined dynamic symbol, not just the ones we thought of. */
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' | awk '{print $3}' | grep -v '^pam_sm_' | grep -v '^$'",
		 PAM_MODULE_PATH);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p != NULL) {
		char line[256];
		int extra = 0;
		while (fgets(line, sizeof(line), p) != NULL) {
			fprintf(stderr, "unexpected export: %s", line);
			extra++;
		}
		CHECK(pclose(p) != -1);
		CHECK(extra == 0);
	}
	/* No network library in any process that loads the module. */
	snprintf(cmd, sizeof(cmd), "ldd '%s' | grep -E 'libcurl|libssl|libjansson|libgnutls' >/dev/null",
		 PAM_MODULE_PATH);
	CHECK(system(cmd) != 0);
	return check_finish("test_exports");
}
