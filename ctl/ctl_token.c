/* freddyctl token: print the caller's own access token for scripts. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cache.h"
#include "ctl_l10n.h"

int
ctl_cmd_token(const struct ctl_context *ctx, int argc, char **argv)
{
	struct fr_frame request;
	struct fr_msg reply;
	int fd, r;

	(void)argv;
	if (argc != 1) {
		fputs(_("Usage: freddyctl token\n"), stderr);
		return CTL_EXIT_USAGE;
	}
	fr_frame_init(&request, FR_MSG_TOKEN_GET);
	if ((r = ctl_request(ctx, &request, &fd, &reply)) != 0)
		return r;
	if (reply.type == FR_MSG_TOKEN) {
		const char *token = fr_msg_str(&reply, FR_TAG_TOKEN);
		/* Tokens are base64url-ish text; refuse to print anything a
		 * terminal would interpret. */
		for (const char *p = token; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
				ctl_error(_("the helper sent a malformed token"));
				fr_msg_wipe(&reply);
				close(fd);
				return CTL_EXIT_FAILURE;
			}
		}
		struct fr_msg done;
		if ((r = ctl_reply(ctx, fd, &done)) != 0 || (r = ctl_done_status(&done)) != 0) {
			fr_msg_wipe(&reply);
			close(fd);
			return r;
		}
		printf("%s\n", token);
		fr_msg_wipe(&reply);
		close(fd);
		return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
	}
	close(fd);
	return ctl_done_status(&reply);
}
