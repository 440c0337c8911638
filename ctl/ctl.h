/* freddyctl: one file per group of subcommands, one table in freddyctl.c. */
#ifndef CTL_H
#define CTL_H

#include <stdint.h>
#include <sys/types.h>

#include "fr_wire.h"

/* Exit codes, documented in freddyctl(1). */
#define CTL_EXIT_OK	     0
#define CTL_EXIT_FAILURE     1 /* the request was refused or found nothing */
#define CTL_EXIT_USAGE	     2
#define CTL_EXIT_UNAVAILABLE 3 /* the helper cannot be reached */
#define CTL_EXIT_PERMISSION  4 /* needs root */

struct ctl_context {
	const char *socket_path;
	int timeout_ms;
};

struct ctl_command {
	const char *name;
	const char *usage; /* arguments, for --help */
	const char *summary;
	int (*run)(const struct ctl_context *ctx, int argc, char **argv);
};

/* Send one request frame to the helper and read its first reply into
 * *first; *fd_out is the open connection for what follows.  A "busy"
 * refusal is retried with a growing pause until the timeout.  Returns
 * CTL_EXIT_OK, or a CTL_EXIT_* code after printing why (no connection). */
int ctl_request(const struct ctl_context *ctx, struct fr_frame *request, int *fd_out, struct fr_msg *first);
/* Read the next reply; prints and returns a CTL_EXIT_* code on failure. */
int ctl_reply(const struct ctl_context *ctx, int fd, struct fr_msg *reply);
/* The DONE result as an exit code, printing its text to stderr. */
int ctl_done_status(const struct fr_msg *done);

/* Send the request (ctl_request) and read replies until DONE, handing
 * each other one to `each`, which returns 0 to go on or a CTL_EXIT_* code
 * to stop; every reply is wiped after use.  Returns `each`'s code, or the
 * DONE's. */
typedef int (*ctl_reply_fn)(void *arg, const struct fr_msg *reply);
int ctl_run(const struct ctl_context *ctx, struct fr_frame *request, ctl_reply_fn each, void *arg);

/* True when s is one word of printable ASCII: what a secret a person
 * copies (a key, a URI, a code) must be before it reaches a terminal. */
int ctl_printable_word(const char *s);

/* ctl_totp.c: totp enroll|remove. */
int ctl_totp_main(const struct ctl_context *ctx, int argc, char **argv);
/* ctl_2fa.c: 2fa status|setup|enable|disable (aius). */
int ctl_2fa_main(const struct ctl_context *ctx, int argc, char **argv);
/* ctl_apikey.c: apikey create NAME|list|delete KEYID (jwt). */
int ctl_apikey_main(const struct ctl_context *ctx, int argc, char **argv);

#endif
