#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/bytes.h"
#include "core/caller_quota.h"
#include "core/l10n.h"
#include "fr_error.h"
#include "core/log.h"
#include "core/loop.h"
#include "transport/refusal_log.h"
#include "transport/server.h"

#define CONN_OUT_LIMIT		(64 * 1024)
#define FIRST_REQUEST_TIMEOUT_S 10
#define FLUSH_TIMEOUT_S		5
#define ACCEPT_PAUSE_MS		1000
/* Connections taken from the backlog per wake-up: a connect storm cannot
 * keep the loop from reading the requests already accepted. */
#define ACCEPT_BATCH 64
/* The listen backlog.  A connect storm keeps it full, and a root caller's
 * connection waits behind every one queued there, each taken and refused
 * in turn: SOMAXCONN (4096) had root's first prompt 33 ms behind two
 * storming processes on the test machine, 256 has it 6 ms.  A burst of
 * genuine clients larger than this waits in connect() (the module allows
 * it its connect timeout) and is let in as the loop takes the queue.
 * freddy-helperd.socket sets the same Backlog= under socket activation. */
#define LISTEN_BACKLOG 256

enum conn_state {
	CONN_WAIT_REQUEST, /* fresh: one request message allowed */
	CONN_WAIT_ANSWER,  /* a prompt is out: ANSWER allowed */
	CONN_BUSY,	   /* the helper is working: nothing allowed */
	CONN_FLUSHING,	   /* request over: send what is queued, close */
};

struct conn {
	struct loop_source src;
	struct server *srv;
	struct conn *prev, *next;
	struct conn *idle_prev, *idle_next; /* in an idle list while WAIT_REQUEST */
	bool idle;
	uint64_t accept_round; /* the accept batch that took it in */
	struct conn_peer peer;
	struct bytes in, out;
	enum conn_state state;
	struct loop_timer deadline; /* the request, an answer or the flush must come by then */
	uint32_t events;
	const struct conn_handler *handler;
	void *handler_obj;
	struct loop_deferred release;
};

/* Connections that have not sent their request, oldest first: the first
 * to go when room is needed.  One list for root callers, one for the rest. */
struct idle_list {
	struct conn *head, *tail;
};

struct server {
	struct loop *loop;
	const struct config *cfg; /* the live one: a reload changes it in place */
	struct caller_quota *quota;
	server_request_fn on_request;
	void *request_ctx;
	struct loop_source listener;
	struct loop_timer accept_resume; /* after a pause for EMFILE and the like */
	struct loop_timer summary;	 /* the refusal line of the interval */
	struct conn *conns;
	unsigned nconns;
	struct idle_list idle_root, idle_user;
	struct refusal_log refusals;
	uint64_t accept_round; /* batches of accepts so far */
	char *created_path;    /* unlinked at exit */
	int listening;
	const struct l10n *l10n; /* for the refusals of a full helper; NULL: English */
};

static void conn_close(struct conn *c, const char *why);
static void note_refusal(struct server *srv, enum refusal_kind kind, uid_t uid);

static struct idle_list *
idle_list_of(struct conn *c)
{
	return c->peer.uid == 0 ? &c->srv->idle_root : &c->srv->idle_user;
}

static void
idle_add(struct conn *c)
{
	struct idle_list *l = idle_list_of(c);

	c->idle_next = NULL;
	c->idle_prev = l->tail;
	if (l->tail != NULL)
		l->tail->idle_next = c;
	else
		l->head = c;
	l->tail = c;
	c->idle = true;
}

static void
idle_remove(struct conn *c)
{
	struct idle_list *l = idle_list_of(c);

	if (!c->idle)
		return;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		l->head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		l->tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->idle = false;
}

static void
set_deadline(struct conn *c, unsigned seconds)
{
	struct loop *loop = c->srv->loop;

	if (seconds == 0) {
		loop_timer_cancel(loop, &c->deadline);
		return;
	}
	/* Without a deadline a silent client would hold its slot for ever. */
	if (loop_timer_set(loop, &c->deadline, loop_now_ms() + (int64_t)seconds * 1000) != 0)
		conn_close(c, "no memory for a deadline");
}

static void
conn_on_deadline(struct loop_timer *t)
{
	struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, deadline));

	conn_close(c, "timed out");
}

