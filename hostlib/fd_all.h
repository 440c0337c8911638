/* Whole transfers on a file descriptor: a short write or read goes on,
 * EINTR is retried, and the end of a file before `len` bytes is an error
 * (EIO).  For regular files; the socket code has its own (fr_io.h). */
#ifndef FD_ALL_H
#define FD_ALL_H

#include <stddef.h>

/* FR_OK, or FR_ERR_IO with errno set. */
int fd_write_all(int fd, const void *buf, size_t len);
int fd_read_exactly(int fd, void *buf, size_t len);

#endif
