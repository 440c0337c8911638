#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "fr_catalog.h"
#include "fr_locale.h"
#include "module_l10n.h"

#define DOMAIN_FILE "/LC_MESSAGES/pam_freddy.mo"

/* One environment's variables: the PAM handle's, or the process's. */
static const char *
variable(pam_handle_t *pamh, bool from_pam, const char *name)
{
	const char *v;

	if (from_pam)
		v = pam_getenv(pamh, name);
	else
		/* The only environment the module reads: a language
		 * preference of whoever runs the application, checked against
		 * the locale grammar, that chooses only which catalogue text
		 * is shown.  secure_getenv would hide it under sudo and su,
		 * whose person is exactly the one being asked. */
		v = getenv(name); /* banned-ok(getenv): a validated language preference only */
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool
is_c_locale(const char *s)
{
	return s != NULL && (strcmp(s, "C") == 0 || strcmp(s, "POSIX") == 0);
}

/* gettext's order within one environment. */
static const char *
choose(pam_handle_t *pamh, bool from_pam)
{
	const char *language = variable(pamh, from_pam, "LANGUAGE");
	const char *locale = variable(pamh, from_pam, "LC_ALL");

	if (locale == NULL)
		locale = variable(pamh, from_pam, "LC_MESSAGES");
	if (locale == NULL)
		locale = variable(pamh, from_pam, "LANG");
	/* LC_ALL=C is how scripts ask for stable English; LANGUAGE must
	 * not override it (gettext ignores LANGUAGE in the C locale too). */
	if (language != NULL && !is_c_locale(locale))
		return language;
	return locale;
}

const char *
module_l10n_locale(pam_handle_t *pamh, char *buf)
{
	static const char *const names[] = { "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG" };
	bool from_pam = false;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (variable(pamh, true, names[i]) != NULL)
			from_pam = true;
	const char *chosen = choose(pamh, from_pam);
	if (chosen == NULL || !fr_locale_list_valid(chosen))
		return NULL;
	size_t n = strlen(chosen);
	memcpy(buf, chosen, n + 1); /* valid lists are at most FR_LOCALE_MAX bytes */
	return buf;
}

/* The catalogue of one language, or NULL.  Its rules are the helper's
 * (core/l10n.c): a regular file, root's, not writable by group or
 * others, within the size cap. */
static struct fr_catalog *
read_catalog(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	struct fr_catalog *cat = NULL;

	int n = snprintf(path, sizeof(path), "%s/%s" DOMAIN_FILE, dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
	    st.st_size <= 0 || (size_t)st.st_size > FR_CATALOG_MAX_SIZE) {
		close(fd);
		return NULL;
	}
	size_t size = (size_t)st.st_size, got = 0;
	uint8_t *data = malloc(size);
	while (data != NULL && got < size) {
		ssize_t r = read(fd, data + got, size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (data != NULL && got == size && fr_catalog_parse(data, size, &cat) != 0)
		cat = NULL;
	free(data);
	return cat;
}

void
module_l10n_text(const char *dir, const char *locale, const char *msgid, char *out, size_t cap)
{
	char names[FR_LOCALE_CANDIDATES_MAX][FR_LOCALE_NAME_MAX + 1];
	struct fr_catalog *cat = NULL;
	size_t n = locale != NULL ? fr_locale_candidates(locale, names, FR_LOCALE_CANDIDATES_MAX) : 0;

	for (size_t i = 0; i < n && cat == NULL; i++)
		cat = read_catalog(dir, names[i]);
	(void)snprintf(out, cap, "%s", fr_tr(cat, msgid));
	fr_catalog_free(cat);
}
