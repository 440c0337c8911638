/* The event loop's stall measurement (loop_take_longest_pass_us): the
 * longest dispatch pass since the last reading, which the benchmark reads
 * through STATUS during each storm.  Real loop, real fds (an eventfd). */
#include "config.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "loop.h"

struct slow_source {
	struct loop_source src;
	unsigned busy_ms;	/* how long its callback keeps the loop */
	unsigned calls;
	struct loop *loop;
	uint64_t read_inside;	/* a reading taken from inside the callback */
	int read_after_ms;	/* >= 0: take it after that much of the pass */
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
		s->read_inside = loop_take_longest_pass_us(s->loop);
	}
	busy_for_ms(s->busy_ms);
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
	struct slow_source s = { .read_after_ms = -1 };

	CHECK(loop_new(&loop) == 0);
	s.loop = loop;
	s.src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s.src.on_event = on_slow_event;
	CHECK(s.src.fd >= 0);
	CHECK(loop_add(loop, &s.src, EPOLLIN) == 0);

	/* Nothing ran yet: no stall; time spent waiting in epoll_wait is
	 * idleness, not a stall. */
	CHECK(loop_take_longest_pass_us(loop) == 0);
	CHECK(loop_run_once(loop, 50) == 0);
	CHECK(s.calls == 0);
	CHECK(loop_take_longest_pass_us(loop) < 5000);

	/* A 30 ms callback is a 30 ms pass; the longest of several counts. */
	s.busy_ms = 30;
	poke(s.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	s.busy_ms = 5;
	poke(s.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK(s.calls == 2);
	uint64_t longest = loop_take_longest_pass_us(loop);
	CHECK(longest >= 30000 && longest < 1000000);
	/* Reading starts a new period. */
	CHECK(loop_take_longest_pass_us(loop) == 0);

	/* Read from inside a pass (as STATUS does): the part before the
	 * reading is in it, the rest goes to the next one. */
	s.busy_ms = 40;
	s.read_after_ms = 20;
	poke(s.src.fd);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK(s.read_inside >= 20000 && s.read_inside < 40000);
	longest = loop_take_longest_pass_us(loop);
	CHECK(longest >= 40000 && longest < 60000);

	loop_remove(loop, &s.src);
	close(s.src.fd);
	loop_free(loop);
	return check_finish("test_loop");
}
