/* libFuzzer: the freddy.conf parser, and the rate-limit state file. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fr_error.h"
#include "core/helper_config.h"
#include "store/ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
visit(void *ctx, const char *key, unsigned failures, int64_t last)
{
	(void)ctx;
	(void)failures;
	if (!ratelimit_key_valid(key) || last < 0)
		__builtin_trap();
	return FR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[256];

	if (size > CONFIG_MAX_SIZE)
		return 0;
	config_init(&cfg);
	int r = config_parse((const char *)data, size, "fuzz.conf", &cfg, err, sizeof(err));
	if (r == 0 && (cfg.api_url == NULL || strncmp(cfg.api_url, "https://", 8) != 0))
		__builtin_trap(); /* only https ever leaves the parser */
	if (r != 0 && strnlen(err, sizeof(err)) == sizeof(err))
		__builtin_trap();
	config_free(&cfg);

	(void)ratelimit_decode((const char *)data, size, visit, NULL);
	return 0;
}
