/*
 * The helper's languages: every catalogue found under the locale folder
 * (locale_dir, default $(localedir)) at start, read once and kept until
 * exit, so that a login's language is a pointer (common/fr_catalog.h)
 * that stays valid for as long as the login runs, whatever happens to
 * the files or the configuration meanwhile.  Nothing is read per
 * request: a client cannot make the helper open files by the names it
 * sends, and the loop never waits for the disk to pick a language.
 */
#ifndef L10N_H
#define L10N_H

#include "fr_catalog.h"

#define L10N_DOMAIN	    "pam_freddy"
#define L10N_CATALOGUES_MAX 256

struct l10n;

/* Reads DIR/LL/LC_MESSAGES/pam_freddy.mo for every folder LL whose name
 * is a locale name (fr_locale.h).  Each file must be root's (or
 * `trusted_uid`'s, the helper's own user) and not writable by group or
 * others: it writes what people are asked.  One
 * that is not, or does not parse, is skipped with a warning.  A folder
 * that does not exist gives an empty set, silently: every text English.
 * FR_OK or FR_ERR_NOMEM. */
int l10n_load(const char *dir, unsigned trusted_uid, struct l10n **out);
void l10n_free(struct l10n *l);
unsigned l10n_count(const struct l10n *l);

/* The catalogue for a locale list (FR_TAG_LOCALE or `language =`), most
 * specific name first; NULL (English) when none matches, the list says C
 * or POSIX, names a codeset other than UTF-8, or is not a valid list.
 * `l` may be NULL (no catalogues). */
const struct fr_catalog *l10n_pick(const struct l10n *l, const char *locale_list);

/* A request's language: the client's locale when it sent a valid one,
 * else the configured default (`language =`, NULL for none). */
const struct fr_catalog *l10n_for_client(const struct l10n *l, const char *client_locale, const char *default_language);

#endif
