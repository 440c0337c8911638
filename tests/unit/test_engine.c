/*
 * The login engine (auth/login.c) driven with a scripted HTTP transport:
 * no socket, no Python, no emulator.  For each API profile: the good
 * login, a wrong code, the API's 429, an unreachable API with and without
 * offline login, cached re-authentication, and an abandoned login.  The
 * same for the other engines of issue 14: AIUS durable tokens
 * (auth/durable.c), account requests with a cached login
 * (auth/account_call.c) and the password change (auth/passwd.c); and the
 * audit record each login ends with.
 *
 * Everything else is the real thing: the loop, the token cache in a
 * temporary folder, the verifier threads, the rate limits, the TOTP
 * replay state.  The fake transport records each request; the test reads
 * it and answers as the API would.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <liboath/oath.h>

#include "api/health.h"
#include "api/profile.h"
#include "auth/access.h"
#include "auth/account_call.h"
#include "auth/login.h"
#include "auth/offline.h"
#include "auth/passwd.h"
#include "auth/refresh.h"
#include "auth/sessions.h"
#include "check.h"
#include "core/audit.h"
#include "core/caller_quota.h"
#include "core/log.h"
#include "core/loop.h"
#include "crypto/verifier.h"
#include "crypto/verifier_worker.h"
#include "fr_error.h"
#include "store/ratelimit.h"
#include "store/token_cache.h"
#include "store/totp_replay.h"

#define TOTP_HEX "3132333435363738393031323334353637383930"
#define TOTP_RAW "12345678901234567890"

/* ---- the scripted API ------------------------------------------------- */

struct fake_xfer {
	struct fake_xfer *next;
	char method[8];
	char path[PROFILE_PATH_MAX];
	char *body;
	char bearer[256];
	char cookie[256];
	bool api_key;
	http_done_fn done;
	void *ctx;
};

struct fake {
	struct fake_xfer *pending; /* FIFO */
	unsigned started, cancelled;
	struct api_health *health;
};

static int
fake_start(void *impl, const struct http_request *req, http_done_fn done, void *ctx, struct http_xfer **out)
{
	struct fake *f = impl;
	struct fake_xfer *x = calloc(1, sizeof(*x)), **tail = &f->pending;

	if (x == NULL)
		return FR_ERR_NOMEM;
	snprintf(x->method, sizeof(x->method), "%s", req->method);
	snprintf(x->path, sizeof(x->path), "%s", req->path);
	x->body = req->body != NULL ? strndup(req->body, req->body_len) : NULL;
	snprintf(x->bearer, sizeof(x->bearer), "%s", req->bearer != NULL ? req->bearer : "");
	snprintf(x->cookie, sizeof(x->cookie), "%s", req->cookie != NULL ? req->cookie : "");
	x->api_key = req->api_key;
	x->done = done;
	x->ctx = ctx;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = x;
	f->started++;
	*out = (struct http_xfer *)x;
	return FR_OK;
}

static void
xfer_free(struct fake_xfer *x)
{
	free(x->body);
	free(x);
}

static void
fake_cancel(void *impl, struct http_xfer *xfer)
{
	struct fake *f = impl;

	for (struct fake_xfer **p = &f->pending; *p != NULL; p = &(*p)->next) {
		if (*p == (struct fake_xfer *)xfer) {
			struct fake_xfer *x = *p;
			*p = x->next;
			xfer_free(x);
			f->cancelled++;
			return;
		}
	}
}

/* The oldest request waiting for an answer, or NULL. */
static struct fake_xfer *
next_request(struct fake *f)
{
	struct fake_xfer *x = f->pending;

	if (x != NULL)
		f->pending = x->next;
	return x;
}

