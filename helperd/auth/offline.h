/*
 * Offline login (offline_login = yes): during an outage of the API, a user
 * who logged in online within offline_days may log in with the password
 * (checked against the cached yescrypt verifier) and a local TOTP code;
 * the password alone only with offline_password_only.  Failures are
 * counted per user in memory; after offline_max_failures every attempt
 * waits out a delay.
 */
#ifndef OFFLINE_H
#define OFFLINE_H

#include <stdint.h>

#include "crypto/totp.h"

struct login;

/* Delay after offline_max_failures consecutive failures, doubling with
 * each further failure up to the cap. */
#define OFFLINE_DELAY_S		60
#define OFFLINE_DELAY_MAX_S	3600

struct offline_guard;

/* Pure: seconds an attempt must wait after `failures` consecutive
 * failures (0 below max_failures). */
int64_t offline_delay_after(unsigned max_failures, unsigned failures);

int offline_guard_new(struct offline_guard **out);
void offline_guard_free(struct offline_guard *g);

enum offline_step {
	OFFLINE_NOT_APPLICABLE,	/* off, no record, too old: the flow reports the outage */
	OFFLINE_FINISHED,	/* the login was decided (login_finish was called) */
	OFFLINE_ASK_CODE,	/* a code prompt is out: pass the answer to offline_login_code */
};

/* Call when the API is down (an outage, api_health.h) while checking
 * `password`.  For OFFLINE_ASK_CODE, `entry` holds the user's TOTP entry
 * for offline_login_code (the caller wipes it). */
enum offline_step offline_login_try(struct login *lg, const char *password, struct totp_entry *entry);
/* The answer to the offline code prompt; always finishes the login. */
void offline_login_code(struct login *lg, const struct totp_entry *entry, const char *code);

#endif
