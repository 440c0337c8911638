#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "core/log.h"

/* Process-wide by nature, like syslog itself; set once at start-up. */
static bool log_to_stderr;
static bool log_debug_on;

void
log_init(const char *ident, bool to_stderr, bool debug)
{
	log_to_stderr = to_stderr;
	log_debug_on = debug;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_debug(bool debug)
{
	log_debug_on = debug;
}

bool
log_debug_enabled(void)
{
	return log_debug_on;
}

static void log_v(int facility_priority, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
log_v(int facility_priority, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	(void)vsnprintf(line, sizeof(line), fmt, ap); /* a longer line is cut, never overrun */
	syslog(facility_priority, "%s%s", prefix, line);
	if (log_to_stderr) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, "%lld.%03ld freddy-helperd: %s%s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, prefix,
			line);
	}
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_DAEMON | LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_DAEMON | LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_DAEMON | LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void
log_auth(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_AUTHPRIV | priority, "", fmt, ap);
	va_end(ap);
}

void
log_debug_at(const char *file, int line, const char *fmt, ...)
{
	char prefix[96];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "debug: %s:%d: ", file, line);
	va_start(ap, fmt);
	log_v(LOG_DAEMON | LOG_DEBUG, prefix, fmt, ap);
	va_end(ap);
}
