#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/l10n.h"
#include "core/log.h"
#include "fr_error.h"
#include "fr_locale.h"
#include "hostlib/private_file.h"

struct language {
	char name[FR_LOCALE_NAME_MAX + 1];
	struct fr_catalog *catalog;
};

struct l10n {
	struct language *languages;
	unsigned count;
};

static void
load_one(struct l10n *l, int dirfd, const char *dir, const char *name, unsigned trusted_uid)
{
	const struct private_file_rule rule = {
		.owner = 0,
		.other_owner = (uid_t)trusted_uid,
		.forbidden_mode = S_IWGRP | S_IWOTH,
		.max_size = FR_CATALOG_MAX_SIZE,
		.what = NULL,
		.must_be = "a regular file owned by root and not writable by group or others",
	};
	char path[FR_LOCALE_NAME_MAX + sizeof("/LC_MESSAGES/" L10N_DOMAIN ".mo")], err[512];
	char *text = NULL;
	size_t len = 0;
	struct fr_catalog *cat = NULL;

	(void)snprintf(path, sizeof(path), "%s/LC_MESSAGES/" L10N_DOMAIN ".mo", name);
	int r = private_file_read(dirfd, path, &rule, &text, &len, err, sizeof(err));
	if (r == FR_ERR_NOT_FOUND)
		return; /* another program's catalogues only */
	if (r != FR_OK) {
		log_warn("language %s not offered: %s/%s", name, dir, err);
		return;
	}
	r = fr_catalog_parse((const uint8_t *)text, len, &cat);
	free(text);
	if (r != FR_OK) {
		log_warn("language %s not offered: %s/%s: %s", name, dir, path, fr_strerror(r));
		return;
	}
	size_t usable, dropped;
	fr_catalog_counts(cat, &usable, &dropped);
	if (dropped > 0)
		log_warn("%s/%s: %zu translation(s) do not match their English format and stay English", dir, path,
			 dropped);
	memcpy(l->languages[l->count].name, name, strlen(name) + 1);
	l->languages[l->count].catalog = cat;
	l->count++;
	log_debug("language %s: %zu translations from %s/%s", name, usable, dir, path);
}

int
l10n_load(const char *dir, unsigned trusted_uid, struct l10n **out)
{
	struct l10n *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL || (l->languages = calloc(L10N_CATALOGUES_MAX, sizeof(*l->languages))) == NULL) {
		free(l);
		return FR_ERR_NOMEM;
	}
	*out = l;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		/* No folder is no translation installed, the usual state of a
		 * build that was not installed: not worth a line. */
		if (errno != ENOENT)
			log_warn("cannot open %s: %s; every text is English", dir, strerror(errno));
		return FR_OK;
	}
	DIR *d = fdopendir(dirfd);
	if (d == NULL) {
		log_warn("cannot read %s: %s; every text is English", dir, strerror(errno));
		close(dirfd);
		return FR_OK;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!fr_locale_name_valid(de->d_name))
			continue;
		if (l->count >= L10N_CATALOGUES_MAX) {
			log_warn("more than %d catalogues in %s; the rest are not offered", L10N_CATALOGUES_MAX, dir);
			break;
		}
		load_one(l, dirfd, dir, de->d_name, trusted_uid);
	}
	closedir(d);
	return FR_OK;
}

void
l10n_free(struct l10n *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < l->count; i++)
		fr_catalog_free(l->languages[i].catalog);
	free(l->languages);
	free(l);
}

unsigned
l10n_count(const struct l10n *l)
{
	return l != NULL ? l->count : 0;
}

const struct fr_catalog *
l10n_pick(const struct l10n *l, const char *locale_list)
{
	char names[FR_LOCALE_CANDIDATES_MAX][FR_LOCALE_NAME_MAX + 1];

	if (l == NULL || locale_list == NULL)
		return NULL;
	size_t n = fr_locale_candidates(locale_list, names, FR_LOCALE_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < l->count; k++)
			if (strcmp(names[i], l->languages[k].name) == 0)
				return l->languages[k].catalog;
	return NULL;
}

const struct fr_catalog *
l10n_for_client(const struct l10n *l, const char *client_locale, const char *default_language)
{
	if (client_locale != NULL && fr_locale_list_valid(client_locale))
		return l10n_pick(l, client_locale);
	return l10n_pick(l, default_language);
}
