#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>

#include "api/parse.h"
#include "fr_error.h"
#include "api/http.h"
#include "core/log.h"
#include "core/secret.h"
#include "api/profile.h"
#include "auth/refresh.h"

struct refresh_waiter {
	struct refresh_waiter *next;
	struct refresh_entry *entry;
	refresh_done_fn done;
	void *ctx;
};

struct refresh_entry {
	struct refresh_entry *next;
	struct refresh_table *table;
	struct helper *h;
	char *user;
	char *sent_refresh_token; /* secret: to notice a login that replaced it meanwhile */
	struct http_xfer *xfer;
	struct refresh_waiter *waiters;
};

struct refresh_table {
	struct refresh_entry *entries;
	unsigned count;
};

static const struct profile_refresh *
refresh_spec(const struct helper *h)
{
	const struct profile *p = profile_for(h->cfg);

	return p != NULL ? p->refresh : NULL;
}

int
refresh_table_new(struct refresh_table **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

static void
entry_free(struct refresh_entry *e)
{
	while (e->waiters != NULL) {
		struct refresh_waiter *w = e->waiters;
		e->waiters = w->next;
		free(w);
	}
	secret_free(e->sent_refresh_token);
	free(e->user);
	free(e);
}

static void
entry_unlink(struct refresh_entry *e)
{
	struct refresh_entry **slot = &e->table->entries;

	while (*slot != NULL && *slot != e)
		slot = &(*slot)->next;
	if (*slot == e) {
		*slot = e->next;
		e->table->count--;
	}
}

void
refresh_table_free(struct refresh_table *t)
{
	if (t == NULL)
		return;
	while (t->entries != NULL) {
		struct refresh_entry *e = t->entries;
		t->entries = e->next;
		if (e->xfer != NULL)
			e->h->api.cancel(e->h->api.impl, e->xfer);
		entry_free(e);
	}
	free(t);
}

unsigned
refresh_in_flight(const struct refresh_table *t)
{
	return t->count;
}

/* Keep the new access token, unless the record changed under us (a full
 * login stored new tokens, or an administrator forgot the user): then
 * the record on disk is newer than this answer and stays. */
static int
store_refreshed(struct refresh_entry *e, const struct api_tokens *tokens, long default_ttl, struct cache_record *rec)
{
	time_t now = time(NULL);
	int r = token_cache_load(e->h->cache, e->user, rec);

	if (r != 0)
		return r;
	if (strcmp(rec->refresh_token, e->sent_refresh_token) != 0) {
		log_debug("refresh: the cached login of %s changed meanwhile; not storing", e->user);
		cache_record_wipe(rec);
		return FR_ERR_NOT_FOUND;
	}
	if (secret_set(&rec->access_token, tokens->access_token) != 0 ||
	    (tokens->refresh_token != NULL && secret_set(&rec->refresh_token, tokens->refresh_token) != 0))
		return FR_ERR_NOMEM;
	rec->access_expires = now + (tokens->expires_in > 0 ? tokens->expires_in : default_ttl);
	if ((r = token_cache_store(e->h->cache, e->user, rec)) != 0)
		log_warn("refresh: new token of %s not cached: %s", e->user, fr_strerror(r));
	return FR_OK;
}

static void
forget_refused(struct refresh_entry *e)
{
	struct cache_record rec;

	if (token_cache_load(e->h->cache, e->user, &rec) != 0)
		return;
	if (strcmp(rec.refresh_token, e->sent_refresh_token) == 0) {
		int r = token_cache_forget(e->h->cache, e->user);
		log_auth(LOG_NOTICE, "refresh token of %s refused by the API; cached login %s", e->user,
			 r == 0 ? "dropped" : "could not be dropped");
	}
	cache_record_wipe(&rec);
}

static void
on_refresh_done(void *ctx, const struct http_response *resp)
{
	struct refresh_entry *e = ctx;
	const struct profile_refresh *api = refresh_spec(e->h);
	struct cache_record rec = { 0 };
	struct api_tokens tokens;
	int result = FR_ERR_IO;

	e->xfer = NULL;
	entry_unlink(e);
	if (api == NULL) {
		result = FR_ERR_UNEXPECTED; /* the configuration changed under us */
	} else if (resp->outcome != HTTP_ANSWERED) {
		log_warn("refresh for %s: %s (%s)", e->user, http_outcome_name(resp->outcome), resp->error);
	} else if (resp->status == 200) {
		if (api_parse_tokens(resp->body, resp->body_len, api->reply_access_key, api->reply_refresh_key, 0,
				     &tokens) != 0) {
			log_warn("refresh for %s: reply without a valid token", e->user);
		} else {
			result = store_refreshed(e, &tokens, api->default_ttl, &rec);
			if (result == FR_ERR_NOT_FOUND)
				result = FR_ERR_IO; /* no record to hand out */
			api_tokens_wipe(&tokens);
		}
	} else if (resp->status >= 400 && resp->status < 500 && resp->status != 429) {
		/* DOCS SILENT: the guides name 401 for a bad refresh token;
		 * every 4xx but 429 is taken as "this login is no longer
		 * valid" so that revocation bites at once. */
		forget_refused(e);
		result = FR_ERR_PERMISSION;
	} else {
		log_warn("refresh for %s: HTTP status %ld", e->user, resp->status);
	}
	log_debug("refresh for %s: %s", e->user, result == 0 ? "ok" : fr_strerror(result));
	/* One waiter at a time off the list: a callback may cancel another
	 * waiter, and a new refresh for this user starts a new entry. */
	while (e->waiters != NULL) {
		struct refresh_waiter *w = e->waiters;
		e->waiters = w->next;
		refresh_done_fn done = w->done;
		void *wctx = w->ctx;
		free(w);
		done(wctx, result, result == 0 ? &rec : NULL);
	}
	cache_record_wipe(&rec);
	entry_free(e);
}

static int
entry_start(struct helper *h, const char *user, struct refresh_entry **out)
{
	const struct profile_refresh *api = refresh_spec(h);
	struct cache_record rec;
	struct refresh_entry *e;
	size_t len = 0;
	int r;

	*out = NULL;
	if (api == NULL)
		return FR_ERR_UNEXPECTED;
	if ((r = token_cache_load(h->cache, user, &rec)) != 0)
		return r;
	if ((e = calloc(1, sizeof(*e))) == NULL || (e->user = strdup(user)) == NULL ||
	    (e->sent_refresh_token = secret_strdup(rec.refresh_token)) == NULL) {
		if (e != NULL)
			entry_free(e);
		cache_record_wipe(&rec);
		return FR_ERR_NOMEM;
	}
	json_t *body = json_pack("{s:s}", api->request_key, rec.refresh_token);
	cache_record_wipe(&rec);
	char *text = body != NULL ? secret_json_dump(body, &len) : NULL;
	json_decref(body);
	if (text == NULL) {
		entry_free(e);
		return FR_ERR_NOMEM;
	}
	struct http_request req = { .method = "POST", .path = api->path, .body = text, .body_len = len };
	e->h = h;
	e->table = h->refreshes;
	r = h->api.start(h->api.impl, &req, on_refresh_done, e, &e->xfer);
	secret_free(text);
	if (r != 0) {
		log_err("cannot start a refresh for %s: %s", user, fr_strerror(r));
		entry_free(e);
		return FR_ERR_IO;
	}
	e->next = h->refreshes->entries;
	h->refreshes->entries = e;
	h->refreshes->count++;
	*out = e;
	return FR_OK;
}

int
refresh_start(struct helper *h, const char *user, refresh_done_fn done, void *ctx, struct refresh_waiter **out)
{
	struct refresh_entry *e;
	struct refresh_waiter *w;
	int r;

	*out = NULL;
	for (e = h->refreshes->entries; e != NULL; e = e->next)
		if (strcmp(e->user, user) == 0)
			break;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return FR_ERR_NOMEM;
	if (e == NULL) {
		if ((r = entry_start(h, user, &e)) != 0) {
			free(w);
			return r;
		}
	} else {
		log_debug("refresh for %s already in flight; waiting for it", user);
	}
	w->entry = e;
	w->done = done;
	w->ctx = ctx;
	w->next = e->waiters;
	e->waiters = w;
	*out = w;
	return FR_OK;
}

void
refresh_cancel(struct helper *h, struct refresh_waiter *w)
{
	(void)h;
	if (w == NULL)
		return;
	/* The transfer carries on: its answer still updates the cache. */
	struct refresh_waiter **slot = &w->entry->waiters;
	while (*slot != NULL && *slot != w)
		slot = &(*slot)->next;
	if (*slot == w)
		*slot = w->next;
	free(w);
}
