#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "fr_error.h"
#include "api/http.h"
#include "api/parse.h"
#include "core/big_blocks.h"
#include "core/log.h"
#include "core/secret.h"

/*
 * HTTP/1.1 or HTTP/2: decided from what the API negotiated, not from a
 * setting.  Over HTTP/1.1 a connection carries one request at a time, so
 * a burst needs many (up to max_api_connections).  Over HTTP/2 one
 * connection carries many requests at once, but curl opens a connection
 * per request while the first handshake is still running, and again for
 * each request that finds every connection full: left to itself, 200
 * simultaneous logins opened 200 connections.  So the helper hands curl
 * only what the connections it has can carry, and opens more, one per
 * h2_streams requests waiting, up to H2_MAX_CONNECTIONS.  A connection
 * curl wants to open beyond that plan is refused (on_open_socket) and
 * its request goes back to the head of the queue.
 */
enum api_proto {
	API_PROTO_UNKNOWN, /* nothing learned yet: one request goes first */
	API_PROTO_HTTP1,
	API_PROTO_HTTP2,
};

/* Requests in flight on one HTTP/2 connection at most: curl's default,
 * and the smallest limit RFC 9113 recommends that servers allow.  A
 * server that allows fewer lowers it (on_open_socket).  Until a new
 * connection has read the server's SETTINGS, curl too assumes 100: a
 * server with a lower limit refuses the streams beyond it, and curl
 * sends those again (REFUSED_STREAM is safe to retry). */
#define H2_MAX_STREAMS 100
/* HTTP/2 connections to the API at most (and never more than
 * max_api_connections): 16 x 100 requests at once, more than 1000
 * logins in flight need. */
#define H2_MAX_CONNECTIONS 16

/* Transfers handed to curl between two of its runs at most.  curl sets
 * up every transfer added since its last run in its next one, in one
 * call: 256 at once (new connections, TLS handshakes) kept the event loop
 * in that call for up to 0.8 s in a cold login storm, every other
 * login waiting.  The rest go in the following runs, a pass each. */
#define LAUNCH_BATCH 16

/* One established connection to the API, known by its local port (the
 * pre-request callback gets the port, the close-socket callback the fd). */
struct api_conn {
	struct api_conn *next;
	unsigned port;
	unsigned streams; /* our transfers on it now */
	bool h2;
};

/* The roles of a transfer handed to curl while learning or growing. */
enum xfer_role {
	XFER_PLAIN,
	XFER_PROBE,  /* API_PROTO_UNKNOWN: opens a connection that will tell it */
	XFER_OPENER, /* HTTP/2: expected to open a new connection */
};

struct http_client {
	struct loop *loop;
	const struct config *cfg;
	CURLM *multi;
	struct loop_timer timer;      /* curl's next timeout */
	struct loop_timer drain_more; /* answers left for the next pass */
	struct curl_slist *plain_headers;
	struct curl_slist *key_headers; /* plain + X-API-Key; wiped at free */
	struct http_xfer *xfers;	/* every transfer: handed to curl or waiting */
	/* Transfers beyond max_api_connections wait here, FIFO, holding only
	 * their own request and no curl handle: a curl handle with its
	 * buffers is about 25 KiB, and a login storm can queue hundreds. */
	struct http_xfer *wait_head, *wait_tail;
	struct http_xfer *failed; /* could not be handed to curl; reported from the timer */
	uint64_t connections;
	unsigned active;
	unsigned running;  /* handed to curl */
	unsigned launched; /* handed to curl since its last run */
	unsigned waiting;  /* in wait_head… */
	bool closing;	   /* http_client_free has begun: no new transfers */
	http_observer_fn observer;
	void *observer_ctx;
	enum api_proto proto;
	unsigned probes;   /* XFER_PROBE transfers whose connection has not told */
	bool probe_failed; /* one ended unanswered: no more holding back */
	struct api_conn *conns;
	unsigned openers;	    /* XFER_OPENER transfers not yet connected */
	unsigned h2_streams;	    /* per connection: H2_MAX_STREAMS or the server's fewer */
	bool release_sent_requests; /* this libcurl's upload buffer is understood */
};

/* One per socket curl asks us to watch (curl_multi_assign). */
struct http_socket {
	struct loop_source src;
	struct http_client *client;
	struct loop_deferred release;
};

