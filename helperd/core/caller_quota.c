#include "config.h"

#include <stdlib.h>

#include "core/caller_quota.h"
#include "fr_error.h"

#define QUOTA_BUCKETS 256 /* a power of two */

struct quota_entry {
	struct quota_entry *next;
	uid_t uid;
	unsigned held[QUOTA_KINDS];
};

struct caller_quota {
	struct quota_entry *buckets[QUOTA_BUCKETS];
	unsigned total[QUOTA_KINDS];
};

static size_t
bucket_of(uid_t uid)
{
	return ((size_t)uid * 2654435761u) & (QUOTA_BUCKETS - 1);
}

static struct quota_entry *
find(const struct caller_quota *q, uid_t uid)
{
	for (struct quota_entry *e = q->buckets[bucket_of(uid)]; e != NULL; e = e->next)
		if (e->uid == uid)
			return e;
	return NULL;
}

int
caller_quota_new(struct caller_quota **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? FR_OK : FR_ERR_NOMEM;
}

void
caller_quota_free(struct caller_quota *q)
{
	if (q == NULL)
		return;
	for (size_t b = 0; b < QUOTA_BUCKETS; b++) {
		while (q->buckets[b] != NULL) {
			struct quota_entry *e = q->buckets[b];
			q->buckets[b] = e->next;
			free(e);
		}
	}
	free(q);
}

unsigned
caller_quota_held(const struct caller_quota *q, uid_t uid, enum quota_kind kind)
{
	const struct quota_entry *e = uid != 0 ? find(q, uid) : NULL;

	return e != NULL ? e->held[kind] : 0;
}

int
caller_quota_take(struct caller_quota *q, uid_t uid, enum quota_kind kind)
{
	if (uid == 0)
		return FR_OK;
	struct quota_entry *e = find(q, uid);
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return FR_ERR_NOMEM;
		e->uid = uid;
		e->next = q->buckets[bucket_of(uid)];
		q->buckets[bucket_of(uid)] = e;
	}
	e->held[kind]++;
	q->total[kind]++;
	return FR_OK;
}

void
caller_quota_give(struct caller_quota *q, uid_t uid, enum quota_kind kind)
{
	if (uid == 0)
		return;
	struct quota_entry **slot = &q->buckets[bucket_of(uid)];
	while (*slot != NULL && (*slot)->uid != uid)
		slot = &(*slot)->next;
	struct quota_entry *e = *slot;
	if (e == NULL || e->held[kind] == 0)
		return; /* never taken: a bookkeeping bug must not underflow */
	e->held[kind]--;
	q->total[kind]--;
	for (int k = 0; k < QUOTA_KINDS; k++)
		if (e->held[k] != 0)
			return;
	*slot = e->next;
	free(e);
}

unsigned
caller_quota_total(const struct caller_quota *q, enum quota_kind kind)
{
	return q->total[kind];
}
