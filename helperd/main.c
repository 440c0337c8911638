/*
 * freddy-helperd: start-up, signals and the main loop.  The work is done
 * by the units this file wires together (see helper.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/health.h"
#include "api/api_key.h"
#include "core/audit.h"
#include "core/big_blocks.h"
#include "core/caller_quota.h"
#include "core/job_pool.h"
#include "core/l10n.h"
#include "fr_error.h"
#include "helper.h"
#include "api/http.h"
#include "core/log.h"
#include "core/loop.h"
#include "auth/login.h"
#include "auth/offline.h"
#include "store/ratelimit.h"
#include "core/secret.h"
#include "requests/table.h"
#include "transport/server.h"
#include "auth/sessions.h"
#include "store/state_writer.h"
#include "store/token_cache.h"
#include "auth/refresh.h"
#include "store/totp_replay.h"
#include "crypto/verifier_worker.h"

/* The account lookups of requests (requests/table.c): NSS waits on the
 * network (LDAP, SSSD), so more threads than cores.  Non-root callers'
 * lookups run on two of them at most, so that sshd, sudo and su always
 * have two a local user cannot hold with names that are slow to look up;
 * a non-root uid may have as many queued as it may have logins. */
static const struct job_pool_limits nss_limits = {
	.threads = 4,
	.nonroot_threads = 2,
	.per_uid = 4,
	.queue_max = 256,
	.name = "freddy-nss",
};

#define SHUTDOWN_GRACE_MS   10000
#define SD_LISTEN_FDS_START 3

/* Logins between two malloc_trim calls, at least. */
#define LOGINS_PER_TRIM 32

struct daemon_state {
	struct helper h;
	struct loop_source signals;
	const char *config_path;
	char *api_key; /* secret, handed to the HTTP client */
	int stopping;
	int64_t stop_deadline;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: freddy-helperd [--config FILE] [--foreground] [--check-config]\n"
		"\n"
		"The privileged helper of pam_freddy: runs Freddy logins for PAM.\n"
		"\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -f, --foreground    stay in the foreground and log to stderr too\n"
		"  -t, --check-config  check the configuration file and exit\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		CONFIG_DEFAULT_PATH);
}

/* systemd socket activation: LISTEN_PID/LISTEN_FDS, one Unix stream
 * listener at fd 3.  Returns -1 when not activated. */
static int
inherited_listener(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	int accepting = 0;
	socklen_t len = sizeof(accepting);

	if (pid == NULL || fds == NULL)
		return -1;
	long p = strtol(pid, &end, 10);
	if (*end != '\0' || p != (long)getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0) {
		log_err("socket activation passed %s sockets; expected exactly one", fds);
		return -2;
	}
	int fd = SD_LISTEN_FDS_START;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
		log_err("socket activation: fd %d is not a listening socket", fd);
		return -2;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -2;
	return fd;
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open file limit: %s", strerror(errno));
	}
}

/* SIGHUP: re-read the file; keep the old settings if the new ones are
 * bad.  The socket and the cache folder are bound at start and need a
 * restart to change. */
static void
reload_config(struct daemon_state *d)
{
	struct config fresh;
	char err[512];

	config_init(&fresh);
	if (config_load(d->config_path, (unsigned)geteuid(), &fresh, err, sizeof(err)) != 0) {
		log_err("reload refused, keeping the running configuration: %s", err);
		config_free(&fresh);
		return;
	}
	struct config *cur = d->h.cfg;
	if (strcmp(fresh.socket_path, cur->socket_path) != 0 || strcmp(fresh.cache_dir, cur->cache_dir) != 0)
		log_warn("socket and cache_dir changes take effect at the next restart");
	/* The catalogues are read once (core/l10n.h); `language` itself
	 * applies to the next request. */
	if (strcmp(fresh.locale_dir, cur->locale_dir) != 0)
		log_warn("a locale_dir change takes effect at the next restart");
	char *keep_socket = cur->socket_path, *keep_cache = cur->cache_dir;
	cur->socket_path = cur->cache_dir = NULL;
	free(fresh.socket_path);
	free(fresh.cache_dir);
	fresh.socket_path = keep_socket;
	fresh.cache_dir = keep_cache;
	config_free(cur);
	*cur = fresh;
	log_set_debug(cur->debug);
	if (cur->language != NULL && l10n_pick(d->h.l10n, cur->language) == NULL)
		log_warn("language = %s: no catalogue for it; clients that send no locale get English", cur->language);
	ratelimit_configure(d->h.ratelimit, cur->rate_limit_failures, cur->rate_limit_delay);
	log_info("configuration reloaded from %s", d->config_path);
}

