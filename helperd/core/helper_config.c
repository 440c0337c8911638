#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fr_error.h"
#include "fr_locale.h"
#include "hostlib/private_file.h"
#include "core/helper_config.h"

enum key_kind {
	KEY_PATH, /* absolute path */
	KEY_FILE, /* absolute path of a file (not ending in '/') */
	KEY_URL,  /* https:// URL */
	KEY_STRING,
	KEY_TEMPLATE, /* user_template: %u and %% only */
	KEY_UINT,
	KEY_BOOL,
	KEY_API,
	KEY_SECOND_FACTOR,
	KEY_FAIL_MODE,
	KEY_LIST,     /* words separated by commas or spaces */
	KEY_LANGUAGE, /* a locale list, as LANGUAGE writes it (fr_locale.h) */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t offset;
	unsigned min, max; /* KEY_UINT only */
};

#define OFF(field) offsetof(struct config, field)

static const struct key_def keys[] = {
	{ "socket", KEY_PATH, OFF(socket_path), 0, 0 },
	{ "api", KEY_API, OFF(api), 0, 0 },
	{ "api_url", KEY_URL, OFF(api_url), 0, 0 },
	{ "ca_file", KEY_PATH, OFF(ca_file), 0, 0 },
	{ "cache_dir", KEY_PATH, OFF(cache_dir), 0, 0 },
	{ "timeout", KEY_UINT, OFF(timeout), 1, 300 },
	{ "user_template", KEY_TEMPLATE, OFF(user_template), 0, 0 },
	{ "max_code_attempts", KEY_UINT, OFF(max_code_attempts), 1, 10 },
	{ "max_resends", KEY_UINT, OFF(max_resends), 0, 10 },
	{ "prompt_timeout", KEY_UINT, OFF(prompt_timeout), 10, 3600 },
	{ "max_clients", KEY_UINT, OFF(max_clients), 1, 65536 },
	{ "reserved_root_clients", KEY_UINT, OFF(reserved_root_clients), 0, 65535 },
	{ "max_clients_per_uid", KEY_UINT, OFF(max_clients_per_uid), 1, 1024 },
	{ "max_logins_per_uid", KEY_UINT, OFF(max_logins_per_uid), 1, 1024 },
	{ "max_api_connections", KEY_UINT, OFF(max_api_connections), 1, 4096 },
	{ "debug", KEY_BOOL, OFF(debug), 0, 0 },
	{ "proxy", KEY_STRING, OFF(proxy), 0, 0 },
	{ "pinned_pubkey", KEY_STRING, OFF(pinned_pubkey), 0, 0 },
	{ "fail_mode", KEY_FAIL_MODE, OFF(fail_mode), 0, 0 },
	{ "socket_group", KEY_STRING, OFF(socket_group), 0, 0 },
	{ "second_factor", KEY_SECOND_FACTOR, OFF(second_factor), 0, 0 },
	{ "api_key_file", KEY_PATH, OFF(api_key_file), 0, 0 },
	{ "totp_users_file", KEY_PATH, OFF(totp_users_file), 0, 0 },
	{ "totp_window", KEY_UINT, OFF(totp_window), 0, 10 },
	{ "totp_digits", KEY_UINT, OFF(totp_digits), 6, 8 },
	{ "totp_step", KEY_UINT, OFF(totp_step), 15, 300 },
	{ "require_2fa", KEY_BOOL, OFF(require_2fa), 0, 0 },
	{ "refresh_margin", KEY_UINT, OFF(refresh_margin), 0, 86400 },
	{ "cached_auth_timeout", KEY_UINT, OFF(cached_auth_timeout), 0, 86400 },
	{ "cached_auth_services", KEY_LIST, OFF(cached_auth_services), 0, 0 },
	{ "offline_login", KEY_BOOL, OFF(offline_login), 0, 0 },
	{ "offline_password_only", KEY_BOOL, OFF(offline_password_only), 0, 0 },
	{ "offline_after", KEY_UINT, OFF(offline_after), 1, 3600 },
	{ "offline_days", KEY_UINT, OFF(offline_days), 1, 365 },
	{ "offline_max_failures", KEY_UINT, OFF(offline_max_failures), 1, 100 },
	{ "forget_on_logout", KEY_BOOL, OFF(forget_on_logout), 0, 0 },
	{ "allowed_groups", KEY_LIST, OFF(allowed_groups), 0, 0 },
	{ "rate_limit_failures", KEY_UINT, OFF(rate_limit_failures), 1, 1000 },
	{ "rate_limit_delay", KEY_UINT, OFF(rate_limit_delay), 1, 3600 },
	{ "rate_limit_user_max_delay", KEY_UINT, OFF(rate_limit_user_max_delay), 1, 3600 },
	{ "audit_log", KEY_FILE, OFF(audit_log), 0, 0 },
	{ "language", KEY_LANGUAGE, OFF(language), 0, 0 },
	{ "locale_dir", KEY_PATH, OFF(locale_dir), 0, 0 },
};

