#include "compat.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static const char *ident = "harombe";
static int use_syslog;
static enum log_level level = LOG_INFO;

void log_setup(const char *id, int to_syslog, enum log_level lvl)
{
	ident = id;
	level = lvl;
	if (to_syslog && !use_syslog)
		openlog(id, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = to_syslog;
}

enum log_level log_get_level(void)
{
	return level;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];
	va_list ap;
	int n;

	if (lvl > level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (use_syslog) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	/* One fprintf per line so that threads do not interleave within it. */
	fprintf(stderr, "%s: %s%s\n", ident, tag[lvl], line);
}