struct http_xfer {
	struct http_client *client;
	struct http_xfer *prev, *next;
	struct http_xfer *wait_prev, *wait_next; /* in wait_head… or failed */
	bool waiting;
	bool launch_failed;
	enum xfer_role role;
	bool refused;	    /* on_open_socket refused it: back to the queue */
	unsigned refusals;  /* how often: twice, and it goes only as an opener */
	unsigned conn_port; /* its connection, once connected; 0 before */
	CURL *easy;
	char *url;
	enum http_method { METHOD_GET, METHOD_POST, METHOD_DELETE } method;
	char *body;
	size_t body_len;
	size_t body_given;		/* to curl's read callback, of body_len */
	void *upload_buffer;		/* where it put the body: curl's */
	uint64_t upload_generation;	/* of that block (big_block_generation) */
	struct curl_slist *headers;	/* the client's lists or own_headers */
	struct curl_slist *own_headers; /* only when a bearer token is sent */
	char *resp;
	size_t resp_len, resp_cap;
	int too_large;
	/* CURL_ERROR_SIZE bytes from launch on: of a storm's logins, those
	 * waiting for a connection have no handle and need none. */
	char *errbuf;
	http_done_fn done;
	void *ctx;
	int64_t started_ms;
};

static void launch_waiting(struct http_client *c);
static void report_failed_launches(struct http_client *c);

const char *
http_outcome_name(enum http_outcome outcome)
{
	switch (outcome) {
	case HTTP_ANSWERED:
		return "answered";
	case HTTP_UNREACHABLE:
		return "unreachable";
	case HTTP_TLS_FAILED:
		return "TLS failure";
	case HTTP_TOO_LARGE:
		return "response too large";
	case HTTP_LOCAL_FAILURE:
		return "local resources exhausted";
	case HTTP_FAILED:
		return "failed";
	}
	return "unknown";
}

static void
slist_free_wiped(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static int
slist_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (n == NULL)
		return FR_ERR_NOMEM;
	*list = n;
	return FR_OK;
}

static int
build_plain_headers(struct curl_slist **list)
{
	*list = NULL;
	if (slist_add(list, "Content-Type: application/json") != 0 ||
	    slist_add(list, "Accept: application/json") != 0 || slist_add(list, "Expect:") != 0) {
		curl_slist_free_all(*list);
		*list = NULL;
		return FR_ERR_NOMEM;
	}
	return FR_OK;
}

/* Builds "prefix" + secret + plain headers, wiping the temporary line. */
static int
build_secret_headers(struct curl_slist **list, const char *prefix, const char *secret)
{
	size_t n = strlen(prefix) + strlen(secret) + 1;
	char *line = malloc(n);
	int r;

	*list = NULL;
	if (line == NULL)
		return FR_ERR_NOMEM;
	snprintf(line, n, "%s%s", prefix, secret);
	r = build_plain_headers(list);
	if (r == 0)
		r = slist_add(list, line);
	explicit_bzero(line, n);
	free(line);
	if (r != 0) {
		slist_free_wiped(*list);
		*list = NULL;
	}
	return r;
}

static void
wait_enqueue(struct http_client *c, struct http_xfer *x)
{
	x->wait_next = NULL;
	x->wait_prev = c->wait_tail;
	if (c->wait_tail != NULL)
		c->wait_tail->wait_next = x;
	else
		c->wait_head = x;
	c->wait_tail = x;
	x->waiting = true;
	c->waiting++;
}

/* Back to the head of the queue: its turn is kept. */
static void
wait_push_front(struct http_client *c, struct http_xfer *x)
{
	x->wait_prev = NULL;
	x->wait_next = c->wait_head;
	if (c->wait_head != NULL)
		c->wait_head->wait_prev = x;
	else
		c->wait_tail = x;
	c->wait_head = x;
	x->waiting = true;
	c->waiting++;
}

/* Take x off the wait queue or the failed list, whichever holds it. */
static void
unqueue(struct http_xfer *x)
{
	struct http_client *c = x->client;
	struct http_xfer **head = x->waiting ? &c->wait_head : &c->failed;

	if (x->wait_prev != NULL)
		x->wait_prev->wait_next = x->wait_next;
	else
		*head = x->wait_next;
	if (x->wait_next != NULL)
		x->wait_next->wait_prev = x->wait_prev;
	else if (x->waiting)
		c->wait_tail = x->wait_prev;
	if (x->waiting)
		c->waiting--;
	x->wait_prev = x->wait_next = NULL;
	x->waiting = x->launch_failed = false;
}

/* ---- connections and what they speak ------------------------------------ */

static const char *
api_proto_name(enum api_proto proto)
{
	switch (proto) {
	case API_PROTO_UNKNOWN:
		return "unknown";
	case API_PROTO_HTTP1:
		return "HTTP/1.1";
	case API_PROTO_HTTP2:
		return "HTTP/2";
	}
	return "?";
}

static void
learn_proto(struct http_client *c, bool h2)
{
	enum api_proto proto = h2 ? API_PROTO_HTTP2 : API_PROTO_HTTP1;

	if (c->proto == proto)
		return;
	log_info("the API negotiated %s%s", api_proto_name(proto),
		 h2 ? ": requests share connections" : ": one request per connection");
	c->proto = proto;
	c->probe_failed = false;
}

static struct api_conn *
conn_find(const struct http_client *c, unsigned port)
{
	for (struct api_conn *n = c->conns; n != NULL; n = n->next)
		if (n->port == port)
			return n;
	return NULL;
}

