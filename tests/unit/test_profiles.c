/* Which profile each configuration gets (profile_for after config_parse). */
#include "config.h"

#include <string.h>

#include "api/profile.h"
#include "check.h"
#include "core/helper_config.h"

static const struct profile *
select_for(const char *text)
{
	static char buf[512];
	struct config cfg;
	char err[256];
	const struct profile *profile = NULL;

	snprintf(buf, sizeof(buf), "api_url = https://example.com/api\napi_key_file = /etc/k\n%s", text);
	config_init(&cfg);
	if (config_parse(buf, strlen(buf), "test.conf", &cfg, err, sizeof(err)) == 0)
		profile = profile_for(&cfg);
	else
		fprintf(stderr, "config refused: %s\n", err);
	config_free(&cfg);
	return profile;
}

int
main(void)
{
	CHECK(select_for("api = freddy\n") == &profile_freddy_email);
	CHECK(select_for("api = freddy\nsecond_factor = email\n") == &profile_freddy_email);
	CHECK(select_for("api = freddy\nsecond_factor = totp\n") == &profile_freddy_totp);
	CHECK(select_for("api = aius\n") == &profile_aius);
	CHECK(select_for("api = aius\nrequire_2fa = yes\n") == &profile_aius);
	CHECK(select_for("api = jwt\n") == &profile_jwt);
	CHECK(select_for("api = jwt\nsecond_factor = totp\n") == &profile_jwt_totp);

	/* The profiles with an API logout, and those without. */
	CHECK(profile_jwt.logout != NULL && profile_jwt_totp.logout != NULL);
	CHECK(profile_aius.logout == NULL && profile_freddy_totp.logout == NULL);
	/* A local second factor where the configuration asks for one. */
	CHECK(profile_freddy_totp.local_totp && profile_jwt_totp.local_totp);
	CHECK(!profile_freddy_email.local_totp && !profile_jwt.local_totp && !profile_aius.local_totp);
	/* Distinct names: they prefix every log line of a login. */
	CHECK(strcmp(profile_freddy_totp.name, profile_freddy_email.name) != 0);
	CHECK(strcmp(profile_jwt_totp.name, profile_jwt.name) != 0);
	return check_finish("test_profiles");
}
