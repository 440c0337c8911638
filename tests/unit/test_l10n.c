/* The translation core: locale names (common/fr_locale.c), plural rules
 * (fr_plural.c), the .mo reader and its look-ups (fr_catalog.c), the
 * helper's catalogue set (helperd/core/l10n.c), and the real catalogues
 * as msgfmt built them from po/LL.po. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/l10n.h"
#include "core/log.h"
#include "fr_catalog.h"
#include "fr_error.h"
#include "fr_locale.h"
#include "fr_plural.h"

/* ---- a .mo writer, as msgfmt lays the file out ------------------------- */

struct mo_entry {
	const char *orig;
	size_t orig_len; /* with the NUL between singular and plural */
	const char *trans;
	size_t trans_len; /* with the NULs between the forms */
};

static void
put32(uint8_t *p, uint32_t v, int swapped)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(swapped ? v >> (24 - 8 * i) : v >> (8 * i));
}

/* Entries must be in strcmp order; returns malloc'd bytes. */
static uint8_t *
mo_build(const struct mo_entry *e, size_t n, int swapped, size_t *len)
{
	size_t strings = 0;

	for (size_t i = 0; i < n; i++)
		strings += e[i].orig_len + 1 + e[i].trans_len + 1;
	size_t head = 28, tables = 16 * n;
	uint8_t *buf = calloc(1, head + tables + strings);
	size_t at = head + tables;

	put32(buf, 0x950412de, swapped);
	put32(buf + 4, 0, swapped);
	put32(buf + 8, (uint32_t)n, swapped);
	put32(buf + 12, (uint32_t)head, swapped);
	put32(buf + 16, (uint32_t)(head + 8 * n), swapped);
	for (size_t i = 0; i < n; i++) {
		put32(buf + head + 8 * i, (uint32_t)e[i].orig_len, swapped);
		put32(buf + head + 8 * i + 4, (uint32_t)at, swapped);
		memcpy(buf + at, e[i].orig, e[i].orig_len);
		at += e[i].orig_len + 1;
	}
	for (size_t i = 0; i < n; i++) {
		put32(buf + head + 8 * n + 8 * i, (uint32_t)e[i].trans_len, swapped);
		put32(buf + head + 8 * n + 8 * i + 4, (uint32_t)at, swapped);
		memcpy(buf + at, e[i].trans, e[i].trans_len);
		at += e[i].trans_len + 1;
	}
	*len = at;
	return buf;
}

#define S(s) s, sizeof(s) - 1

static const char header_de[] = "Content-Type: text/plain; charset=UTF-8\n"
				"Plural-Forms: nplurals=2; plural=(n != 1);\n";

static struct fr_catalog *
parse(const struct mo_entry *e, size_t n, int swapped, int *r)
{
	size_t len;
	uint8_t *mo = mo_build(e, n, swapped, &len);
	struct fr_catalog *cat = NULL;

	*r = fr_catalog_parse(mo, len, &cat);
	free(mo);
	return cat;
}