/* A member of a request's JSON body, as text ("" when absent). */
static const char *
body_member(const struct fake_xfer *x, const char *key)
{
	static char value[256];
	json_t *root = x->body != NULL ? json_loads(x->body, 0, NULL) : NULL;
	json_t *v = root != NULL ? json_object_get(root, key) : NULL;

	value[0] = '\0';
	if (json_is_string(v))
		snprintf(value, sizeof(value), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(value, sizeof(value), "%lld", (long long)json_integer_value(v));
	json_decref(root);
	return value;
}

static void
deliver(struct fake *f, struct fake_xfer *x, enum http_outcome outcome, long status, const char *body)
{
	struct http_response resp = {
		.outcome = outcome,
		.status = outcome == HTTP_ANSWERED ? status : 0,
		.body = body != NULL ? body : "",
		.body_len = body != NULL ? strlen(body) : 0,
		.error = outcome == HTTP_ANSWERED ? "" : "scripted failure",
	};

	api_health_observe(f->health, outcome); /* as the HTTP client does */
	x->done(x->ctx, &resp);
	xfer_free(x);
}

/* Answer the next request, which must be `method path`. */
static void
answer(struct fake *f, const char *method, const char *path, long status, const char *body)
{
	struct fake_xfer *x = next_request(f);

	CHECK(x != NULL);
	if (x == NULL)
		return;
	if (strcmp(x->method, method) != 0 || strcmp(x->path, path) != 0)
		fprintf(stderr, "expected %s %s, got %s %s\n", method, path, x->method, x->path);
	CHECK(strcmp(x->method, method) == 0 && strcmp(x->path, path) == 0);
	deliver(f, x, HTTP_ANSWERED, status, body);
}

static void
fail_next(struct fake *f, enum http_outcome outcome)
{
	struct fake_xfer *x = next_request(f);

	CHECK(x != NULL);
	if (x != NULL)
		deliver(f, x, outcome, 0, NULL);
}

/* ---- the person --------------------------------------------------------- */

struct person {
	char last_prompt[512];
	unsigned last_flags;
	unsigned prompts, password_prompts;
	char said[4096]; /* every info and error, one per line */
	bool finished;
	enum fr_result result;
	char text[512];
};

static void
io_prompt(void *ctx, enum fr_prompt_style style, unsigned flags, const char *text)
{
	struct person *p = ctx;

	(void)style;
	snprintf(p->last_prompt, sizeof(p->last_prompt), "%s", text);
	p->last_flags = flags;
	p->prompts++;
	if (flags & FR_PROMPT_IS_PASSWORD)
		p->password_prompts++;
}

static void
say(struct person *p, const char *text)
{
	size_t n = strlen(p->said);

	snprintf(p->said + n, sizeof(p->said) - n, "%s\n", text);
}

static void
io_info(void *ctx, const char *text)
{
	say(ctx, text);
}
static void
io_error(void *ctx, const char *text)
{
	say(ctx, text);
}

static void
io_finish(void *ctx, enum fr_result result, const char *text)
{
	struct person *p = ctx;

	CHECK(!p->finished);
	p->finished = true;
	p->result = result;
	snprintf(p->text, sizeof(p->text), "%s", text != NULL ? text : "");
}

static const struct login_io person_io = { io_prompt, io_info, io_error, io_finish };

/* ---- a helper with everything but the socket ------------------------------ */

struct env {
	struct helper h;
	struct config cfg;
	struct fake fake;
	char dir[64];
	char users_file[128];
	int dirfd;
};

static void
env_open(struct env *e, const char *conf)
{
	char text[2048], err[256];

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_engine.XXXXXX");
	CHECK(mkdtemp(e->dir) != NULL);
	snprintf(e->users_file, sizeof(e->users_file), "%s/totp_users", e->dir);
	int fd = open(e->users_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && dprintf(fd, "HOTP/T30 bob - %s\n", TOTP_HEX) > 0);
	close(fd);
	snprintf(text, sizeof(text),
		 "api_url = https://api.test/v1\ncache_dir = %s/cache\n"
		 "totp_users_file = %s\napi_key_file = /nonexistent\nrate_limit_failures = 3\n%s",
		 e->dir, e->users_file, conf);
	config_init(&e->cfg);
	CHECK(config_parse(text, strlen(text), "test.conf", &e->cfg, err, sizeof(err)) == 0);
	struct helper *h = &e->h;
	h->cfg = &e->cfg;
	CHECK(loop_new(&h->loop) == 0);
	CHECK(token_cache_open(e->cfg.cache_dir, &h->cache) == 0);
	e->dirfd = open(e->cfg.cache_dir, O_RDONLY | O_DIRECTORY);
	CHECK(verifier_worker_new(h->loop, login_verifier_ready, h, &h->verifiers) == 0);
	CHECK(ratelimit_open(NULL, -1, NULL, 3, 2, &h->ratelimit) == 0);
	CHECK(refresh_table_new(&h->refreshes) == 0);
	CHECK(offline_guard_new(h->loop, &h->offline) == 0);
	CHECK(sessions_new(&h->sessions) == 0);
	CHECK(caller_quota_new(&h->quota) == 0);
	CHECK(api_health_new(h->loop, NULL, &h->health) == 0);
	CHECK(totp_replay_new(e->dirfd, NULL, &h->totp_replay) == 0);
	e->fake.health = h->health;
	h->api.impl = &e->fake;
	h->api.start = fake_start;
	h->api.cancel = fake_cancel;
}

static void
env_close(struct env *e)
{
	struct helper *h = &e->h;
	char cmd[160];

	CHECK(e->fake.pending == NULL);
	for (int i = 0; i < 5; i++)
		CHECK(loop_run_once(h->loop, 0) == 0);
	refresh_table_free(h->refreshes);
	verifier_worker_free(h->verifiers);
	token_cache_close(h->cache);
	ratelimit_free(h->ratelimit);
	offline_guard_free(h->offline);
	sessions_free(h->sessions);
	caller_quota_free(h->quota);
	api_health_free(h->health);
	totp_replay_free(h->totp_replay);
	close(e->dirfd);
	CHECK(h->logins_active == 0);
	loop_free(h->loop);
	config_free(&e->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	CHECK(system(cmd) == 0);
}

/* Run the loop until `done` or 10 s. */
static void
pump_until(struct env *e, bool (*done)(struct env *e, void *arg), void *arg)
{
	for (int i = 0; i < 1000 && !done(e, arg); i++)
		CHECK(loop_run_once(e->h.loop, 10) == 0);
}

static bool
request_waiting(struct env *e, void *arg)
{
	(void)arg;
	return e->fake.pending != NULL;
}

/* The person was asked something new, or the login ended. */
static bool
person_moved(struct env *e, void *arg)
{
	const struct person *p = arg;

	(void)e;
	return p->finished || strcmp(p->last_prompt, "Password: ") != 0;
}

static bool
has_verifier(struct env *e, void *arg)
{
	struct cache_record rec;
	bool yes = false;

	if (token_cache_load(e->h.cache, arg, &rec) == 0) {
		yes = rec.verifier != NULL;
		cache_record_wipe(&rec);
	}
	return yes;
}

static struct login *
begin(struct env *e, struct person *p, const char *user, uid_t uid, const char *authtok, enum fr_authtok_mode mode)
{
	struct local_account acct = { .uid = uid };
	struct access_request arq = { .user = user, .account = &acct, .caller_uid = 0, .rhost = "192.0.2.1" };
	struct access_verdict v;

	memset(p, 0, sizeof(*p));
	snprintf(acct.name, sizeof(acct.name), "%s", user);
	access_gate(&e->h, &arq, &v);
	CHECK(v.outcome == ACCESS_GO);
	struct login_request rq = {
		.user = user,
		.service = "test",
		.rhost = "192.0.2.1",
		.caller_uid = 0,
		.caller_pid = 1,
		.authtok = authtok,
		.authtok_mode = mode,
		.claim = v.claim,
	};
	struct login *lg = login_new(&e->h, &rq, &person_io, p);
	access_claim_free(&v.claim); /* the login has its own copy */
	CHECK(lg != NULL);
	login_begin(lg);
	return lg;
}

static bool
cached_refresh_token(struct env *e, const char *user, const char *want)
{
	struct cache_record rec;
	bool same = false;

	token_cache_flush(e->h.cache);
	if (token_cache_load(e->h.cache, user, &rec) == 0) {
		same = strcmp(rec.refresh_token, want) == 0;
		cache_record_wipe(&rec);
	}
	return same;
}

/* The code of the time step `steps` after now (totp_window = 1 takes the
 * next one too: a second login in the same step needs a fresh code). */
static void
totp_code(char *code, int steps)
{
	CHECK(oath_init() == OATH_OK);
	CHECK(oath_totp_generate(TOTP_RAW, 20, time(NULL) + 30 * steps, 30, 0, 6, code) == OATH_OK);
	oath_done();
}

static void
totp_now(char *code)
{
	totp_code(code, 0);
}

/* ---- freddy, email code ----------------------------------------------------- */

#define FREDDY_LOGIN_OK "{\"success\": true, \"email_key\": \"ek-1\", \"email\": \"alice@example.com\"}"
#define FREDDY_TOKENS	"{\"token\": \"acc-1\", \"refreshToken\": \"ref-1\"}"
#define FREDDY_WRONG	"{\"success\": false, \"error\": {\"code\": \"INVALID_CODE\", \"message\": \"Invalid code\"}}"
#define FREDDY_429 \
	"{\"success\": false, \"error\": {\"code\": \"TOO_MANY_LOGIN_ATTEMPTS\", " \
	"\"message\": \"Too many\", \"details\": {\"retry_after\": 300}}}"

static void
freddy_to_code(struct env *e, struct person *p, struct login *lg, const char *password)
{
	CHECK(strcmp(p->last_prompt, "Password: ") == 0 && p->password_prompts == 1);
	login_answer(lg, password);
	pump_until(e, request_waiting, NULL); /* with cached_auth_timeout, a hash first */
	struct fake_xfer *x = e->fake.pending;
	CHECK(x != NULL && strcmp(body_member(x, "email_or_username"), "alice") == 0);
	CHECK(x != NULL && strcmp(body_member(x, "password"), password) == 0);
	answer(&e->fake, "POST", "/auth/login", 200, FREDDY_LOGIN_OK);
	CHECK(strstr(p->said, "Code emailed to a***@example.com.") != NULL);
	CHECK(strcmp(p->last_prompt, "4-digit code, or Enter to resend: ") == 0);
}

static void
test_freddy(void)
{
	struct env e;
	struct person p;
	struct login *lg;

	env_open(&e, "cached_auth_timeout = 600\nrate_limit_failures = 100\n");
	/* The good login: password, code, tokens cached with a verifier. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	freddy_to_code(&e, &p, lg, "Correct-Horse-1");
	login_answer(lg, "12 34");
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "verification_code"), "1234") == 0);
	CHECK(strcmp(body_member(e.fake.pending, "email_key"), "ek-1") == 0);
	answer(&e.fake, "POST", "/auth/verify", 200, FREDDY_TOKENS);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	CHECK(cached_refresh_token(&e, "alice", "ref-1"));
	pump_until(&e, has_verifier, "alice");
	CHECK(has_verifier(&e, "alice"));

	/* Cached re-authentication: the password matches the verifier, the
	 * refresh works, no code. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "refresh_token"), "ref-1") == 0);
	answer(&e.fake, "POST", "/auth/refresh", 200, "{\"token\": \"acc-2\", \"device_id\": \"d\"}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && p.prompts == 1);

	/* A wrong password there: no match, so the full login runs. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Wrong-Horse");
	pump_until(&e, request_waiting, NULL);
	answer(
	    &e.fake, "POST", "/auth/login", 401,
	    "{\"success\": false, \"error\": {\"code\": \"INVALID_CREDENTIALS\", \"message\": \"Invalid email or password\"}}");
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR && strcmp(p.text, "Invalid email or password") == 0);

	/* Three wrong codes end the login; an empty answer mails a new one. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	/* (the cached path took the password first: it asks the API again) */
	answer(&e.fake, "POST", "/auth/refresh", 500, "");
	CHECK(!p.finished);
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/auth/login", 200, FREDDY_LOGIN_OK);
	login_answer(lg, "");
	answer(&e.fake, "POST", "/auth/resend-email", 200, "{\"success\": true}");
	CHECK(strstr(p.said, "New code emailed to a***@example.com.") != NULL);
	for (int i = 0; i < 3; i++) {
		login_answer(lg, "0000");
		answer(&e.fake, "POST", "/auth/verify", 401, FREDDY_WRONG);
	}
	CHECK(strstr(p.said, "Invalid code, 2 attempts left\n") != NULL);
	CHECK(strstr(p.said, "Invalid code, 1 attempt left\n") != NULL);
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES && strcmp(p.text, "Invalid code, no attempts left") == 0);
	/* A malformed code costs an attempt but no request. */
	unsigned before = e.fake.started;
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/auth/login", 200, FREDDY_LOGIN_OK);
	login_answer(lg, "12a4");
	CHECK(e.fake.started == before + 1 && strstr(p.said, "Invalid code, 2 attempts left") != NULL);
	login_abandon(lg);
	env_close(&e);

	/* The API's 429, unreachable without offline login, and try_first_pass. */
	env_open(&e, "");
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	answer(&e.fake, "POST", "/auth/login", 429, FREDDY_429);
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES &&
	      strcmp(p.text, "Too many login attempts, try again in 5 minutes") == 0);
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
	/* A stacked password the API refuses: try_first_pass asks once. */
	lg = begin(&e, &p, "alice", 2001, "Unix-Pass", FR_AUTHTOK_TRY);
	CHECK(p.prompts == 0);
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "password"), "Unix-Pass") == 0);
	answer(&e.fake, "POST", "/auth/login", 401, "{\"success\": false}");
	CHECK(!p.finished && strcmp(p.last_prompt, "Password: ") == 0);
	login_answer(lg, "Correct-Horse-1");
	answer(&e.fake, "POST", "/auth/login", 200, FREDDY_LOGIN_OK);
	login_abandon(lg);
	/* use_first_pass without a stacked password: refused, nothing asked. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_USE);
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR && p.prompts == 0);
	env_close(&e);
}

/* An abandoned login: its request is cancelled, nothing is said, and its
 * reserved attempt is given back. */
