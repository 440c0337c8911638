/* bench_server: a small, fast HTTPS stand-in for the Freddy API, for the
 * login-storm benchmark only (tests/bench/bench.py).
 *
 * The Python emulator (tests/emulator/freddy_emulator.py) does everything
 * the tests need, but under the GIL it serves about 2 requests per ms, so
 * at hundreds of concurrent logins the benchmark would measure its queue.
 * This server implements only the Freddy email flow, as documented in
 * /work/shared/api/freddy-authentication-guide.txt:
 *
 *   POST {prefix}/v1/auth/login  {"email_or_username", "password"}
 *     -> 200 {success, message, email_key "uuid-...", email,
 *             requires_verification, next_step}
 *     -> 401 INVALID_CREDENTIALS envelope (unknown user, wrong password)
 *   POST {prefix}/v1/auth/verify {"email_key", "verification_code"}
 *     -> 200 {token, refreshToken, token_type, expires_in, user}
 *     -> 401 INVALID_VERIFICATION_CODE (wrong code; the key stays usable)
 *     -> 401 VERIFICATION_EXPIRED (unknown, used or expired email_key)
 *
 * Users are bench0 .. bench<N-1> (or benchI@example.com), all with the
 * password given by --password; every code is --code.  Issued email_keys
 * live in a mutex-protected hash table, single use, valid --key-ttl
 * seconds (like the emulator: a key is forgotten once verified).
 *
 * Test-only admin endpoints, compatible with what bench.py uses from the
 * emulator (never delayed):
 *   GET  /_emu/stats   -> {"connections": N, "requests": {"POST /v1/auth/login": n, ...}}
 *   GET  /_emu/config  -> {"latency_ms": N}
 *   POST /_emu/config {"latency_ms": N} -> {"latency_ms": N}
 *
 * Injected latency delays each API request by latency_ms without blocking
 * others: the request's connection is suspended (MHD_suspend_connection)
 * and a timer thread resumes it when its deadline passes.
 *
 * libmicrohttpd (GnuTLS) with an internal epoll thread pool; HTTP/1.1
 * keep-alive; TLS with the test certificates (tests/emulator/make-certs.sh).
 *
 * Usage: bench_server --cert PEM --key PEM --password PW --code NNNN
 *            [--users N] [--bind 127.0.0.1] [--port 0] [--port-file FILE]
 *            [--prefix ""] [--latency-ms 0] [--key-ttl 600] [--threads 2]
 *            [--max-connections 8192]
 * SIGTERM or SIGINT stops it with exit status 0 (requests still in their
 * injected delay are dropped).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY   (64 * 1024)
#define ACCESS_TTL 86400

/* ---- options and shared state ---------------------------------------- */

static struct {
	const char *cert, *key, *password, *bind, *port_file, *prefix;
	long code, users, key_ttl, threads, max_connections;
	unsigned port;
} opt = {
	.bind = "127.0.0.1",
	.prefix = "",
	.code = -1,
	.users = 1000,
	.key_ttl = 600,
	.threads = 2,
	.max_connections = 8192,
};

static char login_path[256], verify_path[256];
static atomic_long latency_ms;
static atomic_long n_connections;

enum counter { C_LOGIN, C_VERIFY, C_OTHER, C_COUNT };
static atomic_long n_requests[C_COUNT];
static char counter_name[C_COUNT][300];

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "bench_server: %s\n", what);
	exit(1);
}

static double
now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("getrandom failed");
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* ---- issued email_keys: a chained hash table under one mutex ---------- */

#define KEY_LEN	   41 /* "uuid-" + 36 */
#define TABLE_SIZE 4096

struct key_rec {
	struct key_rec *next;
	char key[KEY_LEN + 1];
	long user;
	double expires;
};

static struct key_rec *table[TABLE_SIZE];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned
hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % TABLE_SIZE;
}