static void
test_locale_names(void)
{
	char names[FR_LOCALE_CANDIDATES_MAX][FR_LOCALE_NAME_MAX + 1];

	CHECK(fr_locale_list_valid("de"));
	CHECK(fr_locale_list_valid("de_DE.UTF-8@euro"));
	CHECK(fr_locale_list_valid("es_419"));
	CHECK(fr_locale_list_valid("de:fr::en"));
	CHECK(fr_locale_list_valid("C"));
	CHECK(fr_locale_list_valid("C.UTF-8"));
	CHECK(fr_locale_list_valid("POSIX"));
	CHECK(!fr_locale_list_valid(""));
	CHECK(!fr_locale_list_valid(":"));
	CHECK(!fr_locale_list_valid("d"));
	CHECK(!fr_locale_list_valid("deutsch"));
	CHECK(!fr_locale_list_valid("DE"));
	CHECK(!fr_locale_list_valid("de_de"));
	CHECK(!fr_locale_list_valid("de_DE."));
	CHECK(!fr_locale_list_valid("de@"));
	CHECK(!fr_locale_list_valid("de/../../etc"));
	CHECK(!fr_locale_list_valid("de DE"));
	CHECK(!fr_locale_list_valid("de;fr"));
	CHECK(!fr_locale_list_valid("de\x1b"));
	CHECK(!fr_locale_list_valid("de_DE.UTF-8@EURO"));
	CHECK(!fr_locale_list_valid("Ca"));
	char long_list[200];
	memset(long_list, 'a', sizeof(long_list));
	for (size_t i = 2; i < sizeof(long_list); i += 3)
		long_list[i] = ':';
	long_list[sizeof(long_list) - 1] = '\0';
	CHECK(!fr_locale_list_valid(long_list)); /* over FR_LOCALE_MAX */
	CHECK(fr_locale_name_valid("pt_BR"));
	CHECK(!fr_locale_name_valid("C"));
	CHECK(!fr_locale_name_valid("de:fr"));

	size_t n = fr_locale_candidates("de_AT.UTF-8@euro:fr", names, FR_LOCALE_CANDIDATES_MAX);
	CHECK(n == 5);
	CHECK(n == 5 && strcmp(names[0], "de_AT@euro") == 0 && strcmp(names[1], "de_AT") == 0 &&
	      strcmp(names[2], "de@euro") == 0 && strcmp(names[3], "de") == 0 && strcmp(names[4], "fr") == 0);
	/* Each once; C ends the list; another codeset is skipped. */
	CHECK(fr_locale_candidates("de:de_DE:de", names, FR_LOCALE_CANDIDATES_MAX) == 2);
	CHECK(fr_locale_candidates("fr:C:de", names, FR_LOCALE_CANDIDATES_MAX) == 1);
	CHECK(fr_locale_candidates("C.UTF-8", names, FR_LOCALE_CANDIDATES_MAX) == 0);
	n = fr_locale_candidates("de_DE.ISO-8859-1:es_ES.utf8", names, FR_LOCALE_CANDIDATES_MAX);
	CHECK(n == 2 && strcmp(names[0], "es_ES") == 0);
	CHECK(fr_locale_candidates("not valid", names, FR_LOCALE_CANDIDATES_MAX) == 0);
	CHECK(fr_locale_candidates("de_DE:fr_FR", names, 3) == 3); /* capped */
}

static void
test_plural_rules(void)
{
	struct fr_plural p;
	const char *ru = "Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
			 "(n%100<10 || n%100>=20) ? 1 : 2);\n";

	fr_plural_english(&p);
	CHECK(fr_plural_form(&p, 1) == 0 && fr_plural_form(&p, 0) == 1 && fr_plural_form(&p, 2) == 1);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=(n > 1);\n"), &p) == FR_OK);
	CHECK(fr_plural_form(&p, 0) == 0 && fr_plural_form(&p, 1) == 0 && fr_plural_form(&p, 2) == 1);
	CHECK(fr_plural_parse_header(ru, strlen(ru), &p) == FR_OK && p.nplurals == 3);
	CHECK(fr_plural_form(&p, 1) == 0 && fr_plural_form(&p, 3) == 1 && fr_plural_form(&p, 5) == 2 &&
	      fr_plural_form(&p, 11) == 2 && fr_plural_form(&p, 21) == 0 && fr_plural_form(&p, 112) == 2);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=1; plural=0;"), &p) == FR_OK);
	CHECK(fr_plural_form(&p, 7) == 0);
	/* A form past the last gives the first; division by zero is 0. */
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=n+5;"), &p) == FR_OK);
	CHECK(fr_plural_form(&p, 1) == 0);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=n/0 + n%0;"), &p) == FR_OK);
	CHECK(fr_plural_form(&p, 9) == 0);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=!(n<=1) && n>=0 || n==7;"), &p) == FR_OK);
	CHECK(fr_plural_form(&p, 1) == 0 && fr_plural_form(&p, 2) == 1 && fr_plural_form(&p, 0) == 0);
	/* Refused, and English after: */
	CHECK(fr_plural_parse_header(S("Language: de\n"), &p) == FR_ERR_NOT_FOUND && p.nplurals == 2);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=(n != 1;"), &p) == FR_ERR_INVALID);
	CHECK(fr_plural_form(&p, 1) == 0 && fr_plural_form(&p, 2) == 1);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=7; plural=n;"), &p) == FR_ERR_INVALID);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=0; plural=0;"), &p) == FR_ERR_INVALID);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=x;"), &p) == FR_ERR_INVALID);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=n ? 1;"), &p) == FR_ERR_INVALID);
	CHECK(fr_plural_parse_header(S("Plural-Forms: nplurals=2; plural=n; junk"), &p) == FR_ERR_INVALID);
	/* Nesting deeper than the parser follows, and more nodes than fit. */
	char deep[256];
	int n = snprintf(deep, sizeof(deep), "Plural-Forms: nplurals=2; plural=%.40s",
			 "((((((((((((((((((((((((((((((((((((((((");
	n += snprintf(deep + n, sizeof(deep) - (size_t)n, "n%.40s", "))))))))))))))))))))))))))))))))))))))))");
	CHECK(fr_plural_parse_header(deep, (size_t)n, &p) == FR_ERR_INVALID);
	char big[512];
	n = snprintf(big, sizeof(big), "Plural-Forms: nplurals=2; plural=n");
	for (int i = 0; i < 40; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "+n");
	CHECK(fr_plural_parse_header(big, (size_t)n, &p) == FR_ERR_INVALID);
}

