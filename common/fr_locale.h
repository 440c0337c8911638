/*
 * Locale names, as the module reads them from the environment and sends
 * them (FR_TAG_LOCALE) and as the helper and `language =` take them.
 * They come from whoever started the PAM application, so they are held
 * to a strict grammar before they name a file or choose anything: short
 * ASCII, no '/', no "..", nothing a terminal would interpret.  Pure
 * functions, fuzzed with the catalogue reader (fuzz/fuzz_mo.c).
 *
 *   list    = element *(":" element)      LANGUAGE's syntax; empty elements skipped
 *   element = lang ["_" territory] ["." codeset] ["@" modifier]
 *           | ("C" | "POSIX") ["." codeset]
 *   lang = 2*3 a-z;  territory = 2 A-Z | 3 0-9;  codeset = 1*16 [A-Za-z0-9_-];
 *   modifier = 1*16 [a-z0-9]
 */
#ifndef FR_LOCALE_H
#define FR_LOCALE_H

#include <stdbool.h>
#include <stddef.h>

#define FR_LOCALE_MAX		 127 /* a whole list, in bytes */
#define FR_LOCALE_NAME_MAX	 47  /* one element */
#define FR_LOCALE_CANDIDATES_MAX 32

/* True when `s` is a list of the grammar above with at least one element,
 * at most FR_LOCALE_MAX bytes. */
bool fr_locale_list_valid(const char *s);

/* True when `s` is one element naming a language (not C or POSIX): what
 * a catalogue folder may be called. */
bool fr_locale_name_valid(const char *s);

/* The catalogue names to try for a valid list, most specific first, each
 * once: for "de_AT.UTF-8@euro:fr" that is de_AT@euro, de_AT, de@euro, de,
 * fr.  An element that names C or POSIX ends the list (the person asked
 * for the untranslated texts); an element whose codeset is not UTF-8 is
 * skipped, since every catalogue and every text the helper sends is
 * UTF-8.  Returns how many were written to `out` (0 for an invalid list:
 * English). */
size_t fr_locale_candidates(const char *list, char out[][FR_LOCALE_NAME_MAX + 1], size_t max);

#endif
