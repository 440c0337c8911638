/* The loop's timers: the earliest first, cancel and re-arm from callbacks,
 * a timer armed while timers run waits for the next pass, and one armed
 * for the next pass runs there, from an event or from a timer alike. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "core/loop.h"

struct probe {
	struct loop_timer t;
	struct loop *loop;
	int fired;
	int order;
	int rearm;	      /* re-arm for "now" this many more times */
	struct probe *cancel; /* cancel this one when fired */
	int next_pass;	      /* arm itself for the next pass this many more times */
};

/* An event that arms a timer for the next pass. */
struct arming_source {
	struct loop_source src;
	struct loop *loop;
	struct probe *arm;
};

static void
on_arming_event(struct loop_source *src, uint32_t events)
{
	struct arming_source *a = (struct arming_source *)src;
	uint64_t value;

	(void)events;
	CHECK(read(src->fd, &value, sizeof(value)) == (ssize_t)sizeof(value));
	CHECK(loop_timer_set_next_pass(a->loop, &a->arm->t) == 0);
}

static int sequence;

static void
on_expire(struct loop_timer *t)
{
	struct probe *p = (struct probe *)((char *)t - offsetof(struct probe, t));

	p->fired++;
	p->order = ++sequence;
	if (p->cancel != NULL)
		loop_timer_cancel(p->loop, &p->cancel->t);
	if (p->rearm > 0) {
		p->rearm--;
		CHECK(loop_timer_set(p->loop, &p->t, loop_now_ms()) == 0);
	}
	if (p->next_pass > 0) {
		p->next_pass--;
		CHECK(loop_timer_set_next_pass(p->loop, &p->t) == 0);
	}
}

int
main(void)
{
	struct loop *loop;
	struct probe p[40] = { 0 };

	CHECK(loop_new(&loop) == 0);
	for (int i = 0; i < 40; i++) {
		p[i].t.on_expire = on_expire;
		p[i].loop = loop;
	}
	int64_t now = loop_now_ms();
	/* Armed out of order; they fire earliest first. */
	for (int i = 0; i < 20; i++)
		CHECK(loop_timer_set(loop, &p[i].t, now + 5 + (i * 7) % 20) == 0);
	/* One moved later, one cancelled, one re-armed twice to the same time. */
	CHECK(loop_timer_set(loop, &p[3].t, now + 60) == 0);
	loop_timer_cancel(loop, &p[4].t);
	loop_timer_cancel(loop, &p[4].t); /* twice is fine */
	CHECK(!loop_timer_armed(&p[4].t));
	while (loop_now_ms() < now + 80)
		CHECK(loop_run_once(loop, 100) == 0);
	for (int i = 0; i < 20; i++)
		CHECK(p[i].fired == (i == 4 ? 0 : 1));
	for (int i = 0; i < 20; i++)
		for (int j = 0; j < 20; j++)
			if (p[i].fired && p[j].fired && p[i].t.deadline_ms == 0 && i != j) {
				int64_t di = i == 3 ? 60 : 5 + (i * 7) % 20, dj = j == 3 ? 60 : 5 + (j * 7) % 20;
				if (di < dj)
					CHECK(p[i].order < p[j].order);
			}

	/* A timer that re-arms itself for "now" runs once per pass, never in a
	 * loop within one pass; one it cancels does not fire. */
	p[30].rearm = 3;
	p[30].cancel = &p[31];
	CHECK(loop_timer_set(loop, &p[30].t, loop_now_ms()) == 0);
	CHECK(loop_timer_set(loop, &p[31].t, loop_now_ms() + 1) == 0);
	CHECK(loop_run_once(loop, 0) == 0);
	CHECK(p[30].fired == 1);
	for (int i = 0; i < 5; i++)
		CHECK(loop_run_once(loop, 10) == 0);
	CHECK(p[30].fired == 4 && !loop_timer_armed(&p[30].t));
	CHECK(p[31].fired == 0);

	/* The loop sleeps no longer than until the earliest timer. */
	CHECK(loop_timer_set(loop, &p[32].t, loop_now_ms() + 30) == 0);
	int64_t t0 = loop_now_ms();
	CHECK(loop_run_once(loop, 5000) == 0);
	CHECK(p[32].fired == 1 && loop_now_ms() - t0 < 1000);

	/* Armed for the next pass from an event: not in this pass's timers,
	 * in the next one's, and the loop does not sleep in between. */
	struct arming_source a = { .loop = loop, .arm = &p[33] };
	a.src.fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	a.src.on_event = on_arming_event;
	CHECK(a.src.fd >= 0);
	CHECK(loop_add(loop, &a.src, EPOLLIN) == 0);
	CHECK(loop_run_once(loop, 1000) == 0);
	CHECK(p[33].fired == 0 && loop_timer_armed(&p[33].t));
	t0 = loop_now_ms();
	CHECK(loop_run_once(loop, 5000) == 0);
	CHECK(p[33].fired == 1 && loop_now_ms() - t0 < 1000);
	loop_remove(loop, &a.src);
	close(a.src.fd);

	/* Armed for the next pass from a timer: once per pass, never twice in
	 * one, never a pass skipped. */
	p[34].next_pass = 3;
	CHECK(loop_timer_set(loop, &p[34].t, loop_now_ms()) == 0);
	for (int i = 1; i <= 4; i++) {
		CHECK(loop_run_once(loop, 1000) == 0);
		CHECK(p[34].fired == i);
	}
	CHECK(!loop_timer_armed(&p[34].t));
	loop_free(loop);
	return check_finish("test_loop");
}
