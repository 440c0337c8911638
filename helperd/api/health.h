/*
 * What the helper knows of the API's health: the last reachability probe
 * (shared by every `freddyctl status` for a while, so that status calls
 * cannot make the helper a request amplifier), and whether the API has
 * been unreachable long enough to call it an outage.
 *
 * Offline login must need a real outage, not one failed request: a local
 * user who can make one connection fail (by exhausting ports, say) must
 * not open the offline path.  An outage starts with a transport failure
 * (refused, reset, timed out, no DNS), is followed by a probe every few
 * seconds, and ends with any answer from the API, a TLS failure or an
 * odd reply included (something is there).  Failures of this host's own
 * resources (HTTP_LOCAL_FAILURE) neither start nor end one.
 */
#ifndef API_HEALTH_H
#define API_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "core/loop.h"

#define API_HEALTH_PROBE_PATH	  "/"  /* DOCS SILENT: no health endpoint; any HTTP answer means reachable */
#define API_HEALTH_PROBE_EVERY_MS 5000 /* during an outage */

struct api_health;
struct api_health_waiter;

struct api_health_result {
	enum http_outcome outcome;
	long status; /* HTTP status when answered, else 0 */
	int64_t elapsed_ms;
	char error[160]; /* curl's text when not answered */
	int64_t at_ms;	 /* monotonic time the probe ended */
};

typedef void (*api_health_fn)(void *ctx, const struct api_health_result *r);

/* `http` NULL: no probes (they fail at once) and outcomes only from
 * api_health_observe, as in the engine's unit tests. */
int api_health_new(struct loop *loop, struct http_client *http, struct api_health **out);
/* Waiters are dropped without a call. */
void api_health_free(struct api_health *ah);

/* A probe result at most `max_age_ms` old: at once (fn runs before this
 * returns, *out NULL) if one is cached, else later from the loop, when the
 * probe in flight (one for every caller) ends.  FR_OK or FR_ERR_NOMEM. */
int api_health_get(struct api_health *ah, int64_t max_age_ms, api_health_fn fn, void *ctx,
		   struct api_health_waiter **out);
void api_health_cancel(struct api_health *ah, struct api_health_waiter *w);

/* The outcome of a finished request (the HTTP client reports each one). */
void api_health_observe(struct api_health *ah, enum http_outcome outcome);

/* Whether an outage has lasted at least `seconds`, with a transport
 * failure within the last two probe intervals. */
bool api_health_outage_for(const struct api_health *ah, unsigned seconds);

/* Number of probes sent so far (tests, freddyctl status). */
uint64_t api_health_probes(const struct api_health *ah);

#endif
