/*
 * What each non-root caller uid holds of the helper's shared capacity:
 * open connections and logins in progress.  A screen locker needs one or
 * two of each; a uid at its limit is refused, so that no local user can
 * take the connections, prompts or verifier time others need.  Root
 * callers (sshd, sudo, su, login) are not counted here: they have
 * capacity of their own (reserved_root_clients).
 */
#ifndef CALLER_QUOTA_H
#define CALLER_QUOTA_H

#include <sys/types.h>

struct caller_quota;

enum quota_kind { QUOTA_CONNECTIONS = 0, QUOTA_LOGINS, QUOTA_KINDS };

int caller_quota_new(struct caller_quota **out);
void caller_quota_free(struct caller_quota *q);

/* What `uid` holds of `kind` now (0 for root and for unknown uids). */
unsigned caller_quota_held(const struct caller_quota *q, uid_t uid, enum quota_kind kind);
/* Take one (FR_OK) or give one back; root is never counted.  Taking
 * fails only when memory does (FR_ERR_NOMEM): callers check the limit
 * with caller_quota_held first. */
int caller_quota_take(struct caller_quota *q, uid_t uid, enum quota_kind kind);
void caller_quota_give(struct caller_quota *q, uid_t uid, enum quota_kind kind);
/* All non-root uids together. */
unsigned caller_quota_total(const struct caller_quota *q, enum quota_kind kind);

#endif
