#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fr_catalog.h"
#include "fr_error.h"
#include "fr_plural.h"
#include "fr_text.h"

#define MO_MAGIC	 0x950412deu
#define MO_MAGIC_SWAPPED 0xde120495u
#define MO_HEADER_LEN	 28
/* printf conversions one text may hold. */
#define FORMAT_ARGS_MAX 16

struct entry {
	const char *orig; /* msgid, or "one\0many" for a counted text */
	const char *trans;
	uint32_t trans_len; /* all forms with their NULs; trans is NULL when dropped */
};

struct fr_catalog {
	uint8_t *data;
	struct entry *entries;
	size_t count, usable, dropped;
	struct fr_plural plural;
};

static uint32_t
get_u32(const uint8_t *p, bool swapped)
{
	if (swapped)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* String `index` of the table at `table`: its bytes must lie inside the
 * image and end with a NUL at data[offset + length]. */
static int
table_string(const uint8_t *data, size_t len, uint32_t table, uint32_t index, bool swapped, const char **s,
	     uint32_t *slen)
{
	size_t at = (size_t)table + (size_t)index * 8;

	if (at > len || len - at < 8)
		return FR_ERR_INVALID;
	uint32_t n = get_u32(data + at, swapped), off = get_u32(data + at + 4, swapped);
	if (n > FR_CATALOG_MAX_TEXT || off >= len || len - off <= n || data[(size_t)off + n] != '\0')
		return FR_ERR_INVALID;
	*s = (const char *)data + off;
	*slen = n;
	return FR_OK;
}

/* The printf arguments a text consumes, one two-letter code each (length
 * modifier, conversion class), so that "%-24s" and "%s" agree and "%u"
 * and "%s" do not.  -1 for a conversion the helper never uses and a
 * translation must not bring in: %n, positional arguments (%1$s),
 * anything unknown, or too many. */
/* A '*' width or precision at s[*i] takes an int argument: one entry of
 * the signature.  -1 when the signature is full. */
static int
star_argument(const char *s, size_t len, size_t *i, char sig[][2], size_t *n, size_t max)
{
	if (*i >= len || s[*i] != '*')
		return 0;
	if (*n >= max)
		return -1;
	sig[*n][0] = '-';
	sig[(*n)++][1] = 'd';
	(*i)++;
	return 0;
}

static int
format_signature(const char *s, size_t len, char sig[][2], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%')
			continue;
		if (++i >= len)
			return -1;
		if (s[i] == '%')
			continue;
		while (i < len && s[i] != '\0' && strchr("-+ #0'", s[i]) != NULL)
			i++;
		if (star_argument(s, len, &i, sig, &n, max) != 0)
			return -1;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i < len && s[i] == '$')
			return -1;
		if (i < len && s[i] == '.') {
			i++;
			if (star_argument(s, len, &i, sig, &n, max) != 0)
				return -1;
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		char length = '-';
		if (i + 1 < len && s[i] == 'h' && s[i + 1] == 'h') {
			length = 'H';
			i += 2;
		} else if (i + 1 < len && s[i] == 'l' && s[i + 1] == 'l') {
			length = 'q';
			i += 2;
		} else if (i < len && s[i] != '\0' && strchr("hljztL", s[i]) != NULL) {
			length = s[i++];
		}
		if (i >= len)
			return -1;
		char conv;
		switch (s[i]) {
		case 'd':
		case 'i':
			conv = 'd';
			break;
		case 'o':
		case 'u':
		case 'x':
		case 'X':
			conv = 'u';
			break;
		case 'c':
		case 's':
		case 'p':
			conv = s[i];
			break;
		case 'e':
		case 'E':
		case 'f':
		case 'F':
		case 'g':
		case 'G':
		case 'a':
		case 'A':
			conv = 'f';
			break;
		default:
			return -1; /* %n among them */
		}
		if (n >= max)
			return -1;
		sig[n][0] = length;
		sig[n++][1] = conv;
	}
	return (int)n;
}