static void
key_issue(char out[KEY_LEN + 1], long user)
{
	unsigned char b[16];
	random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char h[33];
	hex(h, b, sizeof b);
	snprintf(out, KEY_LEN + 1, "uuid-%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);

	struct key_rec *rec = calloc(1, sizeof *rec);
	if (rec == NULL)
		die("out of memory");
	memcpy(rec->key, out, KEY_LEN + 1);
	rec->user = user;
	rec->expires = now_mono() + (double)opt.key_ttl;
	unsigned slot = hash_key(out);
	pthread_mutex_lock(&table_lock);
	rec->next = table[slot];
	table[slot] = rec;
	pthread_mutex_unlock(&table_lock);
}

/* The user an unexpired key was issued for, or -1.  `consume` forgets it. */
static long
key_lookup(const char *key, bool consume)
{
	if (strlen(key) != KEY_LEN)
		return -1;
	unsigned slot = hash_key(key);
	double now = now_mono();
	long user = -1;
	pthread_mutex_lock(&table_lock);
	for (struct key_rec **pp = &table[slot]; *pp != NULL;) {
		struct key_rec *rec = *pp;
		bool expired = now >= rec->expires;
		bool match = strcmp(rec->key, key) == 0;
		if (match && !expired)
			user = rec->user;
		if (expired || (match && consume)) {
			*pp = rec->next;
			free(rec);
			if (match)
				break;
			continue;
		}
		if (match)
			break;
		pp = &rec->next;
	}
	pthread_mutex_unlock(&table_lock);
	return user;
}

static void
table_free(void)
{
	for (unsigned i = 0; i < TABLE_SIZE; i++) {
		while (table[i] != NULL) {
			struct key_rec *rec = table[i];
			table[i] = rec->next;
			free(rec);
		}
	}
}

/* ---- delayed replies: a min-heap of suspended connections ------------- */

struct delayed {
	double due;
	struct MHD_Connection *conn;
};

static struct delayed *heap;
static size_t heap_len, heap_cap;
static bool timer_stop;
static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t heap_cond;

static void
heap_push(double due, struct MHD_Connection *conn)
{
	pthread_mutex_lock(&heap_lock);
	if (heap_len == heap_cap) {
		size_t cap = heap_cap ? 2 * heap_cap : 1024;
		struct delayed *h = realloc(heap, cap * sizeof *h);
		if (h == NULL)
			die("out of memory");
		heap = h;
		heap_cap = cap;
	}
	size_t i = heap_len++;
	while (i > 0 && heap[(i - 1) / 2].due > due) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = (struct delayed){ due, conn };
	if (i == 0)
		pthread_cond_signal(&heap_cond);
	pthread_mutex_unlock(&heap_lock);
}

/* Caller holds heap_lock and heap_len > 0. */
static struct delayed
heap_pop(void)
{
	struct delayed top = heap[0], last = heap[--heap_len];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && heap[c + 1].due < heap[c].due)
			c++;
		if (heap[c].due >= last.due)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (heap_len > 0)
		heap[i] = last;
	return top;
}

static void *
timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&heap_lock);
	while (!timer_stop || heap_len > 0) {
		if (heap_len == 0) {
			pthread_cond_wait(&heap_cond, &heap_lock);
			continue;
		}
		double due = heap[0].due, now = now_mono();
		if (due > now && !timer_stop) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			double wait = due - now;
			ts.tv_sec += (time_t)wait;
			ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&heap_cond, &heap_lock, &ts);
			continue;
		}
		struct delayed d = heap_pop();
		pthread_mutex_unlock(&heap_lock);
		MHD_resume_connection(d.conn);
		pthread_mutex_lock(&heap_lock);
	}
	pthread_mutex_unlock(&heap_lock);
	return NULL;
}

/* ---- replies ---------------------------------------------------------- */

static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	enum MHD_Result ret = MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") == MHD_YES)
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
utc_timestamp(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "1970-01-01T00:00:00Z");
}

/* The documented error envelope (INVALID_CREDENTIALS in the guide; the
 * other codes follow the emulator's choices for what the guide leaves out). */
