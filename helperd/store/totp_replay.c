#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr_error.h"
#include "hostlib/private_file.h"
#include "core/log.h"
#include "store/state_writer.h"
#include "store/totp_replay.h"
#include "hostlib/user_name.h"

#define REPLAY_BUCKETS 256 /* a power of two */

struct replay_entry {
	struct replay_entry *next;
	uint64_t last; /* the last accepted time step */
	char user[];
};

#define REPLAY_FILE_MAX 64

struct totp_replay {
	int dirfd;
	struct state_writer *writer;
	struct replay_entry *buckets[REPLAY_BUCKETS];
};

static size_t
bucket_of(const char *user)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h & (REPLAY_BUCKETS - 1);
}

int
totp_replay_parse(const char *text, size_t len, uint64_t *last)
{
	uint64_t v = 0;
	size_t i = 0;

	*last = 0;
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return FR_ERR_INVALID;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	if (i == 0 || i + 1 != len || text[i] != '\n')
		return FR_ERR_INVALID;
	*last = v;
	return FR_OK;
}

int
totp_replay_load(int dirfd, const char *user, uint64_t *last)
{
	/* The helper's own file: its uid, nobody else's eyes. */
	const struct private_file_rule rule = {
		.owner = geteuid(),
		.other_owner = geteuid(),
		.forbidden_mode = 0077,
		.max_size = REPLAY_FILE_MAX,
		.what = "TOTP replay state",
		.must_be = "a private file of the helper",
	};
	char name[USER_NAME_MAX + 8], err[256];
	char *text = NULL;
	size_t len = 0;

	*last = 0;
	/* '=' cannot occur in a user name, so this never meets a user's
	 * cache file or the cache's ".USER.tmp" files. */
	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	(void)snprintf(name, sizeof(name), ".totp=%s", user);
	int r = private_file_read(dirfd, name, &rule, &text, &len, err, sizeof(err));
	if (r == FR_ERR_NOT_FOUND)
		return FR_OK;
	if (r != FR_OK)
		return r == FR_ERR_TOO_LARGE ? FR_ERR_INVALID : r;
	r = totp_replay_parse(text, len, last);
	free(text);
	return r;
}

int
totp_replay_new(int dirfd, struct state_writer *writer, struct totp_replay **out)
{
	struct totp_replay *rs = calloc(1, sizeof(*rs));

	*out = NULL;
	if (rs == NULL)
		return FR_ERR_NOMEM;
	rs->dirfd = dirfd;
	rs->writer = writer;
	*out = rs;
	return FR_OK;
}

void
totp_replay_free(struct totp_replay *rs)
{
	if (rs == NULL)
		return;
	for (size_t b = 0; b < REPLAY_BUCKETS; b++) {
		while (rs->buckets[b] != NULL) {
			struct replay_entry *e = rs->buckets[b];
			rs->buckets[b] = e->next;
			free(e);
		}
	}
	free(rs);
}

/* The user's entry, read from the step file the first time. */
static int
entry_of(struct totp_replay *rs, const char *user, struct replay_entry **out)
{
	size_t b = bucket_of(user);
	uint64_t last = 0;

	for (struct replay_entry *e = rs->buckets[b]; e != NULL; e = e->next) {
		if (strcmp(e->user, user) == 0) {
			*out = e;
			return FR_OK;
		}
	}
	if (totp_replay_load(rs->dirfd, user, &last) != 0)
		return FR_ERR_IO; /* unreadable state: refuse rather than allow a replay */
	struct replay_entry *e = calloc(1, sizeof(*e) + strlen(user) + 1);
	if (e == NULL)
		return FR_ERR_NOMEM;
	memcpy(e->user, user, strlen(user) + 1);
	e->last = last;
	e->next = rs->buckets[b];
	rs->buckets[b] = e;
	*out = e;
	return FR_OK;
}

int
totp_replay_record(struct totp_replay *rs, const char *user, uint64_t step)
{
	struct replay_entry *entry;
	char name[USER_NAME_MAX + 8], text[32];
	int r;

	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	if ((r = entry_of(rs, user, &entry)) != 0)
		return r;
	/* A step at or before the last used one: the same code again, or an
	 * older one still inside the window. */
	if (step <= entry->last)
		return FR_ERR_DUPLICATE;
	entry->last = step;
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", step);
	(void)snprintf(name, sizeof(name), ".totp=%s", user); /* '=' is in no user name */
	if (rs->writer != NULL && state_writer_put(rs->writer, name, text, (size_t)n) != FR_OK)
		log_err("cannot queue the TOTP step of %s for writing; it is kept in memory", user);
	return FR_OK;
}
