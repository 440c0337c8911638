/* Open PAM sessions per user, as reported by pam_sm_open/close_session. */
#ifndef SESSIONS_H
#define SESSIONS_H

#include "fr_wire.h"
#include "helper.h"

struct conn;

int sessions_new(struct session_table **out);
void sessions_free(struct session_table *t);
unsigned sessions_open_total(const struct session_table *t);
/* Open sessions of one user. */
unsigned sessions_open_for(const struct session_table *t, const char *user);

void sessions_event(struct helper *h, struct conn *c, const struct fr_msg *msg);

#endif