/* Text the sanitiser would leave as it is: UTF-8, no control character
 * but a newline, no invisible format character. */
static bool
clean_text(const char *s, size_t len)
{
	char out[FR_CATALOG_MAX_TEXT + 1];

	if (len > FR_CATALOG_MAX_TEXT)
		return false;
	size_t n = fr_text_sanitize(out, sizeof(out), s, len, FR_TEXT_ALLOW_NEWLINE);
	return n == len && memcmp(out, s, len) == 0;
}

/* A translation may be used with the msgid's arguments: same conversions
 * (prefix_ok: a prefix of them), clean text. */
static bool
usable_form(const char *msgid, size_t msgid_len, const char *form, size_t form_len, bool prefix_ok)
{
	char want[FORMAT_ARGS_MAX][2], got[FORMAT_ARGS_MAX][2];
	int nw = format_signature(msgid, msgid_len, want, FORMAT_ARGS_MAX);
	int ng = format_signature(form, form_len, got, FORMAT_ARGS_MAX);

	if (nw < 0 || ng < 0 || ng > nw || (!prefix_ok && ng != nw) || form_len == 0)
		return false;
	return memcmp(want, got, (size_t)ng * 2) == 0 && clean_text(form, form_len);
}

static bool
usable_translation(const char *orig, uint32_t orig_len, const char *trans, uint32_t trans_len)
{
	const char *nul = memchr(orig, '\0', orig_len);

	if (nul == NULL)
		return memchr(trans, '\0', trans_len) == NULL && usable_form(orig, orig_len, trans, trans_len, false);
	/* A counted text: every form against the plural msgid. */
	const char *many = nul + 1;
	size_t many_len = orig_len - (size_t)(many - orig);
	if (memchr(many, '\0', many_len) != NULL)
		return false;
	for (size_t at = 0; at <= trans_len;) {
		const char *end = memchr(trans + at, '\0', trans_len - at);
		size_t n = end != NULL ? (size_t)(end - (trans + at)) : trans_len - at;
		if (!usable_form(many, many_len, trans + at, n, true))
			return false;
		at += n + 1;
	}
	return true;
}

/* The header's charset, if it names one, must be UTF-8. */
static bool
header_charset_ok(const char *header, size_t len)
{
	static const char key[] = "charset=";
	const char *end = header + len;

	for (const char *p = header; p + sizeof(key) - 1 <= end; p++) {
		if (memcmp(p, key, sizeof(key) - 1) != 0)
			continue;
		const char *v = p + sizeof(key) - 1;
		size_t n = 0;
		while (v + n < end && v[n] != '\n' && v[n] != ' ' && v[n] != ';')
			n++;
		return (n == 5 && (memcmp(v, "UTF-8", 5) == 0 || memcmp(v, "utf-8", 5) == 0));
	}
	return true;
}

static int
parse_entries(struct fr_catalog *cat, size_t len, bool swapped)
{
	const uint8_t *d = cat->data;
	uint32_t count = get_u32(d + 8, swapped), orig_table = get_u32(d + 12, swapped),
		 trans_table = get_u32(d + 16, swapped);

	if (count > FR_CATALOG_MAX_STRINGS)
		return FR_ERR_TOO_LARGE;
	if ((cat->entries = calloc(count > 0 ? count : 1, sizeof(*cat->entries))) == NULL)
		return FR_ERR_NOMEM;
	cat->count = count;
	fr_plural_english(&cat->plural);
	for (uint32_t i = 0; i < count; i++) {
		const char *orig, *trans;
		uint32_t orig_len, trans_len;
		if (table_string(d, len, orig_table, i, swapped, &orig, &orig_len) != 0 ||
		    table_string(d, len, trans_table, i, swapped, &trans, &trans_len) != 0)
			return FR_ERR_INVALID;
		/* Binary search needs msgfmt's order; a file that is not in
		 * it is not msgfmt's. */
		if (i > 0 && strcmp(cat->entries[i - 1].orig, orig) >= 0)
			return FR_ERR_INVALID;
		cat->entries[i].orig = orig;
		if (orig_len == 0) {
			/* The header: charset and plural rule. */
			if (!header_charset_ok(trans, trans_len))
				return FR_ERR_INVALID;
			int r = fr_plural_parse_header(trans, trans_len, &cat->plural);
			if (r != FR_OK && r != FR_ERR_NOT_FOUND)
				return FR_ERR_INVALID;
			continue;
		}
		if (usable_translation(orig, orig_len, trans, trans_len)) {
			cat->entries[i].trans = trans;
			cat->entries[i].trans_len = trans_len;
			cat->usable++;
		} else {
			cat->dropped++;
		}
	}
	return FR_OK;
}