static void
conn_release(void *arg)
{
	struct conn *c = arg;

	bytes_free(&c->in);
	bytes_free(&c->out);
	free(c);
}

static void
conn_close(struct conn *c, const char *why)
{
	struct server *srv = c->srv;

	if (c->src.dead)
		return;
	if (why != NULL)
		log_debug("closing connection from uid %u pid %d: %s", (unsigned)c->peer.uid, (int)c->peer.pid, why);
	const struct conn_handler *handler = c->handler;
	c->handler = NULL;
	if (handler != NULL)
		handler->abort(c->handler_obj);
	idle_remove(c);
	loop_timer_cancel(srv->loop, &c->deadline);
	caller_quota_give(srv->quota, c->peer.uid, QUOTA_CONNECTIONS);
	loop_remove(srv->loop, &c->src);
	close(c->src.fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nconns--;
	loop_defer(srv->loop, &c->release, conn_release, c);
}

static void
conn_update_events(struct conn *c)
{
	uint32_t want = EPOLLIN | (c->out.len > 0 ? EPOLLOUT : 0);

	if (want != c->events) {
		if (loop_modify(c->srv->loop, &c->src, want) != 0) {
			conn_close(c, "epoll_ctl failed");
			return;
		}
		c->events = want;
	}
}

static void
conn_flush(struct conn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->src.fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c, "send failed");
			return;
		}
		bytes_consume(&c->out, (size_t)n);
	}
	/* A client waits for the API with nothing queued either way: a storm
	 * keeps a thousand of these, so an empty buffer goes back. */
	if (c->out.len == 0)
		bytes_free(&c->out);
	if (c->out.len == 0 && c->state == CONN_FLUSHING) {
		conn_close(c, NULL);
		return;
	}
	conn_update_events(c);
}

const struct conn_peer *
conn_peer(const struct conn *c)
{
	return &c->peer;
}

void
conn_set_handler(struct conn *c, const struct conn_handler *handler, void *obj)
{
	c->handler = handler;
	c->handler_obj = obj;
}

int
conn_send(struct conn *c, struct fr_frame *frame)
{
	int r = fr_frame_finish(frame);

	if (r == 0 && !c->src.dead)
		r = bytes_append(&c->out, frame->buf, frame->len, CONN_OUT_LIMIT);
	fr_frame_wipe(frame);
	if (c->src.dead)
		return FR_ERR_CLOSED;
	if (r != 0) {
		log_warn("cannot queue a reply for pid %d: %s", (int)c->peer.pid, fr_strerror(r));
		conn_close(c, "reply could not be queued");
		return r;
	}
	conn_flush(c);
	return c->src.dead ? FR_ERR_CLOSED : FR_OK;
}

void
conn_expect_answer(struct conn *c, unsigned timeout_s)
{
	if (c->src.dead)
		return;
	c->state = CONN_WAIT_ANSWER;
	set_deadline(c, timeout_s);
}

void
conn_finish(struct conn *c)
{
	if (c->src.dead)
		return;
	c->handler = NULL;
	c->state = CONN_FLUSHING;
	set_deadline(c, FLUSH_TIMEOUT_S);
	conn_flush(c);
}

static void
conn_dispatch(struct conn *c, const struct fr_msg *msg)
{
	switch (c->state) {
	case CONN_WAIT_REQUEST:
		c->state = CONN_BUSY;
		idle_remove(c);
		set_deadline(c, 0);
		/* Only the request table knows which messages are requests. */
		if (!c->srv->on_request(c->srv->request_ctx, c, msg))
			conn_close(c, "not a request");
		return;
	case CONN_WAIT_ANSWER:
		if (msg->type != FR_MSG_ANSWER || c->handler == NULL || c->handler->answer == NULL) {
			conn_close(c, "expected an answer");
			return;
		}
		c->state = CONN_BUSY;
		set_deadline(c, 0);
		const char *text = fr_msg_str(msg, FR_TAG_TEXT);
		c->handler->answer(c->handler_obj, text != NULL ? text : "");
		return;
	case CONN_BUSY:
	case CONN_FLUSHING:
		conn_close(c, "message while the helper was busy");
		return;
	}
}

