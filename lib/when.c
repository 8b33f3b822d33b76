#include "compat.h"
#include "when.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int when_parse_iso(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fd = 0, zh, zm, sign;
	int64_t zone = 0;
	time_t t;
	const char *p = s;

	if (strlen(s) < 10 || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' ||
	    digits(p + 8, 2, &d))
		return -EINVAL;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
			return -EINVAL;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec))
				return -EINVAL;
			p += 3;
			if (*p == '.' || *p == ',') {
				for (p++; *p >= '0' && *p <= '9'; p++, fd++)
					if (fd < 3)
						frac = frac * 10 + (*p - '0');
				if (!fd)
					return -EINVAL;
				for (; fd < 3; fd++)
					frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			if (digits(p + 1, 2, &zh))
				return -EINVAL;
			p += 3;
			if (*p == ':')
				p++;
			if (digits(p, 2, &zm))
				return -EINVAL;
			p += 2;
			zone = sign * ((int64_t)zh * 3600 + zm * 60);
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (tm.tm_mday != d)	/* 2024-02-31 */
		return -EINVAL;
	*ms = ((int64_t)t - zone) * 1000 + frac;
	return 0;
}

int when_parse_user(const char *s, int64_t now_ms, int64_t *ms)
{
	uint64_t ago;

	if (!strcmp(s, "now")) {
		*ms = now_ms;
		return 0;
	}
	if (when_parse_iso(s, ms) == 0)
		return 0;
	/* A bare number is ambiguous here: ask for a unit. */
	if (*s && s[strlen(s) - 1] >= '0' && s[strlen(s) - 1] <= '9')
		return -EINVAL;
	if (cfg_parse_duration_ms(s, &ago) != 0 || ago > (uint64_t)now_ms)
		return -EINVAL;
	*ms = now_ms - (int64_t)ago;
	return 0;
}

void when_format(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void when_format_span(int64_t ms, char *buf, size_t len)
{
	int64_t s = (ms < 0 ? -ms : ms) / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

int64_t when_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
