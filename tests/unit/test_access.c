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
	CHECK(accounts_by_name("root", &acct) == FR_OK && acct.uid == 0 && strcmp(acct.name, "root") == 0);
	CHECK(accounts_by_name("nobody", &acct) == FR_OK && acct.uid == nuid);
	CHECK(accounts_by_name("no-such-user-xyz", &acct) == FR_ERR_NOT_FOUND);

	/* allowed_groups: primary and supplementary, lists, unknown names. */
	CHECK(accounts_in_groups(NULL, "no-such-user-xyz") == FR_OK);
	CHECK(accounts_in_groups("root", "root") == FR_OK);
	CHECK(accounts_in_groups("nogroup, root", "root") == FR_OK);
	CHECK(accounts_in_groups("nogroup,no-such-group root", "root") == FR_OK);
	CHECK(accounts_in_groups("nogroup", "root") == FR_ERR_PERMISSION);
	CHECK(accounts_in_groups("no-such-group", "root") == FR_ERR_PERMISSION);
	CHECK(accounts_in_groups("root", "nobody") == FR_ERR_PERMISSION);
	CHECK(accounts_in_groups("root", "no-such-user-xyz") == FR_ERR_PERMISSION);
	CHECK(accounts_in_groups("nogroup", "nobody") == FR_OK);
	return check_finish("test_access");
}
