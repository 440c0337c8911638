/*
 * pam_freddy: the PAM entry points (auth, session, password).  Everything
 * the module does is asking freddy-helperd (see module_exchange.c); this
 * file only parses arguments and translates the helper's verdict into
 * PAM's vocabulary.
 */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "fr_text.h"
#include "fr_wire.h"
#include "module_exchange.h"
#include "module_options.h"

#define PAM_SM_EXPORT __attribute__((visibility("default")))

static int
auth_result_to_pam(int result)
{
	switch (result) {
	case FR_RESULT_SUCCESS:
		return PAM_SUCCESS;
	case FR_RESULT_AUTH_ERR:
		return PAM_AUTH_ERR;
	case FR_RESULT_MAXTRIES:
		return PAM_MAXTRIES;
	case FR_RESULT_AUTHINFO_UNAVAIL:
		return PAM_AUTHINFO_UNAVAIL;
	case FR_RESULT_BUSY:
		return PAM_AUTHINFO_UNAVAIL;
	case FR_RESULT_USER_UNKNOWN:
		return PAM_USER_UNKNOWN;
	case FR_RESULT_IGNORE:
		return PAM_IGNORE;
	case FR_RESULT_CONV_ERR:
		return PAM_CONV_ERR;
	case FR_RESULT_PERM_DENIED:
		return PAM_PERM_DENIED;
	default:
		return PAM_SERVICE_ERR;
	}
}

static int
session_result_to_pam(int result)
{
	switch (result) {
	case FR_RESULT_SUCCESS:
		return PAM_SUCCESS;
	case FR_RESULT_IGNORE:
		return PAM_IGNORE;
	default:
		return PAM_SESSION_ERR;
	}
}

/* pam_sm_chauthtok(3) speaks its own dialect: "cannot change now" is
 * PAM_TRY_AGAIN, and the catch-all is PAM_AUTHTOK_ERR, never success. */
static int
passwd_result_to_pam(int result)
{
	switch (result) {
	case FR_RESULT_SUCCESS:
		return PAM_SUCCESS;
	case FR_RESULT_IGNORE:
		return PAM_IGNORE;
	case FR_RESULT_AUTH_ERR:
		return PAM_AUTH_ERR;
	case FR_RESULT_MAXTRIES:
		return PAM_MAXTRIES;
	case FR_RESULT_AUTHINFO_UNAVAIL:
		return PAM_TRY_AGAIN;
	case FR_RESULT_BUSY:
		return PAM_TRY_AGAIN;
	case FR_RESULT_PERM_DENIED:
		return PAM_PERM_DENIED;
	case FR_RESULT_USER_UNKNOWN:
		return PAM_USER_UNKNOWN;
	case FR_RESULT_CONV_ERR:
		return PAM_CONV_ERR;
	default:
		return PAM_AUTHTOK_ERR;
	}
}

static int
parse_options(pam_handle_t *pamh, int argc, const char **argv, struct module_options *opt)
{
	char err[128], clean[128];

	if (module_options_parse(argc, argv, opt, err, sizeof(err)) != 0) {
		/* The message quotes the argument; keep it to one line. */
		fr_text_sanitize(clean, sizeof(clean), err, strlen(err), 0);
		pam_syslog(pamh, LOG_ERR, "%s", clean);
		return -1;
	}
	return 0;
}

PAM_SM_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct module_options opt;

	if (parse_options(pamh, argc, argv, &opt) != 0)
		return PAM_SERVICE_ERR;
	return auth_result_to_pam(module_exchange_authenticate(pamh, &opt, flags));
}

PAM_SM_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	/* No credentials of our own to establish: tokens live in the helper. */
	return PAM_SUCCESS;
}

PAM_SM_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct module_options opt;

	if (parse_options(pamh, argc, argv, &opt) != 0)
		return PAM_SESSION_ERR;
	return session_result_to_pam(module_exchange_session(pamh, &opt, flags, 1));
}

PAM_SM_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct module_options opt;

	if (parse_options(pamh, argc, argv, &opt) != 0)
		return PAM_SESSION_ERR;
	return session_result_to_pam(module_exchange_session(pamh, &opt, flags, 0));
}

PAM_SM_EXPORT int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct module_options opt;

	if (parse_options(pamh, argc, argv, &opt) != 0)
		return PAM_SERVICE_ERR;
	return passwd_result_to_pam(module_exchange_chauthtok(pamh, &opt, flags));
}
