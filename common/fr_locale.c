#include "config.h"

#include <string.h>

#include "fr_locale.h"

#define PART_MAX 16

/* One element of a list, taken apart. */
struct locale_parts {
	bool is_c; /* C or POSIX */
	char lang[4], territory[4], codeset[PART_MAX + 1], modifier[PART_MAX + 1];
};

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_codeset_char(char c)
{
	return is_lower(c) || is_upper(c) || is_digit(c) || c == '-' || c == '_';
}

/* Copies the run of s[*i..len) that `ok` accepts, 1..cap-1 bytes, into out. */
static bool
take_run(const char *s, size_t len, size_t *i, bool (*ok)(char), char *out, size_t cap)
{
	size_t n = 0;

	while (*i < len && ok(s[*i])) {
		if (n + 1 >= cap)
			return false;
		out[n++] = s[(*i)++];
	}
	out[n] = '\0';
	return n > 0;
}

static bool
is_modifier_char(char c)
{
	return is_lower(c) || is_digit(c);
}

static bool
parse_element(const char *s, size_t len, struct locale_parts *p)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	if (len == 0 || len > FR_LOCALE_NAME_MAX)
		return false;
	if ((len >= 1 && s[0] == 'C' && (len == 1 || s[1] == '.')) ||
	    (len >= 5 && memcmp(s, "POSIX", 5) == 0 && (len == 5 || s[5] == '.'))) {
		p->is_c = true;
		i = s[0] == 'C' ? 1 : 5;
		if (i < len) {
			i++;
			if (!take_run(s, len, &i, is_codeset_char, p->codeset, sizeof(p->codeset)))
				return false;
		}
		return i == len;
	}
	if (!take_run(s, len, &i, is_lower, p->lang, sizeof(p->lang)) || strlen(p->lang) < 2)
		return false;
	if (i < len && s[i] == '_') {
		i++;
		if (i + 2 <= len && is_upper(s[i]) && is_upper(s[i + 1])) {
			memcpy(p->territory, s + i, 2);
			i += 2;
		} else if (i + 3 <= len && is_digit(s[i]) && is_digit(s[i + 1]) && is_digit(s[i + 2])) {
			memcpy(p->territory, s + i, 3);
			i += 3;
		} else {
			return false;
		}
	}
	if (i < len && s[i] == '.') {
		i++;
		if (!take_run(s, len, &i, is_codeset_char, p->codeset, sizeof(p->codeset)))
			return false;
	}
	if (i < len && s[i] == '@') {
		i++;
		if (!take_run(s, len, &i, is_modifier_char, p->modifier, sizeof(p->modifier)))
			return false;
	}
	return i == len;
}

/* Calls `each` for every non-empty element; false at the first one that
 * does not parse, or when `each` says stop. */
static bool
for_each_element(const char *list, bool (*each)(void *arg, const struct locale_parts *p), void *arg)
{
	size_t len = strnlen(list, FR_LOCALE_MAX + 1), elements = 0;
	struct locale_parts parts;

	if (len == 0 || len > FR_LOCALE_MAX)
		return false;
	for (size_t start = 0; start <= len;) {
		const char *colon = memchr(list + start, ':', len - start);
		size_t end = colon != NULL ? (size_t)(colon - list) : len;
		if (end > start) {
			if (!parse_element(list + start, end - start, &parts))
				return false;
			elements++;
			if (each != NULL && !each(arg, &parts))
				return true;
		}
		start = end + 1;
	}
	return elements > 0;
}

bool
fr_locale_list_valid(const char *s)
{
	return s != NULL && for_each_element(s, NULL, NULL);
}

bool
fr_locale_name_valid(const char *s)
{
	struct locale_parts p;

	return s != NULL && parse_element(s, strnlen(s, FR_LOCALE_NAME_MAX + 1), &p) && !p.is_c;
}

struct candidates {
	char (*out)[FR_LOCALE_NAME_MAX + 1];
	size_t max, n;
};

static void
add_candidate(struct candidates *c, const char *lang, const char *territory, const char *modifier)
{
	char name[FR_LOCALE_NAME_MAX + 1];
	size_t n = 0, parts[3] = { strlen(lang), strlen(territory), strlen(modifier) };

	/* Bounded by the grammar: 3 + 1 + 3 + 1 + 16 < sizeof(name). */
	memcpy(name, lang, parts[0]);
	n = parts[0];
	if (parts[1] > 0) {
		name[n++] = '_';
		memcpy(name + n, territory, parts[1]);
		n += parts[1];
	}
	if (parts[2] > 0) {
		name[n++] = '@';
		memcpy(name + n, modifier, parts[2]);
		n += parts[2];
	}
	name[n] = '\0';
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->out[i], name) == 0)
			return;
	if (c->n < c->max)
		memcpy(c->out[c->n++], name, n + 1);
}

static bool
codeset_is_utf8(const char *codeset)
{
	static const char *const names[] = { "", "UTF-8", "utf-8", "UTF8", "utf8" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(codeset, names[i]) == 0)
			return true;
	return false;
}

static bool
collect(void *arg, const struct locale_parts *p)
{
	struct candidates *c = arg;

	if (p->is_c)
		return false;
	if (!codeset_is_utf8(p->codeset))
		return true;
	if (p->territory[0] != '\0') {
		if (p->modifier[0] != '\0')
			add_candidate(c, p->lang, p->territory, p->modifier);
		add_candidate(c, p->lang, p->territory, "");
	}
	if (p->modifier[0] != '\0')
		add_candidate(c, p->lang, "", p->modifier);
	add_candidate(c, p->lang, "", "");
	return true;
}

size_t
fr_locale_candidates(const char *list, char out[][FR_LOCALE_NAME_MAX + 1], size_t max)
{
	struct candidates c = { out, max, 0 };

	if (list == NULL || !fr_locale_list_valid(list))
		return 0;
	(void)for_each_element(list, collect, &c);
	return c.n;
}
