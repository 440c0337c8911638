#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_l10n.h"
#include "fr_error.h"
#include "fr_io.h"
#include "fr_text.h"

/* One connection, the request, and the helper's first reply. */
static int
exchange_once(const struct ctl_context *ctx, struct fr_frame *request, int *fd_out, struct fr_msg *first)
{
	int r = fr_io_connect(ctx->socket_path, 0, ctx->timeout_ms, fd_out);

	if (r != 0) {
		int e = errno;
		/* TRANSLATORS: the socket's path, then why; the second form
		 * adds the system's error. */
		if (r == FR_ERR_IO)
			ctl_error(_("cannot reach freddy-helperd at %s: %s: %s"), ctx->socket_path, _(fr_strerror(r)),
				  strerror(e));
		else
			ctl_error(_("cannot reach freddy-helperd at %s: %s"), ctx->socket_path, _(fr_strerror(r)));
		return CTL_EXIT_UNAVAILABLE;
	}
	/* A helper at a limit answers "busy" and closes before it reads the
	 * request: read its answer even when the send failed. */
	r = fr_io_send(*fd_out, request, ctx->timeout_ms);
	if (r != 0 && r != FR_ERR_CLOSED) {
		ctl_error(_("sending to freddy-helperd failed: %s"), _(fr_strerror(r)));
		close(*fd_out);
		*fd_out = -1;
		return CTL_EXIT_UNAVAILABLE;
	}
	if ((r = ctl_reply(ctx, *fd_out, first)) != 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return r;
}

static bool
is_busy(const struct fr_msg *m)
{
	return m->type == FR_MSG_DONE && fr_msg_num(m, FR_TAG_RESULT) == FR_RESULT_BUSY;
}

int
ctl_request(const struct ctl_context *ctx, struct fr_frame *request, int *fd_out, struct fr_msg *first)
{
	struct timespec start, now;
	long pause_ms = 20;
	int r;

	*fd_out = -1;
	/* The helper's texts in freddyctl's language. */
	const char *locale = ctl_l10n_locale();
	if (locale != NULL)
		fr_frame_put_str(request, FR_TAG_LOCALE, locale);
	if ((r = fr_frame_finish(request)) != 0) {
		ctl_error(_("cannot build the request: %s"), _(fr_strerror(r)));
		return CTL_EXIT_USAGE;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	/* "Busy" is a helper at its connection limit for this uid or for
	 * everyone: parallel scripts of one user wait their turn, up to the
	 * timeout, instead of failing. */
	for (;;) {
		if ((r = exchange_once(ctx, request, fd_out, first)) != 0 || !is_busy(first))
			return r;
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited + pause_ms >= ctx->timeout_ms)
			return CTL_EXIT_OK; /* the caller shows the busy DONE */
		close(*fd_out);
		*fd_out = -1;
		fr_msg_wipe(first);
		struct timespec ts = { .tv_sec = pause_ms / 1000, .tv_nsec = (pause_ms % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if (pause_ms < 500)
			pause_ms *= 2;
	}
}

int
ctl_reply(const struct ctl_context *ctx, int fd, struct fr_msg *reply)
{
	int r = fr_io_recv(fd, reply, ctx->timeout_ms);

	if (r != 0) {
		ctl_error(_("no answer from freddy-helperd: %s"), _(fr_strerror(r)));
		return CTL_EXIT_UNAVAILABLE;
	}
	return CTL_EXIT_OK;
}

int
ctl_done_status(const struct fr_msg *done)
{
	const char *text = fr_msg_str(done, FR_TAG_TEXT);
	char clean[FR_WIRE_MAX_STRING + 1];

	if (done->type != FR_MSG_DONE) {
		/* TRANSLATORS: %s is a message type of the protocol, such as TOKEN. */
		ctl_error(_("unexpected %s from freddy-helperd"), fr_msg_type_name(done->type));
		return CTL_EXIT_UNAVAILABLE;
	}
	if (text != NULL) {
		fr_text_sanitize(clean, sizeof(clean), text, strlen(text), 0);
		ctl_error("%s", clean);
	}
	switch (fr_msg_num(done, FR_TAG_RESULT)) {
	case FR_RESULT_SUCCESS:
		return CTL_EXIT_OK;
	case FR_RESULT_PERM_DENIED:
		return CTL_EXIT_PERMISSION;
	case FR_RESULT_AUTHINFO_UNAVAIL:
	case FR_RESULT_BUSY:
		return CTL_EXIT_UNAVAILABLE;
	default:
		return CTL_EXIT_FAILURE;
	}
}

int
ctl_run(const struct ctl_context *ctx, struct fr_frame *request, ctl_reply_fn each, void *arg)
{
	struct fr_msg reply;
	int fd, r;

	if ((r = ctl_request(ctx, request, &fd, &reply)) != 0)
		return r;
	for (;;) {
		if (reply.type == FR_MSG_DONE) {
			r = ctl_done_status(&reply);
			break;
		}
		r = each(arg, &reply);
		fr_msg_wipe(&reply);
		if (r != 0 || (r = ctl_reply(ctx, fd, &reply)) != 0)
			break;
	}
	fr_msg_wipe(&reply);
	close(fd);
	return r;
}

int
ctl_printable_word(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}
