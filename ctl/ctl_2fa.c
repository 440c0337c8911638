/*
 * freddyctl 2fa status|setup|enable|disable: the caller's own two-factor
 * authentication at the AIUS API, through the login the helper holds for
 * them.  The helper decides whose account it is (SO_PEERCRED); nothing
 * here names a user.  Codes are read by ctl_input.c, never from argv.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_input.h"
#include "ctl_l10n.h"
#include "ctl_qr.h"

/* A TOTP code has 6-8 digits, a recovery code a few groups; the wire
 * allows more, a person never types it. */
#define CODE_MAX 128

struct twofa_reply {
	bool state_seen;
	uint64_t enabled;
	unsigned codes;
};

static void
twofa_usage(FILE *out)
{
	fputs(_("Usage: freddyctl 2fa status | setup | enable | disable\n"), out);
}

static int
print_state(struct twofa_reply *tr, const struct fr_msg *reply)
{
	tr->state_seen = true;
	tr->enabled = fr_msg_num(reply, FR_TAG_TWOFA_ENABLED);
	printf("2fa: %s\n", tr->enabled ? "enabled" : "disabled"); /* for scripts: not translated */
	return 0;
}

/* status, enable, disable: TWOFA_STATE, after an enable the recovery
 * codes, then DONE. */
static int
on_state_reply(void *arg, const struct fr_msg *reply)
{
	struct twofa_reply *tr = arg;

	if (reply->type == FR_MSG_TWOFA_STATE && !tr->state_seen)
		return print_state(tr, reply);
	if (reply->type == FR_MSG_RECOVERY_CODE && tr->state_seen && tr->enabled) {
		const char *code = fr_msg_str(reply, FR_TAG_CODE);
		if (!ctl_printable_word(code)) {
			ctl_error(_("the helper sent a malformed recovery code"));
			return CTL_EXIT_FAILURE;
		}
		/* Shown once: neither freddyctl nor the helper keeps them. */
		if (tr->codes++ == 0)
			fputs(_("Recovery codes (each works once instead of a code; keep them safe,\n"
				"they are not shown again):\n"),
			      stdout);
		printf("%s\n", code);
		return 0;
	}
	return ctl_done_status(reply); /* says "unexpected …" */
}

static int
on_secret_reply(void *arg, const struct fr_msg *reply)
{
	bool *shown = arg;
	const char *uri = fr_msg_str(reply, FR_TAG_OTPAUTH_URI);
	const char *secret = fr_msg_str(reply, FR_TAG_TOTP_SECRET);

	if (reply->type != FR_MSG_TWOFA_SECRET || *shown)
		return ctl_done_status(reply);
	/* Server text: only what a person can copy exactly reaches the
	 * terminal, and what is not otpauth:// is no enrolment. */
	if (!ctl_printable_word(uri) || !ctl_printable_word(secret) || strncmp(uri, "otpauth://", 10) != 0) {
		ctl_error(_("the helper sent a malformed enrolment"));
		return CTL_EXIT_FAILURE;
	}
	*shown = true;
	(void)ctl_qr_print(uri); /* the URI and the secret serve without it */
	/* TRANSLATORS: the otpauth:// URI, then the secret; keep
	 * "freddyctl 2fa enable", a command. */
	printf(_("\nScan the code above with an authenticator app, or enter this URI:\n%s\n"
		 "or this secret: %s\n"
		 "\nTwo-factor authentication is not on yet: run \"freddyctl 2fa enable\" with\n"
		 "the app's code to switch it on.\n"),
	       uri, secret);
	return 0;
}

/* One request, with the code for enable and disable, wiped after use. */
static int
run_request(const struct ctl_context *ctx, enum fr_msg_type type, const char *code, ctl_reply_fn each, void *arg)
{
	struct fr_frame request;
	int r;

	fr_frame_init(&request, type);
	if (code != NULL)
		fr_frame_put_str(&request, FR_TAG_CODE, code);
	r = ctl_run(ctx, &request, each, arg);
	fr_frame_wipe(&request);
	return r;
}

/* A reply that ended without the state it promised is no answer. */
static int
state_result(int r, const struct twofa_reply *tr)
{
	if (r == CTL_EXIT_OK && !tr->state_seen) {
		ctl_error(_("freddy-helperd gave no two-factor state"));
		return CTL_EXIT_UNAVAILABLE;
	}
	return fflush(stdout) == 0 ? r : CTL_EXIT_FAILURE;
}

static int
twofa_status(const struct ctl_context *ctx)
{
	struct twofa_reply tr = { .state_seen = false };

	return state_result(run_request(ctx, FR_MSG_TWOFA_STATUS_GET, NULL, on_state_reply, &tr), &tr);
}

static int
twofa_setup(const struct ctl_context *ctx)
{
	bool shown = false;
	int r = run_request(ctx, FR_MSG_TWOFA_SETUP, NULL, on_secret_reply, &shown);

	if (r == CTL_EXIT_OK && !shown) {
		ctl_error(_("freddy-helperd gave no enrolment"));
		return CTL_EXIT_UNAVAILABLE;
	}
	return fflush(stdout) == 0 ? r : CTL_EXIT_FAILURE;
}

/* enable and disable: the code first, then one request. */
static int
twofa_change(const struct ctl_context *ctx, enum fr_msg_type type, const char *prompt)
{
	struct twofa_reply tr = { .state_seen = false };
	char code[CODE_MAX + 1];
	int r;

	if ((r = ctl_read_secret(prompt, code, sizeof(code))) != 0)
		return r;
	r = run_request(ctx, type, code, on_state_reply, &tr);
	explicit_bzero(code, sizeof(code));
	return state_result(r, &tr);
}

int
ctl_2fa_main(const struct ctl_context *ctx, int argc, char **argv)
{
	if (argc != 2) {
		twofa_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "status") == 0)
		return twofa_status(ctx);
	if (strcmp(argv[1], "setup") == 0)
		return twofa_setup(ctx);
	if (strcmp(argv[1], "enable") == 0)
		return twofa_change(ctx, FR_MSG_TWOFA_ENABLE, _("Authenticator code: "));
	if (strcmp(argv[1], "disable") == 0)
		return twofa_change(ctx, FR_MSG_TWOFA_DISABLE, _("Authenticator or recovery code: "));
	twofa_usage(stderr);
	return CTL_EXIT_USAGE;
}
