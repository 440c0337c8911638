#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "auth/access.h"
#include "auth/flows.h"
#include "fr_error.h"
#include "fr_text.h"
#include "core/log.h"
#include "requests/requests.h"
#include "transport/server.h"
#include "requests/sessions.h"
#include "store/token_cache.h"
#include "hostlib/user_name.h"

struct session_user {
	struct session_user *next;
	char *user;
	unsigned open;
};

struct session_table {
	struct session_user *users;
	unsigned total;
};

int
sessions_new(struct session_table **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

void
sessions_free(struct session_table *t)
{
	if (t == NULL)
		return;
	while (t->users != NULL) {
		struct session_user *u = t->users;
		t->users = u->next;
		free(u->user);
		free(u);
	}
	free(t);
}

unsigned
sessions_open_total(const struct session_table *t)
{
	return t->total;
}

static struct session_user **
find_slot(struct session_table *t, const char *user)
{
	struct session_user **slot = &t->users;

	while (*slot != NULL && strcmp((*slot)->user, user) != 0)
		slot = &(*slot)->next;
	return slot;
}

unsigned
sessions_open_for(const struct session_table *t, const char *user)
{
	for (const struct session_user *u = t->users; u != NULL; u = u->next)
		if (strcmp(u->user, user) == 0)
			return u->open;
	return 0;
}

/* What the end of a user's last session means depends on the API (a
 * logout call for jwt) and on forget_on_logout. */
static void
last_session_closed(struct helper *h, const char *user)
{
	const struct flow_ops *flow = flows_select(h->cfg);

	if (flow != NULL && flow->logout != NULL)
		flow->logout(h, user);
	if (h->cfg->forget_on_logout) {
		int r = token_cache_forget(h->cache, user);
		if (r == 0)
			log_auth(LOG_INFO, "forgot the cached tokens of %s at logout", user);
		else if (r != FR_ERR_NOT_FOUND)
			log_warn("cannot forget the cached tokens of %s: %s", user, fr_strerror(r));
	}
}

void
sessions_event(struct helper *h, struct conn *c, const struct fr_msg *msg)
{
	struct session_table *t = h->sessions;
	const char *user = fr_msg_str(msg, FR_TAG_USER);
	int opening = msg->type == FR_MSG_SESSION_OPEN;

	if (!user_name_valid(user)) {
		requests_reply_done(c, FR_RESULT_USER_UNKNOWN, NULL);
		return;
	}
	/* The same rule as for logins (access.c): a non-root caller speaks
	 * only for itself. */
	if (access_caller_allowed(user, conn_peer(c)->uid) != 0) {
		log_auth(LOG_WARNING, "uid %u may not report sessions of %s",
			 (unsigned)conn_peer(c)->uid, user);
		requests_reply_done(c, FR_RESULT_PERM_DENIED, NULL);
		return;
	}
	struct session_user **slot = find_slot(t, user);
	if (opening) {
		if (*slot == NULL) {
			struct session_user *u = calloc(1, sizeof(*u));
			if (u == NULL || (u->user = strdup(user)) == NULL) {
				free(u);
				requests_reply_done(c, FR_RESULT_SYSTEM_ERR, NULL);
				return;
			}
			*slot = u;
		}
		(*slot)->open++;
		t->total++;
	} else if (*slot != NULL) {
		struct session_user *u = *slot;
		u->open--;
		t->total--;
		if (u->open == 0) {
			*slot = u->next;
			free(u->user);
			free(u);
			last_session_closed(h, user);
		}
	}
	char service[128];
	fr_text_sanitize(service, sizeof(service), fr_msg_str(msg, FR_TAG_SERVICE),
			 strlen(fr_msg_str(msg, FR_TAG_SERVICE)), 0);
	log_auth(LOG_INFO, "session %s for %s (service %s), %u open", opening ? "opened" : "closed",
		 user, service, sessions_open_for(t, user));
	requests_reply_done(c, FR_RESULT_SUCCESS, NULL);
}
