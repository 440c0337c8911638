#include "config.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_l10n.h"
#include "fr_locale.h"

void
ctl_l10n_init(void)
{
	/* A locale that is not installed leaves the C locale: English. */
	(void)setlocale(LC_ALL, "");
#ifdef ENABLE_NLS
	const char *dir = getenv(CTL_ENV_LOCALEDIR);
	if (dir == NULL || dir[0] != '/')
		dir = LOCALEDIR;
	/* Both only fail for want of memory; the texts are English then. */
	(void)bindtextdomain(PACKAGE, dir);
	(void)textdomain(PACKAGE);
#endif
}

const char *
ctl_l10n_locale(void)
{
	const char *messages = setlocale(LC_MESSAGES, NULL);
	const char *language = getenv("LANGUAGE");

	/* gettext's own rule: LANGUAGE counts unless the locale is C. */
	if (messages == NULL || strcmp(messages, "C") == 0 || strcmp(messages, "POSIX") == 0)
		return "C";
	if (language != NULL && fr_locale_list_valid(language))
		return language;
	return fr_locale_list_valid(messages) ? messages : NULL;
}

void
ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("freddyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
