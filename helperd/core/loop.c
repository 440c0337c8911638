#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fr_error.h"
#include "core/loop.h"

#define LOOP_BATCH 256

/* Once a pass has run this long, the events left in its batch wait for the
 * next epoll_wait, which reports them again (every source is
 * level-triggered): the timers and deferred work due now, and the events
 * behind them, are not held up by a long batch.  Well under the 5 ms a
 * pass may take. */
#define LOOP_PASS_BUDGET_NS (2 * 1000 * 1000)

struct loop {
	int epfd;
	struct loop_deferred *deferred;
	struct loop_timer **heap; /* a binary min-heap on deadline_ms */
	size_t timers, heap_cap;
	uint64_t pass;
	bool in_timers; /* run_timers is calling them */
	/* Since loop_take_stalls: the longest pass (epoll_wait's return to
	 * the next call, with what the caller does between two calls), how
	 * long an event could wait for the loop; and the longest single
	 * callback (an fd's event or a timer), which tells one slow handler
	 * from many quick ones.  The pass under way counts from pass_start_ns. */
	int64_t pass_start_ns;
	int64_t longest_pass_ns;
	int64_t longest_event_ns;
};

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One callback ended at `done`, having started at *t; the next starts now. */
static void
note_event(struct loop *loop, int64_t *t)
{
	int64_t done = now_ns();

	if (done - *t > loop->longest_event_ns)
		loop->longest_event_ns = done - *t;
	*t = done;
}

int
loop_new(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	*out = NULL;
	if (loop == NULL)
		return FR_ERR_NOMEM;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(loop);
		return FR_ERR_IO;
	}
	*out = loop;
	return FR_OK;
}

static void
run_deferred(struct loop *loop)
{
	/* A deferred function may defer more work; run until none is left. */
	while (loop->deferred != NULL) {
		struct loop_deferred *node = loop->deferred;
		loop->deferred = node->next;
		node->fn(node->arg);
	}
}

void
loop_free(struct loop *loop)
{
	if (loop == NULL)
		return;
	run_deferred(loop);
	close(loop->epfd);
	for (size_t i = 0; i < loop->timers; i++)
		loop->heap[i]->deadline_ms = 0;
	free(loop->heap);
	free(loop);
}

static bool
earlier(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline_ms < b->deadline_ms;
}

static void
heap_place(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void
sift_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0 && earlier(t, loop->heap[(i - 1) / 2])) {
		heap_place(loop, i, loop->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(loop, i, t);
}

static void
sift_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->timers)
			break;
		if (child + 1 < loop->timers && earlier(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!earlier(loop->heap[child], t))
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->deadline_ms != 0;
}

void
loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
	if (t->deadline_ms == 0)
		return;
	size_t i = t->slot;
	t->deadline_ms = 0;
	struct loop_timer *last = loop->heap[--loop->timers];
	if (last == t)
		return;
	heap_place(loop, i, last);
	sift_down(loop, i);
	sift_up(loop, last->slot);
}

int
loop_timer_set(struct loop *loop, struct loop_timer *t, int64_t deadline_ms)
{
	if (deadline_ms <= 0)
		deadline_ms = 1; /* 0 means "not armed" */
	if (t->deadline_ms != 0) {
		t->deadline_ms = deadline_ms;
		t->armed_pass = loop->pass;
		sift_down(loop, t->slot);
		sift_up(loop, t->slot);
		return FR_OK;
	}
	if (loop->timers == loop->heap_cap) {
		size_t cap = loop->heap_cap ? 2 * loop->heap_cap : 64;
		struct loop_timer **grown = realloc(loop->heap, cap * sizeof(*grown));
		if (grown == NULL)
			return FR_ERR_NOMEM;
		loop->heap = grown;
		loop->heap_cap = cap;
	}
	t->deadline_ms = deadline_ms;
	t->armed_pass = loop->pass;
	heap_place(loop, loop->timers++, t);
	sift_up(loop, t->slot);
	return FR_OK;
}

