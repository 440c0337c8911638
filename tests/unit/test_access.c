/* Account lookups and allowed_groups against this machine's real user
 * database (root and nobody exist on every Debian system). */
#include "config.h"

#include <pwd.h>
#include <string.h>

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

	/* Accounts as the user database has them. */
	struct local_account acct;
	CHECK(access_lookup_account("root", &acct) == FR_OK && acct.uid == 0 && strcmp(acct.name, "root") == 0);
	CHECK(access_lookup_account("nobody", &acct) == FR_OK && acct.uid == nuid);
	CHECK(access_lookup_account("no-such-user-xyz", &acct) == FR_ERR_NOT_FOUND);

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
