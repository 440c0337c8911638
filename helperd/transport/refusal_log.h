/*
 * Refused and evicted connections, logged as one summary line per
 * interval: a connect storm makes thousands a second, and a line each
 * would flood the journal (and cost the loop more than the refusal).
 * The first event after a quiet interval is logged at once.
 */
#ifndef REFUSAL_LOG_H
#define REFUSAL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct audit;

#define REFUSAL_LOG_INTERVAL_MS 10000
#define REFUSAL_LOG_UIDS	4 /* uids named in a line */

enum refusal_kind {
	REFUSED_UID_CONNECTIONS, /* a non-root uid at max_clients_per_uid */
	REFUSED_UID_LOGINS,	 /* a non-root uid at max_logins_per_uid */
	REFUSED_UID_LOOKUPS,	 /* a non-root uid at its share of the account lookups */
	REFUSED_NONROOT_FULL,	 /* non-root callers at max_clients - reserved_root_clients */
	REFUSED_FULL,		 /* max_clients, nothing could make room */
	EVICTED_IDLE,		 /* a connection without a request made room */
	EVICTED_LOGIN,		 /* a non-root login at a prompt made room for root */
	REFUSAL_KINDS
};

struct refusal_log {
	unsigned count[REFUSAL_KINDS];
	uid_t uids[REFUSAL_LOG_UIDS];
	unsigned nuids;
	/* The callers refused (not evicted) in the interval: each gets one
	 * caller_refused audit record with the line, so that a connect storm
	 * makes a few records, not thousands. */
	uid_t refused[REFUSAL_LOG_UIDS];
	unsigned nrefused;
	struct audit *audit; /* NULL: no records */
	int64_t logged_ms;   /* when the last line was written */
};

void refusal_log_note(struct refusal_log *l, enum refusal_kind kind, uid_t uid, int64_t now_ms);
/* Writes the line for what was noted, if the interval has passed. */
void refusal_log_tick(struct refusal_log *l, int64_t now_ms);
/* Whether something noted waits for its line. */
bool refusal_log_pending(const struct refusal_log *l);

#endif
