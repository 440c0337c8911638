/*
 * The listening socket and its connections: accept, SO_PEERCRED, who may
 * hold how many connections, bounded buffers, framing, deadlines, and
 * which message each connection state accepts.  Nothing here knows what a
 * request means: a fresh connection's message goes to the on_request
 * callback (the request table, requests/table.c); a malformed message
 * closes that one connection only.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/caller_quota.h"
#include "core/helper_config.h"
#include "core/loop.h"
#include "fr_wire.h"

struct server;
struct conn;
struct l10n;

struct conn_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* Whoever owns a connection's current request. */
struct conn_handler {
	/* The person's answer to the last prompt; text is "" for none and is
	 * wiped after the call.  NULL for requests that ask nothing. */
	void (*answer)(void *obj, const char *text);
	/* The connection is going away (peer left, timeout, shutdown). */
	void (*abort)(void *obj);
};

/* A fresh connection's first message.  False: no such request, and the
 * connection is closed (as OpenSSH's monitor does with an unknown type). */
typedef bool (*server_request_fn)(void *ctx, struct conn *c, const struct fr_msg *msg);

/* listen_fd >= 0: an inherited listening socket (systemd).  `cfg` is read
 * at each use (a reload changes it in place). */
int server_open(struct loop *loop, const struct config *cfg, struct caller_quota *quota, int listen_fd,
		server_request_fn on_request, void *request_ctx, struct server **out);
void server_free(struct server *srv);
/* The catalogues its own refusals are written from (core/l10n.h). */
void server_set_l10n(struct server *srv, const struct l10n *l10n);
unsigned server_clients(const struct server *srv);
/* Stop accepting new connections (shutdown): close the listener and
 * remove the socket file it created; open connections carry on. */
void server_stop_listening(struct server *srv);

/* Where refused callers are recorded (core/audit.h); NULL: nowhere. */
struct audit;
void server_set_audit(struct server *srv, struct audit *audit);

/* A request refused for capacity, for the summary line (refusal_log.h). */
void server_note_refusal(struct server *srv, int kind, uid_t uid);

const struct conn_peer *conn_peer(const struct conn *c);
void conn_set_handler(struct conn *c, const struct conn_handler *handler, void *obj);
/* Queue a frame (finished here) and wipe it. */
int conn_send(struct conn *c, struct fr_frame *frame);
/* The next message must be ANSWER, within timeout_s. */
void conn_expect_answer(struct conn *c, unsigned timeout_s);
/* The request is over: flush what is queued, then close. */
void conn_finish(struct conn *c);

#endif
