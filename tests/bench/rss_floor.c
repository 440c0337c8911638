/*
 * rss_floor: the resident memory of a process that links what
 * freddy-helperd links (libcurl with its 30-odd dependencies, OpenSSL,
 * jansson, liboath, libcrypt) and initialises curl, and does nothing else.
 * The benchmark prints it next to the helper's idle RSS, so the reader can
 * tell the libraries' share from the helper's own.
 *
 * Prints "VmRSS_kib RssAnon_kib RssFile_kib".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crypt.h>
#include <curl/curl.h>
#include <jansson.h>
#include <liboath/oath.h>

static long
status_kib(const char *text, const char *key)
{
	const char *line = strstr(text, key);

	return line != NULL ? strtol(line + strlen(key), NULL, 10) : -1;
}

int
main(void)
{
	static char status[8192];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || oath_init() != OATH_OK)
		return 1;
	/* Keep the other libraries linked (--as-needed would drop them). */
	json_t *probe = json_object();
	if (probe == NULL || crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL)
		return 1;
	json_decref(probe);

	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return 1;
	size_t n = fread(status, 1, sizeof(status) - 1, f);
	fclose(f);
	status[n] = '\0';
	printf("%ld %ld %ld\n", status_kib(status, "VmRSS:"), status_kib(status, "RssAnon:"),
	       status_kib(status, "RssFile:"));
	oath_done();
	curl_global_cleanup();
	return 0;
}
