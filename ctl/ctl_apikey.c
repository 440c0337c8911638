/*
 * freddyctl apikey create NAME|list|delete KEYID: the caller's own API
 * keys at the JWT API, through the login the helper holds for them (the
 * helper decides whose account it is, from SO_PEERCRED).  A new key is
 * printed once; a listing never carries one (APIKEY_ENTRY cannot).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_l10n.h"
#include "fr_text.h"

#define LIST_FORMAT "%-16s %-28s %-22s %s\n"

static void
apikey_usage(FILE *out)
{
	fputs(_("Usage: freddyctl apikey create NAME | list | delete KEYID\n"), out);
}

/* Server text made safe for one table cell: controls become '?'. */
static const char *
cell(const struct fr_msg *reply, enum fr_tag tag, const char *absent, char *buf, size_t cap)
{
	const char *s = fr_msg_str(reply, tag);

	if (s == NULL || *s == '\0')
		return absent;
	fr_text_sanitize(buf, cap, s, strlen(s), 0);
	return buf;
}

static int
on_new_key(void *arg, const struct fr_msg *reply)
{
	bool *shown = arg;
	char id[160], name[400], created[80];
	const char *key = fr_msg_str(reply, FR_TAG_API_KEY);

	if (reply->type != FR_MSG_APIKEY_NEW || *shown)
		return ctl_done_status(reply);
	if (!ctl_printable_word(key)) {
		ctl_error(_("the helper sent a malformed API key"));
		return CTL_EXIT_FAILURE;
	}
	*shown = true;
	/* `key: value` lines for scripts: not translated. */
	printf("keyId: %s\n", cell(reply, FR_TAG_KEY_ID, "-", id, sizeof(id)));
	printf("name: %s\n", cell(reply, FR_TAG_KEY_NAME, "-", name, sizeof(name)));
	printf("createdAt: %s\n", cell(reply, FR_TAG_CREATED_AT, "-", created, sizeof(created)));
	printf("apiKey: %s\n", key);
	ctl_error(_("the key is shown only now; the API does not show it again"));
	return 0;
}

static int
on_entry(void *arg, const struct fr_msg *reply)
{
	bool *header = arg;
	char id[160], name[400], created[80], used[80];

	if (reply->type != FR_MSG_APIKEY_ENTRY)
		return ctl_done_status(reply);
	if (!*header) {
		printf(LIST_FORMAT, "KEY ID", "NAME", "CREATED", "LAST USED");
		*header = true;
	}
	printf(LIST_FORMAT, cell(reply, FR_TAG_KEY_ID, "-", id, sizeof(id)),
	       cell(reply, FR_TAG_KEY_NAME, "-", name, sizeof(name)),
	       cell(reply, FR_TAG_CREATED_AT, "-", created, sizeof(created)),
	       cell(reply, FR_TAG_LAST_USED, "never", used, sizeof(used)));
	return 0;
}

static int
no_reply_expected(void *arg, const struct fr_msg *reply)
{
	(void)arg;
	return ctl_done_status(reply); /* says "unexpected …" */
}

static int
run(const struct ctl_context *ctx, struct fr_frame *request, ctl_reply_fn each, void *arg)
{
	int r = ctl_run(ctx, request, each, arg);

	return fflush(stdout) == 0 ? r : CTL_EXIT_FAILURE;
}

int
ctl_apikey_main(const struct ctl_context *ctx, int argc, char **argv)
{
	struct fr_frame request;
	bool flag = false;
	int r;

	if (argc == 3 && strcmp(argv[1], "create") == 0 && argv[2][0] != '\0') {
		fr_frame_init(&request, FR_MSG_APIKEY_CREATE);
		fr_frame_put_str(&request, FR_TAG_KEY_NAME, argv[2]);
		r = run(ctx, &request, on_new_key, &flag);
		if (r == CTL_EXIT_OK && !flag) {
			ctl_error(_("freddy-helperd gave no key"));
			r = CTL_EXIT_UNAVAILABLE;
		}
		return r;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		fr_frame_init(&request, FR_MSG_APIKEY_LIST);
		return run(ctx, &request, on_entry, &flag);
	}
	if (argc == 3 && strcmp(argv[1], "delete") == 0 && argv[2][0] != '\0') {
		fr_frame_init(&request, FR_MSG_APIKEY_DELETE);
		fr_frame_put_str(&request, FR_TAG_KEY_ID, argv[2]);
		r = run(ctx, &request, no_reply_expected, NULL);
		if (r == CTL_EXIT_OK)
			printf("apikey: %s deleted\n", argv[2]); /* for scripts: not translated */
		return r == CTL_EXIT_OK && fflush(stdout) != 0 ? CTL_EXIT_FAILURE : r;
	}
	apikey_usage(stderr);
	return CTL_EXIT_USAGE;
}