static enum MHD_Result
send_error(struct MHD_Connection *conn, const char *code)
{
	static const struct {
		const char *code, *message, *system_message, *type;
		unsigned status;
	} errors[] = {
		{ "INVALID_CREDENTIALS", "Invalid email or password. Please try again.", "Invalid credentials",
		  "authentication_error", 401 },
		{ "INVALID_VERIFICATION_CODE", "Invalid verification code.", "Invalid verification code",
		  "authentication_error", 401 },
		{ "VERIFICATION_EXPIRED", "Verification code expired. Please log in again.",
		  "Verification session expired or unknown", "authentication_error", 401 },
		{ "VALIDATION_ERROR", "Invalid request. Please check your input.", "Request validation failed",
		  "validation_error", 422 },
		{ "PAYLOAD_TOO_LARGE", "Request body too large.", "Request entity too large", "invalid_request_error",
		  413 },
		{ "NOT_FOUND", "The requested resource was not found.", "Not found", "not_found_error", 404 },
		{ "METHOD_NOT_ALLOWED", "Method not allowed.", "Method not allowed", "invalid_request_error", 405 },
	};
	size_t i = 0;
	while (i + 1 < sizeof errors / sizeof errors[0] && strcmp(errors[i].code, code) != 0)
		i++;
	unsigned char rnd[8];
	char trace[24], stamp[32];
	random_bytes(rnd, sizeof rnd);
	strcpy(trace, "req_");
	hex(trace + 4, rnd, sizeof rnd);
	utc_timestamp(stamp);
	json_t *body = json_pack("{s:b, s:{s:s, s:s, s:s, s:s, s:i, s:{}, s:s, s:s}}", "success", 0, "error", "code",
				 errors[i].code, "message", errors[i].message, "system_message",
				 errors[i].system_message, "type", errors[i].type, "status", (int)errors[i].status,
				 "details", "trace_id", trace, "timestamp", stamp);
	if (body == NULL)
		return MHD_NO;
	return send_json(conn, errors[i].status, body);
}