static void
on_signal(struct loop_source *src, uint32_t events)
{
	struct daemon_state *d = (struct daemon_state *)((char *)src - offsetof(struct daemon_state, signals));
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_config(d);
			/* Whether or not the new file was good: logrotate has
			 * moved the audit log away and waits for a new one. */
			if (audit_set_file(d->h.audit, d->h.cfg->audit_log) != 0)
				log_err("cannot reopen the audit log: out of memory");
		} else if (!d->stopping) {
			log_info("signal %u: finishing %u login(s) in progress, then exiting", si.ssi_signo,
				 d->h.logins_active);
			server_stop_listening(d->h.server);
			d->stopping = 1;
			d->stop_deadline = loop_now_ms() + SHUTDOWN_GRACE_MS;
		}
	}
}

static int
setup_signals(struct daemon_state *d)
{
	sigset_t set;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return FR_ERR_IO;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return FR_ERR_IO;
	d->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->signals.on_event = on_signal;
	if (d->signals.fd < 0 || loop_add(d->h.loop, &d->signals, EPOLLIN) != 0)
		return FR_ERR_IO;
	return FR_OK;
}

static int
daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return FR_ERR_IO;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return FR_ERR_IO;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return FR_ERR_IO;
	if (fd > 2)
		close(fd);
	return chdir("/") == 0 ? FR_OK : FR_ERR_IO;
}