#define MAX_VALUE_LEN 1024
/* reserved_root_clients not given: a quarter of max_clients. */
#define RESERVED_ROOT_CLIENTS_UNSET 0xffffffffu

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->api = API_FREDDY;
	cfg->timeout = 10;
	cfg->max_code_attempts = 3;
	cfg->max_resends = 3;
	cfg->prompt_timeout = 300; /* the API's codes live 5 minutes */
	cfg->max_clients = 1024;
	cfg->reserved_root_clients = RESERVED_ROOT_CLIENTS_UNSET;
	cfg->max_clients_per_uid = 8;
	cfg->max_logins_per_uid = 4;
	cfg->max_api_connections = 256;
	cfg->fail_mode = FAIL_SECURE;
	cfg->totp_window = 1;
	cfg->totp_digits = 6;
	cfg->totp_step = 30;
	cfg->refresh_margin = 300;
	cfg->offline_days = 3;
	cfg->offline_after = 30;
	cfg->offline_max_failures = 5;
	/* Below an API lockout such as the emulator's (5 failures in 10 minutes;
	 * DOCS SILENT: the guide names TOO_MANY_LOGIN_ATTEMPTS but no number),
	 * so that the helper stops a burst before the API locks the account for
	 * every service. */
	cfg->rate_limit_failures = 3;
	cfg->rate_limit_delay = 2;
	cfg->rate_limit_user_max_delay = 60;
	/* String defaults are filled in at the end of config_parse, so a
	 * key given twice does not leak the default's copy. */
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		enum key_kind k = keys[i].kind;
		if (k == KEY_PATH || k == KEY_FILE || k == KEY_URL || k == KEY_STRING || k == KEY_TEMPLATE ||
		    k == KEY_LIST || k == KEY_LANGUAGE) {
			char **field = (char **)((char *)cfg + keys[i].offset);
			free(*field);
			*field = NULL;
		}
	}
}

const char *
config_api_name(enum api_profile api)
{
	switch (api) {
	case API_FREDDY:
		return "freddy";
	case API_AIUS:
		return "aius";
	case API_JWT:
		return "jwt";
	}
	return "unknown";
}

static bool
is_list_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

bool
config_list_contains(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (list == NULL || n == 0)
		return false;
	for (const char *p = list; *p != '\0';) {
		while (is_list_separator(*p))
			p++;
		const char *start = p;
		while (*p != '\0' && !is_list_separator(*p))
			p++;
		if ((size_t)(p - start) == n && memcmp(start, word, n) == 0)
			return true;
	}
	return false;
}

static const struct key_def *
find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return FR_ERR_INVALID;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return FR_ERR_INVALID;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return FR_ERR_INVALID;
	}
	if (v < min)
		return FR_ERR_INVALID;
	*out = (unsigned)v;
	return FR_OK;
}

static int
valid_url(const char *s)
{
	if (strncmp(s, "https://", 8) != 0 || s[8] == '\0' || s[8] == '/')
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

static int
valid_template(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if (s[1] != 'u' && s[1] != '%')
				return 0;
			s++;
		} else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return 0;
		}
	}
	return 1;
}

static int
set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return FR_ERR_NOMEM;
	free(*field);
	*field = copy;
	return FR_OK;
}

