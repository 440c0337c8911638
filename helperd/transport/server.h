/*
 * The listening socket and its connections: accept, SO_PEERCRED, bounded
 * buffers, framing, deadlines, and the table of which message each
 * connection state accepts.  What a request means is decided elsewhere
 * (requests.c); a malformed message closes that one connection only.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "fr_wire.h"
#include "helper.h"

struct server;
struct conn;

struct conn_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* Whoever owns a connection's current request. */
struct conn_handler {
	/* The person's answer to the last prompt; text is "" for none and is
	 * wiped after the call. */
	void (*answer)(void *obj, const char *text);
	/* The connection is going away (peer left, timeout, shutdown). */
	void (*abort)(void *obj);
};

/* listen_fd >= 0: an inherited listening socket (systemd). */
int server_open(struct helper *h, int listen_fd, struct server **out);
void server_free(struct server *srv);
unsigned server_clients(const struct server *srv);
/* Stop accepting new connections (shutdown): close the listener and
 * remove the socket file it created; open connections carry on. */
void server_stop_listening(struct server *srv);

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
