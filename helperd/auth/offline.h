/*
 * Offline login (offline_login = yes): during an outage of the API, a user
 * who logged in online within offline_days may log in with the password
 * (checked against the cached yescrypt verifier) and a local TOTP code;
 * the password alone only with offline_password_only.  Failures are
 * counted per user in memory; after offline_max_failures every attempt
 * waits out a delay.  The engine (auth/login.c) decides when to ask and
 * acts on the verdict; every offline login and failure is logged here.
 */
#ifndef OFFLINE_H
#define OFFLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/totp.h"
#include "fr_catalog.h"
#include "helper.h"

/* Delay after offline_max_failures consecutive failures, doubling with
 * each further failure up to the cap. */
#define OFFLINE_DELAY_S	    60
#define OFFLINE_DELAY_MAX_S 3600
#define OFFLINE_TEXT_MAX    192

struct offline_guard;

/* Pure: seconds an attempt must wait after `failures` consecutive
 * failures (0 below max_failures). */
int64_t offline_delay_after(unsigned max_failures, unsigned failures);

struct loop;
int offline_guard_new(struct loop *loop, struct offline_guard **out);
void offline_guard_free(struct offline_guard *g);

/* The login being decided; the verdict's texts are in `lang`. */
struct offline_login {
	const char *user, *service, *rhost;
	uid_t caller; /* whose share of the verifier threads the check uses */
	const struct fr_catalog *lang;
};

enum offline_kind {
	OFFLINE_NOT_APPLICABLE, /* off, no record, too old: report the outage */
	OFFLINE_ASK_CODE,	/* show `info`, ask `prompt`; pass the answer to offline_login_code */
	OFFLINE_SUCCEEDED,	/* show `info` (may be empty), then SUCCESS with `text` */
	OFFLINE_REFUSED,	/* AUTH_ERR with `text` */
	OFFLINE_DELAYED,	/* MAXTRIES with `text`: failures' delay running */
	OFFLINE_UNAVAILABLE,	/* the local setup cannot decide: `text` for the log */
	OFFLINE_ERROR,		/* the TOTP state cannot be kept (logged): SYSTEM_ERR */
};

struct offline_verdict {
	enum offline_kind kind;
	char info[OFFLINE_TEXT_MAX];
	char prompt[OFFLINE_TEXT_MAX];
	char text[OFFLINE_TEXT_MAX];
};

struct offline_attempt;
typedef void (*offline_done_fn)(void *ctx, const struct offline_verdict *verdict);

/* The API is down (an outage, api/health.h) while checking `password`.
 * False: decided at once, *now_verdict says what (NOT_APPLICABLE,
 * DELAYED, REFUSED, ERROR).  True: the password is checked against the
 * cached verifier on the verifier threads, one check per user at a time
 * (parallel guesses wait for the one before them to be counted); `done`
 * runs later from the loop, never from inside this call, and *attempt is
 * NULL again by then.  For OFFLINE_ASK_CODE, `entry` (which must live
 * until then) holds the user's TOTP entry for offline_login_code (the
 * caller wipes it). */
bool offline_login_start(struct helper *h, const struct offline_login *who, const char *password,
			 struct totp_entry *entry, offline_done_fn done, void *ctx, struct offline_attempt **attempt,
			 struct offline_verdict *now_verdict);
/* The login is going away; NULL is fine; `done` will not run. */
void offline_login_cancel(struct helper *h, struct offline_attempt **attempt);
/* The answer to the offline code prompt: SUCCEEDED or REFUSED. */
void offline_login_code(struct helper *h, const struct offline_login *who, const struct totp_entry *entry,
			const char *code, struct offline_verdict *out);

#endif
