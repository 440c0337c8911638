#include "config.h"

#include "auth/flows.h"

/* helper_config.c's check_combinations has already refused the pairs
 * that make no sense (email without freddy, totp with aius, ...). */
const struct flow_ops *
flows_select(const struct config *cfg)
{
	switch (cfg->api) {
	case API_FREDDY:
		if (cfg->second_factor == SECOND_FACTOR_EMAIL)
			return &flow_freddy_email;
		if (cfg->second_factor == SECOND_FACTOR_TOTP)
			return &flow_freddy_totp;
		return NULL;
	case API_AIUS:
		return cfg->second_factor == SECOND_FACTOR_NONE ? &flow_aius : NULL;
	case API_JWT:
		if (cfg->second_factor == SECOND_FACTOR_NONE)
			return &flow_jwt;
		if (cfg->second_factor == SECOND_FACTOR_TOTP)
			return &flow_jwt_totp;
		return NULL;
	}
	return NULL;
}
