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

#include <stddef.h>
#include <stdint.h>

struct totp_replay;
struct state_writer;

/* `dirfd` is the cache folder, read when a user's step is first needed. */
int totp_replay_new(int dirfd, struct state_writer *writer, struct totp_replay **out);
void totp_replay_free(struct totp_replay *rs);

/* `step` (the time step a code matched, crypto/totp.h) was just used by
 * `user`: FR_OK, recorded before it counts; FR_ERR_DUPLICATE when it is
 * at or before the user's last accepted one (a replay); FR_ERR_IO when
 * the user's step file is corrupt or not ours (refused rather than risk a
 * replay); FR_ERR_NOMEM. */
int totp_replay_record(struct totp_replay *rs, const char *user, uint64_t step);

/* The last accepted time step of `user` from ".totp=USER" in `dirfd`: 0
 * when there is none.  FR_ERR_INVALID (corrupt), FR_ERR_UNTRUSTED (not a
 * private file of ours), FR_ERR_IO. */
int totp_replay_load(int dirfd, const char *user, uint64_t *last);

/* Pure: the file's contents, one decimal number and a newline. */
int totp_replay_parse(const char *text, size_t len, uint64_t *last);

#endif
