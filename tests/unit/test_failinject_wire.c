/*
 * The wire code under failure injection (failinject.h): frames built,
 * sent with fr_io_send over a socketpair and read back with fr_io_recv,
 * while the Nth wrapped call fails, is cut short or is interrupted, for
 * every N a clean exchange makes.  Whatever fails, a call returns an
 * error or succeeds: a frame that is received is exactly the frame that
 * was sent, a failed receive leaves the message zeroed, a frame cut off
 * by a failed send never decodes, and no descriptor is left open.  Short
 * and interrupted transfers are not failures: every frame must arrive.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "failinject.h"
#include "fr_error.h"
#include "fr_io.h"
#include "fr_wire.h"

#define TIMEOUT_MS 5000
#define FRAMES	   5

static struct fr_frame frames[FRAMES];
static struct fr_msg expected[FRAMES];
static struct fr_msg got;

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* The frames a login and a status request exchange, one of them near the
 * string cap so that it takes more than one transfer when cut short. */
static void
build_frames(void)
{
	static char authtok[FR_WIRE_MAX_STRING + 1];

	memset(authtok, 'p', FR_WIRE_MAX_STRING);
	authtok[FR_WIRE_MAX_STRING] = '\0';

	fr_frame_init(&frames[0], FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&frames[0], FR_TAG_USER, "alice");
	fr_frame_put_str(&frames[0], FR_TAG_SERVICE, "sshd");
	fr_frame_put_str(&frames[0], FR_TAG_RHOST, "192.0.2.7");
	fr_frame_put_str(&frames[0], FR_TAG_TTY, "ssh");
	fr_frame_put_str(&frames[0], FR_TAG_AUTHTOK, authtok);
	fr_frame_put_u32(&frames[0], FR_TAG_AUTHTOK_MODE, FR_AUTHTOK_TRY);
	fr_frame_put_u32(&frames[0], FR_TAG_PAM_FLAGS, 0x8000);

	fr_frame_init(&frames[1], FR_MSG_PROMPT);
	fr_frame_put_str(&frames[1], FR_TAG_TEXT, "Code sent to a***@example.com\nCode: ");
	fr_frame_put_u32(&frames[1], FR_TAG_STYLE, FR_PROMPT_ECHO_ON);
	fr_frame_put_u32(&frames[1], FR_TAG_PROMPT_FLAGS, 0);

	fr_frame_init(&frames[2], FR_MSG_ANSWER);
	fr_frame_put_str(&frames[2], FR_TAG_TEXT, "123456");

	fr_frame_init(&frames[3], FR_MSG_STATUS);
	fr_frame_put_str(&frames[3], FR_TAG_VERSION_TEXT, "freddy-helperd 1.0");
	fr_frame_put_u32(&frames[3], FR_TAG_API_STATUS, 200);
	fr_frame_put_u32(&frames[3], FR_TAG_API_MS, 12);
	fr_frame_put_u32(&frames[3], FR_TAG_CACHED_USERS, 3);
	fr_frame_put_u64(&frames[3], FR_TAG_API_CONNECTS, UINT64_C(0x0102030405060708));
	fr_frame_put_u64(&frames[3], FR_TAG_LOGINS_TOTAL, UINT64_MAX);

	fr_frame_init(&frames[4], FR_MSG_DONE);
	fr_frame_put_u32(&frames[4], FR_TAG_RESULT, FR_RESULT_SUCCESS);

	for (int i = 0; i < FRAMES; i++) {
		CHECK(fr_frame_finish(&frames[i]) == 0);
		CHECK(fr_msg_decode(frames[i].buf + FR_WIRE_HEADER_LEN, frames[i].len - FR_WIRE_HEADER_LEN,
				    &expected[i]) == 0);
	}
}

static bool
msg_is_zero(const struct fr_msg *m)
{
	static const struct fr_msg zero;

	return memcmp(m, &zero, sizeof(*m)) == 0;
}

/* The sending side, on a thread of its own: a frame cut into one-byte
 * transfers takes more socket buffer than the frame's size, so the
 * reader must be reading meanwhile. */
struct sender {
	int fd;
	int sent;   /* frames sent whole */
	int result; /* of the send that stopped it, or 0 */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool go;
};

static void *
send_frames(void *arg)
{
	struct sender *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->go)
		pthread_cond_wait(&s->wake, &s->lock);
	pthread_mutex_unlock(&s->lock);
	for (; s->sent < FRAMES; s->sent++)
		if ((s->result = fr_io_send(s->fd, &frames[s->sent], TIMEOUT_MS)) != 0)
			break;
	/* The sender gives up after a failed send, as the module does. */
	(void)shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* One exchange under the armed injection.  Returns the wrapped calls it
 * made. */
