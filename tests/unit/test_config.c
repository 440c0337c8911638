#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "core/helper_config.h"

static struct config cfg;
static char err[512];

static int
parse(const char *text)
{
	config_free(&cfg);
	config_init(&cfg);
	return config_parse(text, strlen(text), "test.conf", &cfg, err, sizeof(err));
}

static void
test_defaults(void)
{
	CHECK(parse("api_url = https://api.example.com/v1\n") == 0);
	CHECK(strcmp(cfg.socket_path, "/run/freddy/helperd.sock") == 0);
	CHECK(strcmp(cfg.cache_dir, "/var/lib/freddy") == 0);
	CHECK(strcmp(cfg.user_template, "%u") == 0);
	CHECK(cfg.api == API_FREDDY && cfg.timeout == 10 && cfg.max_code_attempts == 3);
	CHECK(cfg.ca_file == NULL && cfg.proxy == NULL && !cfg.debug);
	CHECK(cfg.fail_mode == FAIL_SECURE);
	CHECK(cfg.audit_log == NULL);
	CHECK(cfg.language == NULL); /* English for clients that send no locale */
	CHECK(cfg.locale_dir != NULL && strcmp(cfg.locale_dir, LOCALEDIR) == 0);
}

static void
test_all_keys(void)
{
	CHECK(parse("# comment\n"
		    "  socket = /tmp/h.sock  \n"
		    "\n"
		    "api=freddy\n"
		    "api_url = https://api.example.com/v1///\n"
		    "ca_file = /etc/ssl/ca.pem\n"
		    "cache_dir = /var/cache/f\n"
		    "timeout = 300\n"
		    "user_template = %u@example.com\r\n"
		    "max_code_attempts = 5\n"
		    "debug = yes\n"
		    "fail_mode = safe\n"
		    "audit_log = /var/log/freddy/audit.log\n") == 0);
	CHECK(strcmp(cfg.socket_path, "/tmp/h.sock") == 0);
	CHECK(strcmp(cfg.api_url, "https://api.example.com/v1") == 0);
	CHECK(strcmp(cfg.ca_file, "/etc/ssl/ca.pem") == 0);
	CHECK(strcmp(cfg.user_template, "%u@example.com") == 0);
	CHECK(cfg.timeout == 300 && cfg.max_code_attempts == 5 && cfg.debug);
	CHECK(cfg.fail_mode == FAIL_SAFE);
	CHECK(strcmp(cfg.audit_log, "/var/log/freddy/audit.log") == 0);
}

static void
expect_error(const char *text, const char *fragment)
{
	CHECK(parse(text) == FR_ERR_CONFIG);
	if (strstr(err, fragment) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, fragment);
		CHECK(0);
	}
}

static void
test_errors_name_file_and_line(void)
{
	expect_error("api_url = https://x\nfrobnicate = 1\n", "test.conf:2: unknown key \"frobnicate\"");
	expect_error("api_url = https://x\ntimeout = 0\n", "test.conf:2: timeout must be a whole number from 1 to 300");
	expect_error("timeout = 301\napi_url = https://x\n", "test.conf:1:");
	expect_error("timeout = 1x\n", "test.conf:1:");
	expect_error("timeout = 99999999999999999999\n", "test.conf:1:");
	expect_error("api_url = http://x\n", "test.conf:1: api_url must be an https:// URL");
	expect_error("api_url = https://\n", "test.conf:1:");
	expect_error("api_url = https://a b\n", "test.conf:1:");
	expect_error("api = ldap\n", "test.conf:1: api must be freddy, aius or jwt");
	expect_error("debug = maybe\n", "test.conf:1: debug must be yes or no");
	expect_error("socket = relative.sock\n", "test.conf:1: socket must be an absolute path");
	expect_error("api_url = https://x\naudit_log = audit.log\n",
		     "test.conf:2: audit_log must be an absolute path of a file");
	expect_error("audit_log = /var/log/freddy/\napi_url = https://x\n", "test.conf:1: audit_log must be");
	expect_error("user_template = %s@x\n", "test.conf:1: user_template");
	expect_error("just words\n", "test.conf:1: expected \"key = value\"");
	expect_error("# no url\n", "api_url is required");
	expect_error("api_url = https://x\nca_file =\n", "test.conf:2:");
	CHECK(config_parse("api_url = https://x\n\0x", 21, "test.conf", &cfg, err, sizeof(err)) == FR_ERR_CONFIG);
}

static void
test_language(void)
{
	CHECK(parse("api_url = https://x\nlanguage = de\n") == 0 && strcmp(cfg.language, "de") == 0);
	CHECK(parse("api_url = https://x\nlanguage = de_AT.UTF-8@euro:de\nlocale_dir = /opt/locale\n") == 0);
	CHECK(strcmp(cfg.language, "de_AT.UTF-8@euro:de") == 0 && strcmp(cfg.locale_dir, "/opt/locale") == 0);
	CHECK(parse("api_url = https://x\nlanguage = C\n") == 0);
	expect_error("api_url = https://x\nlanguage = Deutsch\n",
		     "test.conf:2: language must be a locale name such as de or de_DE.UTF-8");
	expect_error("api_url = https://x\n\nlanguage = de_DE;fr\n", "test.conf:3: language must be");
	expect_error("language = ../../etc\napi_url = https://x\n", "test.conf:1: language must be");
	expect_error("api_url = https://x\nlanguage =\n", "test.conf:2: language must be");
	expect_error("api_url = https://x\nlocale_dir = share/locale\n",
		     "test.conf:2: locale_dir must be an absolute path");
}

static void
test_load_checks_file(void)
{
	char dir[] = "/tmp/freddy-config-test.XXXXXX";
	char path[128];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/freddy.conf", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("api_url = https://api.example.com\n", f);
	fclose(f);

	CHECK(chmod(path, 0644) == 0);
	config_free(&cfg);
	config_init(&cfg);
	CHECK(config_load(path, (unsigned)geteuid(), &cfg, err, sizeof(err)) == 0);

	CHECK(chmod(path, 0666) == 0);
	config_free(&cfg);
	config_init(&cfg);
	CHECK(config_load(path, (unsigned)geteuid(), &cfg, err, sizeof(err)) == FR_ERR_CONFIG);
	CHECK(strstr(err, "not writable by group or others") != NULL);

	CHECK(chmod(path, 0620) == 0);
	CHECK(config_load(path, (unsigned)geteuid(), &cfg, err, sizeof(err)) == FR_ERR_CONFIG);

	char link[160];
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	CHECK(chmod(path, 0600) == 0);
	CHECK(symlink(path, link) == 0);
	CHECK(config_load(link, (unsigned)geteuid(), &cfg, err, sizeof(err)) == FR_ERR_CONFIG);

	char missing[160];
	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	CHECK(config_load(missing, (unsigned)geteuid(), &cfg, err, sizeof(err)) == FR_ERR_CONFIG);
	CHECK(strstr(err, "cannot open") != NULL);

	CHECK(unlink(link) == 0 && unlink(path) == 0 && rmdir(dir) == 0);
}

int
main(void)
{
	config_init(&cfg);
	test_defaults();
	test_all_keys();
	test_errors_name_file_and_line();
	test_language();
	test_load_checks_file();
	config_free(&cfg);
	return check_finish("test_config");
}
