#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_key.h"
#include "fr_error.h"
#include "hostlib/private_file.h"
#include "core/secret.h"

int
api_key_parse(const char *text, size_t len, char **key_out)
{
	size_t start = 0, end;

	*key_out = NULL;
	while (start < len && (text[start] == ' ' || text[start] == '\t'))
		start++;
	end = start;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	if (end == start || end - start > API_KEY_MAX)
		return FR_ERR_INVALID;
	for (size_t i = start; i < end; i++)
		if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
			return FR_ERR_INVALID;
	*key_out = secret_strndup(text + start, end - start);
	return *key_out != NULL ? FR_OK : FR_ERR_NOMEM;
}

int
api_key_load(const char *path, unsigned trusted_uid, char **key_out, char *err, size_t errlen)
{
	/* A key others can read is a key others have. */
	const struct private_file_rule rule = {
		.owner = 0,
		.other_owner = trusted_uid,
		.forbidden_mode = 0077,
		.max_size = 4096,
		.what = "api_key_file",
		.must_be = "a regular file owned by root with mode 0600 or 0400",
	};
	char *text = NULL;
	size_t len = 0;

	*key_out = NULL;
	int r = private_file_read(AT_FDCWD, path, &rule, &text, &len, err, errlen);
	if (r == FR_ERR_NOT_FOUND)
		snprintf(err, errlen, "api_key_file %s: cannot open: %s", path, strerror(ENOENT));
	if (r == FR_ERR_UNTRUSTED)
		return r;
	if (r == FR_ERR_TOO_LARGE)
		snprintf(err, errlen, "api_key_file %s: no usable key on its first line", path);
	if (r != FR_OK)
		return r == FR_ERR_NOMEM ? r : FR_ERR_CONFIG;
	r = api_key_parse(text, len, key_out);
	explicit_bzero(text, len);
	free(text);
	if (r != 0)
		snprintf(err, errlen, "api_key_file %s: no usable key on its first line", path);
	return r == FR_ERR_NOMEM ? r : (r != 0 ? FR_ERR_CONFIG : FR_OK);
}
