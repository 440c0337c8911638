#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/audit.h"
#include "core/log.h"
#include "fr_wire.h"
#include "transport/refusal_log.h"

static const char *const kind_text[REFUSAL_KINDS] = {
	[REFUSED_UID_CONNECTIONS] = "refused (uid at max_clients_per_uid)",
	[REFUSED_UID_LOGINS] = "logins refused (uid at max_logins_per_uid)",
	[REFUSED_UID_LOOKUPS] = "requests refused (uid at its share of the account lookups)",
	[REFUSED_NONROOT_FULL] = "refused (non-root callers at their share of max_clients)",
	[REFUSED_FULL] = "refused (max_clients, all busy)",
	[EVICTED_IDLE] = "idle dropped to make room",
	[EVICTED_LOGIN] = "non-root logins dropped to make room for root",
};

static void
write_line(struct refusal_log *l, int64_t now_ms)
{
	char line[768], uids[96] = "";
	size_t off = 0;
	bool any = false;

	for (int k = 0; k < REFUSAL_KINDS; k++) {
		if (l->count[k] == 0)
			continue;
		int n = snprintf(line + off, sizeof(line) - off, "%s%u %s", any ? ", " : "", l->count[k], kind_text[k]);
		if (n < 0 || (size_t)n >= sizeof(line) - off)
			break;
		off += (size_t)n;
		any = true;
	}
	if (!any)
		return;
	for (unsigned i = 0, o = 0; i < l->nuids && o < sizeof(uids); i++) {
		int n = snprintf(uids + o, sizeof(uids) - o, "%s%u", i ? " " : "", (unsigned)l->uids[i]);
		if (n < 0)
			break;
		o += (unsigned)n;
	}
	log_warn("client connections: %s%s%s%s", line, l->nuids ? " (uids " : "", uids, l->nuids ? ")" : "");
	for (unsigned i = 0; i < l->nrefused; i++)
		audit_emit(l->audit, &(struct audit_record){ .event = AUDIT_CALLER_REFUSED,
							     .caller_uid = l->refused[i],
							     .result = fr_result_name(FR_RESULT_BUSY) });
	memset(l->count, 0, sizeof(l->count));
	l->nuids = 0;
	l->nrefused = 0;
	l->logged_ms = now_ms;
}

void
refusal_log_note(struct refusal_log *l, enum refusal_kind kind, uid_t uid, int64_t now_ms)
{
	l->count[kind]++;
	bool known = false;
	for (unsigned i = 0; i < l->nuids; i++)
		known |= l->uids[i] == uid;
	if (!known && l->nuids < REFUSAL_LOG_UIDS)
		l->uids[l->nuids++] = uid;
	if (kind != EVICTED_IDLE && kind != EVICTED_LOGIN) {
		known = false;
		for (unsigned i = 0; i < l->nrefused; i++)
			known |= l->refused[i] == uid;
		if (!known && l->nrefused < REFUSAL_LOG_UIDS)
			l->refused[l->nrefused++] = uid;
	}
	refusal_log_tick(l, now_ms);
}

void
refusal_log_tick(struct refusal_log *l, int64_t now_ms)
{
	if (l->logged_ms == 0 || now_ms - l->logged_ms >= REFUSAL_LOG_INTERVAL_MS)
		write_line(l, now_ms);
}

bool
refusal_log_pending(const struct refusal_log *l)
{
	for (int k = 0; k < REFUSAL_KINDS; k++)
		if (l->count[k] != 0)
			return true;
	return false;
}