/* A JWT-shaped opaque token: base64url header and payload, random "signature". */
static char *
make_token(long user, const char *kind, long ttl)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char payload[160], jti[33];
	unsigned char rnd[16];
	random_bytes(rnd, sizeof rnd);
	hex(jti, rnd, sizeof rnd);
	int plen = snprintf(payload, sizeof payload,
			    "{\"sub\":\"bench%ld\",\"type\":\"%s\",\"exp\":%lld,\"jti\":\"%s\"}", user, kind,
			    (long long)time(NULL) + ttl, jti);
	if (plen < 0 || (size_t)plen >= sizeof payload)
		return NULL;
	char *out = malloc(64 + 4 * (size_t)plen / 3 + 4 + 44);
	if (out == NULL)
		return NULL;
	/* base64url of {"alg":"HS256","typ":"JWT"} */
	size_t o = (size_t)sprintf(out, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.");
	const unsigned char *p = (const unsigned char *)payload;
	for (int i = 0; i < plen; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < plen)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < plen)
			v |= p[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < plen)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < plen)
			out[o++] = b64[v & 63];
	}
	out[o++] = '.';
	unsigned char sig[32];
	random_bytes(sig, sizeof sig);
	for (size_t i = 0; i < 30; i += 3) {
		uint32_t v = (uint32_t)sig[i] << 16 | (uint32_t)sig[i + 1] << 8 | sig[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* "benchI" or "benchI@example.com" with 0 <= I < users -> I, else -1. */
static long
parse_user(const char *ident)
{
	if (strncmp(ident, "bench", 5) != 0)
		return -1;
	const char *p = ident + 5;
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	char *end;
	errno = 0;
	long i = strtol(p, &end, 10);
	if (errno != 0 || i < 0 || i >= opt.users)
		return -1;
	if (*end == '\0' || strcmp(end, "@example.com") == 0)
		return i;
	return -1;
}

static json_t *
parse_object(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	return root;
}

static enum MHD_Result
do_login(struct MHD_Connection *conn, const char *body, size_t len)
{
	json_t *root = parse_object(body, len);
	const char *ident = root ? json_string_value(json_object_get(root, "email_or_username")) : NULL;
	const char *password = root ? json_string_value(json_object_get(root, "password")) : NULL;
	if (ident == NULL || password == NULL) {
		json_decref(root);
		return send_error(conn, "VALIDATION_ERROR");
	}
	long user = parse_user(ident);
	bool ok = user >= 0 && strcmp(password, opt.password) == 0;
	json_decref(root);
	if (!ok)
		return send_error(conn, "INVALID_CREDENTIALS");
	char key[KEY_LEN + 1], email[64];
	key_issue(key, user);
	snprintf(email, sizeof email, "bench%ld@example.com", user);
	json_t *reply = json_pack("{s:b, s:s, s:s, s:s, s:b, s:s}", "success", 1, "message",
				  "Login credentials verified. Please check your email for verification code.",
				  "email_key", key, "email", email, "requires_verification", 1, "next_step",
				  "email_verification");
	return reply ? send_json(conn, MHD_HTTP_OK, reply) : MHD_NO;
}

static enum MHD_Result
do_verify(struct MHD_Connection *conn, const char *body, size_t len)
{
	json_t *root = parse_object(body, len);
	const char *key = root ? json_string_value(json_object_get(root, "email_key")) : NULL;
	json_t *jcode = root ? json_object_get(root, "verification_code") : NULL;
	long code = -1;
	if (json_is_integer(jcode)) {
		json_int_t v = json_integer_value(jcode);
		code = v < 0 || v > 999999999 ? -2 : (long)v;
	} else if (json_is_string(jcode)) {
		/* Like the emulator: a string of at most 9 digits is accepted too. */
		const char *s = json_string_value(jcode);
		size_t n = strlen(s);
		if (n > 0 && n <= 9 && strspn(s, "0123456789") == n)
			code = strtol(s, NULL, 10);
	}
	if (key == NULL || code == -1) {
		json_decref(root);
		return send_error(conn, "VALIDATION_ERROR");
	}
	long user = key_lookup(key, code == opt.code);
	json_decref(root);
	if (user < 0)
		return send_error(conn, "VERIFICATION_EXPIRED");
	if (code != opt.code)
		return send_error(conn, "INVALID_VERIFICATION_CODE");

	char *access = make_token(user, "access", ACCESS_TTL);
	char *refresh = make_token(user, "refresh", 30L * 86400);
	char id[40], email[64];
	unsigned char rnd[16];
	random_bytes(rnd, sizeof rnd);
	strcpy(id, "usr_");
	hex(id + 4, rnd, sizeof rnd);
	snprintf(email, sizeof email, "bench%ld@example.com", user);
	json_t *reply = NULL;
	if (access != NULL && refresh != NULL)
		reply = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s, s:b}}", "token", access, "refreshToken", refresh,
				  "token_type", "bearer", "expires_in", ACCESS_TTL, "user", "id", id, "email", email,
				  "verified", 1);
	free(access);
	free(refresh);
	return reply ? send_json(conn, MHD_HTTP_OK, reply) : MHD_NO;
}

/* ---- admin ------------------------------------------------------------ */

