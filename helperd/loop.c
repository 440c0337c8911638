#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fr_error.h"
#include "loop.h"

#define LOOP_BATCH 256

struct loop {
	int epfd;
	struct loop_deferred *deferred;
	/* Since loop_take_stalls: the longest pass (epoll_wait's return to
	 * the next call, with what the caller does between two calls), how
	 * long an event could wait for the loop; and the longest single
	 * callback, which tells one slow handler from many quick ones.  The
	 * pass under way counts from pass_start_ns. */
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
	free(loop);
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
	int n = epoll_wait(loop->epfd, events, LOOP_BATCH, timeout_ms);
	int64_t t = now_ns();
	loop->pass_start_ns = t;
	if (n < 0)
		return errno == EINTR ? FR_OK : FR_ERR_IO;
	for (int i = 0; i < n; i++) {
		struct loop_source *src = events[i].data.ptr;
		if (src->dead)
			continue;
		src->on_event(src, events[i].events);
		int64_t done = now_ns();
		if (done - t > loop->longest_event_ns)
			loop->longest_event_ns = done - t;
		t = done;
	}
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
