#include "config.h"

#include "flows.h"

const struct flow_ops *
flows_select(const struct config *cfg)
{
	switch (cfg->api) {
	case API_FREDDY:
		return &flow_freddy_email;
	case API_AIUS:
	case API_JWT:
		return NULL;
	}
	return NULL;
}
