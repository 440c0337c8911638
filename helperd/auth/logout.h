/*
 * Ending an API session, for the profiles that have a logout (api/jwt.c):
 * when a user's last PAM session closes, and when a login is refused after
 * the API had already given tokens (a wrong local TOTP code, the person
 * gone).  Fire and forget: the outcome is logged; a logout outlives the
 * request that caused it and owns its copies of the tokens.
 */
#ifndef LOGOUT_H
#define LOGOUT_H

#include "helper.h"

/* Before forget_on_logout drops the cached tokens: reads them (copies). */
void logout_user(struct helper *h, const char *user);
/* `access_token` (secret) is consumed. */
void logout_discard(struct helper *h, const char *user, char *access_token);

#endif
