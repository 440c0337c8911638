/* The daemon's state: the composition root main.c fills in and hands to
 * the units that run requests (auth/, requests/) instead of globals.  The
 * lower layers (core, transport, store, crypto, api) get what they need
 * passed one by one and never see this struct. */
#ifndef HELPER_H
#define HELPER_H

#include <stdint.h>

#include "api/http.h"
#include "core/helper_config.h"

struct loop;
struct http_client;
struct token_cache;
struct server;
struct session_table;
struct refresh_table;
struct offline_guard;
struct ratelimit;
struct verifier_worker;
struct job_pool;
struct state_writer;
struct caller_quota;
struct api_health;
struct totp_replay;
struct audit;
struct l10n;

struct helper {
	struct config *cfg;
	struct loop *loop;
	struct http_client *http;
	struct api_transport api;  /* what logins send their requests through: http, or a test's fake */
	struct api_health *health; /* the shared probe, outages */
	struct token_cache *cache;
	struct server *server;
	struct session_table *sessions;
	struct refresh_table *refreshes;   /* auth/refresh.c */
	struct offline_guard *offline;	   /* auth/offline.c */
	struct ratelimit *ratelimit;	   /* failure budgets (auth/access.c) */
	struct verifier_worker *verifiers; /* yescrypt off the loop */
	struct job_pool *nss;		   /* account lookups off the loop (requests/table.c) */
	struct caller_quota *quota;	   /* what each non-root uid holds */
	struct state_writer *state_writer; /* rate-limit and replay files, written behind */
	struct totp_replay *totp_replay;   /* used TOTP steps */
	struct audit *audit;		   /* audit records (core/audit.h); NULL: none */
	struct l10n *l10n;		   /* the catalogues: each request's language */
	int cache_dirfd;		   /* cache_dir, for the state files */
	unsigned logins_active;
	uint64_t logins_total;
};

#endif
