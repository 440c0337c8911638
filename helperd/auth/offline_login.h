/*
 * Offline login (offline_login = yes): when the API cannot be reached, a
 * user who logged in online within offline_days may log in with the
 * password (checked against the cached yescrypt verifier) plus a local
 * TOTP code if one is enrolled.  Failures are counted per user in memory;
 * after offline_max_failures every attempt waits out a delay.
 */
#ifndef OFFLINE_LOGIN_H
#define OFFLINE_LOGIN_H

#include <stdint.h>

#include "auth/login.h"

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

/* Call when the API was unreachable while checking `password`. */
enum offline_step offline_login_try(struct login *lg, const char *password);
/* The answer to the offline code prompt; always finishes the login. */
void offline_login_code(struct login *lg, const char *code);

#endif