static enum MHD_Result
do_admin(struct MHD_Connection *conn, const char *method, const char *url, const char *body, size_t len)
{
	if (strcmp(url, "/_emu/stats") == 0 && strcmp(method, "GET") == 0) {
		json_t *reqs = json_object();
		for (int i = 0; i < C_COUNT; i++) {
			long n = atomic_load(&n_requests[i]);
			if (reqs && n > 0 && json_object_set_new(reqs, counter_name[i], json_integer(n)) != 0) {
				json_decref(reqs);
				reqs = NULL;
			}
		}
		json_t *reply = reqs ? json_pack("{s:I, s:o, s:i, s:s}", "connections",
						 (json_int_t)atomic_load(&n_connections), "requests", reqs,
						 "codes_sent", 0, "server", "bench_server") :
				       NULL;
		return reply ? send_json(conn, MHD_HTTP_OK, reply) : MHD_NO;
	}
	if (strcmp(url, "/_emu/config") == 0) {
		if (strcmp(method, "POST") == 0) {
			json_t *root = parse_object(body, len);
			const char *k;
			json_t *v;
			bool ok = root != NULL;
			json_object_foreach (root, k, v) {
				if (strcmp(k, "latency_ms") != 0 || !json_is_integer(v) || json_integer_value(v) < 0 ||
				    json_integer_value(v) > 600000)
					ok = false;
			}
			if (ok && json_object_get(root, "latency_ms"))
				atomic_store(&latency_ms,
					     (long)json_integer_value(json_object_get(root, "latency_ms")));
			json_decref(root);
			if (!ok)
				return send_json(conn, 400, json_pack("{s:s}", "error", "bad or unknown config key"));
		} else if (strcmp(method, "GET") != 0) {
			return send_error(conn, "METHOD_NOT_ALLOWED");
		}
		json_t *reply = json_pack("{s:I}", "latency_ms", (json_int_t)atomic_load(&latency_ms));
		return reply ? send_json(conn, MHD_HTTP_OK, reply) : MHD_NO;
	}
	return send_json(conn, 404, json_pack("{s:s}", "error", "unknown admin endpoint"));
}

/* ---- the request handler ---------------------------------------------- */

struct request {
	char *body;
	size_t len;
	bool too_large;
	bool delayed;
};

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	   const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)version;
	struct request *req = *req_cls;
	if (req == NULL) {
		req = calloc(1, sizeof *req);
		if (req == NULL)
			return MHD_NO;
		*req_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		if (!req->too_large && req->len + n <= MAX_BODY) {
			char *b = realloc(req->body, req->len + n + 1);
			if (b == NULL)
				return MHD_NO;
			memcpy(b + req->len, upload_data, n);
			req->body = b;
			req->len += n;
			b[req->len] = '\0';
		} else {
			req->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	bool admin = strncmp(url, "/_emu/", 6) == 0;
	if (admin)
		return do_admin(conn, method, url, req->body ? req->body : "", req->len);

	if (!req->delayed) {
		enum counter c = strcmp(url, login_path) == 0  ? C_LOGIN :
				 strcmp(url, verify_path) == 0 ? C_VERIFY :
								 C_OTHER;
		atomic_fetch_add(&n_requests[c], 1);
		long lat = atomic_load(&latency_ms);
		if (lat > 0) {
			req->delayed = true;
			MHD_suspend_connection(conn);
			heap_push(now_mono() + (double)lat / 1000.0, conn);
			return MHD_YES;
		}
	}

	if (req->too_large)
		return send_error(conn, "PAYLOAD_TOO_LARGE");
	bool is_login = strcmp(url, login_path) == 0, is_verify = strcmp(url, verify_path) == 0;
	if (!is_login && !is_verify)
		return send_error(conn, "NOT_FOUND");
	if (strcmp(method, "POST") != 0)
		return send_error(conn, "METHOD_NOT_ALLOWED");
	const char *body = req->body ? req->body : "";
	return is_login ? do_login(conn, body, req->len) : do_verify(conn, body, req->len);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct request *req = *req_cls;
	if (req != NULL) {
		free(req->body);
		free(req);
		*req_cls = NULL;
	}
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&n_connections, 1);
}

static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("bench_server: mhd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- main ------------------------------------------------------------- */

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			char *b = realloc(buf, cap);
			if (b == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	bool err = ferror(f) != 0;
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static long
parse_long(const char *s, const char *name, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "bench_server: bad value for %s: %s\n", name, s);
		exit(2);
	}
	return v;
}

static void
usage(void)
{
	fputs("usage: bench_server --cert PEM --key PEM --password PW --code NNNN [--users N]\n"
	      "       [--bind 127.0.0.1] [--port 0] [--port-file FILE] [--prefix P]\n"
	      "       [--latency-ms 0] [--key-ttl 600] [--threads 2] [--max-connections 8192]\n",
	      stderr);
	exit(2);
}

