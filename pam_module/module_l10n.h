/*
 * The person's language, as the module sees it: the locale it sends the
 * helper (FR_TAG_LOCALE), and its own one text ("Authentication service
 * unavailable", when there is no helper to write it).  The module changes
 * nothing in the host program to do either: no setlocale, no
 * bindtextdomain; the catalogue is read with common/fr_catalog.c.
 */
#ifndef MODULE_L10N_H
#define MODULE_L10N_H

#include <stddef.h>

#include <security/pam_modules.h>

#include "fr_locale.h"

/* The locale list to send, written to `buf` (FR_LOCALE_MAX + 1 bytes),
 * or NULL when there is none or it is not a valid locale list.  From the
 * PAM environment (pam_env, or what the application put there) when it
 * sets any of LANGUAGE, LC_ALL, LC_MESSAGES or LANG; otherwise from the
 * application's own environment.  Within one of them, as gettext: the
 * LANGUAGE list, unless the locale (LC_ALL, else LC_MESSAGES, else LANG)
 * is exactly C or POSIX; otherwise that locale. */
const char *module_l10n_locale(pam_handle_t *pamh, char *buf);

/* `msgid` in the language of `locale` (NULL: English), from
 * DIR/LL/LC_MESSAGES/pam_freddy.mo, copied to `out`.  A catalogue that is
 * missing, not root's, writable by others or malformed gives English. */
void module_l10n_text(const char *dir, const char *locale, const char *msgid, char *out, size_t cap);

#endif
