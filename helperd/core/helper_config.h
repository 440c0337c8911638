/*
 * freddy.conf: `key = value` lines, `#` starts a comment line.  Every key
 * is in the table in helper_config.c and documented in freddy.conf(5) and the
 * README.  Unknown keys and bad values are errors naming file and line.
 */
#ifndef HELPER_CONFIG_H
#define HELPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* With --sysconfdir=/etc (packages, the README) this is /etc/freddy/freddy.conf. */
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/freddy/freddy.conf"
#define CONFIG_MAX_SIZE	    (64 * 1024)

enum api_profile { API_FREDDY = 0, API_AIUS, API_JWT };
/* UNSET resolves per profile at the end of parsing: freddy -> email,
 * aius -> none (the server drives 2FA), jwt -> none. */
enum second_factor { SECOND_FACTOR_UNSET = 0, SECOND_FACTOR_EMAIL, SECOND_FACTOR_TOTP, SECOND_FACTOR_NONE };
enum fail_mode { FAIL_SECURE = 0, FAIL_SAFE };

struct config {
	char *socket_path;
	enum api_profile api;
	char *api_url; /* https://…, no trailing slash */
	char *ca_file; /* NULL: system store */
	char *cache_dir;
	unsigned timeout;    /* seconds per HTTP request */
	char *user_template; /* %u = local user name */
	unsigned max_code_attempts;
	unsigned max_resends;
	unsigned prompt_timeout; /* seconds a person has to answer */
	unsigned max_clients;
	unsigned reserved_root_clients; /* of max_clients, for uid 0 callers only */
	unsigned max_clients_per_uid;	/* open connections of one non-root uid */
	unsigned max_logins_per_uid;	/* logins in progress of one non-root uid */
	unsigned max_api_connections;
	bool debug;
	char *proxy;	     /* NULL: none, whatever the environment says */
	char *pinned_pubkey; /* curl's sha256//… or a file */
	enum fail_mode fail_mode;
	char *socket_group; /* NULL: socket mode 0666, anyone may connect */

	/* second factors and the other API shapes */
	enum second_factor second_factor;
	char *api_key_file;    /* freddy + totp: X-API-Key for /auth/dev-login */
	char *totp_users_file; /* pam_oath format: HOTP/T30 user - hexsecret */
	unsigned totp_window;  /* accepted steps either side of now */
	unsigned totp_digits;
	unsigned totp_step; /* seconds */
	bool require_2fa;   /* aius: refuse accounts without 2FA */

	/* the token cache */
	unsigned refresh_margin;      /* refresh access tokens this close to expiry */
	unsigned cached_auth_timeout; /* 0: off */
	char *cached_auth_services;   /* list: services that never skip the second factor */
	bool offline_login;
	bool offline_password_only; /* offline without a local TOTP: single-factor, opt-in */
	unsigned offline_after;	    /* seconds of outage before offline logins */
	unsigned offline_days;
	unsigned offline_max_failures;
	bool forget_on_logout;

	/* who may log in, and how often they may fail */
	char *allowed_groups;		    /* list; NULL: everyone */
	unsigned rate_limit_failures;	    /* failures before delays start */
	unsigned rate_limit_delay;	    /* first delay in seconds, doubling */
	unsigned rate_limit_user_max_delay; /* cap of a user's all-origins delay */

	char *audit_log; /* JSON lines of audit records (core/audit.h); NULL: none */
	/* the person's language (core/l10n.h) */
	char *language;	  /* for clients that send no locale; NULL: English */
	char *locale_dir; /* the catalogues, read at start */
};

void config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Pure: parse `len` bytes of config text named `filename` (for messages)
 * on top of what `cfg` already holds.  On error `err` says
 * "FILE:LINE: what". */
int config_parse(const char *text, size_t len, const char *filename, struct config *cfg, char *err, size_t errlen);

/* Read and parse a file that must be a regular file owned by root (or by
 * `trusted_uid`, the helper's own user) and not writable by group or
 * others: a config others could write would let them redirect logins. */
int config_load(const char *path, unsigned trusted_uid, struct config *cfg, char *err, size_t errlen);

const char *config_api_name(enum api_profile api);

/* Lists are words separated by commas and/or white space. */
bool config_list_contains(const char *list, const char *word);

#endif
