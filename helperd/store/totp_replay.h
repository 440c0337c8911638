/*
 * Refusing a TOTP code the second time.  The last accepted time step of
 * each user is kept in memory, which is the truth, and in cache_dir as
 * ".totp=USER" (written behind by the state writer, so that a code
 * stays used across restarts).  A step file that cannot be written (the
 * disk is full) is retried and logged; the memory still refuses replays,
 * so nothing is lost silently while the helper runs.
 */
#ifndef TOTP_REPLAY_H
#define TOTP_REPLAY_H

#include <time.h>

#include "crypto/totp.h"

struct totp_replay;
struct state_writer;

/* `dirfd` is the cache folder, read when a user's step is first needed. */
int totp_replay_new(int dirfd, struct state_writer *writer, struct totp_replay **out);
void totp_replay_free(struct totp_replay *rs);

/* Verify `code` at `now` (`window` steps either side), refuse a step at or
 * before the user's last accepted one, and record the new step before
 * saying yes.  FR_OK; FR_ERR_INVALID wrong code; FR_ERR_DUPLICATE replay;
 * FR_ERR_IO the user's step file is corrupt or not ours (refused rather
 * than risk a replay); FR_ERR_NOMEM. */
int totp_replay_accept(struct totp_replay *rs, const struct totp_entry *e, const char *code, time_t now,
		       unsigned window, const char *user);

/* The last accepted time step of `user` from ".totp=USER" in `dirfd`: 0
 * when there is none.  FR_ERR_INVALID (corrupt), FR_ERR_UNTRUSTED (not a
 * private file of ours), FR_ERR_IO. */
int totp_replay_load(int dirfd, const char *user, uint64_t *last);

/* Pure: the file's contents, one decimal number and a newline. */
int totp_replay_parse(const char *text, size_t len, uint64_t *last);

#endif
