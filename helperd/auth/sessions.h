/*
 * Open PAM sessions per user, as reported by pam_sm_open/close_session.
 * When a user's last session closes, the API session ends where the
 * profile has a logout (auth/logout.c) and, with forget_on_logout, the
 * cached tokens go.
 */
#ifndef SESSIONS_H
#define SESSIONS_H

#include "helper.h"

int sessions_new(struct session_table **out);
void sessions_free(struct session_table *t);
unsigned sessions_open_total(const struct session_table *t);
/* Open sessions of one user. */
unsigned sessions_open_for(const struct session_table *t, const char *user);

/* FR_OK or FR_ERR_NOMEM. */
int sessions_opened(struct helper *h, const char *user);
/* A close with no open session counts nothing. */
void sessions_closed(struct helper *h, const char *user);

#endif
