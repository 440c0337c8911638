#include "config.h"

#include <string.h>

#include "check.h"
#include "fr_text.h"

static const char *
clean(const char *in, unsigned flags)
{
	static char out[256];

	fr_text_sanitize(out, sizeof(out), in, strlen(in), flags);
	return out;
}

int
main(void)
{
	char small[6];

	CHECK(strcmp(clean("plain text", 0), "plain text") == 0);
	CHECK(strcmp(clean("\x1b[31mEVIL\x1b[0m", 0), "?[31mEVIL?[0m") == 0);
	CHECK(strcmp(clean("a\r\nb", 0), "a? b") == 0);
	CHECK(strcmp(clean("a\nb", FR_TEXT_ALLOW_NEWLINE), "a\nb") == 0);
	CHECK(strcmp(clean("tab\there", 0), "tab here") == 0);
	CHECK(strcmp(clean("del\x7f", 0), "del?") == 0);
	CHECK(strcmp(clean("caf\xc3\xa9", 0), "caf\xc3\xa9") == 0); /* UTF-8 kept */
	CHECK(strcmp(clean("csi\xc2\x9b", 0), "csi??") == 0);	    /* C1 CSI refused */
	CHECK(strcmp(clean("bad\xff", 0), "bad?") == 0);
	CHECK(strcmp(clean("over\xc0\xaf", 0), "over??") == 0);	   /* overlong */
	CHECK(strcmp(clean("sur\xed\xa0\x80", 0), "sur???") == 0); /* surrogate */
	/* Invisible format characters are dropped: RLO (U+202E), LRI..PDI
	 * (U+2066, U+2069), LS/PS (U+2028, U+2029), ZWSP (U+200B), ZWJ
	 * (U+200D), BOM (U+FEFF), a tag character (U+E0041). */
	CHECK(strcmp(clean("moc.\xe2\x80\xaelive", 0), "moc.live") == 0);
	CHECK(strcmp(clean("a\xe2\x81\xa6"
			   "b\xe2\x81\xa9"
			   "c",
			   0),
		     "abc") == 0);
	CHECK(strcmp(clean("line\xe2\x80\xa8two\xe2\x80\xa9", FR_TEXT_ALLOW_NEWLINE), "linetwo") == 0);
	CHECK(strcmp(clean("zero\xe2\x80\x8bwidth\xe2\x80\x8d\xef\xbb\xbf", 0), "zerowidth") == 0);
	CHECK(strcmp(clean("tag\xf3\xa0\x81\x81", 0), "tag") == 0);
	CHECK(strcmp(clean("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x81\xa7\xe2\x81\xa8", 0), "") == 0);
	/* Visible neighbours of those ranges stay: EN DASH U+2013, ELLIPSIS
	 * U+2026, NNBSP U+202F, SUPERSCRIPT ZERO U+2070. */
	CHECK(strcmp(clean("\xe2\x80\x93\xe2\x80\xa6\xe2\x80\xaf\xe2\x81\xb0", 0),
		     "\xe2\x80\x93\xe2\x80\xa6\xe2\x80\xaf\xe2\x81\xb0") == 0);
	/* Truncation keeps whole characters and a terminator. */
	CHECK(fr_text_sanitize(small, sizeof(small), "ab\xc3\xa9\xc3\xa9", 6, 0) == 4);
	CHECK(strcmp(small, "ab\xc3\xa9") == 0);
	CHECK(fr_text_sanitize(small, sizeof(small), "abcdefgh", 8, 0) == 5);
	/* Stops at NUL even if inlen says more. */
	CHECK(fr_text_sanitize(small, sizeof(small), "a\0b", 3, 0) == 1);
	return check_finish("test_text");
}