static unsigned long
exchange(unsigned mask, unsigned long nth, unsigned long every, enum fi_effect effect, bool must_arrive)
{
	struct sender s = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };
	int sv[2], received = 0, r = 0;
	int fds = count_fds();
	pthread_t thread;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	s.fd = sv[0];
	/* Created before arming: the test's own thread is not under test. */
	CHECK(pthread_create(&thread, NULL, send_frames, &s) == 0);
	fi_arm(mask, nth, every, effect);
	pthread_mutex_lock(&s.lock);
	s.go = true;
	pthread_cond_signal(&s.wake);
	pthread_mutex_unlock(&s.lock);
	for (; received <= FRAMES; received++) {
		r = fr_io_recv(sv[1], &got, TIMEOUT_MS);
		if (r != 0)
			break;
		/* Only a frame that was sent, whole and unchanged. */
		CHECK(received < FRAMES && memcmp(&got, &expected[received], sizeof(got)) == 0);
		fr_msg_wipe(&got);
	}
	/* A reader that gave up says so to the sender (EPIPE), as closing
	 * would. */
	(void)shutdown(sv[1], SHUT_RD);
	CHECK(pthread_join(thread, NULL) == 0);
	fi_disarm();
	unsigned long calls = fi_calls();

	CHECK(received <= s.sent);
	CHECK(r != 0 && msg_is_zero(&got));
	if (received < s.sent)
		CHECK(r == FR_ERR_IO); /* only an injected failure stops a whole frame */
	else
		CHECK(r == FR_ERR_CLOSED || r == FR_ERR_IO);
	CHECK(s.result == 0 || s.result == FR_ERR_IO || s.result == FR_ERR_CLOSED);
	if (s.result != 0 && s.result != FR_ERR_IO && s.result != FR_ERR_CLOSED)
		fprintf(stderr, "send of frame %d: %s (nth %lu, every %lu, effect %d)\n", s.sent, fr_strerror(s.result),
			nth, every, (int)effect);
	if (must_arrive)
		CHECK(s.sent == FRAMES && received == FRAMES && r == FR_ERR_CLOSED);
	(void)close(sv[0]);
	(void)close(sv[1]);
	CHECK(count_fds() == fds);
	return calls;
}

static void
sweep(const char *what, unsigned mask, enum fi_effect effect, bool must_arrive)
{
	unsigned long clean = exchange(mask, 0, 0, effect, true);
	unsigned long runs = 0, injected = 0;

	CHECK(clean > 0);
	/* Past the last call, nothing is injected: that run is clean too. */
	for (unsigned long n = 1; n <= clean + 1; n++) {
		exchange(mask, n, 0, effect, must_arrive);
		injected += fi_injected();
		runs++;
	}
	/* Every call interrupted would never end, and rightly so: retrying
	 * EINTR is what the loops are for. */
	for (unsigned long every = effect == FI_EINTR ? 2 : 1; every <= 3; every++) {
		exchange(mask, 0, every, effect, must_arrive);
		injected += fi_injected();
		runs++;
	}
	CHECK(injected >= clean);
	printf("%s: %lu wrapped calls in a clean exchange, %lu runs, %lu calls injected\n", what, clean, runs,
	       injected);
}

/* The injector does what it is told, and --wrap reaches into libfrcommon. */
static void
test_injector(void)
{
	/* Through a volatile pointer, so the compiler cannot fold the calls
	 * away as the builtin malloc. */
	void *(*volatile alloc)(size_t) = malloc;
	fi_arm(FI_ALLOC, 2, 0, FI_FAIL);
	void *a = alloc(16), *b = alloc(16), *c = alloc(16);
	fi_disarm();
	CHECK(a != NULL && b == NULL && c != NULL);
	CHECK(fi_calls() == 3 && fi_injected() == 1);
	free(a);
	free(c);

	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	fi_arm(FI_TRANSFER, 0, 0, FI_FAIL);
	CHECK(fr_io_send(sv[0], &frames[2], TIMEOUT_MS) == 0);
	CHECK(fr_io_recv(sv[1], &got, TIMEOUT_MS) == 0);
	fi_disarm();
	fr_msg_wipe(&got);
	CHECK(fi_calls() >= 3); /* one send, two receives: inside fr_io.o */
	fi_arm(FI_WRITE, 1, 0, FI_FAIL);
	CHECK(fr_io_send(sv[0], &frames[2], TIMEOUT_MS) == FR_ERR_IO);
	fi_disarm();
	close(sv[0]);
	close(sv[1]);
}

/* Building and decoding frames is pure: no allocation, no system call, so
 * nothing there can fail. */
static void
test_frames_are_pure(void)
{
	struct fr_frame f;

	fi_arm(FI_DEFAULT | FI_UNLINK, 1, 1, FI_FAIL);
	fr_frame_init(&f, FR_MSG_AUTH_BEGIN);
	fr_frame_put_str(&f, FR_TAG_USER, "bob");
	fr_frame_put_str(&f, FR_TAG_SERVICE, "sudo");
	fr_frame_put_u32(&f, FR_TAG_AUTHTOK_MODE, FR_AUTHTOK_USE);
	int r = fr_frame_finish(&f);
	int d = fr_msg_decode(f.buf + FR_WIRE_HEADER_LEN, f.len - FR_WIRE_HEADER_LEN, &got);
	fi_disarm();
	CHECK(r == 0 && d == 0);
	CHECK(fi_calls() == 0);
	fr_msg_wipe(&got);
	fr_frame_wipe(&f);
}

int
main(void)
{
	build_frames();
	test_injector();
	test_frames_are_pure();
	sweep("fail", FI_DEFAULT, FI_FAIL, false);
	sweep("short transfers", FI_TRANSFER, FI_SHORT, true);
	sweep("interrupted transfers", FI_TRANSFER, FI_EINTR, true);
	for (int i = 0; i < FRAMES; i++) {
		fr_frame_wipe(&frames[i]);
		fr_msg_wipe(&expected[i]);
	}
	return check_finish("test_failinject_wire");
}
