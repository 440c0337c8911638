/*
 * Small state files (the rate-limit table, TOTP replay steps) written
 * behind, on a thread of their own: each write is a temporary file, two
 * fsyncs and a rename, and on the event loop every failed login would
 * wait for the disk.  The in-memory state is the truth; this only keeps a
 * copy that survives a restart.  A write that fails (ENOSPC, EIO) keeps
 * its contents queued and is retried with a growing pause, logged at
 * error level once per episode and again when it recovers; a newer
 * contents for the same file replaces the queued one.
 */
#ifndef STATE_WRITER_H
#define STATE_WRITER_H

#include <stddef.h>

struct state_writer;

/* `dirfd` is duplicated; `dir` names it in log lines. */
int state_writer_new(int dirfd, const char *dir, struct state_writer **out);
/* Writes what is queued (one attempt each), then stops the thread. */
void state_writer_free(struct state_writer *w);

/* The new contents of NAME (a file in the folder), copied and wiped after
 * use.  FR_OK, FR_ERR_NOMEM or FR_ERR_INVALID (a name with '/'). */
int state_writer_put(struct state_writer *w, const char *name, const void *data, size_t len);

/* Wait until nothing is queued or every queued file has failed at least
 * once since the call (then FR_ERR_IO): for shutdown and tests. */
int state_writer_flush(struct state_writer *w);

#endif
