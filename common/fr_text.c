#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "fr_text.h"

/* Characters that print nothing but change what the rest looks like:
 * bidirectional overrides and isolates (a server could make "evil.com"
 * read as "moc.live"), line and paragraph separators (a second line in a
 * log or a prompt), zero-width and other invisible format characters, and
 * Unicode tags (invisible copies of ASCII).  They are dropped. */
static bool
is_invisible_format(uint32_t cp)
{
	return cp == 0x061c || cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206f) || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

/* Length of a well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0; *cp is its code point. */
static size_t
utf8_sequence_length(const unsigned char *s, size_t avail, uint32_t *cp_out)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;

	*cp_out = c;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp >= 0x80 && cp <= 0x9f) /* C1 controls, e.g. CSI */
		return 0;
	*cp_out = cp;
	return need;
}

size_t
fr_text_sanitize(char *out, size_t outsz, const char *in, size_t inlen, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0;

	if (outsz == 0)
		return 0;
	while (i < inlen && s[i] != '\0') {
		uint32_t cp = 0;
		size_t n = utf8_sequence_length(s + i, inlen - i, &cp);
		if (n > 1 && is_invisible_format(cp)) {
			i += n;
		} else if (n == 1) {
			char c = (char)s[i];
			if (s[i] == '\n' && (flags & FR_TEXT_ALLOW_NEWLINE))
				c = '\n';
			else if (s[i] == '\t' || s[i] == '\n')
				c = ' ';
			else if (s[i] < 0x20 || s[i] == 0x7f)
				c = '?';
			if (o + 1 >= outsz)
				break;
			out[o++] = c;
			i++;
		} else if (n == 0) {
			if (o + 1 >= outsz)
				break;
			out[o++] = '?';
			i++;
		} else {
			if (o + n >= outsz)
				break;
			for (size_t k = 0; k < n; k++)
				out[o++] = (char)s[i + k];
			i += n;
		}
	}
	out[o] = '\0';
	return o;
}
