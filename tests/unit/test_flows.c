/* Which flow each profile gets (flows_select after config_parse). */
#include "config.h"

#include <string.h>

#include "check.h"
#include "auth/flows.h"
#include "core/helper_config.h"

static const struct flow_ops *
select_for(const char *text)
{
	static char buf[512];
	struct config cfg;
	char err[256];
	const struct flow_ops *flow = NULL;

	snprintf(buf, sizeof(buf), "api_url = https://example.com/api\napi_key_file = /etc/k\n%s", text);
	config_init(&cfg);
	if (config_parse(buf, strlen(buf), "test.conf", &cfg, err, sizeof(err)) == 0)
		flow = flows_select(&cfg);
	else
		fprintf(stderr, "config refused: %s\n", err);
	config_free(&cfg);
	return flow;
}

int
main(void)
{
	CHECK(select_for("api = freddy\n") == &flow_freddy_email);
	CHECK(select_for("api = freddy\nsecond_factor = email\n") == &flow_freddy_email);
	CHECK(select_for("api = freddy\nsecond_factor = totp\n") == &flow_freddy_totp);
	CHECK(select_for("api = aius\n") == &flow_aius);
	CHECK(select_for("api = aius\nrequire_2fa = yes\n") == &flow_aius);
	CHECK(select_for("api = jwt\n") == &flow_jwt);
	CHECK(select_for("api = jwt\nsecond_factor = totp\n") == &flow_jwt_totp);

	/* The flows with an API logout, and those without. */
	CHECK(flow_jwt.logout != NULL && flow_jwt_totp.logout != NULL);
	CHECK(flow_aius.logout == NULL && flow_freddy_totp.logout == NULL);
	/* Distinct names: they prefix every log line of a login. */
	CHECK(strcmp(flow_freddy_totp.name, flow_freddy_email.name) != 0);
	CHECK(strcmp(flow_jwt_totp.name, flow_jwt.name) != 0);
	return check_finish("test_flows");
}
