/* The event loop's stall measurement (loop_take_stalls): the longest
 * dispatch pass and the longest single event since the last reading,
 * which the benchmark reads through STATUS during each storm.  Real
 * loop, real fds (eventfds).  Bounds are relative to what the test
 * itself measured around each pass, so that a loaded machine (a sleep
 * that oversleeps) does not fail it. */
#include "config.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/loop.h"

struct slow_source {
	struct loop_source src;
	unsigned busy_ms; /* how long its callback keeps the loop */
	unsigned calls;
	struct loop *loop;
	uint64_t read_inside; /* a pass reading taken from inside the callback */
	int read_after_ms;    /* >= 0: take it after that much of the pass */
};

static void
busy_for_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void
on_slow_event(struct loop_source *src, uint32_t events)
{
	struct slow_source *s = (struct slow_source *)src;
	uint64_t value;

	(void)events;
	CHECK(read(src->fd, &value, sizeof(value)) == (ssize_t)sizeof(value));
	s->calls++;
	if (s->read_after_ms >= 0) {
		busy_for_ms((unsigned)s->read_after_ms);
		uint64_t event_us;
		loop_take_stalls(s->loop, &s->read_inside, &event_us);
	}
	busy_for_ms(s->busy_ms);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
take_pass(struct loop *loop, uint64_t *event_us)
{
	uint64_t pass_us, ignored;

	loop_take_stalls(loop, &pass_us, event_us != NULL ? event_us : &ignored);
	return pass_us;
}

static void
poke(int fd)
{
	uint64_t one = 1;

	CHECK(write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one));
}

int
main(void)
{
	struct loop *loop = NULL;
	struct slow_source s = { .read_after_ms = -1 }, t = { .read_after_ms = -1 };
	uint64_t event_us = 0;

	CHECK(loop_new(&loop) == 0);
	s.loop = loop;
	s.src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s.src.on_event = on_slow_event;
	CHECK(s.src.fd >= 0);
	CHECK(loop_add(loop, &s.src, EPOLLIN) == 0);

	/* Nothing ran yet: no stall; time spent waiting in epoll_wait is
	 * idleness, not a stall. */
	CHECK(take_pass(loop, &event_us) == 0 && event_us == 0);
	CHECK(loop_run_once(loop, 50) == 0);
	CHECK(s.calls == 0);
	CHECK(take_pass(loop, NULL) < 5000);

	/* A 30 ms callback is a 30 ms pass; the longest of several counts. */
	s.busy_ms = 30;
	poke(s.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	s.busy_ms = 5;
	poke(s.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK(s.calls == 2);
	uint64_t longest = take_pass(loop, &event_us);
	CHECK(longest >= 30000 && longest < 1000000);
	CHECK(event_us >= 30000 && event_us <= longest);
	/* Reading starts a new period (the pass under way has just begun). */
	CHECK(take_pass(loop, &event_us) < 30000 && event_us == 0);

	/* Two 15 ms events ready at once: the pass stops after the first (it
	 * is over its 2 ms budget) and the second, still ready, runs in the
	 * next pass; neither is lost or run twice. */
	t.loop = loop;
	t.src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t.src.on_event = on_slow_event;
	CHECK(t.src.fd >= 0);
	CHECK(loop_add(loop, &t.src, EPOLLIN) == 0);
	s.busy_ms = t.busy_ms = 15;
	poke(s.src.fd);
	poke(t.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK((s.calls == 3) + (t.calls == 1) == 1);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK(s.calls == 3 && t.calls == 1);
	CHECK(loop_run_once(loop, 0) == 0);
	CHECK(s.calls == 3 && t.calls == 1);
	longest = take_pass(loop, &event_us);
	CHECK(longest >= 15000 && longest < 1000000);
	CHECK(event_us >= 15000 && event_us <= longest);

	/* Ten 1 ms events: a pass takes no more than its budget allows (two,
	 * or one on a machine that oversleeps), and every one runs once. */
	struct slow_source many[10];
	for (int i = 0; i < 10; i++) {
		many[i] = (struct slow_source){ .busy_ms = 1, .read_after_ms = -1, .loop = loop };
		many[i].src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		many[i].src.on_event = on_slow_event;
		CHECK(many[i].src.fd >= 0);
		CHECK(loop_add(loop, &many[i].src, EPOLLIN) == 0);
		poke(many[i].src.fd);
	}
	CHECK(loop_run_once(loop, 1000) == 0);
	unsigned ran = 0;
	for (int i = 0; i < 10; i++)
		ran += many[i].calls;
	CHECK(ran >= 1 && ran <= 2);
	for (int pass = 0; pass < 20; pass++)
		CHECK(loop_run_once(loop, 0) == 0);
	for (int i = 0; i < 10; i++) {
		CHECK(many[i].calls == 1);
		loop_remove(loop, &many[i].src);
		close(many[i].src.fd);
	}
	loop_remove(loop, &t.src);
	close(t.src.fd);

	/* What the caller does between two passes is part of the pass
	 * (main.c's malloc_trim, for one). */
	CHECK(loop_run_once(loop, 0) == 0);
	busy_for_ms(25);
	CHECK(loop_run_once(loop, 0) == 0);
	longest = take_pass(loop, NULL);
	CHECK(longest >= 25000 && longest < 1000000);

	/* Read from inside a pass (as STATUS does): the part before the
	 * reading is in it, the rest goes to the next one. */
	s.busy_ms = 40;
	s.read_after_ms = 20;
	poke(s.src.fd);
	int64_t before = now_us();
	CHECK(loop_run_once(loop, 1000) == 0);
	int64_t whole = now_us() - before;
	longest = take_pass(loop, NULL);
	CHECK(s.read_inside >= 20000 && longest >= 40000);
	CHECK((int64_t)(s.read_inside + longest) <= whole + 1000);

	loop_remove(loop, &s.src);
	close(s.src.fd);
	loop_free(loop);
	return check_finish("test_loop_stalls");
}
