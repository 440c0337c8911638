/*
 * The freddyctl requests: TOKEN_GET (the caller's own access token,
 * refreshed when near expiry), STATUS_GET, and for root CACHE_LIST and
 * CACHE_FORGET.  The caller is whoever SO_PEERCRED says it is; no
 * message field can name another user's token.
 */
#ifndef CTL_REQUESTS_H
#define CTL_REQUESTS_H

#include "fr_wire.h"
#include "helper.h"

struct conn;

void ctl_requests_dispatch(struct helper *h, struct conn *c, const struct fr_msg *msg);

#endif
