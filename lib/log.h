#ifndef LOG_H
#define LOG_H

#include "compat.h"

/*
 * Diagnostics for people: stderr (prefixed "ident: ") or syslog.
 * NEVER PASS A SECRET VALUE: messages name keys, paths and reasons only.
 */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* ident: "harombe" or "harombefs".  to_syslog: send to syslog(LOG_DAEMON)
 * instead of stderr (a daemon in the background). */
void log_setup(const char *ident, int to_syslog, enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
