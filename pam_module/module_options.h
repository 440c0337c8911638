/* PAM module arguments: parsed once per call into a flat struct. */
#ifndef MODULE_OPTIONS_H
#define MODULE_OPTIONS_H

#include <stddef.h>
#include <sys/un.h>

#include "fr_wire.h"

#define MODULE_DEFAULT_SOCKET  "/run/freddy/helperd.sock"
#define MODULE_DEFAULT_TIMEOUT 30 /* seconds; above the helper's per-request timeout */
#define MODULE_MAX_TIMEOUT     600

struct module_options {
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char helper_user[64]; /* empty: root */
	int debug;
	int fail_safe; /* fail_mode=safe */
	enum fr_authtok_mode authtok_mode;
	int timeout_ms;
};

/* Pure: fills `opt` from defaults and arguments.  An unknown or malformed
 * argument is an error described in `err`; nothing is silently ignored. */
int module_options_parse(int argc, const char **argv, struct module_options *opt, char *err, size_t errlen);

#endif
