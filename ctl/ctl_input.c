#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_input.h"
#include "ctl_l10n.h"

/* A signal while echo is off must not leave the terminal that way: the
 * handler only notes it, the reader restores the terminal and then dies
 * of the same signal. */
static volatile sig_atomic_t caught_signal;
static const int restoring_signals[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP };
#define N_SIGNALS (sizeof(restoring_signals) / sizeof(restoring_signals[0]))

static void
note_signal(int signo)
{
	caught_signal = signo;
}

struct echo_off {
	bool active;
	size_t handlers; /* how many of old_actions were saved */
	struct termios saved;
	struct sigaction old_actions[N_SIGNALS];
};

static int
echo_off_begin(struct echo_off *e)
{
	struct termios quiet;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_signal; /* no SA_RESTART: read() must return */
	sigemptyset(&sa.sa_mask);
	caught_signal = 0;
	for (size_t i = 0; i < N_SIGNALS; i++) {
		if (sigaction(restoring_signals[i], &sa, &e->old_actions[i]) != 0)
			return -1;
		e->handlers = i + 1;
	}
	if (tcgetattr(STDIN_FILENO, &e->saved) != 0)
		return -1;
	quiet = e->saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		return -1;
	e->active = true;
	return 0;
}

static void
echo_off_end(struct echo_off *e)
{
	if (e->active)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &e->saved);
	e->active = false;
	for (size_t i = 0; i < e->handlers; i++)
		(void)sigaction(restoring_signals[i], &e->old_actions[i], NULL);
	e->handlers = 0;
	if (caught_signal != 0)
		(void)raise(caught_signal);
}

/* One line, a byte at a time: no stdio buffer keeps a copy.  1 when the
 * line did not fit (the rest of it is read and dropped), -1 on error. */
static int
read_line(char *buf, size_t cap)
{
	size_t n = 0;
	bool overflow = false;
	char c = 0;

	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR && caught_signal == 0)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 || c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
		else
			overflow = true;
	}
	explicit_bzero(&c, sizeof(c));
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return overflow ? 1 : 0;
}

int
ctl_read_secret(const char *prompt, char *buf, size_t cap)
{
	struct echo_off e = { .active = false, .handlers = 0 };
	int r;

	if (cap < 2)
		return CTL_EXIT_FAILURE;
	fputs(prompt, stderr);
	fflush(stderr);
	if (isatty(STDIN_FILENO) && echo_off_begin(&e) != 0) {
		echo_off_end(&e);
		int saved = errno;
		fputc('\n', stderr);
		ctl_error(_("cannot turn off echo on the terminal: %s"), strerror(saved));
		explicit_bzero(buf, cap);
		return CTL_EXIT_FAILURE;
	}
	r = read_line(buf, cap);
	echo_off_end(&e);
	if (r < 0) {
		ctl_error(_("cannot read the answer: %s"), strerror(errno));
	} else if (r > 0) {
		ctl_error(_("the answer is too long"));
	} else if (buf[0] == '\0') {
		ctl_error(_("no answer given"));
		r = 1;
	}
	if (r != 0) {
		explicit_bzero(buf, cap);
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}