static unsigned
h2_conns(const struct http_client *c)
{
	unsigned n = 0;

	for (const struct api_conn *k = c->conns; k != NULL; k = k->next)
		n += k->h2;
	return n;
}

/* 1: the connection negotiated h2 (ALPN), 0: it did not, -1: cannot tell
 * (not curl's OpenSSL backend); the answer's version tells later then. */
static int
negotiated_h2(CURL *easy)
{
	struct curl_tlssessioninfo *info = NULL;
	const unsigned char *alpn = NULL;
	unsigned len = 0;

	if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return -1;
	SSL_get0_alpn_selected(info->internals, &alpn, &len);
	return len == 2 && memcmp(alpn, "h2", 2) == 0;
}

/* curl calls this once the transfer's connection is up (TCP and TLS),
 * just before sending the request: the earliest moment the protocol is
 * known, and which connection carries the transfer. */
static int
on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct http_xfer *x = userp;
	struct http_client *c = x->client;
	bool is_new = false;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	if (x->role == XFER_OPENER)
		c->openers--;
	if (local_port <= 0)
		goto done;
	struct api_conn *conn = conn_find(c, (unsigned)local_port);
	if (conn == NULL) {
		if ((conn = calloc(1, sizeof(*conn))) == NULL)
			goto done; /* untracked: only the bookkeeping suffers */
		conn->port = (unsigned)local_port;
		conn->next = c->conns;
		c->conns = conn;
		is_new = true;
	}
	conn->streams++;
	x->conn_port = conn->port;
	/* An opener that found room where the helper counted none: the
	 * limit learnt from a refusal was too low (a connection that was
	 * closing looked full). */
	if (!is_new && x->role == XFER_OPENER && conn->h2 && conn->streams > c->h2_streams)
		c->h2_streams = conn->streams < H2_MAX_STREAMS ? conn->streams : H2_MAX_STREAMS;
	if (is_new) {
		int h2 = negotiated_h2(x->easy);
		if (h2 >= 0) {
			conn->h2 = h2 == 1;
			learn_proto(c, conn->h2);
		}
		log_debug("API connection from port %u up (%s)", conn->port,
			  h2 < 0 ? "protocol not yet known" :
			  h2	 ? "h2" :
				   "http/1.1");
	}
done:
	/* A probe stays one until some connection has told the protocol
	 * (curl's backend may not say at connect time: then its answer does). */
	if (x->role == XFER_PROBE && c->proto == API_PROTO_UNKNOWN)
		return CURL_PREREQFUNC_OK;
	if (x->role == XFER_PROBE)
		c->probes--;
	x->role = XFER_PLAIN;
	/* launch_waiting runs after curl returns (drain_completed): adding
	 * handles from inside curl's callback is not allowed. */
	return CURL_PREREQFUNC_OK;
}

/* curl opens a connection.  Over HTTP/2, one the helper did not plan
 * means curl found every connection full: the server allows fewer
 * streams than h2_streams.  Refused, the request waits in the queue and
 * goes again as an opener. */
