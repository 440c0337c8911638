/*
 * The local TOTP step of a login (second_factor = totp, and offline
 * logins): the user's entry from totp_users_file, the prompt, and the
 * check (blanks ignored, a used time step refused: store/totp_replay.h).
 */
#ifndef TOTP_STEP_H
#define TOTP_STEP_H

#include "crypto/totp.h"

struct login;

/* 0, or FR_ERR_NOT_FOUND when the user has none (the caller decides what
 * that means), or another error, logged: the file cannot be used, and a
 * broken local setup is no reason to let anyone in. */
int totp_step_load(struct login *lg, struct totp_entry *entry);
/* The user has no line: refused, said only after the password was right. */
void totp_step_refuse_missing(struct login *lg);

enum totp_verdict {
	TOTP_ACCEPTED,
	TOTP_WRONG,		/* wrong or malformed: one attempt spent */
	TOTP_REPLAYED,		/* right, but its time step was used already (said to the person) */
	TOTP_ERROR,		/* the state cannot be kept: the login was finished */
};
enum totp_verdict totp_step_check(struct login *lg, const struct totp_entry *entry, const char *answer);

#endif
