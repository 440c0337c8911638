#ifndef USER_NAME_H
#define USER_NAME_H

#include <stdbool.h>

#define USER_NAME_MAX 128

/* A user name the helper will handle.  Also used as a cache file name,
 * so it can never be ".", "..", contain '/', or start with '.' or '-'. */
bool user_name_valid(const char *user);

#endif
