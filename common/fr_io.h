/*
 * Blocking client side of the helper socket, shared by pam_freddy.so and
 * freddyctl.  Every wait has a deadline; nothing here can hang a login.
 */
#ifndef FR_IO_H
#define FR_IO_H

#include <sys/types.h>

#include "fr_wire.h"

/* Connect to the helper at `path`.  Before any secret is sent, check that
 * the socket is a socket owned by `helper_uid`, that its folder is not
 * writable by group or others, and that the process on the other end
 * runs as `helper_uid` (SO_PEERCRED).  FR_ERR_UNTRUSTED when a check
 * fails, FR_ERR_IO (errno set) when there is nobody to talk to. */
int fr_io_connect(const char *path, uid_t helper_uid, int timeout_ms, int *fd_out);

int fr_io_send(int fd, struct fr_frame *frame, int timeout_ms);

/* Read exactly one frame and decode it into `msg`. */
int fr_io_recv(int fd, struct fr_msg *msg, int timeout_ms);

#endif