static void
test_abandoned(const char *conf, const char *user, const char *password)
{
	struct env e;
	struct person p;

	env_open(&e, conf);
	struct login *lg = begin(&e, &p, user, 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, password);
	CHECK(e.fake.pending != NULL);
	login_abandon(lg);
	CHECK(e.fake.pending == NULL && e.fake.cancelled == 1 && !p.finished);
	/* Three more attempts fit: the abandoned one was not counted. */
	for (int i = 0; i < 3; i++) {
		lg = begin(&e, &p, user, 2001, NULL, FR_AUTHTOK_NONE);
		login_answer(lg, password);
		CHECK(e.fake.pending != NULL);
		login_abandon(lg);
	}
	env_close(&e);
}

/* Offline login: a fresh outage is no outage; one that has lasted
 * offline_after opens the offline path, with the local TOTP code. */
static void
test_offline(const char *conf, const char *login_path, const char *login_ok, bool code_step)
{
	struct env e;
	struct person p;
	char code[16], text[512];

	snprintf(text, sizeof(text), "offline_login = yes\noffline_after = 1\n%s", conf);
	env_open(&e, text);
	struct login *lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	if (code_step) { /* the API's own code step (the email) */
		answer(&e.fake, "POST", login_path, 200, login_ok);
		login_answer(lg, "1234");
	}
	CHECK(e.fake.pending != NULL);
	answer(&e.fake, "POST", code_step ? "/auth/verify" : login_path, 200, FREDDY_TOKENS);
	if (!p.finished) { /* a local TOTP profile asks for the code now */
		totp_now(code);
		login_answer(lg, code);
	}
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	pump_until(&e, has_verifier, "bob");

	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
	sleep(1);
	usleep(200000);
	/* Local resource exhaustion neither ends nor proves the outage ... */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	fail_next(&e.fake, HTTP_LOCAL_FAILURE);
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
	/* ... a transport failure after offline_after does. */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	pump_until(&e, person_moved, &p); /* the password is checked on a verifier thread */
	CHECK(!p.finished && strcmp(p.last_prompt, "Authenticator code (offline login): ") == 0);
	CHECK(strstr(p.said, "Freddy is unreachable: offline login.") != NULL);
	login_answer(lg, "000000");
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR && strcmp(p.text, "Offline login failed") == 0);
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	pump_until(&e, person_moved, &p);
	totp_code(code, 1); /* the online login may have used this step's */
	login_answer(lg, code);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	CHECK(strcmp(p.text, "Offline login: Freddy could not be reached") == 0);
	env_close(&e);
}

/* Offline password checks of one user run one at a time: a guess waits
 * until the one before it is counted, so that parallel guesses cannot all
 * pass the failure counter together.  With offline_max_failures = 1 the
 * second of two simultaneous wrong passwords meets the delay the first
 * started, and is never hashed. */
