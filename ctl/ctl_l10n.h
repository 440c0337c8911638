/*
 * freddyctl's language: its own environment's locale, with GNU gettext
 * (setlocale + bindtextdomain), as any program does.  What it shows a
 * person is translated: errors, usage, the enrolment instructions.  What
 * scripts read on stdout is not: the `key: value` lines of `status`,
 * `2fa` and `apikey create`, the column headings of the listings, and
 * the token itself.  Texts from the helper arrive in the same language,
 * since freddyctl sends its locale with each request (FR_TAG_LOCALE).
 */
#ifndef CTL_L10N_H
#define CTL_L10N_H

#include <stdarg.h>

#ifdef ENABLE_NLS
#include <libintl.h>
#define _(msgid) gettext(msgid)
#else
#define _(msgid)	       (msgid)
#define ngettext(one, many, n) ((n) == 1 ? (one) : (many))
#endif
#define N_(msgid) msgid

#define CTL_ENV_LOCALEDIR "FREDDY_LOCALEDIR"

/* setlocale(LC_ALL, "") and the catalogue: LOCALEDIR, or the absolute
 * path in FREDDY_LOCALEDIR (to try catalogues before they are installed,
 * as the test suite does; freddyctl is no set-uid program). */
void ctl_l10n_init(void);

/* The locale list freddyctl's own texts are shown in, for FR_TAG_LOCALE:
 * "C" in the C locale, else LANGUAGE when set, else the LC_MESSAGES
 * locale; NULL when it is no valid locale list (the helper then uses its
 * default). */
const char *ctl_l10n_locale(void);

/* "freddyctl: " + the message + "\n" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
