#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr_error.h"
#include "module_options.h"

static int
parse_seconds(const char *s, int *out_ms)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return FR_ERR_INVALID;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > MODULE_MAX_TIMEOUT)
		return FR_ERR_INVALID;
	*out_ms = (int)v * 1000;
	return FR_OK;
}

static int
copy_value(char *dst, size_t dstlen, const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n >= dstlen)
		return FR_ERR_INVALID;
	memcpy(dst, value, n + 1);
	return FR_OK;
}

int
module_options_parse(int argc, const char **argv, struct module_options *opt, char *err, size_t errlen)
{
	memset(opt, 0, sizeof(*opt));
	memcpy(opt->socket_path, MODULE_DEFAULT_SOCKET, sizeof(MODULE_DEFAULT_SOCKET));
	opt->timeout_ms = MODULE_DEFAULT_TIMEOUT * 1000;
	opt->authtok_mode = FR_AUTHTOK_NONE;
	if (errlen > 0)
		err[0] = '\0';

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		int r = FR_OK;

		if (strcmp(arg, "debug") == 0)
			opt->debug = 1;
		else if (strcmp(arg, "use_first_pass") == 0)
			opt->authtok_mode = FR_AUTHTOK_USE;
		else if (strcmp(arg, "try_first_pass") == 0)
			opt->authtok_mode = FR_AUTHTOK_TRY;
		else if (strncmp(arg, "socket=", 7) == 0) {
			r = copy_value(opt->socket_path, sizeof(opt->socket_path), arg + 7);
			if (r == 0 && opt->socket_path[0] != '/')
				r = FR_ERR_INVALID;
		} else if (strncmp(arg, "timeout=", 8) == 0)
			r = parse_seconds(arg + 8, &opt->timeout_ms);
		else if (strncmp(arg, "helper_user=", 12) == 0)
			r = copy_value(opt->helper_user, sizeof(opt->helper_user), arg + 12);
		else if (strcmp(arg, "fail_mode=secure") == 0)
			opt->fail_safe = 0;
		else if (strcmp(arg, "fail_mode=safe") == 0)
			opt->fail_safe = 1;
		else {
			snprintf(err, errlen, "unknown argument \"%.64s\"", arg);
			return FR_ERR_CONFIG;
		}
		if (r != 0) {
			snprintf(err, errlen, "bad value in argument \"%.64s\"", arg);
			return FR_ERR_CONFIG;
		}
	}
	return FR_OK;
}
