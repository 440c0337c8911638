/*
 * TOTP codes (RFC 6238) checked with liboath, in constant time.
 */
#include "config.h"

#include <string.h>

#include <liboath/oath.h>

#include "crypto/totp.h"
#include "fr_error.h"

/* liboath's own comparison is strcmp; a code's matching prefix must not
 * show in the time the check takes. */
static int
compare_code(void *handle, const char *candidate)
{
	const char *code = handle;
	size_t n = strlen(code);
	unsigned char diff = 0;

	if (strlen(candidate) != n)
		return 1;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(code[i] ^ candidate[i]);
	return diff != 0;
}

int
totp_verify(const struct totp_entry *e, const char *code, time_t now, unsigned window, uint64_t *counter)
{
	size_t n = strlen(code);
	int pos = 0, r;

	*counter = 0;
	/* liboath takes the code's length as the digit count: check it first. */
	if (n != e->digits || e->secret_len == 0 || e->step == 0)
		return FR_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return FR_ERR_INVALID;
	if (oath_init() != OATH_OK)
		return FR_ERR_INTERNAL;
	r = oath_totp_validate3_callback((const char *)e->secret, e->secret_len, now, e->step, 0, e->digits, window,
					 &pos, counter, compare_code, (void *)code);
	oath_done();
	if (r < 0) {
		*counter = 0;
		return r == OATH_INVALID_OTP ? FR_ERR_INVALID : FR_ERR_INTERNAL;
	}
	return FR_OK;
}