static void
test_catalog_lookups(void)
{
	static const char plural_orig[] = "Invalid code, %u attempt left\0Invalid code, %u attempts left";
	static const char plural_trans[] = "Ungültiger Code, noch %u Versuch\0Ungültiger Code, noch %u Versuche";
	const struct mo_entry e[] = {
		{ S(""), S(header_de) },
		{ S("Code emailed to %s."), S("Code per E-Mail an %s gesendet.") },
		{ plural_orig, sizeof(plural_orig) - 1, plural_trans, sizeof(plural_trans) - 1 },
		/* Kept: the same '*' width and precision arguments (the
		 * table is sorted by msgid, as in a .mo file). */
		{ S("Pad %*.*s"), S("Auffüllen %*.*s") },
		{ S("Password: "), S("Passwort: ") },
		/* Dropped: a conversion the msgid does not have, %n, a
		 * control character, bad UTF-8, a positional argument. */
		{ S("Wrong %s"), S("Falsch %d") },
		{ S("Wrong %u"), S("Falsch %n") },
		{ S("Wrong a"), S("Falsch \x1b[2J") },
		{ S("Wrong b"), S("Falsch \xff") },
		{ S("Wrong c %s"), S("Falsch %1$s") },
		{ S("Wrong d %s"), S("Falsch %s %s") },
		{ S("Wrong e %s"), S("Falsch %*s") }, /* a '*' takes an int first */
	};
	int r;

	for (int swapped = 0; swapped <= 1; swapped++) {
		struct fr_catalog *cat = parse(e, sizeof(e) / sizeof(e[0]), swapped, &r);
		CHECK(r == FR_OK && cat != NULL);
		size_t usable, dropped;
		fr_catalog_counts(cat, &usable, &dropped);
		CHECK(usable == 4 && dropped == 7);
		CHECK(strcmp(fr_tr(cat, "Pad %*.*s"), "Auffüllen %*.*s") == 0);
		CHECK(strcmp(fr_tr(cat, "Wrong e %s"), "Wrong e %s") == 0);
		CHECK(strcmp(fr_tr(cat, "Password: "), "Passwort: ") == 0);
		CHECK(strcmp(fr_tr(cat, "Not in it"), "Not in it") == 0);
		CHECK(strcmp(fr_tr(cat, "Wrong %s"), "Wrong %s") == 0);
		CHECK(strcmp(fr_tr(cat, "Wrong %u"), "Wrong %u") == 0);
		CHECK(strcmp(fr_tr(cat, "Wrong a"), "Wrong a") == 0);
		CHECK(strcmp(fr_tr(cat, ""), "") == 0);
		char text[128];
		snprintf(text, sizeof(text), fr_tr(cat, "Code emailed to %s."), "a***@example.com");
		CHECK(strcmp(text, "Code per E-Mail an a***@example.com gesendet.") == 0);
		snprintf(text, sizeof(text),
			 fr_trn(cat, "Invalid code, %u attempt left", "Invalid code, %u attempts left", 1), 1u);
		CHECK(strcmp(text, "Ungültiger Code, noch 1 Versuch") == 0);
		snprintf(text, sizeof(text),
			 fr_trn(cat, "Invalid code, %u attempt left", "Invalid code, %u attempts left", 2), 2u);
		CHECK(strcmp(text, "Ungültiger Code, noch 2 Versuche") == 0);
		CHECK(strcmp(fr_trn(cat, "Invalid code, %u attempt left", "Invalid code, %u attempts left", 0),
			     "Ungültiger Code, noch %u Versuche") == 0);
		fr_catalog_free(cat);
	}
	/* English without a catalogue. */
	CHECK(strcmp(fr_tr(NULL, "Password: "), "Password: ") == 0);
	CHECK(strcmp(fr_trn(NULL, "%u attempt left", "%u attempts left", 1), "%u attempt left") == 0);
	CHECK(strcmp(fr_trn(NULL, "%u attempt left", "%u attempts left", 0), "%u attempts left") == 0);
}

