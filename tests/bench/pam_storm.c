/*
 * pam_storm: N complete logins at once through libpam, each in its own
 * thread with a scripted conversation (password, then the code after a
 * fixed think time).  pamtester's process start-up would dominate what
 * we want to measure, so the benchmark drives libpam directly.
 *
 * With SPREAD_MS > 0 the logins start evenly over that many milliseconds
 * instead of all at one instant: as many are still in flight, but the
 * burst's queueing (every login's CPU on two cores at once) is gone.
 *
 * Prints one line per login: "latency_us think_us pam_result", then a
 * line "rusage self_cpu_us children_cpu_us".
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <security/pam_appl.h>

struct storm {
	const char *service;
	const char *user_prefix;
	const char *password;
	const char *code;
	unsigned think_ms;
	unsigned count;
	unsigned spread_ms;
	pthread_barrier_t start;
};

struct login_run {
	struct storm *storm;
	unsigned index;
	long long latency_us;
	long long think_us;
	int result;
};

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
converse(int n, const struct pam_message **msgs, struct pam_response **resp, void *data)
{
	struct login_run *run = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const struct pam_message *m = msgs[i];
		if (m->msg_style != PAM_PROMPT_ECHO_OFF && m->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		const char *answer;
		if (strstr(m->msg, "Password") != NULL) {
			answer = run->storm->password;
		} else {
			/* The person reads the mail and types the code. */
			long long t0 = now_us();
			struct timespec think = { run->storm->think_ms / 1000,
						  (long)(run->storm->think_ms % 1000) * 1000000 };
			while (nanosleep(&think, &think) != 0 && errno == EINTR)
				;
			run->think_us += now_us() - t0;
			answer = run->storm->code;
		}
		if ((r[i].resp = strdup(answer)) == NULL) {
			for (int k = 0; k < i; k++)
				free(r[k].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void *
login_thread(void *arg)
{
	struct login_run *run = arg;
	struct pam_conv conv = { converse, run };
	pam_handle_t *pamh = NULL;
	char user[64];

	snprintf(user, sizeof(user), "%s%u", run->storm->user_prefix, run->index);
	pthread_barrier_wait(&run->storm->start);
	if (run->storm->spread_ms > 0) {
		long long delay_us = (long long)run->storm->spread_ms * 1000 * run->index / run->storm->count;
		struct timespec delay = { (time_t)(delay_us / 1000000), (long)(delay_us % 1000000) * 1000 };
		while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
			;
	}
	long long t0 = now_us();
	run->result = pam_start(run->storm->service, user, &conv, &pamh);
	if (run->result == PAM_SUCCESS) {
		run->result = pam_authenticate(pamh, 0);
		pam_end(pamh, run->result);
	}
	run->latency_us = now_us() - t0;
	return NULL;
}

static long long
cpu_us(const struct rusage *ru)
{
	return (long long)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 + ru->ru_utime.tv_usec +
	       ru->ru_stime.tv_usec;
}

int
main(int argc, char **argv)
{
	struct storm storm;
	struct rlimit rl;
	pthread_attr_t attr;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: pam_storm SERVICE USER_PREFIX PASSWORD CODE THINK_MS COUNT [SPREAD_MS]\n");
		return 2;
	}
	storm.service = argv[1];
	storm.user_prefix = argv[2];
	storm.password = argv[3];
	storm.code = argv[4];
	storm.think_ms = (unsigned)strtoul(argv[5], NULL, 10);
	storm.count = (unsigned)strtoul(argv[6], NULL, 10);
	storm.spread_ms = argc == 8 ? (unsigned)strtoul(argv[7], NULL, 10) : 0;
	if (storm.count == 0 || storm.count > 100000)
		return 2;
	/* One socket per login in flight. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("setrlimit");
	}
	struct login_run *runs = calloc(storm.count, sizeof(*runs));
	pthread_t *threads = calloc(storm.count, sizeof(*threads));
	if (runs == NULL || threads == NULL || pthread_barrier_init(&storm.start, NULL, storm.count) != 0 ||
	    pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 256 * 1024) != 0)
		return 1;
	for (unsigned i = 0; i < storm.count; i++) {
		runs[i].storm = &storm;
		runs[i].index = i;
		if (pthread_create(&threads[i], &attr, login_thread, &runs[i]) != 0) {
			fprintf(stderr, "pthread_create failed at %u\n", i);
			return 1;
		}
	}
	for (unsigned i = 0; i < storm.count; i++)
		pthread_join(threads[i], NULL);
	for (unsigned i = 0; i < storm.count; i++)
		printf("%lld %lld %d\n", runs[i].latency_us, runs[i].think_us, runs[i].result);
	struct rusage self, children;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	printf("rusage %lld %lld\n", cpu_us(&self), cpu_us(&children));
	free(runs);
	free(threads);
	return 0;
}
