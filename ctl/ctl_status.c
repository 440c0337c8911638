/* freddyctl status: the helper's version, the API's reachability and
 * the helper's counters, as `key: value` lines. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cache.h"
#include "ctl_l10n.h"
#include "fr_text.h"

int
ctl_cmd_status(const struct ctl_context *ctx, int argc, char **argv)
{
	struct fr_frame request;
	struct fr_msg reply, done;
	char version[128];
	int fd, r;

	(void)argv;
	if (argc != 1) {
		fputs(_("Usage: freddyctl status\n"), stderr);
		return CTL_EXIT_USAGE;
	}
	fr_frame_init(&request, FR_MSG_STATUS_GET);
	if ((r = ctl_request(ctx, &request, &fd, &reply)) != 0)
		return r;
	if (reply.type != FR_MSG_STATUS) {
		close(fd);
		return ctl_done_status(&reply);
	}
	r = ctl_reply(ctx, fd, &done);
	close(fd);
	if (r != 0)
		return r;
	const char *v = fr_msg_str(&reply, FR_TAG_VERSION_TEXT);
	fr_text_sanitize(version, sizeof(version), v, strlen(v), 0);
	uint32_t api_status = (uint32_t)fr_msg_num(&reply, FR_TAG_API_STATUS);
	/* `key: value` lines for scripts: the same in every language. */
	printf("helper version: %s\n", version);
	if (api_status != 0)
		printf("api: reachable (HTTP %" PRIu32 ", %" PRIu64 " ms)\n", api_status,
		       fr_msg_num(&reply, FR_TAG_API_MS));
	else
		printf("api: unreachable (%" PRIu64 " ms)\n", fr_msg_num(&reply, FR_TAG_API_MS));
	/* The helper sends its activity counters to root only. */
	if (fr_msg_has(&reply, FR_TAG_LOGINS_TOTAL)) {
		printf("cached users: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_CACHED_USERS));
		printf("logins in progress: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_LOGINS_ACTIVE));
		printf("logins since start: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_LOGINS_TOTAL));
		printf("open sessions: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_OPEN_SESSIONS));
		printf("client connections: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_CLIENTS));
		printf("api connections opened: %" PRIu64 "\n", fr_msg_num(&reply, FR_TAG_API_CONNECTS));
		if (fr_msg_has(&reply, FR_TAG_LOOP_STALL_US))
			printf("longest event-loop pass since the last status: %" PRIu64 " us\n",
			       fr_msg_num(&reply, FR_TAG_LOOP_STALL_US));
		if (fr_msg_has(&reply, FR_TAG_LOOP_EVENT_US))
			printf("longest single event since the last status: %" PRIu64 " us\n",
			       fr_msg_num(&reply, FR_TAG_LOOP_EVENT_US));
	}
	if (fflush(stdout) != 0)
		return CTL_EXIT_FAILURE;
	r = ctl_done_status(&done);
	/* The status itself was shown; an unreachable API is its content,
	 * reported by exit code 3 so scripts can test it. */
	if (r == CTL_EXIT_OK && api_status == 0)
		return CTL_EXIT_UNAVAILABLE;
	return r;
}
