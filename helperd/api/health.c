#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/health.h"
#include "fr_error.h"
#include "core/log.h"

struct api_health_waiter {
	struct api_health_waiter *next;
	api_health_fn fn;
	void *ctx;
};

struct api_health {
	struct loop *loop;
	struct http_client *http;
	struct loop_timer timer; /* the next probe during an outage */
	struct http_xfer *probe; /* in flight */
	struct api_health_waiter *waiters;
	struct api_health_result last;
	bool have_last;
	uint64_t probes;
	int64_t outage_since_ms; /* 0: no outage */
	int64_t last_failure_ms; /* the latest transport failure of the outage */
	bool start_failed;	 /* the probe could not start: the timer tells the waiters */
};

static void start_probe(struct api_health *ah);

static void
on_outcome(void *ctx, enum http_outcome outcome)
{
	api_health_observe(ctx, outcome);
}

/* In `ms` milliseconds; 0 disarms. */
static void
arm_timer(struct api_health *ah, int64_t ms)
{
	if (ms == 0)
		loop_timer_cancel(ah->loop, &ah->timer);
	else if (loop_timer_set(ah->loop, &ah->timer, loop_now_ms() + ms) != 0)
		log_err("cannot arm the API probe timer");
}

void
api_health_observe(struct api_health *ah, enum http_outcome outcome)
{
	int64_t now = loop_now_ms();

	switch (outcome) {
	case HTTP_UNREACHABLE:
		if (ah->outage_since_ms == 0) {
			ah->outage_since_ms = now;
			log_warn("the API is not reachable; probing it every %d s", API_HEALTH_PROBE_EVERY_MS / 1000);
			arm_timer(ah, API_HEALTH_PROBE_EVERY_MS);
		}
		ah->last_failure_ms = now;
		break;
	case HTTP_LOCAL_FAILURE:
		break; /* says nothing about the API */
	case HTTP_ANSWERED:
	case HTTP_TLS_FAILED:
	case HTTP_TOO_LARGE:
	case HTTP_FAILED:
		if (ah->outage_since_ms != 0)
			log_info("the API answers again after %lld s", (long long)(now - ah->outage_since_ms) / 1000);
		ah->outage_since_ms = 0;
		ah->last_failure_ms = 0;
		if (!ah->start_failed)
			arm_timer(ah, 0);
		break;
	}
}

static void
on_probe_done(void *ctx, const struct http_response *resp)
{
	struct api_health *ah = ctx;

	ah->probe = NULL;
	memset(&ah->last, 0, sizeof(ah->last));
	ah->last.outcome = resp->outcome;
	ah->last.status = resp->outcome == HTTP_ANSWERED ? resp->status : 0;
	ah->last.elapsed_ms = resp->elapsed_ms;
	ah->last.at_ms = loop_now_ms();
	if (resp->outcome != HTTP_ANSWERED && resp->error != NULL)
		snprintf(ah->last.error, sizeof(ah->last.error), "%s", resp->error);
	ah->have_last = true;
	/* One waiter at a time off the list: a callback may cancel another. */
	while (ah->waiters != NULL) {
		struct api_health_waiter *w = ah->waiters;
		ah->waiters = w->next;
		api_health_fn fn = w->fn;
		void *wctx = w->ctx;
		free(w);
		fn(wctx, &ah->last);
	}
	if (ah->outage_since_ms != 0)
		arm_timer(ah, API_HEALTH_PROBE_EVERY_MS);
}

static void
start_probe(struct api_health *ah)
{
	struct http_request req = { .method = "GET", .path = API_HEALTH_PROBE_PATH };

	if (ah->probe != NULL || ah->start_failed)
		return;
	ah->probes++;
	if (ah->http == NULL || http_start(ah->http, &req, on_probe_done, ah, &ah->probe) != 0) {
		/* Reported from the timer, never from inside the caller's call. */
		ah->start_failed = true;
		arm_timer(ah, 1);
	}
}

static void
on_timer(struct loop_timer *t)
{
	struct api_health *ah = (struct api_health *)((char *)t - offsetof(struct api_health, timer));

	if (ah->start_failed) {
		struct http_response none = { .outcome = HTTP_LOCAL_FAILURE, .error = "probe not started" };
		ah->start_failed = false;
		on_probe_done(ah, &none);
	} else if (ah->outage_since_ms != 0) {
		start_probe(ah);
	}
}

int
api_health_new(struct loop *loop, struct http_client *http, struct api_health **out)
{
	struct api_health *ah = calloc(1, sizeof(*ah));

	*out = NULL;
	if (ah == NULL)
		return FR_ERR_NOMEM;
	ah->loop = loop;
	ah->http = http;
	ah->timer.on_expire = on_timer;
	if (http != NULL)
		http_client_set_observer(http, on_outcome, ah);
	*out = ah;
	return FR_OK;
}

void
api_health_free(struct api_health *ah)
{
	if (ah == NULL)
		return;
	if (ah->http != NULL)
		http_client_set_observer(ah->http, NULL, NULL);
	if (ah->probe != NULL)
		http_cancel(ah->probe);
	while (ah->waiters != NULL) {
		struct api_health_waiter *w = ah->waiters;
		ah->waiters = w->next;
		free(w);
	}
	loop_timer_cancel(ah->loop, &ah->timer);
	free(ah);
}

int
api_health_get(struct api_health *ah, int64_t max_age_ms, api_health_fn fn, void *ctx, struct api_health_waiter **out)
{
	*out = NULL;
	if (ah->have_last && loop_now_ms() - ah->last.at_ms <= max_age_ms) {
		fn(ctx, &ah->last);
		return FR_OK;
	}
	struct api_health_waiter *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return FR_ERR_NOMEM;
	w->fn = fn;
	w->ctx = ctx;
	w->next = ah->waiters;
	ah->waiters = w;
	*out = w;
	start_probe(ah);
	return FR_OK;
}

void
api_health_cancel(struct api_health *ah, struct api_health_waiter *w)
{
	if (w == NULL)
		return;
	for (struct api_health_waiter **slot = &ah->waiters; *slot != NULL; slot = &(*slot)->next) {
		if (*slot == w) {
			*slot = w->next;
			free(w);
			return;
		}
	}
}

bool
api_health_outage_for(const struct api_health *ah, unsigned seconds)
{
	int64_t now = loop_now_ms();

	return ah->outage_since_ms != 0 && now - ah->outage_since_ms >= (int64_t)seconds * 1000 &&
	       now - ah->last_failure_ms <= 2 * API_HEALTH_PROBE_EVERY_MS;
}

uint64_t
api_health_probes(const struct api_health *ah)
{
	return ah->probes;
}
