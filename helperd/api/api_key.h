/* The Freddy API key for /auth/dev-login, read once at start-up from a
 * file only root can read; the helper refuses to start otherwise. */
#ifndef API_KEY_H
#define API_KEY_H

#include <stddef.h>

#define API_KEY_MAX 512

/* *key_out is a secret (secret_free).  `err` names the file and problem. */
int api_key_load(const char *path, unsigned trusted_uid, char **key_out, char *err, size_t errlen);

/* Pure: the key from the file's text (first line, surrounding blanks
 * removed, printable ASCII without spaces). */
int api_key_parse(const char *text, size_t len, char **key_out);

#endif