int
loop_timer_set_next_pass(struct loop *loop, struct loop_timer *t)
{
	int r = loop_timer_set(loop, t, loop_now_ms());

	/* While timers run, loop->pass already names the next pass. */
	if (r == FR_OK)
		t->armed_pass = loop->in_timers ? loop->pass : loop->pass + 1;
	return r;
}

/* Milliseconds epoll may sleep: until the earliest timer, at most `limit`. */
static int
wait_ms(const struct loop *loop, int limit)
{
	if (loop->timers == 0)
		return limit;
	int64_t left = loop->heap[0]->deadline_ms - loop_now_ms();
	if (left < 0)
		left = 0;
	if (limit >= 0 && left > limit)
		left = limit;
	return left > 1000000 ? 1000000 : (int)left;
}

/* The timers that are due, earliest first.  One armed while these run
 * (curl asking for "now" again, say) waits for the next pass. */
static void
run_timers(struct loop *loop)
{
	int64_t now = loop_now_ms();
	uint64_t pass = loop->pass++;
	int64_t started = now_ns();

	loop->in_timers = true;
	while (loop->timers > 0) {
		struct loop_timer *t = loop->heap[0];
		if (t->deadline_ms > now || t->armed_pass > pass)
			break;
		loop_timer_cancel(loop, t);
		t->on_expire(t);
		note_event(loop, &started);
	}
	loop->in_timers = false;
}

int
loop_add(struct loop *loop, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	src->dead = 0;
	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) == 0 ? FR_OK : FR_ERR_IO;
}

int
loop_modify(struct loop *loop, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) == 0 ? FR_OK : FR_ERR_IO;
}

void
loop_remove(struct loop *loop, struct loop_source *src)
{
	/* Failure means the fd was never added or is already closed; either
	 * way it is no longer watched. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	src->dead = 1;
}

void
loop_defer(struct loop *loop, struct loop_deferred *node, void (*fn)(void *), void *arg)
{
	node->fn = fn;
	node->arg = arg;
	node->next = loop->deferred;
	loop->deferred = node;
}

int
loop_run_once(struct loop *loop, int timeout_ms)
{
	struct epoll_event events[LOOP_BATCH];

	if (loop->pass_start_ns != 0) {
		int64_t pass = now_ns() - loop->pass_start_ns;
		if (pass > loop->longest_pass_ns)
			loop->longest_pass_ns = pass;
	}
	int n = epoll_wait(loop->epfd, events, LOOP_BATCH, wait_ms(loop, timeout_ms));
	int64_t t = now_ns();
	loop->pass_start_ns = t;
	if (n < 0 && errno != EINTR)
		return FR_ERR_IO;
	for (int i = 0; i < n; i++) {
		struct loop_source *src = events[i].data.ptr;
		if (src->dead)
			continue;
		src->on_event(src, events[i].events);
		note_event(loop, &t);
		if (t - loop->pass_start_ns >= LOOP_PASS_BUDGET_NS)
			break;
	}
	run_deferred(loop);
	run_timers(loop);
	run_deferred(loop);
	return FR_OK;
}

void
loop_take_stalls(struct loop *loop, uint64_t *longest_pass_us, uint64_t *longest_event_us)
{
	int64_t now = now_ns();
	int64_t longest = loop->longest_pass_ns;

	/* Called from a dispatch pass: its part so far belongs to this
	 * reading, the rest to the next. */
	if (loop->pass_start_ns != 0 && now - loop->pass_start_ns > longest)
		longest = now - loop->pass_start_ns;
	if (loop->pass_start_ns != 0)
		loop->pass_start_ns = now;
	*longest_pass_us = (uint64_t)(longest / 1000);
	*longest_event_us = (uint64_t)(loop->longest_event_ns / 1000);
	loop->longest_pass_ns = 0;
	loop->longest_event_ns = 0;
}
