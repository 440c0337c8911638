/*
 * The journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL),
 * spoken directly: one datagram per entry to journald's socket.
 *
 * Not sd_journal_sendv: for that one call, libsystemd brought six
 * libraries into the root daemon (libsystemd, liblzma, liblz4, libgcrypt,
 * libgpg-error, libcap; the way the xz backdoor reached sshd) and 0.8 MiB
 * of resident memory.  The audit entries are a few KiB at most, far under
 * a datagram's limit, so the memfd form of the protocol (for entries that
 * do not fit one datagram) is not needed: such an entry fails with
 * EMSGSIZE like any other sending error.
 */
#ifndef JOURNAL_NATIVE_H
#define JOURNAL_NATIVE_H

#include <stddef.h>
#include <sys/uio.h>

#define JOURNAL_NATIVE_SOCKET "/run/systemd/journal/socket"

/* Bytes the encoding adds to a field at most: the newline after the name
 * and the 8-byte length replace the '=', plus the final newline. */
#define JOURNAL_NATIVE_FIELD_OVERHEAD 9

/* The fields iov[0..n), each "NAME=value", as one entry in `out` (`cap`
 * bytes): "NAME=value\n", or for a value that holds a newline "NAME\n",
 * the value's length as 64-bit little endian, the value, "\n".  NAME is
 * what journald keeps: 1 to 64 of A-Z, 0-9 and '_', not starting with '_'
 * (those are journald's own trusted fields) nor a digit.  Returns the
 * entry's length, or 0 when a field is not "NAME=value" with such a name,
 * or the entry does not fit. */
size_t journal_native_encode(const struct iovec *iov, int n, unsigned char *out, size_t cap);

/* A datagram socket for journal_native_send (close-on-exec), or -1 with
 * errno set. */
int journal_native_socket(void);

/* Sends an encoded entry to the journal socket at `path` through `fd`.
 * 0, or a negative errno (-ENOENT, -ECONNREFUSED: no journald). */
int journal_native_send(int fd, const char *path, const unsigned char *entry, size_t len);

#endif
