/* The API flows, and the choice of one for a configuration. */
#ifndef FLOWS_H
#define FLOWS_H

#include "core/helper_config.h"
#include "auth/login.h"

extern const struct flow_ops flow_freddy_email;
extern const struct flow_ops flow_freddy_totp;
extern const struct flow_ops flow_aius;
extern const struct flow_ops flow_jwt;
extern const struct flow_ops flow_jwt_totp;

/* NULL when the configuration names no flow this build has. */
const struct flow_ops *flows_select(const struct config *cfg);

#endif