/* Returns 0, or FR_ERR_INVALID with `why` describing the expected value. */
static int
apply_value(const struct key_def *k, const char *value, struct config *cfg, const char **why)
{
	void *field = (char *)cfg + k->offset;

	switch (k->kind) {
	case KEY_PATH:
		*why = "an absolute path";
		if (value[0] != '/')
			return FR_ERR_INVALID;
		return set_string(field, value);
	case KEY_FILE:
		*why = "an absolute path of a file";
		if (value[0] != '/' || value[strlen(value) - 1] == '/')
			return FR_ERR_INVALID;
		return set_string(field, value);
	case KEY_URL:
		*why = "an https:// URL";
		if (!valid_url(value))
			return FR_ERR_INVALID;
		{
			int r = set_string(field, value);
			char *url = *(char **)field;
			size_t n = strlen(url);
			while (r == 0 && n > 8 && url[n - 1] == '/')
				url[--n] = '\0';
			return r;
		}
	case KEY_STRING:
		*why = "a non-empty value";
		if (value[0] == '\0')
			return FR_ERR_INVALID;
		return set_string(field, value);
	case KEY_TEMPLATE:
		*why = "a template where % is followed by u or %";
		if (value[0] == '\0' || !valid_template(value))
			return FR_ERR_INVALID;
		return set_string(field, value);
	case KEY_UINT:
		*why = "a whole number in range";
		return parse_uint(value, k->min, k->max, field);
	case KEY_BOOL:
		*why = "yes or no";
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			*(bool *)field = false;
		else
			return FR_ERR_INVALID;
		return FR_OK;
	case KEY_API:
		*why = "freddy, aius or jwt";
		if (strcmp(value, "freddy") == 0)
			*(enum api_profile *)field = API_FREDDY;
		else if (strcmp(value, "aius") == 0)
			*(enum api_profile *)field = API_AIUS;
		else if (strcmp(value, "jwt") == 0)
			*(enum api_profile *)field = API_JWT;
		else
			return FR_ERR_INVALID;
		return FR_OK;
	case KEY_SECOND_FACTOR:
		*why = "email, totp or none";
		if (strcmp(value, "email") == 0)
			*(enum second_factor *)field = SECOND_FACTOR_EMAIL;
		else if (strcmp(value, "totp") == 0)
			*(enum second_factor *)field = SECOND_FACTOR_TOTP;
		else if (strcmp(value, "none") == 0)
			*(enum second_factor *)field = SECOND_FACTOR_NONE;
		else
			return FR_ERR_INVALID;
		return FR_OK;
	case KEY_LIST:
		*why = "a list of names separated by commas or spaces";
		for (const char *p = value; *p != '\0'; p++)
			if (!is_list_separator(*p))
				return set_string(field, value);
		return FR_ERR_INVALID;
	case KEY_LANGUAGE:
		*why = "a locale name such as de or de_DE.UTF-8, or a list of them separated by colons";
		if (!fr_locale_list_valid(value))
			return FR_ERR_INVALID;
		return set_string(field, value);
	case KEY_FAIL_MODE:
		*why = "secure or safe";
		if (strcmp(value, "secure") == 0)
			*(enum fail_mode *)field = FAIL_SECURE;
		else if (strcmp(value, "safe") == 0)
			*(enum fail_mode *)field = FAIL_SAFE;
		else
			return FR_ERR_INVALID;
		return FR_OK;
	}
	return FR_ERR_INTERNAL;
}

