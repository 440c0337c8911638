/*
 * Translated texts: one language's GNU message catalogue (a .mo file, as
 * msgfmt writes it from po/LL.po), read by a pure parser, and the two
 * look-ups every text a person sees goes through.
 *
 * Why a reader of our own rather than dgettext() with uselocale(): the
 * helper renders each login in that login's language, many languages at
 * once, without touching its process locale.  A catalogue here is an
 * immutable object a login points to; a look-up is a binary search in
 * it, safe from any thread, with no global state, no locale that must be
 * generated on the host (glibc's newlocale("de_DE.UTF-8") fails on a
 * server that has only C.UTF-8), and no LANGUAGE of the helper's own
 * environment in the way.  The module uses the same reader for its one
 * text of its own, so it changes nothing in the host program (no
 * setlocale, no bindtextdomain).  freddyctl, an ordinary program, uses
 * gettext itself (ctl/ctl_l10n.h).
 *
 * Translations are format strings (the helper passes them to snprintf),
 * so the reader checks each one against its msgid when the catalogue is
 * read: the same printf conversions in the same order (for plural forms:
 * a prefix of them, since a form may leave the number out).  A
 * translation that fails, is not clean UTF-8, or holds a control
 * character other than a newline is dropped, and that text stays
 * English.  A catalogue whose charset is not UTF-8 is refused.
 *
 * Wrapping a text (see po/README.md):
 *   fr_tr(lang, "Password: ")                       a text
 *   fr_trn(lang, "%u attempt left", "%u attempts left", n)   a count
 *   N_("...")                                       marks a text kept in a
 *                                                   table or macro, translated later
 * lang NULL is English.  Never pass text from the API or a client as the
 * msgid: it goes into a translated format as a "%s" argument.
 */
#ifndef FR_CATALOG_H
#define FR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define FR_CATALOG_MAX_SIZE    (1024 * 1024)
#define FR_CATALOG_MAX_STRINGS 8192
#define FR_CATALOG_MAX_TEXT    4096 /* one msgid or translation, bytes */

/* For xgettext (--keyword=N_): a text to translate where it is used. */
#define N_(msgid) msgid

struct fr_catalog;

/* Pure: read a .mo image.  The catalogue keeps its own copy of `data`.
 * FR_OK; FR_ERR_INVALID (not a .mo, a table out of bounds, originals not
 * sorted, a charset other than UTF-8, a Plural-Forms line that does not
 * parse); FR_ERR_TOO_LARGE; FR_ERR_NOMEM.  *out is NULL on error. */
int fr_catalog_parse(const uint8_t *data, size_t len, struct fr_catalog **out);
void fr_catalog_free(struct fr_catalog *cat);

/* How many translations passed the checks and how many were dropped. */
void fr_catalog_counts(const struct fr_catalog *cat, size_t *usable, size_t *dropped);

/* The translation of `msgid`, or msgid itself (English) when `cat` is
 * NULL or has none.  Never NULL for a non-NULL msgid. */
const char *fr_tr(const struct fr_catalog *cat, const char *msgid) __attribute__((format_arg(2)));

/* The form of a counted text for `n`: from the catalogue by its plural
 * rule, else English ("one" for n == 1, "many" otherwise). */
const char *fr_trn(const struct fr_catalog *cat, const char *one, const char *many, unsigned long n)
    __attribute__((format_arg(2))) __attribute__((format_arg(3)));

#endif