/* Decode and dispatch every complete frame in the input buffer. */
static void
conn_process_input(struct conn *c)
{
	struct fr_msg msg;

	while (!c->src.dead && c->in.len >= FR_WIRE_HEADER_LEN) {
		size_t plen;
		int r = fr_wire_payload_length(c->in.data, c->in.len, &plen);
		if (r != 0) {
			conn_close(c, fr_strerror(r));
			return;
		}
		if (c->in.len < FR_WIRE_HEADER_LEN + plen)
			return;
		r = fr_msg_decode(c->in.data + FR_WIRE_HEADER_LEN, plen, &msg);
		bytes_consume(&c->in, FR_WIRE_HEADER_LEN + plen);
		if (r != 0) {
			log_warn("malformed message from uid %u pid %d: %s", (unsigned)c->peer.uid, (int)c->peer.pid,
				 fr_strerror(r));
			conn_close(c, "malformed message");
			return;
		}
		conn_dispatch(c, &msg);
		fr_msg_wipe(&msg);
	}
}

static void
conn_on_event(struct loop_source *src, uint32_t events)
{
	struct conn *c = (struct conn *)src;

	if (events & EPOLLOUT)
		conn_flush(c);
	if (c->src.dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		/* Frames from the module are a few hundred bytes: grow on
		 * demand, and give the buffer back once it is empty (below). */
		if (bytes_reserve(&c->in, c->in.len + 256 > FR_WIRE_MAX_FRAME ? FR_WIRE_MAX_FRAME : c->in.len + 256,
				  FR_WIRE_MAX_FRAME) != 0) {
			conn_close(c, "out of memory");
			return;
		}
		if (c->in.len == c->in.cap) {
			/* A whole frame fits, so a full buffer means the
			 * peer is ahead of the protocol. */
			conn_close(c, "input overflow");
			return;
		}
		ssize_t n = recv(src->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
		if (n == 0) {
			conn_close(c, "peer closed");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c, "recv failed");
			else if (c->in.len == 0)
				bytes_free(&c->in); /* as the output buffer: see conn_flush */
			return;
		}
		c->in.len += (size_t)n;
		conn_process_input(c);
		if (c->src.dead)
			return;
	}
}

/* The refusal comes before the request is read, so before the client's
 * locale is known: it is written in `language =`. */