static curl_socket_t
on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct http_xfer *x = userp;
	struct http_client *c = x->client;

	if (purpose == CURLSOCKTYPE_IPCXN && c->proto == API_PROTO_HTTP2 && x->role == XFER_PLAIN) {
		unsigned fullest = 0;
		for (const struct api_conn *k = c->conns; k != NULL; k = k->next)
			if (k->h2 && k->streams > fullest)
				fullest = k->streams;
		if (fullest > 0 && fullest < c->h2_streams) {
			c->h2_streams = fullest;
			log_info("the API allows %u requests at once per HTTP/2 connection", fullest);
		}
		x->refused = true;
		log_debug("a connection curl wanted beyond %u streams on each of %u: refused, the request waits",
			  c->h2_streams, h2_conns(c));
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* curl closes a connection: forget it. */
static int
on_close_socket(void *userp, curl_socket_t fd)
{
	struct http_client *c = userp;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	for (struct api_conn **p = &c->conns; port != 0 && *p != NULL; p = &(*p)->next) {
		if ((*p)->port == port) {
			struct api_conn *gone = *p;
			log_debug("API connection from port %u closed (%u of our requests on it)", port, gone->streams);
			*p = gone->next;
			free(gone);
			break;
		}
	}
	return close(fd);
}

/* May x, next in line, go to curl now, and in what role? */
static bool
may_launch(const struct http_client *c, const struct http_xfer *x, enum xfer_role *role)
{
	unsigned max = c->cfg->max_api_connections;
	unsigned bound = max < H2_MAX_CONNECTIONS ? max : H2_MAX_CONNECTIONS;

	*role = XFER_PLAIN;
	if (c->launched >= LAUNCH_BATCH)
		return false; /* curl's next run (already due) takes more */
	switch (c->proto) {
	case API_PROTO_UNKNOWN:
		if (c->probe_failed)
			return c->running < max;
		/* Requests that learn what the API speaks, one per
		 * H2_MAX_STREAMS waiting, each on a connection of its own (curl
		 * has none to share yet): what an HTTP/2 API would need for
		 * them, and fewer than an HTTP/1.1 API will.  A cold burst then
		 * waits for one connection set-up, not two in a row.  The other
		 * requests wait: each would open a connection meanwhile. */
		*role = XFER_PROBE;
		return c->probes < bound && c->probes * H2_MAX_STREAMS < c->waiting && c->running < max;
	case API_PROTO_HTTP1:
		return c->running < max;
	case API_PROTO_HTTP2:
		break;
	}
	/* Probes still connecting will be HTTP/2 connections too. */
	unsigned conns = h2_conns(c), coming = c->openers + c->probes;
	/* Refused twice, curl and the helper disagree on what is full (a
	 * connection closing): only a new connection will do. */
	if (x->refusals < 2 && c->running - coming < conns * c->h2_streams)
		return true;
	/* Every connection is full: open one more per h2_streams waiting. */
	*role = XFER_OPENER;
	return conns + coming < bound && coming * c->h2_streams < c->waiting;
}

static void
xfer_free(struct http_xfer *x)
{
	struct http_client *c = x->client;

	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	if (x->waiting || x->launch_failed)
		unqueue(x);
	if (x->role == XFER_OPENER)
		c->openers--;
	if (x->role == XFER_PROBE)
		c->probes--;
	struct api_conn *conn = x->conn_port != 0 ? conn_find(c, x->conn_port) : NULL;
	if (conn != NULL && conn->streams > 0)
		conn->streams--;
	if (x->easy != NULL) {
		CURLMcode mc = curl_multi_remove_handle(c->multi, x->easy);
		if (mc != CURLM_OK)
			log_warn("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
		curl_easy_cleanup(x->easy);
		c->running--;
	}
	c->active--;
	if (x->resp != NULL) {
		explicit_bzero(x->resp, x->resp_cap);
		free(x->resp);
	}
	secret_free(x->body);
	slist_free_wiped(x->own_headers);
	free(x->errbuf);
	free(x->url);
	free(x);
}

/* Takes a refused transfer back from curl: it waits again without a
 * handle (drain_completed launches what may go). */
static void
xfer_requeue(struct http_xfer *x)
{
	struct http_client *c = x->client;
	CURLMcode mc = curl_multi_remove_handle(c->multi, x->easy);

	if (mc != CURLM_OK)
		log_warn("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	x->errbuf[0] = '\0'; /* launched: it has one */
	x->refused = false;
	x->refusals++;
	c->running--;
	wait_push_front(c, x);
}

/* Ends x without an answer: its callback gets `outcome`, then x is freed. */
static void
xfer_fail(struct http_xfer *x, enum http_outcome outcome, const char *why)
{
	struct http_response resp = {
		.outcome = outcome,
		.body = "",
		.error = why,
		.elapsed_ms = loop_now_ms() - x->started_ms,
	};

	x->done(x->ctx, &resp);
	xfer_free(x);
}

/* The size cap lives here because CURLOPT_MAXFILESIZE does not stop a
 * chunked body before curl 8.4.  Growing copies by hand so that no
 * unwiped copy of a token is left behind by realloc. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb;

	if (n > HTTP_MAX_BODY - x->resp_len) {
		x->too_large = 1;
		return 0;
	}
	if (x->resp_len + n + 1 > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 1024;
		while (cap < x->resp_len + n + 1)
			cap *= 2;
		char *grown = malloc(cap);
		if (grown == NULL)
			return 0;
		if (x->resp != NULL) {
			memcpy(grown, x->resp, x->resp_len);
			explicit_bzero(x->resp, x->resp_cap);
			free(x->resp);
		}
		x->resp = grown;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* errno values that say this host could not make a connection: a local
 * user who binds every ephemeral port (EADDRNOTAVAIL) or exhausts file
 * descriptors must not make the API look down, or offline login would
 * open for them. */
static bool
local_errno(long os_errno)
{
	return os_errno == EADDRNOTAVAIL || os_errno == EMFILE || os_errno == ENFILE || os_errno == ENOBUFS ||
	       os_errno == ENOMEM || os_errno == EAGAIN;
}

static enum http_outcome
classify(CURLcode rc, const struct http_xfer *x, long os_errno)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_ANSWERED;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
		return HTTP_LOCAL_FAILURE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return local_errno(os_errno) ? HTTP_LOCAL_FAILURE : HTTP_UNREACHABLE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
		return HTTP_TLS_FAILED;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return x->too_large ? HTTP_TOO_LARGE : HTTP_FAILED;
	default:
		return HTTP_FAILED;
	}
}

/* Answers handled per call.  One HTTP/2 read can end a hundred streams,
 * and each answer is a login's next step (parse, reply, next request):
 * the rest wait in curl's queue for the next loop pass, so the events
 * already waiting (a client's answer, another connection) come between. */
#define ANSWERS_PER_PASS 16

static void
drain_completed(struct http_client *c)
{
	CURLMsg *msg;
	int left = 0;
	unsigned answered = 0;

	while (answered < ANSWERS_PER_PASS && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		answered++;
		struct http_xfer *x = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		long status = 0, connects = 0, os_errno = 0;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || x == NULL)
			continue;
		if (x->refused) {
			xfer_requeue(x);
			continue;
		}
		if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
			status = 0;
		if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
			c->connections += (uint64_t)connects;
		if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
			os_errno = 0;
		/* The answer's version settles what ALPN could not tell. */
		long version = 0;
		if (rc == CURLE_OK && curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
		    version != 0) {
			bool h2 = version == CURL_HTTP_VERSION_2_0;
			struct api_conn *conn = x->conn_port != 0 ? conn_find(c, x->conn_port) : NULL;
			if (conn != NULL)
				conn->h2 = h2;
			learn_proto(c, h2);
		} else if (x->role == XFER_PROBE && c->proto == API_PROTO_UNKNOWN) {
			/* Unanswered: the others wait no longer for it (nor for
			 * the next), as before the helper knew of HTTP/2. */
			c->probe_failed = true;
		}

		struct http_response resp = {
			.outcome = classify(rc, x, os_errno),
			.status = status,
			.body = x->resp != NULL ? x->resp : "",
			.body_len = x->resp_len,
			.error = x->errbuf != NULL && x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc),
			.elapsed_ms = loop_now_ms() - x->started_ms,
		};
		if (resp.outcome != HTTP_ANSWERED)
			resp.status = 0;
		log_debug("%s %ld %s in %lld ms", x->url, resp.status, http_outcome_name(resp.outcome),
			  (long long)resp.elapsed_ms);
		if (resp.outcome == HTTP_LOCAL_FAILURE)
			log_err("request to the API not made: %s (%s); counted as unavailable, never as an "
				"outage",
				resp.error, os_errno != 0 ? strerror((int)os_errno) : "no errno");
		if (c->observer != NULL)
			c->observer(c->observer_ctx, resp.outcome);
		x->done(x->ctx, &resp);
		/* msg points into curl's memory; done with it before the free. */
		xfer_free(x);
	}
	if (answered == ANSWERS_PER_PASS && left > 0 && !loop_timer_armed(&c->drain_more)) {
		log_debug("%d API answers left for the next loop pass", left);
		if (loop_timer_set_next_pass(c->loop, &c->drain_more) != FR_OK)
			log_err("cannot schedule the rest of the API's answers; they wait for the next event");
	}
	launch_waiting(c);
}