static void
write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		die("port file path too long");
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		die("cannot write the port file");
	bool ok = fprintf(f, "%u\n", port) > 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		die("cannot write the port file");
}

int
main(int argc, char **argv)
{
	long latency = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--cert") == 0)
			opt.cert = v;
		else if (strcmp(a, "--key") == 0)
			opt.key = v;
		else if (strcmp(a, "--password") == 0)
			opt.password = v;
		else if (strcmp(a, "--code") == 0)
			opt.code = parse_long(v, a, 0, 999999999);
		else if (strcmp(a, "--users") == 0)
			opt.users = parse_long(v, a, 1, 100000000);
		else if (strcmp(a, "--bind") == 0)
			opt.bind = v;
		else if (strcmp(a, "--port") == 0)
			opt.port = (unsigned)parse_long(v, a, 0, 65535);
		else if (strcmp(a, "--port-file") == 0)
			opt.port_file = v;
		else if (strcmp(a, "--prefix") == 0)
			opt.prefix = v;
		else if (strcmp(a, "--latency-ms") == 0)
			latency = parse_long(v, a, 0, 600000);
		else if (strcmp(a, "--key-ttl") == 0)
			opt.key_ttl = parse_long(v, a, 1, 86400 * 365);
		else if (strcmp(a, "--threads") == 0)
			opt.threads = parse_long(v, a, 1, 64);
		else if (strcmp(a, "--max-connections") == 0)
			opt.max_connections = parse_long(v, a, 16, 1000000);
		else
			usage();
	}
	if (opt.cert == NULL || opt.key == NULL || opt.password == NULL || opt.code < 0)
		usage();
	atomic_store(&latency_ms, latency);
	if (snprintf(login_path, sizeof login_path, "%s/v1/auth/login", opt.prefix) >= (int)sizeof login_path ||
	    snprintf(verify_path, sizeof verify_path, "%s/v1/auth/verify", opt.prefix) >= (int)sizeof verify_path)
		die("prefix too long");
	snprintf(counter_name[C_LOGIN], sizeof counter_name[C_LOGIN], "POST %s", login_path);
	snprintf(counter_name[C_VERIFY], sizeof counter_name[C_VERIFY], "POST %s", verify_path);
	snprintf(counter_name[C_OTHER], sizeof counter_name[C_OTHER], "other");

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		die("libmicrohttpd was built without TLS");
	char *cert_pem = read_file(opt.cert), *key_pem = read_file(opt.key);
	if (cert_pem == NULL || key_pem == NULL)
		die("cannot read --cert or --key");

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, opt.bind, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)opt.port);
	} else if (inet_pton(AF_INET6, opt.bind, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)opt.port);
		flags |= MHD_USE_IPv6;
	} else {
		die("--bind wants a numeric IPv4 or IPv6 address");
	}

	/* SIGTERM and SIGINT go to sigwait() below; every thread inherits the mask. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
		die("pthread_sigmask failed");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal failed");

	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&heap_cond, &ca) != 0)
		die("pthread_cond_init failed");
	pthread_condattr_destroy(&ca);
	pthread_t timer;
	if (pthread_create(&timer, NULL, timer_main, NULL) != 0)
		die("pthread_create failed");

	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, (uint16_t)opt.port, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
	    key_pem, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt.threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)opt.max_connections, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
	if (d == NULL)
		die("MHD_start_daemon failed");
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		die("cannot learn the listening port");
	if (opt.port_file != NULL)
		write_port_file(opt.port_file, info->port);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;

	/* Stop: MHD wants suspended connections resumed before it stops; requests
	 * still waiting out their injected latency are closed without a reply. */
	pthread_mutex_lock(&heap_lock);
	timer_stop = true;
	pthread_cond_signal(&heap_cond);
	pthread_mutex_unlock(&heap_lock);
	pthread_join(timer, NULL);
	MHD_stop_daemon(d);
	pthread_cond_destroy(&heap_cond);
	free(heap);
	table_free();
	free(cert_pem);
	free(key_pem);
	return 0;
}
