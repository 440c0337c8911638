/*
 * The helper's one logger: syslog (authentication outcomes under
 * LOG_AUTHPRIV, the rest under LOG_DAEMON) and, in the foreground, stderr.
 * Never pass a secret: callers log user names, services and results only.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

void log_init(const char *ident, bool to_stderr, bool debug);
void log_set_debug(bool debug);
bool log_debug_enabled(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Authentication outcomes: LOG_AUTHPRIV. */
void log_auth(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_debug_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) \
	do { \
		if (log_debug_enabled()) \
			log_debug_at(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#endif
