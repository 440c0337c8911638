/*
 * The local TOTP step of a login (second_factor = totp, and offline
 * logins): the user's entry from totp_users_file, and the check of an
 * answer (blanks ignored, a used time step refused: store/totp_replay.h).
 * `who` names the login in log lines (the profile: "jwt-totp").
 */
#ifndef TOTP_STEP_H
#define TOTP_STEP_H

#include "crypto/totp.h"
#include "helper.h"

/* 0, or FR_ERR_NOT_FOUND when the user has none (the caller decides what
 * that means), or another error, logged: the file cannot be used, and a
 * broken local setup is no reason to let anyone in. */
int totp_step_load(struct helper *h, const char *who, const char *user, struct totp_entry *entry);

enum totp_verdict {
	TOTP_ACCEPTED,
	TOTP_WRONG,    /* wrong or malformed: one attempt spent */
	TOTP_REPLAYED, /* right, but its time step was used already */
	TOTP_ERROR,    /* the state cannot be kept (logged): refuse */
};
enum totp_verdict totp_step_check(struct helper *h, const char *who, const char *user, const struct totp_entry *entry,
				  const char *answer);

#endif
