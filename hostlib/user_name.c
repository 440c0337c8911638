#include "config.h"

#include <string.h>

#include "hostlib/user_name.h"

bool
user_name_valid(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n > USER_NAME_MAX || user[0] == '-' || user[0] == '.')
		return false;
	for (const char *p = user; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-' || c == '@' || c == '+'))
			return false;
	}
	return true;
}
