/*
 * The module's whole job: forward the PAM context to the helper, render
 * whatever it asks for through the PAM conversation, and return its verdict.
 * It knows nothing about APIs or second factors.
 */
#ifndef MODULE_EXCHANGE_H
#define MODULE_EXCHANGE_H

#include <security/pam_modules.h>

#include "module_options.h"

/* Both return an enum fr_result; only pam_freddy.c speaks PAM_* codes. */
int module_exchange_authenticate(pam_handle_t *pamh, const struct module_options *opt, int flags);
int module_exchange_session(pam_handle_t *pamh, const struct module_options *opt, int flags, int opening);
/* pam_sm_chauthtok, either phase: the helper leads the change. */
int module_exchange_chauthtok(pam_handle_t *pamh, const struct module_options *opt, int flags);

#endif
