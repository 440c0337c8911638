/* The caller rule and allowed_groups against this machine's real user
 * database (root and nobody exist on every Debian system). */
#include "config.h"

#include <pwd.h>

#include "auth/access.h"
#include "check.h"
#include "fr_error.h"

int
main(void)
{
	struct passwd *nobody = getpwnam("nobody");

	CHECK(nobody != NULL);
	if (nobody == NULL)
		return check_finish("test_access");
	uid_t nuid = nobody->pw_uid;

	/* Root callers may ask for anyone, even users with no local account. */
	CHECK(access_caller_allowed("root", 0) == FR_OK);
	CHECK(access_caller_allowed("nobody", 0) == FR_OK);
	CHECK(access_caller_allowed("no-such-user-xyz", 0) == FR_OK);
	/* A non-root caller only for its own account. */
	CHECK(access_caller_allowed("nobody", nuid) == FR_OK);
	CHECK(access_caller_allowed("root", nuid) == FR_ERR_PERMISSION);
	CHECK(access_caller_allowed("no-such-user-xyz", nuid) == FR_ERR_PERMISSION);
	CHECK(access_caller_allowed("nobody", nuid + 1) == FR_ERR_PERMISSION);

	/* allowed_groups: primary and supplementary, lists, unknown names. */
	CHECK(access_in_allowed_groups(NULL, "no-such-user-xyz") == FR_OK);
	CHECK(access_in_allowed_groups("root", "root") == FR_OK);
	CHECK(access_in_allowed_groups("nogroup, root", "root") == FR_OK);
	CHECK(access_in_allowed_groups("nogroup,no-such-group root", "root") == FR_OK);
	CHECK(access_in_allowed_groups("nogroup", "root") == FR_ERR_PERMISSION);
	CHECK(access_in_allowed_groups("no-such-group", "root") == FR_ERR_PERMISSION);
	CHECK(access_in_allowed_groups("root", "nobody") == FR_ERR_PERMISSION);
	CHECK(access_in_allowed_groups("root", "no-such-user-xyz") == FR_ERR_PERMISSION);
	CHECK(access_in_allowed_groups("nogroup", "nobody") == FR_OK);
	return check_finish("test_access");
}