static void
on_drain_more(struct loop_timer *t)
{
	struct http_client *c = (struct http_client *)((char *)t - offsetof(struct http_client, drain_more));

	drain_completed(c);
}

static void
release_socket(void *arg)
{
	free(arg);
}

static void
on_socket_event(struct loop_source *src, uint32_t events)
{
	struct http_socket *s = (struct http_socket *)src;
	struct http_client *c = s->client;
	int flags = 0, running = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	CURLMcode mc = curl_multi_socket_action(c->multi, src->fd, flags, &running);
	c->launched = 0; /* any run starts what was added */
	if (mc != CURLM_OK)
		log_err("curl_multi_socket_action: %s", curl_multi_strerror(mc));
	drain_completed(c);
}

static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_socket *s = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			loop_remove(c->loop, &s->src);
			loop_defer(c->loop, &s->release, release_socket, s);
			if (curl_multi_assign(c->multi, fd, NULL) != CURLM_OK)
				log_warn("curl_multi_assign failed");
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->src.fd = fd;
		s->src.on_event = on_socket_event;
		s->client = c;
		if (loop_add(c->loop, &s->src, events) != 0) {
			free(s);
			return -1;
		}
		if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) {
			loop_remove(c->loop, &s->src);
			loop_defer(c->loop, &s->release, release_socket, s);
			return -1;
		}
	} else if (loop_modify(c->loop, &s->src, events) != 0) {
		return -1;
	}
	return 0;
}

