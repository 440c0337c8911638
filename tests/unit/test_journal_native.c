/* The journal's native protocol as the helper speaks it: the encoding of
 * plain and multi-line values, the names journald keeps and those the
 * encoder refuses, an entry that does not fit, and the datagram as a
 * socket at another path receives it. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "core/journal_native.h"

static struct iovec
field(const char *s)
{
	return (struct iovec){ .iov_base = (void *)s, .iov_len = strlen(s) };
}

static size_t
encode1(const char *s, unsigned char *out, size_t cap)
{
	struct iovec v = field(s);

	return journal_native_encode(&v, 1, out, cap);
}

int
main(void)
{
	unsigned char out[256];

	/* Plain values: NAME=value and a newline each. */
	struct iovec plain[] = { field("MESSAGE=audit: login_success user=alice"), field("PRIORITY=6"),
				 field("FREDDY_USER=alice"), field("EMPTY=") };
	size_t len = journal_native_encode(plain, 4, out, sizeof(out));
	const char want[] = "MESSAGE=audit: login_success user=alice\nPRIORITY=6\nFREDDY_USER=alice\nEMPTY=\n";
	CHECK(len == sizeof(want) - 1 && memcmp(out, want, len) == 0);
	/* '=' inside the value is the value's. */
	len = encode1("A=b=c", out, sizeof(out));
	CHECK(len == 6 && memcmp(out, "A=b=c\n", 6) == 0);

	/* A value with a newline: the name, a newline, the length as 64-bit
	 * little endian, the value, a newline. */
	len = encode1("MESSAGE=two\nlines", out, sizeof(out));
	const unsigned char binary[] = { 'M', 'E', 'S', 'S', 'A', 'G', 'E',  '\n', 9,	0,   0,	  0,   0,
					 0,   0,   0,	't', 'w', 'o', '\n', 'l',  'i', 'n', 'e', 's', '\n' };
	CHECK(len == sizeof(binary) && memcmp(out, binary, len) == 0);
	CHECK(len == strlen("MESSAGE=two\nlines") + JOURNAL_NATIVE_FIELD_OVERHEAD);

	/* Names journald would drop or misread are refused, and so is the
	 * whole entry. */
	const char *bad[] = { "=x",	  "lower=x", "_PID=1",
			      "1ST=x",	  "A B=x",   "A-B=x",
			      "NOEQUALS", "A\n=x",   "\xc3\x89T\xc3\x89=x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(encode1(bad[i], out, sizeof(out)) == 0);
	char longest[80];
	memset(longest, 'N', 64);
	strcpy(longest + 64, "=x");
	CHECK(encode1(longest, out, sizeof(out)) == 67);
	memset(longest, 'N', 65);
	strcpy(longest + 65, "=x");
	CHECK(encode1(longest, out, sizeof(out)) == 0);
	struct iovec mixed[] = { field("GOOD=1"), field("bad=2") };
	CHECK(journal_native_encode(mixed, 2, out, sizeof(out)) == 0);
	CHECK(journal_native_encode(mixed, 0, out, sizeof(out)) == 0);

	/* Too small a buffer: 0, never a cut entry. */
	CHECK(encode1("PRIORITY=6", out, 11) == 11);
	CHECK(encode1("PRIORITY=6", out, 10) == 0);
	CHECK(encode1("M=a\nb", out, 13) == 0);
	CHECK(encode1("M=a\nb", out, 14) == 14);

	/* Sent: the datagram is the entry, whole. */
	char dir[] = "/tmp/test_journal_native.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[sizeof(dir) + 16];
	snprintf(path, sizeof(path), "%s/socket", dir);
	int server = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	CHECK(server >= 0 && bind(server, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	int fd = journal_native_socket();
	CHECK(fd >= 0);
	len = journal_native_encode(plain, 4, out, sizeof(out));
	CHECK(journal_native_send(fd, path, out, len) == 0);
	unsigned char got[512];
	ssize_t n = recv(server, got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == (ssize_t)len && memcmp(got, want, len) == 0);

	/* No journald: the errno, negated. */
	CHECK(unlink(path) == 0);
	CHECK(journal_native_send(fd, path, out, len) == -ENOENT);
	close(server);
	server = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(server >= 0 && bind(server, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(server); /* bound, nobody reading */
	CHECK(journal_native_send(fd, path, out, len) == -ECONNREFUSED);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0);
	char toolong[200];
	memset(toolong, 'p', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	CHECK(journal_native_send(fd, toolong, out, len) == -ENAMETOOLONG);
	close(fd);

	return check_finish("test_journal_native");
}
