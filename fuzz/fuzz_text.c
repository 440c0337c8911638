/* libFuzzer: the sanitiser every piece of server text passes through. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[512];

	if (size < 1)
		return 0;
	/* The first byte picks the flags and the output size. */
	unsigned flags = data[0] & FR_TEXT_ALLOW_NEWLINE;
	size_t outsz = (size_t)(data[0] >> 1) * 4 % sizeof(out);
	size_t n = fr_text_sanitize(out, outsz, (const char *)data + 1, size - 1, flags);

	if (outsz == 0)
		return n == 0 ? 0 : (__builtin_trap(), 0);
	if (n >= outsz || out[n] != '\0' || strlen(out) != n)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if ((c < 0x20 && !(c == '\n' && flags)) || c == 0x7f)
			__builtin_trap();
		/* No C1 controls: U+0080..U+009F encode as C2 80..C2 9F. */
		if (c == 0xc2 && i + 1 < n && (unsigned char)out[i + 1] >= 0x80 && (unsigned char)out[i + 1] <= 0x9f)
			__builtin_trap();
	}
	return 0;
}
