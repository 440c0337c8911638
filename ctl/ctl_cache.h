/* The subcommands of the token cache group (token, status, cache). */
#ifndef CTL_CACHE_H
#define CTL_CACHE_H

#include "ctl.h"

int ctl_cmd_token(const struct ctl_context *ctx, int argc, char **argv);
int ctl_cmd_status(const struct ctl_context *ctx, int argc, char **argv);
int ctl_cmd_cache(const struct ctl_context *ctx, int argc, char **argv);

#endif
