/*
 * The helper's single event loop (epoll).  Every watched fd is a
 * `struct loop_source` embedded in its owner; the owner's callback gets the
 * source back.  Owners that close a source during a dispatch pass free it
 * with loop_defer(), since another event for it may still be queued.
 */
#ifndef LOOP_H
#define LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;

struct loop_source {
	int fd;
	int dead; /* set by loop_remove: queued events are dropped */
	void (*on_event)(struct loop_source *src, uint32_t events);
};

int loop_new(struct loop **out);
void loop_free(struct loop *loop);

int loop_add(struct loop *loop, struct loop_source *src, uint32_t events);
int loop_modify(struct loop *loop, struct loop_source *src, uint32_t events);
/* Stops watching; the fd stays open (its owner closes it). */
void loop_remove(struct loop *loop, struct loop_source *src);

/* Run fn(arg) after the current dispatch pass.  The node lives in the
 * object being released, so deferring never allocates and cannot fail. */
struct loop_deferred {
	struct loop_deferred *next;
	void (*fn)(void *);
	void *arg;
};
void loop_defer(struct loop *loop, struct loop_deferred *node, void (*fn)(void *), void *arg);

/* A deadline.  Every wait of the helper is one of these (a connection's
 * first request, a person's answer, curl's next timeout, the next probe),
 * kept in one heap: the loop sleeps until the earliest, and nothing scans
 * every connection to find what has expired.  The timer is embedded in its
 * owner; on_expire runs from the loop, once, and may arm it again. */
struct loop_timer {
	int64_t deadline_ms; /* loop_now_ms() time; 0: not armed */
	size_t slot;	     /* in the heap, while armed */
	uint64_t armed_pass; /* a timer armed while timers run waits for the next pass */
	void (*on_expire)(struct loop_timer *t);
};

/* Arm (or move) `t` to run at `deadline_ms`; a deadline in the past runs
 * it at the end of the current pass.  FR_OK or FR_ERR_NOMEM. */
int loop_timer_set(struct loop *loop, struct loop_timer *t, int64_t deadline_ms);
/* Arm `t` to run in the next pass, not this one: for work split over
 * passes, so that what is already waiting runs between the parts (and
 * epoll_wait does not sleep meanwhile). */
int loop_timer_set_next_pass(struct loop *loop, struct loop_timer *t);
/* Disarm; a timer that is not armed is fine. */
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* One epoll_wait and its dispatch, then the timers that are due.  The
 * wait ends at the earliest timer or after `timeout_ms` (-1: no limit
 * but the timers').  A dispatch that has run for 2 ms leaves the rest of
 * its batch to the next call, so every source must be level-triggered. */
int loop_run_once(struct loop *loop, int timeout_ms);

/* Since the last call, in microseconds: the longest dispatch pass (how
 * long an event could wait for the loop) and the longest single event
 * callback (one slow handler rather than many quick ones). */
void loop_take_stalls(struct loop *loop, uint64_t *longest_pass_us, uint64_t *longest_event_us);

/* A monotonic clock in milliseconds, for deadlines. */
int64_t loop_now_ms(void);

#endif