static void
test_offline_serialised(void)
{
	struct env e;
	struct person p1, p2;

	env_open(&e, "api = jwt\noffline_login = yes\noffline_after = 1\noffline_max_failures = 1\n"
		     "offline_password_only = yes\nrate_limit_failures = 100\n");
	struct login *lg = begin(&e, &p1, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/login", 200, FREDDY_TOKENS);
	CHECK(p1.finished && p1.result == FR_RESULT_SUCCESS);
	pump_until(&e, has_verifier, "bob");
	/* The outage starts, and lasts offline_after. */
	lg = begin(&e, &p1, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(p1.finished && p1.result == FR_RESULT_AUTHINFO_UNAVAIL);
	sleep(1);
	usleep(200000);
	/* A login abandoned while its check runs: cancelled, and not counted
	 * (the first of the two below is still only a failure, not a delay). */
	lg = begin(&e, &p1, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Wrong-0");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	login_abandon(lg);
	for (int i = 0; i < 20; i++)
		CHECK(loop_run_once(e.h.loop, 10) == 0);
	CHECK(!p1.finished);
	struct login *first = begin(&e, &p1, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	struct login *second = begin(&e, &p2, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(first, "Wrong-1");
	login_answer(second, "Wrong-2");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(!p1.finished && !p2.finished); /* checked on the verifier threads */
	pump_until(&e, person_moved, &p2);
	CHECK(p1.finished && p1.result == FR_RESULT_AUTH_ERR && strcmp(p1.text, "Offline login failed") == 0);
	CHECK(p2.finished && p2.result == FR_RESULT_MAXTRIES &&
	      strncmp(p2.text, "Too many failed offline logins", 30) == 0);
	env_close(&e);
}

/* ---- freddy with dev-login and a local TOTP code ---------------------------- */

#define DEV_TOKENS "{\"access_token\": \"acc-1\", \"refresh_token\": \"ref-1\", \"expires_in\": 1}"

static void
test_freddy_totp(void)
{
	struct env e;
	struct person p;
	char code[16];

	env_open(&e, "second_factor = totp\nrate_limit_failures = 100\n");
	struct login *lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	CHECK(e.fake.pending != NULL && e.fake.pending->api_key);
	answer(&e.fake, "POST", "/auth/dev-login", 200, DEV_TOKENS);
	CHECK(!p.finished && strcmp(p.last_prompt, "Authenticator code: ") == 0);
	/* Not cached before the code. */
	CHECK(!cached_refresh_token(&e, "bob", "ref-1"));
	totp_now(code);
	login_answer(lg, code);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	CHECK(cached_refresh_token(&e, "bob", "ref-1"));
	/* The same code again: a replay, then wrong codes to the end. */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/dev-login", 200, DEV_TOKENS);
	login_answer(lg, code);
	CHECK(strstr(p.said, "This code was already used; wait for the next one") != NULL);
	login_answer(lg, "000000");
	login_answer(lg, "111111");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	/* alice has no line: refused once the password is right. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	answer(&e.fake, "POST", "/auth/dev-login", 200, DEV_TOKENS);
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR &&
	      strcmp(p.text, "No authenticator app is enrolled for this account") == 0);
	/* A refused API key is the helper's problem, not a wrong password. */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/dev-login", 403,
	       "{\"success\": false, \"error\": {\"code\": \"INSUFFICIENT_PERMISSIONS\", \"message\": \"no\"}}");
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
	/* 429 */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/dev-login", 429, FREDDY_429);
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	env_close(&e);
}

/* ---- AIUS: the server's own 2FA, and a durable token ------------------------ */

#define AIUS_CHALLENGE "{\"requires_2fa\": true, \"challenge_token\": \"ch-1\"}"
#define AIUS_SESSION   "{\"user\": {}, \"message\": \"ok\", \"session_token\": \"st-1\"}"
#define AIUS_MINTED(t) "{\"token\": \"" t "\", \"token_name\": \"x\", \"client_id\": \"c\", \"created_at\": \"t\"}"
#define AIUS_REVOKED   "{\"detail\": {\"code\": \"INVALID_TOKEN\", \"message\": \"invalid token\"}}"

static bool
cached_access_token(struct env *e, const char *user)
{
	struct cache_record rec;
	bool has = false;

	if (token_cache_load(e->h.cache, user, &rec) == 0) {
		has = rec.access_token != NULL || rec.access_expires != 0;
		cache_record_wipe(&rec);
	}
	return has;
}

static bool
cached_any(struct env *e, const char *user)
{
	struct cache_record rec;

	if (token_cache_load(e->h.cache, user, &rec) != 0)
		return false;
	cache_record_wipe(&rec);
	return true;
}

/* The mint after a login: the session in the cookie, the host's name in
 * the token's name. */
static void
answer_mint(struct env *e, const char *session, long status, const char *body)
{
	char host[256], cookie[300], name[300];
	struct fake_xfer *x = e->fake.pending;

	CHECK(x != NULL);
	if (x == NULL)
		return;
	CHECK(gethostname(host, sizeof(host)) == 0);
	snprintf(cookie, sizeof(cookie), "__Host-aius_session=%s", session);
	snprintf(name, sizeof(name), "pam_freddy %s", host);
	CHECK(strcmp(x->cookie, cookie) == 0 && x->bearer[0] == '\0');
	CHECK(strcmp(body_member(x, "token_name"), name) == 0);
	answer(&e->fake, "POST", "/v1/tokens", status, body);
}

static void
answer_status(struct env *e, const char *bearer, long status, const char *body)
{
	struct fake_xfer *x = e->fake.pending;

	CHECK(x != NULL && strcmp(x->bearer, bearer) == 0 && x->body == NULL && x->cookie[0] == '\0');
	answer(&e->fake, "GET", "/v1/2fa/status", status, body);
}

/* carol has no 2FA at AIUS: the password alone gives a session. */
static struct login *
aius_password_login(struct env *e, struct person *p, const char *user)
{
	struct login *lg = begin(e, p, user, 2003, NULL, FR_AUTHTOK_NONE);

	login_answer(lg, "Carol-Pass-3");
	pump_until(e, request_waiting, NULL);
	answer(&e->fake, "POST", "/v1/login", 200, AIUS_SESSION);
	return lg;
}

/* One durable token per user, kept while it works. */
static void
test_aius_durable(void)
{
	struct env e;
	struct person p;
	struct login *lg;

	env_open(&e, "api = aius\nrate_limit_failures = 100\n");
	/* No record: minted; cached as the record's refresh token, with no
	 * access token and no expiry. */
	aius_password_login(&e, &p, "carol");
	CHECK(!p.finished);
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_T1"));
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	CHECK(cached_refresh_token(&e, "carol", "aius_T1") && !cached_access_token(&e, "carol"));
	/* A record: checked with the token as bearer, kept, nothing minted. */
	aius_password_login(&e, &p, "carol");
	answer_status(&e, "aius_T1", 200, "{\"enabled\": false}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && e.fake.pending == NULL);
	CHECK(cached_refresh_token(&e, "carol", "aius_T1"));
	/* The API cannot tell: kept, and nothing minted on a guess. */
	aius_password_login(&e, &p, "carol");
	answer_status(&e, "aius_T1", 503, "");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && e.fake.pending == NULL);
	CHECK(cached_refresh_token(&e, "carol", "aius_T1"));
	/* Refused: a new one. */
	aius_password_login(&e, &p, "carol");
	answer_status(&e, "aius_T1", 401, AIUS_REVOKED);
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_T2"));
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && cached_refresh_token(&e, "carol", "aius_T2"));
	/* Refused, and the mint fails: the login succeeds, the refused token
	 * is dropped, nothing new is cached. */
	aius_password_login(&e, &p, "carol");
	answer_status(&e, "aius_T2", 401, AIUS_REVOKED);
	answer_mint(&e, "st-1", 500, "");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && !cached_any(&e, "carol"));
	/* A mint reply without a usable token (not aius_, a bad type, a
	 * refusal): success, nothing cached. */
	const char *bad[] = { AIUS_MINTED("notaius_x"), "{\"token\": 5}", AIUS_MINTED("aius_a b") };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aius_password_login(&e, &p, "carol");
		answer_mint(&e, "st-1", 200, bad[i]);
		CHECK(p.finished && p.result == FR_RESULT_SUCCESS && !cached_any(&e, "carol"));
	}
	aius_password_login(&e, &p, "carol");
	answer_mint(&e, "st-1", 401, "{\"detail\": {\"code\": \"INVALID_SESSION\", \"message\": \"x\"}}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && !cached_any(&e, "carol"));
	/* A session that is no token is a broken reply: it never reaches a
	 * cookie. */
	lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Carol-Pass-3");
	answer(&e.fake, "POST", "/v1/login", 200, "{\"session_token\": \"st;x=1\"}");
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL && e.fake.pending == NULL);
	/* Abandoned while minting: the mint is cancelled, nothing cached. */
	unsigned cancelled = e.fake.cancelled;
	lg = aius_password_login(&e, &p, "carol");
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->path, "/v1/tokens") == 0);
	login_abandon(lg);
	CHECK(e.fake.pending == NULL && e.fake.cancelled == cancelled + 1 && !p.finished);
	CHECK(!cached_any(&e, "carol"));
	env_close(&e);
}