int
fr_catalog_parse(const uint8_t *data, size_t len, struct fr_catalog **out)
{
	struct fr_catalog *cat;
	bool swapped;
	int r;

	*out = NULL;
	if (len > FR_CATALOG_MAX_SIZE)
		return FR_ERR_TOO_LARGE;
	if (len < MO_HEADER_LEN)
		return FR_ERR_INVALID;
	uint32_t magic = get_u32(data, false);
	if (magic == MO_MAGIC)
		swapped = false;
	else if (magic == MO_MAGIC_SWAPPED)
		swapped = true;
	else
		return FR_ERR_INVALID;
	/* Major revisions 0 and 1; 1 adds system-dependent strings, which
	 * this reader does not use (their msgids are then not found). */
	if ((get_u32(data + 4, swapped) >> 16) > 1)
		return FR_ERR_INVALID;
	if ((cat = calloc(1, sizeof(*cat))) == NULL)
		return FR_ERR_NOMEM;
	if ((cat->data = malloc(len)) == NULL) {
		free(cat);
		return FR_ERR_NOMEM;
	}
	memcpy(cat->data, data, len);
	if ((r = parse_entries(cat, len, swapped)) != FR_OK) {
		fr_catalog_free(cat);
		return r;
	}
	*out = cat;
	return FR_OK;
}

void
fr_catalog_free(struct fr_catalog *cat)
{
	if (cat == NULL)
		return;
	free(cat->entries);
	free(cat->data);
	free(cat);
}

void
fr_catalog_counts(const struct fr_catalog *cat, size_t *usable, size_t *dropped)
{
	*usable = cat != NULL ? cat->usable : 0;
	*dropped = cat != NULL ? cat->dropped : 0;
}

static const struct entry *
find(const struct fr_catalog *cat, const char *msgid)
{
	size_t lo = 0, hi = cat->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(msgid, cat->entries[mid].orig);
		if (c == 0)
			return cat->entries[mid].trans != NULL ? &cat->entries[mid] : NULL;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *
fr_tr(const struct fr_catalog *cat, const char *msgid)
{
	const struct entry *e;

	if (cat == NULL || msgid == NULL || msgid[0] == '\0' || (e = find(cat, msgid)) == NULL)
		return msgid;
	/* A counted text asked for without a count: its first form. */
	return e->trans;
}

const char *
fr_trn(const struct fr_catalog *cat, const char *one, const char *many, unsigned long n)
{
	const struct entry *e;

	if (cat == NULL || one == NULL || one[0] == '\0' || (e = find(cat, one)) == NULL)
		return n == 1 ? one : many;
	unsigned form = fr_plural_form(&cat->plural, n);
	const char *s = e->trans, *end = e->trans + e->trans_len;
	for (unsigned i = 0; i < form; i++) {
		const char *nul = memchr(s, '\0', (size_t)(end - s));
		if (nul == NULL || nul == end)
			return n == 1 ? one : many; /* fewer forms than the rule: English */
		s = nul + 1;
	}
	return s;
}
