/*
 * HTTPS to the API through one curl multi handle driven by the helper's
 * event loop, so a slow server delays only the logins waiting on it and
 * connections are reused across logins.  The policy (https only, no
 * redirects, no environment proxy, verified TLS, timeouts, size cap) is
 * applied to every transfer in http.c and nowhere else.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/helper_config.h"
#include "core/loop.h"

#define HTTP_MAX_BODY (64 * 1024)

enum http_outcome {
	HTTP_ANSWERED = 0,  /* a status line and a body (maybe empty) arrived */
	HTTP_UNREACHABLE,   /* DNS, refused, reset, timeout: the API cannot be asked */
	HTTP_TLS_FAILED,    /* certificate or handshake problem */
	HTTP_TOO_LARGE,	    /* body over HTTP_MAX_BODY */
	HTTP_LOCAL_FAILURE, /* this host ran out of something (ports, fds, memory): says nothing of the API */
	HTTP_FAILED,	    /* anything else */
};

struct http_response {
	enum http_outcome outcome;
	long status;
	const char *body; /* NUL-terminated, valid during the callback only */
	size_t body_len;
	const char *error; /* curl's description, for logs; carries no secret */
	int64_t elapsed_ms;
};

struct http_request {
	const char *method; /* "POST", "GET" or "DELETE" (GET and DELETE send no body) */
	const char *path;   /* appended to api_url */
	const char *body;   /* JSON, copied and wiped by http.c; NULL for none */
	size_t body_len;
	const char *bearer; /* Authorization: Bearer …, or NULL; must be a b64token */
	const char *cookie; /* the one Cookie header, "name=value" (secret), or NULL; never with a bearer */
	bool api_key;	    /* send X-API-Key from api_key_file */
};

typedef void (*http_done_fn)(void *ctx, const struct http_response *resp);

struct http_client;
struct http_xfer;

int http_client_new(struct loop *loop, const struct config *cfg, const char *api_key, struct http_client **out);
void http_client_free(struct http_client *client);

/* Start a request; `done` runs once from the event loop unless the
 * transfer is cancelled first.  http_client_free runs the callbacks of
 * transfers still in flight with HTTP_FAILED, so their owners can free
 * what they hold; no transfer starts after that. */
int http_start(struct http_client *client, const struct http_request *req, http_done_fn done, void *ctx,
	       struct http_xfer **out);
/* Abort a transfer; its callback will not run. */
void http_cancel(struct http_xfer *xfer);

/* What the login engine, refreshes and logouts send requests through: the
 * HTTP client here, a scripted fake in the engine's unit tests. */
struct api_transport {
	void *impl;
	int (*start)(void *impl, const struct http_request *req, http_done_fn done, void *ctx, struct http_xfer **out);
	void (*cancel)(void *impl, struct http_xfer *xfer);
};
void http_client_transport(struct http_client *client, struct api_transport *out);

/* Called with the outcome of every finished transfer (api_health.c keeps
 * count of outages); NULL to stop. */
typedef void (*http_observer_fn)(void *ctx, enum http_outcome outcome);
void http_client_set_observer(struct http_client *client, http_observer_fn fn, void *ctx);

uint64_t http_connections_opened(const struct http_client *client);
unsigned http_transfers_active(const struct http_client *client);

const char *http_outcome_name(enum http_outcome outcome);

#endif