static void
test_aius(void)
{
	struct env e;
	struct person p;
	char code[16];

	env_open(&e, "api = aius\ncached_auth_timeout = 600\noffline_login = yes\noffline_after = 1\n"
		     "rate_limit_failures = 100\n");
	/* The good login: password, then the authenticator's code at AIUS,
	 * then the durable token. */
	struct login *lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL); /* the cached path's decoy hash first */
	CHECK(strcmp(body_member(e.fake.pending, "email"), "bob") == 0);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	CHECK(strcmp(p.last_prompt, "Authenticator or recovery code: ") == 0);
	login_answer(lg, " 123 456 ");
	CHECK(strcmp(body_member(e.fake.pending, "code"), "123456") == 0);
	CHECK(strcmp(body_member(e.fake.pending, "challenge_token"), "ch-1") == 0);
	answer(&e.fake, "POST", "/v1/2fa/login", 200, AIUS_SESSION);
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_B1"));
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	pump_until(&e, has_verifier, "bob");
	CHECK(has_verifier(&e, "bob"));
	/* Cached re-authentication: the durable token is checked right then,
	 * and the code is skipped. */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL);
	answer_status(&e, "aius_B1", 200, "{\"enabled\": true}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && p.prompts == 1);
	/* A revoked token: dropped, and the full login runs (not a refusal). */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL);
	answer_status(&e, "aius_B1", 401, AIUS_REVOKED);
	CHECK(!p.finished && !cached_any(&e, "bob"));
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	CHECK(strcmp(p.last_prompt, "Authenticator or recovery code: ") == 0);
	login_answer(lg, "654321");
	answer(&e.fake, "POST", "/v1/2fa/login", 200, AIUS_SESSION);
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_B2"));
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && cached_refresh_token(&e, "bob", "aius_B2"));
	pump_until(&e, has_verifier, "bob");
	/* The check cannot be made: the full login, the token kept. */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL);
	fail_next(&e.fake, HTTP_TLS_FAILED);
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	CHECK(!p.finished && cached_refresh_token(&e, "bob", "aius_B2"));
	login_abandon(lg);
	/* Wrong codes, with carol, who has nothing cached. */
	lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Carol-Pass-3");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	for (int i = 0; i < 3; i++) {
		login_answer(lg, "000000");
		answer(&e.fake, "POST", "/v1/2fa/login", 401,
		       "{\"detail\": {\"code\": \"INVALID_CODE\", \"message\": \"Invalid code\"}}");
	}
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	/* An expired challenge ends the login at once. */
	lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Carol-Pass-3");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	login_answer(lg, "123456");
	answer(&e.fake, "POST", "/v1/2fa/login", 401,
	       "{\"detail\": {\"code\": \"INVALID_CHALLENGE\", \"message\": \"x\"}}");
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR &&
	      strcmp(p.text, "The login has expired, please start again") == 0);
	/* 429 */
	lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Carol-Pass-3");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 429, "{\"detail\": {\"code\": \"RATE_LIMITED\", \"message\": \"slow\"}}");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	/* Unreachable, even in an outage: without a cached login there is no
	 * offline one. */
	for (int i = 0; i < 2; i++) {
		lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
		login_answer(lg, "Carol-Pass-3");
		pump_until(&e, request_waiting, NULL);
		fail_next(&e.fake, HTTP_UNREACHABLE);
		CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
		sleep(1);
		usleep(200000);
	}
	/* bob's cached login in the same outage: offline, with his local TOTP
	 * code (the cached path's check meets the outage first). */
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	pump_until(&e, request_waiting, NULL);
	CHECK(strcmp(e.fake.pending->path, "/v1/2fa/status") == 0);
	fail_next(&e.fake, HTTP_UNREACHABLE);
	pump_until(&e, request_waiting, NULL);
	fail_next(&e.fake, HTTP_UNREACHABLE);
	pump_until(&e, person_moved, &p); /* the offline check, on a verifier thread */
	CHECK(!p.finished && strcmp(p.last_prompt, "Authenticator code (offline login): ") == 0);
	totp_now(code);
	login_answer(lg, code);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	env_close(&e);
	test_abandoned("api = aius\n", "carol", "Carol-Pass-3");
}

/* ---- JWT, with and without a local TOTP code -------------------------------- */

#define JWT_TOKENS "{\"token\": \"jt-1\", \"refreshToken\": \"jr-1\", \"expires_in\": 3600}"

static void
test_jwt(void)
{
	struct env e;
	struct person p;
	char code[16];

	env_open(&e, "api = jwt\ncached_auth_timeout = 600\nrate_limit_failures = 100\n");
	struct login *lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	CHECK(strcmp(body_member(e.fake.pending, "username"), "alice") == 0);
	answer(&e.fake, "POST", "/auth/login", 200, JWT_TOKENS);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && p.prompts == 1);
	pump_until(&e, has_verifier, "alice");
	/* Cached: the refresh goes with refreshToken, a rotated one is kept. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	CHECK(strcmp(body_member(e.fake.pending, "refreshToken"), "jr-1") == 0);
	answer(&e.fake, "POST", "/auth/refresh", 200,
	       "{\"token\": \"jt-2\", \"refreshToken\": \"jr-2\", \"expires_in\": 60}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	CHECK(cached_refresh_token(&e, "alice", "jr-2"));
	/* A revoked refresh token: refused at once, the cache entry dropped. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/auth/refresh", 401, "{\"error\": \"Invalid or expired refresh token\"}");
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR);
	CHECK(!cached_refresh_token(&e, "alice", "jr-2"));
	/* 429 and unreachable */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/auth/login", 429, "{\"error\": \"Too many requests\"}");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Correct-Horse-1");
	pump_until(&e, request_waiting, NULL);
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL);
	env_close(&e);

	/* With a local TOTP code: three wrong codes end the login, and the
	 * API session of its tokens is ended. */
	env_open(&e, "api = jwt\nsecond_factor = totp\n");
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/login", 200, JWT_TOKENS);
	CHECK(strcmp(p.last_prompt, "Authenticator code: ") == 0);
	for (int i = 0; i < 3; i++)
		login_answer(lg, "000000");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->bearer, "jt-1") == 0);
	answer(&e.fake, "POST", "/auth/logout", 200, "{\"message\": \"Successfully logged out\"}");
	lg = begin(&e, &p, "bob", 2002, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Bob-Pass-2");
	answer(&e.fake, "POST", "/auth/login", 200, JWT_TOKENS);
	totp_now(code);
	login_answer(lg, code);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && e.fake.pending == NULL);
	env_close(&e);
	test_abandoned("api = jwt\n", "alice", "Correct-Horse-1");
	test_offline("api = jwt\nsecond_factor = totp\n", "/auth/login", NULL, false);
}

/* ---- account requests with the cached login (auth/account_call.c) ---------- */

struct call_seen {
	struct account_call *call; /* the owner's pointer: NULL once done */
	const char *path;
	bool done;
	enum call_outcome outcome;
	long status, retry_after;
};

static void
call_build(void *ctx, const char *bearer, struct profile_step *out)
{
	struct call_seen *c = ctx;

	step_fetch(out, "GET", c->path, bearer);
}

static void
call_done(void *ctx, const struct call_result *r)
{
	struct call_seen *c = ctx;

	CHECK(!c->done && c->call == NULL);
	c->done = true;
	c->outcome = r->outcome;
	c->status = r->resp != NULL ? r->resp->status : 0;
	c->retry_after = r->retry_after;
}

static void
call_start(struct env *e, struct call_seen *c, const char *user, const char *path, int want)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	CHECK(account_call_start(&e->h, user, call_build, call_done, c, &c->call) == want);
	CHECK((want == 0) == (c->call != NULL));
}

static void
expire_access(struct env *e, const char *user)
{
	struct cache_record rec;

	CHECK(token_cache_load(e->h.cache, user, &rec) == 0);
	rec.access_expires = (int64_t)time(NULL) - 10;
	CHECK(token_cache_store(e->h.cache, user, &rec) == 0);
	cache_record_wipe(&rec);
}

