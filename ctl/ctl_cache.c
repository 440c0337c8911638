/* freddyctl cache list | forget USER (root): the helper's token cache,
 * by user name and times only; token values never leave the helper. */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cache.h"
#include "ctl_l10n.h"
#include "fr_text.h"

static void
format_time(uint64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "-");
}

static int
cache_list(const struct ctl_context *ctx)
{
	struct fr_frame request;
	struct fr_msg reply;
	int fd, r;
	bool header = false;

	fr_frame_init(&request, FR_MSG_CACHE_LIST);
	if ((r = ctl_request(ctx, &request, &fd, &reply)) != 0)
		return r;
	for (bool first = true;; first = false) {
		if (!first && (r = ctl_reply(ctx, fd, &reply)) != 0)
			break;
		if (reply.type != FR_MSG_CACHE_ENTRY) {
			r = ctl_done_status(&reply);
			break;
		}
		char user[160], last[32], expires[32];
		const char *u = fr_msg_str(&reply, FR_TAG_USER);
		fr_text_sanitize(user, sizeof(user), u, strlen(u), 0);
		format_time(fr_msg_num(&reply, FR_TAG_LAST_LOGIN), last, sizeof(last));
		format_time(fr_msg_num(&reply, FR_TAG_EXPIRES), expires, sizeof(expires));
		/* The headings stay English, for scripts, as status's keys do. */
		if (!header) {
			printf("%-24s %-22s %s\n", "USER", "LAST LOGIN", "TOKEN EXPIRES");
			header = true;
		}
		printf("%-24s %-22s %s\n", user, last, expires);
	}
	close(fd);
	if (fflush(stdout) != 0 && r == 0)
		r = CTL_EXIT_FAILURE;
	return r;
}

static int
cache_forget(const struct ctl_context *ctx, const char *user)
{
	struct fr_frame request;
	struct fr_msg reply;
	int fd, r;

	fr_frame_init(&request, FR_MSG_CACHE_FORGET);
	fr_frame_put_str(&request, FR_TAG_USER, user);
	if ((r = ctl_request(ctx, &request, &fd, &reply)) != 0)
		return r;
	close(fd);
	return ctl_done_status(&reply);
}

int
ctl_cmd_cache(const struct ctl_context *ctx, int argc, char **argv)
{
	/* Root only: the helper checks the caller's uid and answers
	 * PERM_DENIED (exit code 4) to anyone else. */
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return cache_list(ctx);
	if (argc == 3 && strcmp(argv[1], "forget") == 0)
		return cache_forget(ctx, argv[2]);
	fputs(_("Usage: freddyctl cache list | freddyctl cache forget USER\n"), stderr);
	return CTL_EXIT_USAGE;
}
