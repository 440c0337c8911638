#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fr_error.h"
#include "fr_io.h"

static long long
monotonic_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining_ms(long long deadline)
{
	long long left = deadline - monotonic_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* The folder holding the socket decides who could have replaced it. */
static int
check_socket_path(const char *path, uid_t helper_uid)
{
	struct stat st;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (lstat(path, &st) != 0)
		return FR_ERR_IO;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != helper_uid)
		return FR_ERR_UNTRUSTED;

	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return FR_ERR_TOO_LARGE;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return FR_ERR_UNTRUSTED; /* relative paths are refused by the option parser */
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0)
		return FR_ERR_IO;
	if (!S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && st.st_uid != helper_uid))
		return FR_ERR_UNTRUSTED;
	return FR_OK;
}

int
fr_io_connect(const char *path, uid_t helper_uid, int timeout_ms, int *fd_out)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	int r;

	*fd_out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
		return FR_ERR_INVALID;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	if ((r = check_socket_path(path, helper_uid)) != 0)
		return r;

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FR_ERR_IO;
	/* A Unix stream connect waits for backlog room for up to SO_SNDTIMEO. */
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return saved == EAGAIN || saved == EWOULDBLOCK ? FR_ERR_TIMEOUT : FR_ERR_IO;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 || credlen != sizeof(cred) ||
	    cred.uid != helper_uid) {
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	*fd_out = fd;
	return FR_OK;
}

static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int n = poll(&pfd, 1, remaining_ms(deadline));
		if (n > 0)
			return FR_OK;
		if (n == 0)
			return FR_ERR_TIMEOUT;
		if (errno != EINTR)
			return FR_ERR_IO;
	}
}

int
fr_io_send(int fd, struct fr_frame *frame, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;
	size_t off = 0;
	int r;

	while (off < frame->len) {
		if ((r = wait_fd(fd, POLLOUT, deadline)) != 0)
			return r;
		ssize_t n = send(fd, frame->buf + off, frame->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno == EPIPE || errno == ECONNRESET ? FR_ERR_CLOSED : FR_ERR_IO;
		}
		off += (size_t)n;
	}
	return FR_OK;
}

static int
recv_exact(int fd, uint8_t *buf, size_t len, long long deadline)
{
	size_t off = 0;
	int r;

	while (off < len) {
		if ((r = wait_fd(fd, POLLIN, deadline)) != 0)
			return r;
		ssize_t n = recv(fd, buf + off, len - off, MSG_DONTWAIT);
		if (n == 0)
			return FR_ERR_CLOSED;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno == ECONNRESET ? FR_ERR_CLOSED : FR_ERR_IO;
		}
		off += (size_t)n;
	}
	return FR_OK;
}

int
fr_io_recv(int fd, struct fr_msg *msg, int timeout_ms)
{
	long long deadline = monotonic_ms() + timeout_ms;
	uint8_t buf[FR_WIRE_MAX_PAYLOAD];
	size_t len;
	int r;

	memset(msg, 0, sizeof(*msg));
	if ((r = recv_exact(fd, buf, FR_WIRE_HEADER_LEN, deadline)) != 0)
		return r;
	if ((r = fr_wire_payload_length(buf, FR_WIRE_HEADER_LEN, &len)) != 0)
		return r;
	if ((r = recv_exact(fd, buf, len, deadline)) == 0)
		r = fr_msg_decode(buf, len, msg);
	explicit_bzero(buf, sizeof(buf));
	return r;
}
