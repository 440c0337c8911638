#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth/totp_step.h"
#include "core/log.h"
#include "fr_error.h"
#include "store/totp_replay.h"

int
totp_step_load(struct helper *h, const char *who, const char *user, struct totp_entry *entry)
{
	const struct config *cfg = h->cfg;
	char err[512];
	char *text = NULL;
	size_t len = 0;

	memset(entry, 0, sizeof(*entry));
	int r = totp_users_read(cfg->totp_users_file, (unsigned)geteuid(), &text, &len, err, sizeof(err));
	if (r == 0) {
		r = totp_users_find(text, len, user, cfg->totp_step, cfg->totp_digits, entry);
		explicit_bzero(text, len);
		free(text);
	}
	if (r == 0 || r == FR_ERR_NOT_FOUND)
		return r;
	if (r == FR_ERR_INVALID)
		log_err("%s: the line of %s in %s is not a TOTP entry without PIN (HOTP/T30 user - hexsecret)", who,
			user, cfg->totp_users_file);
	else
		log_err("%s: %s", who, err);
	return r;
}

enum totp_verdict
totp_step_check(struct helper *h, const char *who, const char *user, const struct totp_entry *entry, const char *answer)
{
	char code[TOTP_CODE_MAX + 1];
	uint64_t step = 0;
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
	if (n > 0 && (r = totp_verify(entry, code, time(NULL), h->cfg->totp_window, &step)) == 0)
		r = totp_replay_record(h->totp_replay, user, step);
	explicit_bzero(code, sizeof(code));
	switch (r) {
	case FR_OK:
		return TOTP_ACCEPTED;
	case FR_ERR_DUPLICATE:
		log_auth(LOG_WARNING, "%s: replayed TOTP code refused for %s", who, user);
		return TOTP_REPLAYED;
	case FR_ERR_INVALID:
		log_debug("%s: wrong TOTP code for %s", who, user);
		return TOTP_WRONG;
	default:
		log_err("%s: cannot check or record the TOTP code of %s: %s", who, user, fr_strerror(r));
		return TOTP_ERROR;
	}
}
