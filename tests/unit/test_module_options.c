#include "config.h"

#include <string.h>

#include "check.h"
#include "fr_error.h"
#include "module_options.h"

static struct module_options opt;
static char err[128];

static int
parse(int argc, const char **argv)
{
	return module_options_parse(argc, argv, &opt, err, sizeof(err));
}

int
main(void)
{
	CHECK(parse(0, NULL) == 0);
	CHECK(strcmp(opt.socket_path, "/run/freddy/helperd.sock") == 0);
	CHECK(opt.timeout_ms == 30000 && !opt.debug && !opt.fail_safe);
	CHECK(opt.authtok_mode == FR_AUTHTOK_NONE);

	const char *all[] = { "debug",		"socket=/tmp/x.sock",  "timeout=5",
			      "try_first_pass", "helper_user=_freddy", "fail_mode=safe" };
	CHECK(parse(6, all) == 0);
	CHECK(opt.debug && opt.timeout_ms == 5000 && opt.authtok_mode == FR_AUTHTOK_TRY);
	CHECK(strcmp(opt.socket_path, "/tmp/x.sock") == 0);
	CHECK(strcmp(opt.helper_user, "_freddy") == 0 && opt.fail_safe);

	const char *use[] = { "use_first_pass" };
	CHECK(parse(1, use) == 0 && opt.authtok_mode == FR_AUTHTOK_USE);

	const char *unknown[] = { "nullok" };
	CHECK(parse(1, unknown) == FR_ERR_CONFIG && strstr(err, "nullok") != NULL);
	const char *relative[] = { "socket=run/x" };
	CHECK(parse(1, relative) == FR_ERR_CONFIG);
	const char *zero[] = { "timeout=0" };
	CHECK(parse(1, zero) == FR_ERR_CONFIG);
	const char *junk[] = { "timeout=5s" };
	CHECK(parse(1, junk) == FR_ERR_CONFIG);
	const char *huge[] = { "timeout=99999999999999999999" };
	CHECK(parse(1, huge) == FR_ERR_CONFIG);
	const char *neg[] = { "timeout=-1" };
	CHECK(parse(1, neg) == FR_ERR_CONFIG);
	const char *mode[] = { "fail_mode=open" };
	CHECK(parse(1, mode) == FR_ERR_CONFIG);
	char longpath[200] = "socket=/";
	memset(longpath + 8, 'a', 150);
	longpath[158] = '\0';
	const char *toolong[] = { longpath };
	CHECK(parse(1, toolong) == FR_ERR_CONFIG);
	return check_finish("test_module_options");
}
