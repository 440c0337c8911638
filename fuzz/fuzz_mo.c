/* libFuzzer: the catalogue reader (a .mo file), its plural rule and the
 * locale names, all of which decide which text a person is shown.  The
 * look-ups' results are used as printf formats with the arguments the
 * code passes, as the helper does: a translation the format check let
 * through with the wrong conversions shows up as a sanitizer report. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fr_catalog.h"
#include "fr_locale.h"
#include "fr_plural.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
use_catalog(const struct fr_catalog *cat)
{
	char out[512];
	static const unsigned long counts[] = { 0, 1, 2, 5, 11, 21, 101, 1000000 };

	snprintf(out, sizeof(out), fr_tr(cat, "Code emailed to %s."), "a***@example.com");
	snprintf(out, sizeof(out), fr_tr(cat, "Too many failed attempts; try again in %u s"), 7u);
	snprintf(out, sizeof(out), "%s", fr_tr(cat, "Password: "));
	snprintf(out, sizeof(out), fr_tr(cat, "cannot reach freddy-helperd at %s: %s: %s"), "/run/x", "y", "z");
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		snprintf(out, sizeof(out),
			 fr_trn(cat, "Invalid code, %u attempt left", "Invalid code, %u attempts left", counts[i]),
			 (unsigned)counts[i]);
		snprintf(out, sizeof(out),
			 fr_trn(cat, "Too many login attempts, try again in %lu minute",
				"Too many login attempts, try again in %lu minutes", counts[i]),
			 counts[i]);
	}
	size_t usable, dropped;
	fr_catalog_counts(cat, &usable, &dropped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_catalog *cat = NULL;

	if (fr_catalog_parse(data, size, &cat) == 0) {
		use_catalog(cat);
		fr_catalog_free(cat);
	} else if (cat != NULL) {
		__builtin_trap(); /* an error leaves *out NULL */
	}

	/* The same bytes as a header, and as a locale list. */
	struct fr_plural p;
	(void)fr_plural_parse_header((const char *)data, size, &p);
	for (unsigned long n = 0; n < 40; n++)
		if (fr_plural_form(&p, n) >= (p.nplurals > 0 ? p.nplurals : 1))
			__builtin_trap();

	char list[FR_LOCALE_MAX + 2];
	size_t n = size < sizeof(list) - 1 ? size : sizeof(list) - 1;
	memcpy(list, data, n);
	list[n] = '\0';
	char names[FR_LOCALE_CANDIDATES_MAX][FR_LOCALE_NAME_MAX + 1];
	size_t got = fr_locale_candidates(list, names, FR_LOCALE_CANDIDATES_MAX);
	if (got > 0 && !fr_locale_list_valid(list))
		__builtin_trap();
	for (size_t i = 0; i < got; i++)
		if (!fr_locale_name_valid(names[i]) || strchr(names[i], '/') != NULL || strchr(names[i], '.') != NULL)
			__builtin_trap();
	return 0;
}
