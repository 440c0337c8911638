/*
 * The helper's single event loop (epoll).  Every watched fd is a
 * `struct loop_source` embedded in its owner; the owner's callback gets the
 * source back.  Owners that close a source during a dispatch pass free it
 * with loop_defer(), since another event for it may still be queued.
 */
#ifndef LOOP_H
#define LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;

struct loop_source {
	int fd;
	int dead;	/* set by loop_remove: queued events are dropped */
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

/* One epoll_wait and its dispatch; timeout_ms -1 waits for ever. */
int loop_run_once(struct loop *loop, int timeout_ms);

/* Since the last call, in microseconds: the longest dispatch pass (how
 * long an event could wait for the loop) and the longest single event
 * callback (one slow handler rather than many quick ones). */
void loop_take_stalls(struct loop *loop, uint64_t *longest_pass_us, uint64_t *longest_event_us);

/* A monotonic clock in milliseconds, for deadlines. */
int64_t loop_now_ms(void);

#endif
