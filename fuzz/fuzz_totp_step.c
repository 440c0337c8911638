/* libFuzzer: the TOTP replay state file, ".totp=USER": one decimal number
 * and a newline.  A value the parser gives back must be exactly the
 * number written, and write back to a file that parses to it again; a
 * refused file must not be of that form, except for the last few values
 * below 2^64 that the overflow check refuses on purpose (a time step is
 * nowhere near them). */
#include "config.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fr_error.h"
#include "store/totp_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The largest value the parser takes: the check before each digit keeps
 * v * 10 + 9 from wrapping. */
#define STEP_MAX (((UINT64_MAX - 9) / 10) * 10 + 9)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	uint64_t last = 1, value = 0;
	int fits = 1;
	size_t digits = 0;

	/* The rule, in wide arithmetic. */
	while (digits < size && data[digits] >= '0' && data[digits] <= '9') {
		unsigned __int128 v = (unsigned __int128)value * 10 + (unsigned)(data[digits] - '0');
		if (v > STEP_MAX)
			fits = 0;
		value = fits ? (uint64_t)v : 0;
		digits++;
	}
	int form = digits > 0 && digits + 1 == size && data[digits] == '\n';

	int r = totp_replay_parse(text, size, &last);
	if (r == FR_OK) {
		if (!form || !fits || last != value)
			__builtin_trap();
		char again[32];
		int n = snprintf(again, sizeof(again), "%" PRIu64 "\n", last);
		uint64_t back = 1;
		if (n <= 0 || totp_replay_parse(again, (size_t)n, &back) != FR_OK || back != last)
			__builtin_trap();
	} else {
		if (r != FR_ERR_INVALID || last != 0 || (form && fits))
			__builtin_trap();
	}
	return 0;
}