/* -1 disarms; 0 is "as soon as possible", at the end of this loop pass. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0) {
		loop_timer_cancel(c->loop, &c->timer);
		return 0;
	}
	return loop_timer_set(c->loop, &c->timer, loop_now_ms() + timeout_ms) == 0 ? 0 : -1;
}

static void
on_timer_event(struct loop_timer *t)
{
	struct http_client *c = (struct http_client *)((char *)t - offsetof(struct http_client, timer));
	int running = 0;

	CURLMcode mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	c->launched = 0;
	if (mc != CURLM_OK)
		log_err("curl_multi_socket_action: %s", curl_multi_strerror(mc));
	drain_completed(c);
	report_failed_launches(c);
}

/*
 * A request already sent, out of memory while its answer is awaited.
 *
 * libcurl 7.88 copies every request over TLS into a 16 KiB upload buffer
 * per transfer and frees it only when the transfer ends.  That is one
 * resident page per request in flight for the API's latency, the request
 * (a password, a code, a token) in it all that time: 4 MiB for 1000
 * logins in flight at 300 ms over HTTP/2, 1 MiB for the 256 connections
 * of HTTP/1.1.  So the body goes to curl through a read callback, which
 * shows where curl keeps it, and once curl counts the whole body sent
 * (the progress callback), the helper wipes that buffer and gives its
 * pages back (big_block_discard).  Curl may write it again, for a retry:
 * the pages come back zeroed.
 *
 * "Counted as sent" means "no longer needed" in 7.88's transfer.c: the
 * count grows by what the connection took (the HTTP/2 layer copies it
 * into its frames, OpenSSL into its record over HTTP/1.1), and the buffer
 * is not read again.  Over HTTP/1.1 curl then writes the headers and the
 * body apart, two TLS records where POSTFIELDS made one.  Other versions
 * keep the body in CURLOPT_POSTFIELDS, untouched.  The block's
 * generation guards against a buffer curl freed and reallocated since
 * the read: that block is someone else's and is left alone.
 */
static bool
curl_upload_buffer_understood(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v != NULL && (v->version_num >> 8) == 0x0758; /* 7.88.x */
}

static size_t
on_read_body(char *buffer, size_t size, size_t nitems, void *userp)
{
	struct http_xfer *x = userp;
	size_t room = size * nitems, left = x->body_len - x->body_given;
	size_t n = left < room ? left : room;

	if (n > 0) {
		memcpy(buffer, x->body + x->body_given, n);
		x->body_given += n;
		x->upload_buffer = buffer;
		x->upload_generation = big_block_generation(buffer);
	}
	return n;
}

/* Curl rewinds the body to send it again (an HTTP/2 stream the server
 * refused, a connection that died before the answer). */
static int
on_seek_body(void *userp, curl_off_t offset, int origin)
{
	struct http_xfer *x = userp;

	if (origin != SEEK_SET || offset < 0 || offset > (curl_off_t)x->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->body_given = (size_t)offset;
	x->upload_buffer = NULL;
	return CURL_SEEKFUNC_OK;
}

static int
on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_xfer *x = userp;

	(void)dltotal;
	(void)dlnow;
	if (x->upload_buffer != NULL && x->body_given == x->body_len && ultotal == (curl_off_t)x->body_len &&
	    ulnow == ultotal) {
		(void)big_block_discard(x->upload_buffer, x->upload_generation);
		x->upload_buffer = NULL;
	}
	return 0;
}

int
http_client_new(struct loop *loop, const struct config *cfg, const char *api_key, struct http_client **out)
{
	struct http_client *c = calloc(1, sizeof(*c));
	int r = FR_ERR_NOMEM;

	*out = NULL;
	if (c == NULL)
		return FR_ERR_NOMEM;
	c->loop = loop;
	c->cfg = cfg;
	c->timer.on_expire = on_timer_event;
	c->drain_more.on_expire = on_drain_more;
	c->h2_streams = H2_MAX_STREAMS;
	c->release_sent_requests = curl_upload_buffer_understood();
	if ((c->multi = curl_multi_init()) == NULL)
		goto fail;
	if (build_plain_headers(&c->plain_headers) != 0)
		goto fail;
	if (api_key != NULL && build_secret_headers(&c->key_headers, "X-API-Key: ", api_key) != 0)
		goto fail;
	r = FR_ERR_INTERNAL;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
	    /* Keep enough idle connections to serve a login storm again
	     * without new handshakes. */
	    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)cfg->max_api_connections) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->max_api_connections) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)H2_MAX_STREAMS) != CURLM_OK)
		goto fail;
	*out = c;
	return FR_OK;
fail:
	http_client_free(c);
	return r;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	/* What is still in flight has no owner to cancel it (a logout sent
	 * after its session closed): its callback frees its context. */
	c->closing = true;
	while (c->xfers != NULL)
		xfer_fail(c->xfers, HTTP_FAILED, "the helper is shutting down");
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi); /* closes the connections: on_close_socket */
	while (c->conns != NULL) {
		struct api_conn *next = c->conns->next;
		free(c->conns);
		c->conns = next;
	}
	loop_timer_cancel(c->loop, &c->timer);
	loop_timer_cancel(c->loop, &c->drain_more);
	curl_slist_free_all(c->plain_headers);
	slist_free_wiped(c->key_headers);
	free(c);
}

#define SETOPT(easy, opt, val) \
	do { \
		if (rc == CURLE_OK) \
			rc = curl_easy_setopt((easy), (opt), (val)); \
	} while (0)

