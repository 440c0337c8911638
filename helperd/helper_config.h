/*
 * freddy.conf: `key = value` lines, `#` starts a comment line.  Every key
 * is in the table in helper_config.c and documented in freddy.conf(5) and the
 * README.  Unknown keys and bad values are errors naming file and line.
 */
#ifndef HELPER_CONFIG_H
#define HELPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PATH	"/etc/freddy/freddy.conf"
#define CONFIG_MAX_SIZE		(64 * 1024)

enum api_profile { API_FREDDY = 0, API_AIUS, API_JWT };
enum second_factor { SECOND_FACTOR_EMAIL = 0, SECOND_FACTOR_TOTP, SECOND_FACTOR_NONE };
enum fail_mode { FAIL_SECURE = 0, FAIL_SAFE };

struct config {
	char *socket_path;
	enum api_profile api;
	char *api_url;			/* https://…, no trailing slash */
	char *ca_file;			/* NULL: system store */
	char *cache_dir;
	unsigned timeout;		/* seconds per HTTP request */
	char *user_template;		/* %u = local user name */
	unsigned max_code_attempts;
	unsigned max_resends;
	unsigned prompt_timeout;	/* seconds a person has to answer */
	unsigned max_clients;
	unsigned max_api_connections;
	bool debug;
	char *proxy;			/* NULL: none, whatever the environment says */
	char *pinned_pubkey;		/* curl's sha256//… or a file */
	enum fail_mode fail_mode;
	char *socket_group;		/* NULL: socket mode 0666, anyone may connect */
};

void config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Pure: parse `len` bytes of config text named `filename` (for messages)
 * on top of what `cfg` already holds.  On error `err` says
 * "FILE:LINE: what". */
int config_parse(const char *text, size_t len, const char *filename, struct config *cfg,
		 char *err, size_t errlen);

/* Read and parse a file that must be a regular file owned by root (or by
 * `trusted_uid`, the helper's own user) and not writable by group or
 * others: a config others could write would let them redirect logins. */
int config_load(const char *path, unsigned trusted_uid, struct config *cfg, char *err, size_t errlen);

const char *config_api_name(enum api_profile api);

#endif
