#include "config.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "crypto/verifier.h"

/* struct crypt_data is about 32 KiB: on the heap, and wiped, because
 * crypt_r leaves intermediate state of the password in it. */
static struct crypt_data *
crypt_data_new(void)
{
	return calloc(1, sizeof(struct crypt_data));
}

static void
crypt_data_free(struct crypt_data *cd)
{
	if (cd == NULL)
		return;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

char *
verifier_make(const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	char *out = NULL;

	/* count 0 = libxcrypt's default yescrypt cost; NULL rbytes = salt
	 * from the kernel's random source. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL) {
		log_err("crypt_gensalt_rn($y$) failed");
		return NULL;
	}
	if ((cd = crypt_data_new()) == NULL)
		return NULL;
	const char *hash = crypt_r(password, setting, cd);
	/* libxcrypt returns a string starting with '*' on failure. */
	if (hash != NULL && strncmp(hash, "$y$", 3) == 0)
		out = strdup(hash);
	else
		log_err("yescrypt failed; no password verifier kept");
	crypt_data_free(cd);
	return out;
}

bool
verifier_check(const char *verifier, const char *password)
{
	struct crypt_data *cd;
	bool ok = false;

	if (verifier == NULL || password == NULL || strncmp(verifier, "$y$", 3) != 0)
		return false;
	if ((cd = crypt_data_new()) == NULL)
		return false;
	const char *hash = crypt_r(password, verifier, cd);
	size_t n = strlen(verifier);
	if (hash != NULL && strlen(hash) == n) {
		unsigned char diff = 0;
		for (size_t i = 0; i < n; i++)
			diff |= (unsigned char)(hash[i] ^ verifier[i]);
		ok = diff == 0;
	}
	crypt_data_free(cd);
	return ok;
}