static CURLcode
configure_easy(struct http_xfer *x, const struct config *cfg)
{
	CURLcode rc = CURLE_OK;
	CURL *e = x->easy;
	/* Time spent waiting for a free connection counts: `timeout` bounds
	 * the whole request, as the login's own deadline expects. */
	long timeout_ms = (long)cfg->timeout * 1000 - (long)(loop_now_ms() - x->started_ms);
	if (timeout_ms < 1)
		timeout_ms = 1;

	SETOPT(e, CURLOPT_URL, x->url);
	SETOPT(e, CURLOPT_PRIVATE, x);
	SETOPT(e, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PREREQFUNCTION, on_prereq);
	SETOPT(e, CURLOPT_PREREQDATA, x);
	SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(e, CURLOPT_OPENSOCKETDATA, x);
	SETOPT(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SETOPT(e, CURLOPT_CLOSESOCKETDATA, x->client);
	/* The API is https and nothing else, wherever a reply points. */
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* "" overrides http_proxy/https_proxy from the environment. */
	SETOPT(e, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "");
	SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->ca_file != NULL)
		SETOPT(e, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->pinned_pubkey != NULL)
		SETOPT(e, CURLOPT_PINNEDPUBLICKEY, cfg->pinned_pubkey);
	SETOPT(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	/* A server that trickles a byte now and then must not hold a login
	 * for the whole total timeout. */
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 16L);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME, (long)(cfg->timeout > 2 ? cfg->timeout / 2 : 1));
	SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
	/* API replies are a few hundred bytes; curl's 16 KiB default receive
	 * buffer per transfer was most of a login's memory in a storm.  1 KiB
	 * is curl's minimum; a longer reply takes more reads, not more calls
	 * to the kernel (OpenSSL has the whole record). */
	SETOPT(e, CURLOPT_BUFFERSIZE, 1024L);
	/* Over TLS, curl copies every request into an upload buffer of 64 KiB
	 * by default; 16 KiB is its minimum and four times our largest request. */
	SETOPT(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, CURLOPT_WRITEDATA, x);
	SETOPT(e, CURLOPT_USERAGENT, "pam_freddy/" PACKAGE_VERSION);
	SETOPT(e, CURLOPT_HTTPHEADER, x->headers);
	switch (x->method) {
	case METHOD_POST:
		SETOPT(e, CURLOPT_POST, 1L);
		SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(x->body != NULL ? x->body_len : 0));
		x->body_given = 0;
		x->upload_buffer = NULL;
		/* Over either protocol (see curl_upload_buffer_understood). */
		if (x->client->release_sent_requests && x->body != NULL && x->body_len > 0) {
			SETOPT(e, CURLOPT_READFUNCTION, on_read_body);
			SETOPT(e, CURLOPT_READDATA, x);
			SETOPT(e, CURLOPT_SEEKFUNCTION, on_seek_body);
			SETOPT(e, CURLOPT_SEEKDATA, x);
			SETOPT(e, CURLOPT_XFERINFOFUNCTION, on_progress);
			SETOPT(e, CURLOPT_XFERINFODATA, x);
			SETOPT(e, CURLOPT_NOPROGRESS, 0L);
		} else {
			/* Not COPYPOSTFIELDS: curl would keep an unwiped copy. */
			SETOPT(e, CURLOPT_POSTFIELDS, x->body != NULL ? x->body : "");
		}
		break;
	case METHOD_DELETE:
		SETOPT(e, CURLOPT_HTTPGET, 1L);
		SETOPT(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case METHOD_GET:
		SETOPT(e, CURLOPT_HTTPGET, 1L);
		break;
	}
	return rc;
}

