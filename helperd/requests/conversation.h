/*
 * A conversation on a connection: the engines that ask the person
 * something (a login, auth/login.h; a password change, auth/passwd.h)
 * speak through a login_io, and here it becomes frames.  The person's
 * answers and a departing client become calls into the engine.  One
 * conversation holds one of its non-root caller's QUOTA_LOGINS.
 */
#ifndef CONVERSATION_H
#define CONVERSATION_H

#include <stdbool.h>

#include "auth/login.h"
#include "requests/table.h"

struct conversation;

/* The engine behind a conversation. */
struct conversation_engine {
	void (*answer)(void *engine, const char *text);
	void (*abandon)(void *engine);
};

/* The io to give the engine, with the conversation as its ctx. */
extern const struct login_io conversation_io;

#define CONVERSATION_CONTEXT_MAX 256

/* The PAM context of a request, sanitised (it ends up in logs); NULL
 * where the request has no such tag. */
struct conversation_context {
	const char *service, *rhost, *tty, *ruser;
	char buf[4][CONVERSATION_CONTEXT_MAX];
};
void conversation_context(const struct fr_msg *msg, struct conversation_context *out);

/* Whether a non-root `caller` may hold one more conversation
 * (max_logins_per_uid); false: refused with DONE(BUSY). */
bool conversation_admit(struct request *rq, uid_t caller);

/* A conversation for `rq`'s connection, holding one QUOTA_LOGINS of
 * `caller` (a connection's peer uid); NULL when memory is short. */
struct conversation *conversation_new(struct request *rq, uid_t caller);
/* The engine is made: the person's answers go to it from now on.
 * `engine` NULL: it could not be made; the conversation ends with
 * DONE(SYSTEM_ERR). */
void conversation_attach(struct conversation *cv, const struct conversation_engine *ops, void *engine);

#endif
