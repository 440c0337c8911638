/* libFuzzer: the API key file's parser.  The key is the first line
 * (ended by LF or CR) without the blanks around it, non-empty, at most
 * API_KEY_MAX bytes of printable ASCII without spaces; anything else is
 * refused.  The harness states that rule on its own and holds the parser
 * to it both ways: what it accepts, and what it refuses. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_error.h"
#include "api/api_key.h"
#include "core/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *key = NULL;
	size_t start = 0, end = 0;

	/* The rule. */
	while (end < size && text[end] != '\n' && text[end] != '\r')
		end++;
	while (start < end && (text[start] == ' ' || text[start] == '\t'))
		start++;
	while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	int valid = end > start && end - start <= API_KEY_MAX;
	for (size_t i = start; valid && i < end; i++)
		valid = data[i] > 0x20 && data[i] < 0x7f;

	int r = api_key_parse(text, size, &key);
	if (r == FR_OK) {
		if (!valid || key == NULL || strlen(key) != end - start || memcmp(key, text + start, end - start) != 0)
			__builtin_trap();
		secret_free(key);
	} else {
		if (valid || r != FR_ERR_INVALID || key != NULL)
			__builtin_trap();
	}
	return 0;
}