static void
refuse_busy(const struct server *srv, int fd, const char *msgid)
{
	struct fr_frame frame;

	fr_frame_init(&frame, FR_MSG_DONE);
	fr_frame_put_u32(&frame, FR_TAG_RESULT, FR_RESULT_BUSY);
	fr_frame_put_str(&frame, FR_TAG_TEXT, fr_tr(l10n_pick(srv->l10n, srv->cfg->language), msgid));
	/* Best effort on a fresh socket whose buffer is empty. */
	if (fr_frame_finish(&frame) == 0 && send(fd, frame.buf, frame.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("busy reply not sent: %s", strerror(errno));
}

/* The oldest non-root login waiting for a person's answer: the last
 * resort when root needs room and nothing is idle. */
static struct conn *
oldest_user_prompt(struct server *srv)
{
	struct conn *oldest = NULL;

	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		if (c->peer.uid != 0 && c->state == CONN_WAIT_ANSWER && !c->src.dead &&
		    (oldest == NULL || c->deadline.deadline_ms < oldest->deadline.deadline_ms))
			oldest = c;
	return oldest;
}

/* The oldest idle connection of `l` that may make room.  One accepted in
 * this very batch has not had its request read yet: it is never taken,
 * or a connect storm could push out a client whose request is waiting. */
static struct conn *
idle_victim(const struct server *srv, const struct idle_list *l)
{
	struct conn *c = l->head;

	return c != NULL && c->accept_round < srv->accept_round ? c : NULL;
}

static void
evict(struct server *srv, struct conn *victim, enum refusal_kind kind)
{
	note_refusal(srv, kind, victim->peer.uid);
	conn_close(victim, kind == EVICTED_IDLE ? "evicted while idle" : "evicted for a root caller");
}

/*
 * Whether a new connection from `uid` may be kept, making room if need
 * be.  Non-root callers are held to max_clients_per_uid each and to
 * max_clients - reserved_root_clients together; root callers may use every
 * slot.  Room is made by dropping the oldest connection that has sent no
 * request (a real client sends AUTH_BEGIN at once), non-root first; for a
 * root caller, then a non-root login at a prompt.  A root caller's
 * connection is never dropped for a non-root one.  NULL: admitted;
 * otherwise the refusal's text, in English (a msgid).
 */
static const char *
admit(struct server *srv, uid_t uid)
{
	const struct config *cfg = srv->cfg;
	struct caller_quota *q = srv->quota;

	if (uid != 0) {
		if (caller_quota_held(q, uid, QUOTA_CONNECTIONS) >= cfg->max_clients_per_uid) {
			note_refusal(srv, REFUSED_UID_CONNECTIONS, uid);
			return N_("Too many connections from your account, try again");
		}
		if (caller_quota_total(q, QUOTA_CONNECTIONS) >= cfg->max_clients - cfg->reserved_root_clients) {
			struct conn *victim = idle_victim(srv, &srv->idle_user);
			if (victim == NULL) {
				note_refusal(srv, REFUSED_NONROOT_FULL, uid);
				return N_("Authentication service busy, try again");
			}
			evict(srv, victim, EVICTED_IDLE);
		}
	}
	if (srv->nconns < cfg->max_clients)
		return NULL;
	struct conn *victim = idle_victim(srv, &srv->idle_user);
	if (victim == NULL && uid == 0)
		victim = idle_victim(srv, &srv->idle_root);
	if (victim != NULL) {
		evict(srv, victim, EVICTED_IDLE);
		return NULL;
	}
	if (uid == 0 && (victim = oldest_user_prompt(srv)) != NULL) {
		evict(srv, victim, EVICTED_LOGIN);
		return NULL;
	}
	note_refusal(srv, REFUSED_FULL, uid);
	return N_("Authentication service busy, try again");
}

static void
server_on_accept(struct loop_source *src, uint32_t events)
{
	struct server *srv = (struct server *)((char *)src - offsetof(struct server, listener));
	(void)events;
	srv->accept_round++;
	for (int taken = 0; taken < ACCEPT_BATCH; taken++) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: pause rather than spin. */
				log_warn("accept: %s; pausing for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
				loop_remove(srv->loop, &srv->listener);
				if (loop_timer_set(srv->loop, &srv->accept_resume, loop_now_ms() + ACCEPT_PAUSE_MS) !=
				    0)
					log_err("cannot schedule accepting again");
			}
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
			log_warn("SO_PEERCRED failed: %s", strerror(errno));
			close(fd);
			continue;
		}
		const char *refusal = admit(srv, cred.uid);
		if (refusal != NULL) {
			refuse_busy(srv, fd, refusal);
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (c == NULL || caller_quota_take(srv->quota, cred.uid, QUOTA_CONNECTIONS) != 0) {
			free(c);
			close(fd);
			continue;
		}
		c->src.fd = fd;
		c->src.on_event = conn_on_event;
		c->srv = srv;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		c->peer.pid = cred.pid;
		c->state = CONN_WAIT_REQUEST;
		c->events = EPOLLIN;
		c->accept_round = srv->accept_round;
		c->deadline.on_expire = conn_on_deadline;
		if (loop_add(srv->loop, &c->src, EPOLLIN) != 0) {
			caller_quota_give(srv->quota, cred.uid, QUOTA_CONNECTIONS);
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
		idle_add(c);
		set_deadline(c, FIRST_REQUEST_TIMEOUT_S);
	}
}

static void
server_on_accept_resume(struct loop_timer *t)
{
	struct server *srv = (struct server *)((char *)t - offsetof(struct server, accept_resume));

	if (srv->listening && loop_add(srv->loop, &srv->listener, EPOLLIN) != 0)
		log_err("cannot resume accepting connections");
}

/* The interval's refusals, written when it ends. */
static void
server_on_summary(struct loop_timer *t)
{
	struct server *srv = (struct server *)((char *)t - offsetof(struct server, summary));

	refusal_log_tick(&srv->refusals, loop_now_ms());
	if (refusal_log_pending(&srv->refusals) &&
	    loop_timer_set(srv->loop, &srv->summary, srv->refusals.logged_ms + REFUSAL_LOG_INTERVAL_MS) != 0)
		log_err("cannot schedule the refusal summary");
}

static void
note_refusal(struct server *srv, enum refusal_kind kind, uid_t uid)
{
	refusal_log_note(&srv->refusals, kind, uid, loop_now_ms());
	if (refusal_log_pending(&srv->refusals) && !loop_timer_armed(&srv->summary) &&
	    loop_timer_set(srv->loop, &srv->summary, srv->refusals.logged_ms + REFUSAL_LOG_INTERVAL_MS) != 0)
		log_err("cannot schedule the refusal summary");
}

static int
create_socket(const struct config *cfg, char **created)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	const char *path = cfg->socket_path;
	gid_t gid = (gid_t)-1;

	*created = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path %s is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (cfg->socket_group != NULL) {
		int r = accounts_group_id(cfg->socket_group, &gid);
		if (r != FR_OK) {
			log_err("socket_group %s: %s", cfg->socket_group,
				r == FR_ERR_NOT_FOUND ? "no such group" : fr_strerror(r));
			return -1;
		}
	}
	/* Only a stale socket is removed, never a file someone put there. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", path);
			return -1;
		}
		if (unlink(path) != 0) {
			log_err("cannot remove stale socket %s: %s", path, strerror(errno));
			return -1;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	/* Anyone may connect (screen lockers run as the user); who may ask
	 * what is decided per request from SO_PEERCRED. */
	mode_t mode = cfg->socket_group != NULL ? 0660 : 0666;
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(path, mode) != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((*created = strdup(path)) == NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

int
server_open(struct loop *loop, const struct config *cfg, struct caller_quota *quota, int listen_fd,
	    server_request_fn on_request, void *request_ctx, struct server **out)
{
	struct server *srv = calloc(1, sizeof(*srv));

	*out = NULL;
	if (srv == NULL)
		return FR_ERR_NOMEM;
	srv->loop = loop;
	srv->cfg = cfg;
	srv->quota = quota;
	srv->on_request = on_request;
	srv->request_ctx = request_ctx;
	srv->accept_resume.on_expire = server_on_accept_resume;
	srv->summary.on_expire = server_on_summary;
	srv->listener.fd = listen_fd >= 0 ? listen_fd : create_socket(cfg, &srv->created_path);
	if (srv->listener.fd < 0) {
		free(srv);
		return FR_ERR_IO;
	}
	srv->listener.on_event = server_on_accept;
	if (loop_add(loop, &srv->listener, EPOLLIN) != 0) {
		log_err("cannot watch the helper socket: %s", strerror(errno));
		server_free(srv);
		return FR_ERR_IO;
	}
	srv->listening = 1;
	*out = srv;
	return FR_OK;
}

void
server_stop_listening(struct server *srv)
{
	if (!srv->listening)
		return;
	loop_remove(srv->loop, &srv->listener);
	srv->listening = 0;
	/* Closing (not just unwatching) the listener makes new clients fail
	 * at once instead of waiting in the backlog for a helper that will
	 * never accept them.  Under socket activation systemd keeps its own
	 * copy and queues them for the next instance. */
	close(srv->listener.fd);
	srv->listener.fd = -1;
	if (srv->created_path != NULL) {
		if (unlink(srv->created_path) != 0)
			log_warn("cannot remove %s: %s", srv->created_path, strerror(errno));
		free(srv->created_path);
		srv->created_path = NULL;
	}
}

void
server_set_audit(struct server *srv, struct audit *audit)
{
	srv->refusals.audit = audit;
}

void
server_note_refusal(struct server *srv, int kind, uid_t uid)
{
	note_refusal(srv, (enum refusal_kind)kind, uid);
}

void
server_set_l10n(struct server *srv, const struct l10n *l10n)
{
	srv->l10n = l10n;
}

unsigned
server_clients(const struct server *srv)
{
	return srv->nconns;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		conn_close(srv->conns, "shutting down");
	server_stop_listening(srv);
	if (srv->listener.fd >= 0)
		close(srv->listener.fd);
	loop_timer_cancel(srv->loop, &srv->accept_resume);
	loop_timer_cancel(srv->loop, &srv->summary);
	if (srv->created_path != NULL) {
		if (unlink(srv->created_path) != 0)
			log_warn("cannot remove %s: %s", srv->created_path, strerror(errno));
		free(srv->created_path);
	}
	free(srv);
}
