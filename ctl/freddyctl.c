/*
 * freddyctl: talk to freddy-helperd for administrators and users.  This
 * file parses global options and dispatches; each subcommand group lives
 * in its own ctl_*.c file.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cache.h"
#include "ctl_l10n.h"

#define DEFAULT_SOCKET	   "/run/freddy/helperd.sock"
#define DEFAULT_TIMEOUT_MS 30000

static const struct ctl_command commands[] = {
	/* The summaries are translated when shown (N_ marks them). */
	{ "token", "token", N_("print your own access token (refreshed if near expiry)"), ctl_cmd_token },
	{ "status", "status", N_("helper version, API reachability, counters"), ctl_cmd_status },
	{ "cache", "cache list | cache forget USER", N_("cached logins (root)"), ctl_cmd_cache },
	{ "totp", "totp enroll|remove USER", N_("add or remove a local TOTP secret (root)"), ctl_totp_main },
	{ "2fa", "2fa status|setup|enable|disable", N_("your AIUS two-factor authentication"), ctl_2fa_main },
	{ "apikey", "apikey create NAME|list|delete KEYID", N_("your JWT API keys"), ctl_apikey_main },
	{ NULL, NULL, NULL, NULL },
};

static void
usage(FILE *out)
{
	/* TRANSLATORS: COMMAND, ARGS and PATH are placeholders; --socket is an option, keep it. */
	fputs(_("Usage: freddyctl [--socket PATH] COMMAND [ARGS]\n\nCommands:\n"), out);
	for (const struct ctl_command *c = commands; c->name != NULL; c++)
		fprintf(out, "  %-37s %s\n", c->usage, _(c->summary));
	/* TRANSLATORS: keep the options (-s, --socket, ...) and the column
	 * they start in; the descriptions may be reworded. */
	fprintf(out,
		_("\nOptions:\n"
		  "  -s, --socket PATH   the helper's socket (default %s)\n"
		  "  -h, --help          show this help\n"
		  "  -V, --version       show the version\n"
		  "\nExit codes: 0 success, 1 refused or nothing found, 2 usage,\n"
		  "3 helper unreachable, 4 needs root.\n"),
		DEFAULT_SOCKET);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_context ctx = { .socket_path = DEFAULT_SOCKET, .timeout_ms = DEFAULT_TIMEOUT_MS };
	int opt;

	ctl_l10n_init();
	/* '+': options after the command belong to the command. */
	while ((opt = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (optarg[0] != '/') {
				ctl_error(_("--socket needs an absolute path"));
				return CTL_EXIT_USAGE;
			}
			ctx.socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("freddyctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	for (const struct ctl_command *c = commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[optind]) == 0)
			return c->run(&ctx, argc - optind, argv + optind);
	ctl_error(_("unknown command \"%s\"; see freddyctl --help"), argv[optind]);
	return CTL_EXIT_USAGE;
}