static void
jwt_logged_in(struct env *e, struct person *p, const char *user)
{
	struct login *lg = begin(e, p, user, 2001, NULL, FR_AUTHTOK_NONE);

	login_answer(lg, "Correct-Horse-1");
	answer(&e->fake, "POST", "/auth/login", 200, JWT_TOKENS);
	CHECK(p->finished && p->result == FR_RESULT_SUCCESS);
}

static void
test_account_calls(void)
{
	struct env e;
	struct person p;
	struct call_seen c;

	env_open(&e, "api = jwt\nrate_limit_failures = 100\n");
	/* Nothing cached: no request at all. */
	unsigned started = e.fake.started;
	call_start(&e, &c, "alice", "/auth/keys", FR_ERR_NOT_FOUND);
	CHECK(e.fake.started == started && !c.done);
	jwt_logged_in(&e, &p, "alice");
	/* A fresh access token is the bearer. */
	call_start(&e, &c, "alice", "/auth/keys", 0);
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->bearer, "jt-1") == 0);
	answer(&e.fake, "GET", "/auth/keys", 200, "[]");
	CHECK(c.done && c.outcome == CALL_ANSWERED && c.status == 200);
	/* The API refuses it: one refresh, one retry with the new token. */
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(&e.fake, "GET", "/auth/keys", 401, "{\"error\": \"Authentication required\"}");
	CHECK(!c.done && strcmp(body_member(e.fake.pending, "refreshToken"), "jr-1") == 0);
	answer(&e.fake, "POST", "/auth/refresh", 200, "{\"token\": \"jt-2\", \"expires_in\": 3600}");
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->bearer, "jt-2") == 0);
	answer(&e.fake, "GET", "/auth/keys", 404, "{\"error\": \"API key not found\"}");
	CHECK(c.done && c.outcome == CALL_ANSWERED && c.status == 404);
	/* Refused again after a good refresh: the login is gone. */
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(&e.fake, "GET", "/auth/keys", 401, "{\"error\": \"Authentication required\"}");
	answer(&e.fake, "POST", "/auth/refresh", 200, "{\"token\": \"jt-3\", \"expires_in\": 3600}");
	answer(&e.fake, "GET", "/auth/keys", 401, "{\"error\": \"Authentication required\"}");
	CHECK(c.done && c.outcome == CALL_LOGIN_REFUSED && !cached_any(&e, "alice"));
	/* An expired token is refreshed first; a refused refresh drops the
	 * login and sends nothing else. */
	jwt_logged_in(&e, &p, "alice");
	expire_access(&e, "alice");
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(&e.fake, "POST", "/auth/refresh", 200, "{\"token\": \"jt-4\", \"expires_in\": 3600}");
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->bearer, "jt-4") == 0);
	answer(&e.fake, "GET", "/auth/keys", 200, "[]");
	CHECK(c.done && c.outcome == CALL_ANSWERED);
	expire_access(&e, "alice");
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(&e.fake, "POST", "/auth/refresh", 401, "{\"error\": \"Invalid or expired refresh token\"}");
	CHECK(c.done && c.outcome == CALL_LOGIN_REFUSED && e.fake.pending == NULL && !cached_any(&e, "alice"));
	/* 429 and an outage: reported, the login kept. */
	jwt_logged_in(&e, &p, "alice");
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(
	    &e.fake, "GET", "/auth/keys", 429,
	    "{\"success\": false, \"error\": {\"code\": \"X\", \"message\": \"slow\", \"details\": {\"retry_after\": 7}}}");
	CHECK(c.done && c.outcome == CALL_RATE_LIMITED && c.retry_after == 7);
	call_start(&e, &c, "alice", "/auth/keys", 0);
	answer(&e.fake, "GET", "/auth/keys", 503, "");
	CHECK(c.done && c.outcome == CALL_UNAVAILABLE && cached_any(&e, "alice"));
	call_start(&e, &c, "alice", "/auth/keys", 0);
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(c.done && c.outcome == CALL_UNAVAILABLE && cached_any(&e, "alice"));
	/* The client leaves: the request is cancelled, nothing called. */
	unsigned cancelled = e.fake.cancelled;
	call_start(&e, &c, "alice", "/auth/keys", 0);
	account_call_cancel(&e.h, &c.call);
	CHECK(c.call == NULL && e.fake.cancelled == cancelled + 1 && !c.done);
	env_close(&e);

	/* AIUS: the durable token is the bearer; only a refusal of it drops
	 * the login, not a wrong code. */
	env_open(&e, "api = aius\nrate_limit_failures = 100\n");
	aius_password_login(&e, &p, "carol");
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_C1"));
	call_start(&e, &c, "carol", "/v1/2fa/status", 0);
	CHECK(e.fake.pending != NULL && strcmp(e.fake.pending->bearer, "aius_C1") == 0);
	answer(&e.fake, "GET", "/v1/2fa/status", 401,
	       "{\"detail\": {\"code\": \"INVALID_CODE\", \"message\": \"Invalid two-factor code\"}}");
	CHECK(c.done && c.outcome == CALL_ANSWERED && c.status == 401 && cached_any(&e, "carol"));
	call_start(&e, &c, "carol", "/v1/2fa/status", 0);
	answer(&e.fake, "GET", "/v1/2fa/status", 401, AIUS_REVOKED);
	CHECK(c.done && c.outcome == CALL_LOGIN_REFUSED && !cached_any(&e, "carol") && e.fake.pending == NULL);
	env_close(&e);
}

/* ---- passwd (auth/passwd.c) ---------------------------------------------------- */

#define RESET_REQUEST "/v1/password/reset/request"
#define RESET_CONFIRM "/v1/password/reset/confirm"
#define RESET_SENT    "{\"message\": \"If the address is registered, a reset email has been sent\"}"
#define BAD_TOKEN     "{\"detail\": {\"code\": \"INVALID_RESET_TOKEN\", \"message\": \"Invalid or expired reset token\"}}"
#define WEAK	      "{\"detail\": {\"code\": \"WEAK_PASSWORD\", \"message\": \"Password must be at least 8 characters\"}}"

static struct passwd_change *
passwd_start(struct env *e, struct person *p, const char *user, uid_t uid, uid_t caller)
{
	struct local_account acct = { .uid = uid };
	struct access_request arq = { .user = user, .account = &acct, .caller_uid = caller };
	struct access_verdict v;

	memset(p, 0, sizeof(*p));
	snprintf(acct.name, sizeof(acct.name), "%s", user);
	access_gate(&e->h, &arq, &v);
	CHECK(v.outcome == ACCESS_GO);
	struct passwd_request rq = {
		.user = user, .service = "passwd", .caller_uid = caller, .caller_pid = 1, .claim = v.claim
	};
	struct passwd_change *pc = passwd_new(&e->h, &rq, &person_io, p);
	access_claim_free(&v.claim);
	CHECK(pc != NULL);
	passwd_begin(pc);
	return pc;
}

static void
expect_prompt(const struct person *p, const char *text, unsigned flags)
{
	if (strcmp(p->last_prompt, text) != 0)
		fprintf(stderr, "expected prompt %s, got %s\n", text, p->last_prompt);
	CHECK(!p->finished && strcmp(p->last_prompt, text) == 0 && p->last_flags == flags);
}

/* Up to the reset code's prompt, as the user (the current password
 * first) or as root (not asked). */
