#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "auth/logout.h"
#include "auth/sessions.h"
#include "core/log.h"
#include "fr_error.h"
#include "store/token_cache.h"

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
	logout_user(h, user);
	if (h->cfg->forget_on_logout) {
		int r = token_cache_forget(h->cache, user);
		if (r == 0)
			log_auth(LOG_INFO, "forgot the cached tokens of %s at logout", user);
		else if (r != FR_ERR_NOT_FOUND)
			log_warn("cannot forget the cached tokens of %s: %s", user, fr_strerror(r));
	}
}

int
sessions_opened(struct helper *h, const char *user)
{
	struct session_table *t = h->sessions;
	struct session_user **slot = find_slot(t, user);

	if (*slot == NULL) {
		struct session_user *u = calloc(1, sizeof(*u));
		if (u == NULL || (u->user = strdup(user)) == NULL) {
			free(u);
			return FR_ERR_NOMEM;
		}
		*slot = u;
	}
	(*slot)->open++;
	t->total++;
	return FR_OK;
}

void
sessions_closed(struct helper *h, const char *user)
{
	struct session_table *t = h->sessions;
	struct session_user **slot = find_slot(t, user);
	struct session_user *u = *slot;

	if (u == NULL)
		return;
	u->open--;
	t->total--;
	if (u->open == 0) {
		*slot = u->next;
		free(u->user);
		free(u);
		last_session_closed(h, user);
	}
}
