#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/journal_native.h"

#define FIELD_NAME_MAX 64

static bool
valid_name(const char *name, size_t len)
{
	if (len == 0 || len > FIELD_NAME_MAX || name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

size_t
journal_native_encode(const struct iovec *iov, int n, unsigned char *out, size_t cap)
{
	size_t used = 0;

	if (n <= 0 || iov == NULL || out == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *field = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		const char *eq = field != NULL ? memchr(field, '=', len) : NULL;
		if (eq == NULL)
			return 0;
		size_t name_len = (size_t)(eq - field), value_len = len - name_len - 1;
		if (!valid_name(field, name_len))
			return 0;
		bool binary = memchr(eq + 1, '\n', value_len) != NULL;
		size_t need = name_len + 1 + (binary ? 8 : 0) + value_len + 1;
		if (need > cap - used)
			return 0;
		memcpy(out + used, field, name_len);
		used += name_len;
		if (binary) {
			out[used++] = '\n';
			for (int b = 0; b < 8; b++)
				out[used++] = (unsigned char)((uint64_t)value_len >> (8 * b));
		} else {
			out[used++] = '=';
		}
		memcpy(out + used, eq + 1, value_len);
		used += value_len;
		out[used++] = '\n';
	}
	return used;
}

int
journal_native_socket(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

int
journal_native_send(int fd, const char *path, const unsigned char *entry, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ssize_t sent = sendto(fd, entry, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sizeof(sa));
	if (sent < 0)
		return -errno;
	/* A datagram goes whole or not at all. */
	return (size_t)sent == len ? 0 : -EMSGSIZE;
}
