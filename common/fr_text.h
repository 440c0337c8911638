/*
 * Text that reaches a terminal or a log.  Server messages are hostile:
 * an escape sequence in an error message would otherwise drive the user's
 * terminal.  Pure functions, fuzzed.
 */
#ifndef FR_TEXT_H
#define FR_TEXT_H

#include <stddef.h>

#define FR_TEXT_ALLOW_NEWLINE 0x1

/* Copy at most `inlen` bytes of `in` to `out` (always NUL-terminated when
 * outsz > 0), replacing C0/C1 control characters, DEL and malformed UTF-8
 * with '?', and tabs (and newlines unless allowed) with spaces; drops
 * invisible format characters (bidirectional controls U+202A-U+202E and
 * U+2066-U+2069, U+2028/U+2029 line and paragraph separators, zero-width
 * characters, U+FEFF, Unicode tags).  Truncates
 * on a character boundary.  Returns the length written. */
size_t fr_text_sanitize(char *out, size_t outsz, const char *in, size_t inlen, unsigned flags);

#endif