static struct passwd_change *
passwd_to_code(struct env *e, struct person *p, uid_t caller)
{
	struct passwd_change *pc = passwd_start(e, p, "carol", 2003, caller);

	if (caller != 0) {
		expect_prompt(p, "Current Freddy password: ", 0);
		passwd_answer(pc, "Carol-Pass-3");
		CHECK(e->fake.pending != NULL &&
		      strcmp(body_member(e->fake.pending, "email"), "carol@example.com") == 0);
		CHECK(strcmp(body_member(e->fake.pending, "password"), "Carol-Pass-3") == 0);
		/* A 2FA challenge is a right password too; nothing answers it. */
		answer(&e->fake, "POST", "/v1/login", 200, AIUS_CHALLENGE);
	}
	CHECK(e->fake.pending != NULL && strcmp(body_member(e->fake.pending, "email"), "carol@example.com") == 0);
	answer(&e->fake, "POST", RESET_REQUEST, 200, RESET_SENT);
	CHECK(strstr(p->said, "A password reset code was emailed to c***@example.com.\n") != NULL);
	expect_prompt(p, "Reset code from the email: ", 0);
	return pc;
}

static void
new_password(struct person *p, struct passwd_change *pc, const char *first, const char *second)
{
	expect_prompt(p, "New password: ", FR_PROMPT_IS_PASSWORD);
	passwd_answer(pc, first);
	expect_prompt(p, "Retype new password: ", 0);
	passwd_answer(pc, second);
}

static bool
verifier_is(struct env *e, void *arg)
{
	struct cache_record rec;
	bool yes = false;

	if (token_cache_load(e->h.cache, "carol", &rec) == 0) {
		yes = rec.verifier != NULL && verifier_check(rec.verifier, arg);
		cache_record_wipe(&rec);
	}
	return yes;
}

static void
test_passwd(void)
{
	struct env e;
	struct person p;
	struct passwd_change *pc;

	env_open(&e, "api = aius\nuser_template = %u@example.com\ncached_auth_timeout = 600\n"
		     "rate_limit_failures = 3\n");
	/* carol's cached login, with her password's verifier. */
	struct login *lg = begin(&e, &p, "carol", 2003, NULL, FR_AUTHTOK_NONE);
	login_answer(lg, "Carol-Pass-3");
	pump_until(&e, request_waiting, NULL);
	answer(&e.fake, "POST", "/v1/login", 200, AIUS_SESSION);
	answer_mint(&e, "st-1", 200, AIUS_MINTED("aius_P1"));
	pump_until(&e, verifier_is, "Carol-Pass-3");
	CHECK(verifier_is(&e, "Carol-Pass-3"));

	/* The whole change, with every detour: a mismatch, a wrong code
	 * (the new password kept), a password the API refuses (the code
	 * kept). */
	pc = passwd_to_code(&e, &p, 2003);
	passwd_answer(pc, "  ABCD-EFGH-JKLM ");
	new_password(&p, pc, "First-Pass-1", "Other-Pass-2");
	CHECK(strstr(p.said, "Sorry, passwords do not match.\n") != NULL && e.fake.pending == NULL);
	new_password(&p, pc, "New-Pass-77", "New-Pass-77");
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "token"), "ABCD-EFGH-JKLM") == 0);
	CHECK(strcmp(body_member(e.fake.pending, "new_password"), "New-Pass-77") == 0);
	answer(&e.fake, "POST", RESET_CONFIRM, 400, BAD_TOKEN);
	CHECK(strstr(p.said, "Invalid code, 2 attempts left\n") != NULL);
	expect_prompt(&p, "Reset code from the email: ", 0);
	passwd_answer(pc, "WXYZ-2345-6789");
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "new_password"), "New-Pass-77") == 0);
	answer(&e.fake, "POST", RESET_CONFIRM, 400, WEAK);
	CHECK(strstr(p.said, "Password must be at least 8 characters\n") != NULL);
	new_password(&p, pc, "Brand-New-Pass-9", "Brand-New-Pass-9");
	CHECK(e.fake.pending != NULL && strcmp(body_member(e.fake.pending, "token"), "WXYZ-2345-6789") == 0);
	answer(&e.fake, "POST", RESET_CONFIRM, 200, "{\"message\": \"Password updated\"}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS && e.fake.pending == NULL);
	/* The old password's verifier is gone at once; the new one's follows
	 * from the verifier thread, and the durable token stays. */
	CHECK(!verifier_is(&e, "Carol-Pass-3"));
	pump_until(&e, verifier_is, "Brand-New-Pass-9");
	CHECK(verifier_is(&e, "Brand-New-Pass-9") && cached_refresh_token(&e, "carol", "aius_P1"));

	/* Root is not asked for the current password. */
	pc = passwd_to_code(&e, &p, 0);
	CHECK(p.prompts == 1);
	passwd_answer(pc, "ABCD-EFGH-JKLM");
	new_password(&p, pc, "Root-Set-Pass-1", "Root-Set-Pass-1");
	answer(&e.fake, "POST", RESET_CONFIRM, 200, "{}");
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);

	/* Three rounds that do not make it: no confirm is sent. */
	pc = passwd_to_code(&e, &p, 0);
	passwd_answer(pc, "ABCD-EFGH-JKLM");
	new_password(&p, pc, "A-Pass-000", "B-Pass-000");
	expect_prompt(&p, "New password: ", FR_PROMPT_IS_PASSWORD);
	passwd_answer(pc, "");
	CHECK(strstr(p.said, "The new password is empty.\n") != NULL);
	new_password(&p, pc, "C-Pass-000", "D-Pass-000");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES && e.fake.pending == NULL);
	CHECK(strcmp(p.text, "Too many attempts; the password is unchanged") == 0);

	/* Codes that are none cost an attempt without a request; the last
	 * one ends the change. */
	unsigned started = e.fake.started;
	pc = passwd_to_code(&e, &p, 0);
	started++;
	passwd_answer(pc, "   ");
	passwd_answer(pc, "AB\033CD");
	CHECK(strstr(p.said, "Invalid code, 1 attempt left\n") != NULL);
	passwd_answer(pc, "");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES && e.fake.started == started);

	/* A wrong current password: nothing is mailed, and it is a failure
	 * of the budget: after three, nothing more is sent. */
	for (int i = 0; i < 3; i++) {
		pc = passwd_start(&e, &p, "carol", 2003, 2003);
		passwd_answer(pc, "not-hers");
		answer(&e.fake, "POST", "/v1/login", 401,
		       "{\"detail\": {\"code\": \"INVALID_CREDENTIALS\", \"message\": \"Invalid email or password\"}}");
		CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR && e.fake.pending == NULL);
		CHECK(strcmp(p.text, "Invalid email or password") == 0);
	}
	struct local_account carol = { .uid = 2003, .name = "carol" };
	struct access_request arq = { .user = "carol", .account = &carol, .caller_uid = 2003 };
	struct access_verdict v;
	access_gate(&e.h, &arq, &v);
	CHECK(v.outcome == ACCESS_REFUSED && v.result == FR_RESULT_AUTH_ERR);
	CHECK(strncmp(v.text, "Too many failed attempts; try again in ", 39) == 0);
	access_claim_free(&v.claim);
	env_close(&e);

	/* An unreachable API, the API's 429, a refusal at confirm, and a
	 * client that leaves. */
	env_open(&e, "api = aius\nuser_template = %u@example.com\nrate_limit_failures = 100\n");
	pc = passwd_start(&e, &p, "carol", 2003, 2003);
	passwd_answer(pc, "Carol-Pass-3");
	fail_next(&e.fake, HTTP_UNREACHABLE);
	CHECK(p.finished && p.result == FR_RESULT_AUTHINFO_UNAVAIL &&
	      strcmp(p.text, "Authentication service unavailable") == 0);
	pc = passwd_start(&e, &p, "carol", 2003, 0);
	answer(&e.fake, "POST", RESET_REQUEST, 429,
	       "{\"detail\": {\"code\": \"RATE_LIMITED\", \"message\": \"slow\"}}");
	CHECK(p.finished && p.result == FR_RESULT_MAXTRIES);
	pc = passwd_to_code(&e, &p, 2003);
	passwd_answer(pc, "ABCD-EFGH-JKLM");
	new_password(&p, pc, "Brand-New-Pass-9", "Brand-New-Pass-9");
	answer(&e.fake, "POST", RESET_CONFIRM, 403, "{\"detail\": {\"code\": \"FORBIDDEN\", \"message\": \"No\"}}");
	CHECK(p.finished && p.result == FR_RESULT_AUTH_ERR && strcmp(p.text, "No") == 0);
	unsigned cancelled = e.fake.cancelled;
	pc = passwd_to_code(&e, &p, 2003);
	passwd_answer(pc, "ABCD-EFGH-JKLM");
	new_password(&p, pc, "Brand-New-Pass-9", "Brand-New-Pass-9");
	CHECK(e.fake.pending != NULL);
	passwd_abandon(pc);
	CHECK(e.fake.pending == NULL && e.fake.cancelled == cancelled + 1 && !p.finished);
	env_close(&e);

	/* fail_mode = safe: the rest of the PAM stack decides. */
	env_open(&e, "api = aius\nfail_mode = safe\n");
	pc = passwd_start(&e, &p, "carol", 2003, 0);
	answer(&e.fake, "POST", RESET_REQUEST, 502, "");
	CHECK(p.finished && p.result == FR_RESULT_IGNORE);
	env_close(&e);

	/* The profiles without a password change have no engine. */
	env_open(&e, "api = jwt\n");
	struct passwd_request rq = { .user = "carol", .service = "passwd" };
	CHECK(passwd_new(&e.h, &rq, &person_io, &p) == NULL);
	env_close(&e);
}

