/*
 * TOTP codes (RFC 6238) checked by liboath for the flows whose API has no
 * second factor of its own; the users file is hostlib/totp_users.h, the
 * used steps store/totp_replay.h.
 */
#ifndef TOTP_H
#define TOTP_H

#include <stdint.h>
#include <time.h>

#include "hostlib/totp_users.h"

/* Check `code` against the entry at time `now`, `window` steps either
 * side.  On success *counter is the matched time step (now/step + drift).
 * FR_ERR_INVALID when the code does not match or is malformed. */
int totp_verify(const struct totp_entry *e, const char *code, time_t now, unsigned window, uint64_t *counter);

#endif
