#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth/login.h"
#include "auth/totp_step.h"
#include "core/log.h"
#include "fr_error.h"
#include "store/totp_replay.h"

int
totp_step_load(struct login *lg, struct totp_entry *entry)
{
	const struct config *cfg = login_helper(lg)->cfg;
	char err[512];
	char *text = NULL;
	size_t len = 0;

	memset(entry, 0, sizeof(*entry));
	int r = totp_users_read(cfg->totp_users_file, (unsigned)geteuid(), &text, &len, err, sizeof(err));
	if (r == 0) {
		r = totp_users_find(text, len, login_user(lg), cfg->totp_step, cfg->totp_digits, entry);
		explicit_bzero(text, len);
		free(text);
	}
	if (r == 0 || r == FR_ERR_NOT_FOUND)
		return r;
	if (r == FR_ERR_INVALID)
		log_err("%s: the line of %s in %s is not a TOTP entry without PIN (HOTP/T30 user - hexsecret)",
			login_profile_name(lg), login_user(lg), cfg->totp_users_file);
	else
		log_err("%s: %s", login_profile_name(lg), err);
	return r;
}

void
totp_step_refuse_missing(struct login *lg)
{
	/* No line for the user, or no file yet (nobody enrolled). */
	log_auth(LOG_NOTICE, "%s: %s has no TOTP secret in %s", login_profile_name(lg), login_user(lg),
		 login_helper(lg)->cfg->totp_users_file);
	login_finish(lg, FR_RESULT_AUTH_ERR, "No authenticator app is enrolled for this account");
}

enum totp_verdict
totp_step_check(struct login *lg, const struct totp_entry *entry, const char *answer)
{
	struct helper *h = login_helper(lg);
	char code[TOTP_CODE_MAX + 1];
	size_t n = 0;
	int r = FR_ERR_INVALID;

	/* "123 456" is how authenticator apps show codes. */
	for (const char *p = answer; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (n >= TOTP_CODE_MAX) {
			n = 0;
			break;
		}
		code[n++] = *p;
	}
	code[n] = '\0';
	if (n > 0)
		r = totp_replay_accept(h->totp_replay, entry, code, time(NULL), h->cfg->totp_window, login_user(lg));
	explicit_bzero(code, sizeof(code));
	if (r == 0)
		return TOTP_ACCEPTED;
	if (r == FR_ERR_DUPLICATE) {
		log_auth(LOG_WARNING, "%s: replayed TOTP code refused for %s", login_profile_name(lg), login_user(lg));
		login_error(lg, "This code was already used; wait for the next one");
		return TOTP_REPLAYED;
	} else if (r != FR_ERR_INVALID) {
		log_err("%s: cannot check or record the TOTP code of %s: %s", login_profile_name(lg), login_user(lg),
			fr_strerror(r));
		login_finish(lg, FR_RESULT_SYSTEM_ERR, NULL);
		return TOTP_ERROR;
	} else {
		log_debug("%s: wrong TOTP code for %s", login_profile_name(lg), login_user(lg));
	}
	return TOTP_WRONG;
}