/* Give x a curl handle and hand it to curl. */
static int
xfer_launch(struct http_xfer *x, enum xfer_role role)
{
	struct http_client *c = x->client;

	if (x->errbuf == NULL && (x->errbuf = calloc(1, CURL_ERROR_SIZE)) == NULL)
		return FR_ERR_NOMEM;
	if ((x->easy = curl_easy_init()) == NULL)
		return FR_ERR_NOMEM;
	CURLcode rc = configure_easy(x, c->cfg);
	if (rc != CURLE_OK) {
		log_err("curl_easy_setopt: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		return FR_ERR_INTERNAL;
	}
	CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
	if (mc != CURLM_OK) {
		log_err("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		return FR_ERR_INTERNAL;
	}
	c->running++;
	c->launched++;
	x->role = role;
	if (role == XFER_OPENER)
		c->openers++;
	else if (role == XFER_PROBE)
		c->probes++;
	return FR_OK;
}

/* Hand waiting transfers to curl while connections are free.  Runs from
 * http_start and http_cancel too, so it never calls an owner's callback
 * (the caller may be in the middle of its own work): a transfer curl
 * would not take goes to `failed`, and the timer reports it. */
static void
launch_waiting(struct http_client *c)
{
	enum xfer_role role;

	while (!c->closing && c->wait_head != NULL && may_launch(c, c->wait_head, &role)) {
		struct http_xfer *x = c->wait_head;
		unqueue(x);
		if (xfer_launch(x, role) == FR_OK)
			continue;
		/* Reported in any order: the failed list has no tail. */
		x->wait_next = c->failed;
		if (c->failed != NULL)
			c->failed->wait_prev = x;
		c->failed = x;
		x->launch_failed = true;
		if (on_curl_timer(c->multi, 0, c) != 0)
			log_err("cannot arm the HTTP timer: %s", strerror(errno));
	}
}

static void
report_failed_launches(struct http_client *c)
{
	while (c->failed != NULL)
		xfer_fail(c->failed, HTTP_LOCAL_FAILURE, "the request could not be handed to curl");
}

/* One cookie, "name=value": RFC 6265 cookie-octets and '=' only. */
static bool
cookie_valid(const char *s)
{
	const char *eq = strchr(s, '=');

	if (eq == NULL || eq == s || strlen(s) > API_TOKEN_MAX + 64)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == ',' || *s == ';' ||
		    *s == '\\')
			return false;
	return true;
}

int
http_start(struct http_client *c, const struct http_request *req, http_done_fn done, void *ctx, struct http_xfer **out)
{
	struct http_xfer *x = calloc(1, sizeof(*x));
	int r = FR_ERR_NOMEM;

	*out = NULL;
	if (c->closing) {
		free(x);
		return FR_ERR_INTERNAL;
	}
	if (x == NULL)
		return FR_ERR_NOMEM;
	x->client = c;
	x->done = done;
	x->ctx = ctx;
	x->started_ms = loop_now_ms();
	x->next = c->xfers;
	if (c->xfers != NULL)
		c->xfers->prev = x;
	c->xfers = x;
	c->active++;

	size_t urllen = strlen(c->cfg->api_url) + strlen(req->path) + 1;
	if ((x->url = malloc(urllen)) == NULL)
		goto fail;
	snprintf(x->url, urllen, "%s%s", c->cfg->api_url, req->path);
	if (req->body != NULL && (x->body = secret_strndup(req->body, req->body_len)) == NULL)
		goto fail;

	x->body_len = req->body_len;
	r = FR_ERR_INVALID;
	if (strcmp(req->method, "POST") == 0)
		x->method = METHOD_POST;
	else if (strcmp(req->method, "GET") == 0 && req->body == NULL)
		x->method = METHOD_GET;
	else if (strcmp(req->method, "DELETE") == 0 && req->body == NULL)
		x->method = METHOD_DELETE;
	else
		goto fail;
	/* Header values are checked here, whoever built them: a CR or LF in
	 * one would let a server's text add headers of its own. */
	if (req->bearer != NULL && req->cookie != NULL)
		goto fail;
	if (req->bearer != NULL) {
		if (!api_token_valid(req->bearer, strlen(req->bearer)))
			goto fail;
		if ((r = build_secret_headers(&x->own_headers, "Authorization: Bearer ", req->bearer)) != 0)
			goto fail;
		x->headers = x->own_headers;
	} else if (req->cookie != NULL) {
		if (!cookie_valid(req->cookie))
			goto fail;
		if ((r = build_secret_headers(&x->own_headers, "Cookie: ", req->cookie)) != 0)
			goto fail;
		x->headers = x->own_headers;
	} else if (req->api_key) {
		r = FR_ERR_CONFIG;
		if (c->key_headers == NULL)
			goto fail;
		x->headers = c->key_headers;
	} else {
		x->headers = c->plain_headers;
	}
	enum xfer_role role;
	if (c->wait_head == NULL && may_launch(c, x, &role)) {
		if ((r = xfer_launch(x, role)) != FR_OK)
			goto fail;
	} else {
		wait_enqueue(c, x);
		launch_waiting(c);
	}
	*out = x;
	return FR_OK;
fail:
	xfer_free(x);
	return r;
}

void
http_cancel(struct http_xfer *x)
{
	if (x == NULL)
		return;
	struct http_client *c = x->client;
	xfer_free(x);
	launch_waiting(c); /* a connection may have come free */
}

void
http_client_set_observer(struct http_client *c, http_observer_fn fn, void *ctx)
{
	c->observer = fn;
	c->observer_ctx = ctx;
}

uint64_t
http_connections_opened(const struct http_client *c)
{
	return c->connections;
}

unsigned
http_transfers_active(const struct http_client *c)
{
	return c->active;
}

static int
transport_start(void *impl, const struct http_request *req, http_done_fn done, void *ctx, struct http_xfer **out)
{
	return http_start(impl, req, done, ctx, out);
}

static void
transport_cancel(void *impl, struct http_xfer *x)
{
	(void)impl;
	http_cancel(x);
}

void
http_client_transport(struct http_client *c, struct api_transport *out)
{
	out->impl = c;
	out->start = transport_start;
	out->cancel = transport_cancel;
}