static void
test_catalog_refusals(void)
{
	static const char latin1[] = "Content-Type: text/plain; charset=ISO-8859-1\n";
	static const char bad_rule[] = "Plural-Forms: nplurals=2; plural=(n;\n";
	const struct mo_entry unsorted[] = { { S(""), S(header_de) }, { S("b"), S("B") }, { S("a"), S("A") } };
	const struct mo_entry dup[] = { { S("a"), S("A") }, { S("a"), S("B") } };
	const struct mo_entry charset[] = { { S(""), S(latin1) }, { S("a"), S("A") } };
	const struct mo_entry rule[] = { { S(""), S(bad_rule) }, { S("a"), S("A") } };
	const struct mo_entry empty[] = { { S(""), S(header_de) } };
	struct fr_catalog *cat;
	int r;

	CHECK((cat = parse(unsorted, 3, 0, &r)) == NULL && r == FR_ERR_INVALID);
	CHECK((cat = parse(dup, 2, 0, &r)) == NULL && r == FR_ERR_INVALID);
	CHECK((cat = parse(charset, 2, 0, &r)) == NULL && r == FR_ERR_INVALID);
	CHECK((cat = parse(rule, 2, 0, &r)) == NULL && r == FR_ERR_INVALID);
	cat = parse(empty, 1, 1, &r);
	CHECK(r == FR_OK && cat != NULL && strcmp(fr_tr(cat, "x"), "x") == 0);
	fr_catalog_free(cat);

	/* Every truncation of a good file and every bad offset is refused
	 * (or parsed, never read past its end; ASan watches). */
	const struct mo_entry good[] = { { S(""), S(header_de) }, { S("Password: "), S("Passwort: ") } };
	size_t len;
	uint8_t *mo = mo_build(good, 2, 0, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, mo, n);
		CHECK(fr_catalog_parse(copy, n, &cat) != FR_OK && cat == NULL);
		free(copy);
	}
	for (size_t at = 8; at < 28; at++) {
		uint8_t *copy = malloc(len);
		memcpy(copy, mo, len);
		copy[at] ^= 0x80;
		if (fr_catalog_parse(copy, len, &cat) == FR_OK)
			fr_catalog_free(cat);
		free(copy);
	}
	mo[0] ^= 1;
	CHECK(fr_catalog_parse(mo, len, &cat) == FR_ERR_INVALID);
	free(mo);
	uint8_t big[8] = { 0 };
	CHECK(fr_catalog_parse(big, FR_CATALOG_MAX_SIZE + 1, &cat) == FR_ERR_TOO_LARGE);
}

/* The catalogues msgfmt built from po/LL.po: each loads, keeps every
 * translation (no format or text check drops one), and its plural rule
 * is the language's. */