/* ---- the audit records the engine makes --------------------------------- */

/* What the journal sink was handed, one record's fields of interest. */
struct seen {
	char event[32], user[32], factor[32], result[32], trace_id[80], login_id[48];
};
struct seen_list {
	struct seen rec[16];
	int n;
};

static void
field_copy(const struct iovec *iov, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	if (iov->iov_len > n && memcmp(iov->iov_base, name, n) == 0 && ((char *)iov->iov_base)[n] == '=')
		snprintf(out, cap, "%.*s", (int)(iov->iov_len - n - 1), (char *)iov->iov_base + n + 1);
}

/* Runs on the audit writer's thread; the test reads after audit_flush. */
static int
seen_record(void *ctx, const struct iovec *iov, int n)
{
	struct seen_list *l = ctx;

	if (l->n >= 16)
		return 0;
	struct seen *r = &l->rec[l->n++];
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n; i++) {
		field_copy(&iov[i], "FREDDY_EVENT", r->event, sizeof(r->event));
		field_copy(&iov[i], "FREDDY_USER", r->user, sizeof(r->user));
		field_copy(&iov[i], "FREDDY_FACTOR", r->factor, sizeof(r->factor));
		field_copy(&iov[i], "FREDDY_RESULT", r->result, sizeof(r->result));
		field_copy(&iov[i], "FREDDY_TRACE_ID", r->trace_id, sizeof(r->trace_id));
		field_copy(&iov[i], "FREDDY_LOGIN_ID", r->login_id, sizeof(r->login_id));
	}
	return 0;
}

static bool
seen_is(const struct seen *r, const char *event, const char *user, const char *factor, const char *result)
{
	bool ok = strcmp(r->event, event) == 0 && strcmp(r->user, user) == 0 && strcmp(r->factor, factor) == 0 &&
		  strcmp(r->result, result) == 0 && r->login_id[0] != '\0';
	if (!ok)
		fprintf(stderr, "audit record: %s %s %s %s (login %s), expected %s %s %s %s\n", r->event, r->user,
			r->factor, r->result, r->login_id, event, user, factor, result);
	return ok;
}

static void
test_audit_records(void)
{
	struct env e;
	struct person p, q[4];
	struct seen_list seen = { .n = 0 };
	struct login *lg, *many[4];

	env_open(&e, "");
	CHECK(audit_new(&e.h.audit) == 0);
	audit_set_journal(e.h.audit, seen_record, &seen);

	/* A wrong code (its reply names a trace_id), then the right one. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	freddy_to_code(&e, &p, lg, "Correct-Horse-1");
	login_answer(lg, "1111");
	answer(
	    &e.fake, "POST", "/auth/verify", 401,
	    "{\"success\": false, \"error\": {\"code\": \"INVALID_VERIFICATION_CODE\", \"trace_id\": \"req_0a1b\"}}");
	login_answer(lg, "1234");
	answer(&e.fake, "POST", "/auth/verify", 200, FREDDY_TOKENS);
	CHECK(p.finished && p.result == FR_RESULT_SUCCESS);
	audit_flush(e.h.audit);
	CHECK(seen.n == 1 && seen_is(&seen.rec[0], "login_success", "alice", "email_code", "success"));
	CHECK(strcmp(seen.rec[0].trace_id, "req_0a1b") == 0);

	/* Four passwords at once: three go to the API, the budget
	 * (rate_limit_failures = 3, attempts in flight count) refuses the
	 * fourth before it is sent. */
	for (int i = 0; i < 4; i++)
		many[i] = begin(&e, &q[i], "carol", 2003, NULL, FR_AUTHTOK_NONE);
	for (int i = 0; i < 4; i++)
		login_answer(many[i], "Guess-1");
	CHECK(q[3].finished && q[3].result == FR_RESULT_AUTH_ERR &&
	      strstr(q[3].text, "Too many failed attempts") != NULL);
	audit_flush(e.h.audit);
	CHECK(seen.n == 2 && seen_is(&seen.rec[1], "rate_limited", "carol", "", "auth_err"));
	CHECK(seen.rec[1].trace_id[0] == '\0');
	for (int i = 0; i < 3; i++)
		answer(&e.fake, "POST", "/auth/login", 401,
		       "{\"success\": false, \"error\": {\"code\": \"INVALID_CREDENTIALS\", \"trace_id\": \"req_c\"}}");
	audit_flush(e.h.audit);
	CHECK(seen.n == 5);
	for (int i = 2; i < 5 && i < seen.n; i++) {
		CHECK(seen_is(&seen.rec[i], "login_failure", "carol", "password", "auth_err"));
		CHECK(strcmp(seen.rec[i].trace_id, "req_c") == 0);
	}
	/* Every login has an id of its own. */
	for (int i = 0; i < seen.n; i++)
		for (int j = 0; j < i; j++)
			CHECK(strcmp(seen.rec[i].login_id, seen.rec[j].login_id) != 0);

	/* The client leaves at the code prompt. */
	lg = begin(&e, &p, "alice", 2001, NULL, FR_AUTHTOK_NONE);
	freddy_to_code(&e, &p, lg, "Correct-Horse-1");
	login_abandon(lg);
	audit_flush(e.h.audit);
	CHECK(seen.n == 6 && seen_is(&seen.rec[5], "login_failure", "alice", "email_code", "abandoned"));
	env_close(&e);
	audit_free(e.h.audit);
}

static void
test_no_profile_state_leaks(void)
{
	/* Each profile's state is wiped by its own function. */
	CHECK(profile_freddy_email.wipe != NULL && profile_aius.wipe != NULL);
	CHECK(profile_freddy_email.state_size > 0 && profile_aius.state_size > 0);
}

int
main(void)
{
	log_init("test_engine", getenv("TEST_ENGINE_LOG") != NULL, false);
	test_freddy();
	test_abandoned("", "alice", "Correct-Horse-1");
	test_offline("", "/auth/login", FREDDY_LOGIN_OK, true);
	test_offline_serialised();
	test_freddy_totp();
	test_aius();
	test_aius_durable();
	test_jwt();
	test_account_calls();
	test_passwd();
	test_audit_records();
	test_no_profile_state_leaks();
	return check_finish("test_engine");
}