static int
run(struct daemon_state *d, int foreground)
{
	struct helper *h = &d->h;
	int listen_fd = inherited_listener();
	int r;

	if (listen_fd == -2)
		return EX_OSERR;
	if (!foreground && listen_fd < 0 && daemonize() != 0) {
		log_err("cannot daemonize: %s", strerror(errno));
		return EX_OSERR;
	}
	if ((r = loop_new(&h->loop)) != 0 || (r = setup_signals(d)) != 0 || (r = sessions_new(&h->sessions)) != 0 ||
	    (r = refresh_table_new(&h->refreshes)) != 0 || (r = offline_guard_new(h->loop, &h->offline)) != 0 ||
	    (r = caller_quota_new(&h->quota)) != 0 || (r = audit_new(&h->audit)) != 0 ||
	    (r = audit_set_file(h->audit, h->cfg->audit_log)) != 0) {
		log_err("start-up failed: %s", fr_strerror(r));
		return EX_OSERR;
	}
	if ((r = l10n_load(h->cfg->locale_dir, (unsigned)geteuid(), &h->l10n)) != 0) {
		log_err("start-up failed: %s", fr_strerror(r));
		return EX_OSERR;
	}
	if (h->cfg->language != NULL && l10n_pick(h->l10n, h->cfg->language) == NULL)
		log_warn("language = %s: no catalogue for it in %s; clients that send no locale get English",
			 h->cfg->language, h->cfg->locale_dir);
	if ((r = token_cache_open(h->cfg->cache_dir, &h->cache)) != 0)
		return EX_CONFIG;
	/* token_cache_open created and checked the folder. */
	h->cache_dirfd = open(h->cfg->cache_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (h->cache_dirfd < 0) {
		log_err("cannot open %s: %s", h->cfg->cache_dir, strerror(errno));
		return EX_CONFIG;
	}
	if ((r = state_writer_new(h->cache_dirfd, h->cfg->cache_dir, &h->state_writer)) != 0 ||
	    (r = ratelimit_open(h->loop, h->cache_dirfd, h->state_writer, h->cfg->rate_limit_failures,
				h->cfg->rate_limit_delay, &h->ratelimit)) != 0 ||
	    (r = totp_replay_new(h->cache_dirfd, h->state_writer, &h->totp_replay)) != 0) {
		log_err("start-up failed: %s", fr_strerror(r));
		return EX_OSERR;
	}
	if ((r = verifier_worker_new(h->loop, login_verifier_ready, h, &h->verifiers)) != 0 ||
	    (r = job_pool_new(h->loop, &nss_limits, &h->nss)) != 0) {
		log_err("start-up failed: %s", fr_strerror(r));
		return EX_OSERR;
	}
	r = http_client_new(h->loop, h->cfg, d->api_key, &h->http);
	secret_free(d->api_key);
	d->api_key = NULL;
	if (r == 0) {
		http_client_transport(h->http, &h->api);
		r = api_health_new(h->loop, h->http, &h->health);
	}
	if (r != 0) {
		log_err("cannot set up HTTPS: %s", fr_strerror(r));
		return EX_SOFTWARE;
	}
	if ((r = server_open(h->loop, h->cfg, h->quota, listen_fd, requests_dispatch, h, &h->server)) != 0)
		return EX_OSERR;
	server_set_audit(h->server, h->audit);
	server_set_l10n(h->server, h->l10n);
	log_info("pam_freddy helper %s ready on %s (api %s at %s)", PACKAGE_VERSION,
		 listen_fd >= 0 ? "an inherited socket" : h->cfg->socket_path, config_api_name(h->cfg->api),
		 h->cfg->api_url);

	uint64_t logins_at_trim = 0;
	while (!d->stopping || (h->logins_active > 0 && loop_now_ms() < d->stop_deadline)) {
		int64_t left = d->stopping ? d->stop_deadline - loop_now_ms() : -1;
		if ((r = loop_run_once(h->loop, left > INT_MAX ? INT_MAX : (int)left)) != 0) {
			log_err("event loop failed: %s", strerror(errno));
			return EX_OSERR;
		}
		/* A login storm leaves the heap fragmented with freed TLS
		 * handshake and transfer buffers that free() keeps, and the
		 * large blocks' slots with their pages; once the last login of
		 * a burst is over, give those pages back.  Not after every lone
		 * login: on a heap a storm has grown, the walk costs about a
		 * millisecond. */
		if (h->logins_active == 0 && h->logins_total - logins_at_trim >= LOGINS_PER_TRIM) {
			logins_at_trim = h->logins_total;
			(void)malloc_trim(0); /* returns only whether it released anything */
			big_blocks_trim(BIG_BLOCK_HOT);
		}
	}
	if (h->logins_active > 0)
		log_warn("exiting with %u login(s) unfinished", h->logins_active);
	log_info("exiting");
	return EX_OK;
}

static void
teardown(struct daemon_state *d)
{
	struct helper *h = &d->h;

	server_free(h->server);
	h->server = NULL;
	refresh_table_free(h->refreshes);
	h->refreshes = NULL;
	api_health_free(h->health);
	h->health = NULL;
	http_client_free(h->http);
	h->http = NULL;
	if (h->loop != NULL) {
		/* Run the releases queued by the two frees above. */
		if (loop_run_once(h->loop, 0) != 0)
			log_warn("final event pass failed");
	}
	/* After that pass: the logins it released cancelled their offline
	 * checks, and its kick has run. */
	offline_guard_free(h->offline);
	h->offline = NULL;
	/* After every login is gone (their jobs cancelled or handed off), and
	 * before the cache its hand-offs write to. */
	verifier_worker_free(h->verifiers);
	h->verifiers = NULL;
	job_pool_free(h->nss); /* the requests waiting on it went with their connections */
	h->nss = NULL;
	token_cache_close(h->cache);
	/* The table's last save goes through the writer, which then stops. */
	ratelimit_free(h->ratelimit);
	totp_replay_free(h->totp_replay);
	state_writer_free(h->state_writer);
	if (h->cache_dirfd >= 0)
		close(h->cache_dirfd);
	sessions_free(h->sessions);
	caller_quota_free(h->quota);
	/* Last: every login and request that pointed into it is gone. */
	l10n_free(h->l10n);
	h->l10n = NULL;
	/* Last: everything above may still have recorded something. */
	audit_free(h->audit);
	h->audit = NULL;
	if (d->signals.fd >= 0)
		close(d->signals.fd);
	loop_free(h->loop);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },	    { NULL, 0, NULL, 0 },
	};
	struct daemon_state d = { .config_path = CONFIG_DEFAULT_PATH, .signals.fd = -1, .h.cache_dirfd = -1 };
	struct config cfg;
	char err[512];
	int foreground = 0, check_only = 0, opt;

	while ((opt = getopt_long(argc, argv, "c:fthV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("freddy-helperd %s\n", PACKAGE_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}

	log_init("freddy-helperd", foreground || check_only, false);
	config_init(&cfg);
	if (config_load(d.config_path, (unsigned)geteuid(), &cfg, err, sizeof(err)) != 0) {
		/* Never fall back to defaults: a helper without its
		 * configuration must not answer logins at all. */
		log_err("%s", err);
		if (!foreground && !check_only)
			fprintf(stderr, "freddy-helperd: %s\n", err);
		config_free(&cfg);
		return EX_CONFIG;
	}
	if (cfg.api_key_file != NULL &&
	    api_key_load(cfg.api_key_file, (unsigned)geteuid(), &d.api_key, err, sizeof(err)) != 0) {
		log_err("%s", err);
		if (!foreground && !check_only)
			fprintf(stderr, "freddy-helperd: %s\n", err);
		config_free(&cfg);
		return EX_CONFIG;
	}
	if (check_only) {
		secret_free(d.api_key);
		printf("%s: OK\n", d.config_path);
		config_free(&cfg);
		return EX_OK;
	}
	log_set_debug(cfg.debug);
	if (secret_process_init() != 0) {
		log_err("cannot disable core dumps: %s", strerror(errno));
		config_free(&cfg);
		return EX_OSERR;
	}
	raise_fd_limit();
	umask(077);
	if (secret_libraries_init() != 0) {
		log_err("cannot set up curl and OpenSSL with wiping allocators");
		config_free(&cfg);
		return EX_SOFTWARE;
	}
	d.h.cfg = &cfg;
	int status = run(&d, foreground);
	secret_free(d.api_key);
	teardown(&d);
	curl_global_cleanup();
	config_free(&cfg);
	return status;
}