static void
test_built_catalogues(void)
{
	static const char *const langs[] = { "de", "fr", "es" };

	for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/po/%s.gmo", TOP_SRCDIR, langs[i]);
		FILE *f = fopen(path, "rb");
		CHECK(f != NULL);
		if (f == NULL) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			continue;
		}
		static uint8_t data[FR_CATALOG_MAX_SIZE];
		size_t len = fread(data, 1, sizeof(data), f);
		fclose(f);
		struct fr_catalog *cat = NULL;
		CHECK(fr_catalog_parse(data, len, &cat) == FR_OK);
		size_t usable = 0, dropped = 0;
		fr_catalog_counts(cat, &usable, &dropped);
		CHECK(usable > 100);
		CHECK(dropped == 0);
		if (dropped != 0)
			fprintf(stderr, "%s: %zu translations dropped\n", path, dropped);
		const char *one = fr_trn(cat, "Invalid code, %u attempt left", "Invalid code, %u attempts left", 0);
		if (strcmp(langs[i], "fr") == 0)
			CHECK(strstr(one, "tentative restante") != NULL); /* French: 0 is singular */
		else
			CHECK(strstr(one, "%u") != NULL && strcmp(one, "Invalid code, %u attempts left") != 0);
		fr_catalog_free(cat);
	}
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* core/l10n.c: a locale folder, as installed. */
static void
test_catalogue_set(void)
{
	char dir[] = "/tmp/test_l10n.XXXXXX";
	char path[256];
	const struct mo_entry de[] = { { S(""), S(header_de) }, { S("Password: "), S("Passwort: ") } };
	const struct mo_entry fr[] = { { S(""), S(header_de) }, { S("Password: "), S("Mot de passe\xc2\xa0: ") } };
	size_t len;

	CHECK(mkdtemp(dir) != NULL);
	const struct {
		const char *name;
		const struct mo_entry *e;
		mode_t mode;
	} files[] = { { "de", de, 0644 }, { "fr_CA", fr, 0644 }, { "es", de, 0666 }, { "not-a-locale", de, 0644 } };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		CHECK(mkdir(path, 0755) == 0);
		snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES", dir, files[i].name);
		CHECK(mkdir(path, 0755) == 0);
		snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES/pam_freddy.mo", dir, files[i].name);
		uint8_t *mo = mo_build(files[i].e, 2, 0, &len);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && write(fd, mo, len) == (ssize_t)len && fchmod(fd, files[i].mode) == 0);
		close(fd);
		free(mo);
	}
	struct l10n *l = NULL;
	CHECK(l10n_load(dir, (unsigned)geteuid(), &l) == FR_OK);
	/* es is writable by others and not offered; not-a-locale is no name. */
	CHECK(l10n_count(l) == 2);
	CHECK(strcmp(fr_tr(l10n_pick(l, "de_DE.UTF-8"), "Password: "), "Passwort: ") == 0);
	CHECK(strcmp(fr_tr(l10n_pick(l, "fr_CA"), "Password: "), "Mot de passe\xc2\xa0: ") == 0);
	CHECK(l10n_pick(l, "fr_FR") == NULL); /* only fr_CA was installed */
	CHECK(l10n_pick(l, "es") == NULL);
	CHECK(l10n_pick(l, "ja:de") == l10n_pick(l, "de"));
	CHECK(l10n_pick(l, "C:de") == NULL);
	CHECK(l10n_pick(l, "de_DE.ISO-8859-1") == NULL);
	CHECK(l10n_pick(NULL, "de") == NULL);
	/* A client's valid locale wins; an invalid one is as none. */
	CHECK(l10n_for_client(l, "fr_CA", "de") == l10n_pick(l, "fr_CA"));
	CHECK(l10n_for_client(l, "ja", "de") == NULL);
	CHECK(l10n_for_client(l, "../de", "de") == l10n_pick(l, "de"));
	CHECK(l10n_for_client(l, NULL, "de") == l10n_pick(l, "de"));
	CHECK(l10n_for_client(l, NULL, NULL) == NULL);
	l10n_free(l);
	/* No folder: no catalogues, no error. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK(l10n_load(path, 0, &l) == FR_OK && l10n_count(l) == 0);
	l10n_free(l);
	CHECK(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) == 0);
}

int
main(void)
{
	log_init("test_l10n", true, false);
	test_locale_names();
	test_plural_rules();
	test_catalog_lookups();
	test_catalog_refusals();
	test_built_catalogues();
	test_catalogue_set();
	return check_finish("test_l10n");
}