static int
apply_defaults(struct config *cfg)
{
	struct {
		char **field;
		const char *value;
	} defaults[] = {
		{ &cfg->socket_path, "/run/freddy/helperd.sock" },
		{ &cfg->cache_dir, "/var/lib/freddy" },
		{ &cfg->user_template, "%u" },
		{ &cfg->totp_users_file, SYSCONFDIR "/freddy/totp_users" },
		{ &cfg->locale_dir, LOCALEDIR },
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (*defaults[i].field == NULL && set_string(defaults[i].field, defaults[i].value) != 0)
			return FR_ERR_NOMEM;
	return FR_OK;
}

/* Rules between keys; run once the whole file is read. */
static int
check_combinations(struct config *cfg, const char *filename, char *err, size_t errlen)
{
	if (cfg->second_factor == SECOND_FACTOR_UNSET)
		cfg->second_factor = cfg->api == API_FREDDY ? SECOND_FACTOR_EMAIL : SECOND_FACTOR_NONE;
	if (cfg->second_factor == SECOND_FACTOR_EMAIL && cfg->api != API_FREDDY) {
		snprintf(err, errlen, "%s: second_factor = email needs api = freddy", filename);
		return FR_ERR_CONFIG;
	}
	if (cfg->api == API_FREDDY && cfg->second_factor == SECOND_FACTOR_NONE) {
		snprintf(err, errlen, "%s: api = freddy needs second_factor = email or totp", filename);
		return FR_ERR_CONFIG;
	}
	if (cfg->api == API_FREDDY && cfg->second_factor == SECOND_FACTOR_TOTP && cfg->api_key_file == NULL) {
		snprintf(err, errlen, "%s: second_factor = totp with api = freddy needs api_key_file", filename);
		return FR_ERR_CONFIG;
	}
	if (cfg->api == API_AIUS && cfg->second_factor == SECOND_FACTOR_TOTP) {
		snprintf(err, errlen, "%s: api = aius checks its own TOTP codes; use require_2fa", filename);
		return FR_ERR_CONFIG;
	}
	if (cfg->reserved_root_clients == RESERVED_ROOT_CLIENTS_UNSET)
		cfg->reserved_root_clients = cfg->max_clients / 4;
	if (cfg->reserved_root_clients >= cfg->max_clients) {
		snprintf(err, errlen, "%s: reserved_root_clients must be below max_clients (%u)", filename,
			 cfg->max_clients);
		return FR_ERR_CONFIG;
	}
	if (cfg->offline_password_only && !cfg->offline_login) {
		snprintf(err, errlen, "%s: offline_password_only needs offline_login = yes", filename);
		return FR_ERR_CONFIG;
	}
	if (cfg->require_2fa && cfg->api != API_AIUS) {
		snprintf(err, errlen, "%s: require_2fa applies to api = aius only", filename);
		return FR_ERR_CONFIG;
	}
	return apply_defaults(cfg);
}

int
config_parse(const char *text, size_t len, const char *filename, struct config *cfg, char *err, size_t errlen)
{
	size_t pos = 0;
	unsigned lineno = 0;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl != NULL);
		lineno++;

		if (memchr(line, '\0', linelen) != NULL) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", filename, lineno);
			return FR_ERR_CONFIG;
		}
		while (linelen > 0 && is_space(*line)) {
			line++;
			linelen--;
		}
		while (linelen > 0 && is_space(line[linelen - 1]))
			linelen--;
		if (linelen == 0 || line[0] == '#')
			continue;

		const char *eq = memchr(line, '=', linelen);
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%u: expected \"key = value\"", filename, lineno);
			return FR_ERR_CONFIG;
		}
		size_t keylen = (size_t)(eq - line);
		while (keylen > 0 && is_space(line[keylen - 1]))
			keylen--;
		const char *vstart = eq + 1;
		size_t vlen = linelen - (size_t)(vstart - line);
		while (vlen > 0 && is_space(*vstart)) {
			vstart++;
			vlen--;
		}
		const struct key_def *k = find_key(line, keylen);
		if (k == NULL) {
			snprintf(err, errlen, "%s:%u: unknown key \"%.*s\"", filename, lineno,
				 (int)(keylen > 64 ? 64 : keylen), line);
			return FR_ERR_CONFIG;
		}
		if (vlen > MAX_VALUE_LEN) {
			snprintf(err, errlen, "%s:%u: value of %s is too long", filename, lineno, k->name);
			return FR_ERR_CONFIG;
		}
		char value[MAX_VALUE_LEN + 1];
		memcpy(value, vstart, vlen);
		value[vlen] = '\0';
		const char *why = "a valid value";
		r = apply_value(k, value, cfg, &why);
		if (r == FR_ERR_NOMEM)
			return r;
		if (r != 0) {
			if (k->kind == KEY_UINT)
				snprintf(err, errlen, "%s:%u: %s must be a whole number from %u to %u", filename,
					 lineno, k->name, k->min, k->max);
			else
				snprintf(err, errlen, "%s:%u: %s must be %s", filename, lineno, k->name, why);
			return FR_ERR_CONFIG;
		}
	}
	if (cfg->api_url == NULL) {
		snprintf(err, errlen, "%s: api_url is required", filename);
		return FR_ERR_CONFIG;
	}
	return check_combinations(cfg, filename, err, errlen);
}

int
config_load(const char *path, unsigned trusted_uid, struct config *cfg, char *err, size_t errlen)
{
	/* A config others can write would let them point logins elsewhere;
	 * reading it is harmless (it holds no secret: the API key has a file
	 * of its own). */
	const struct private_file_rule rule = {
		.owner = 0,
		.other_owner = trusted_uid,
		.forbidden_mode = S_IWGRP | S_IWOTH,
		.max_size = CONFIG_MAX_SIZE,
		.what = NULL,
		.must_be = "a regular file owned by root and not writable by group or others",
	};
	char *text = NULL;
	size_t len = 0;

	int r = private_file_read(AT_FDCWD, path, &rule, &text, &len, err, errlen);
	if (r == FR_ERR_NOT_FOUND)
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(ENOENT));
	if (r != FR_OK)
		return r == FR_ERR_NOMEM ? r : FR_ERR_CONFIG;
	r = config_parse(text, len, path, cfg, err, errlen);
	free(text);
	return r;
}
