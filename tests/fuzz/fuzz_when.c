/*
 * libFuzzer target: lib/when.c, the times of `harombe audit query --since`,
 * the audit log's "timestamp" fields it reads back, and the rotation state
 * file.  Oracles: a time that parses, written back with when_format, parses
 * again to the same second (for years 1970 to 9999, which the format
 * writes with four digits); a time a person typed ("7d", "now", an ISO
 * time) is never after now unless it is an ISO time; the span formatter
 * always terminates its output within the buffer.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/when.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS INT64_C(1764400000000)	/* a fixed "now": 2025-11-29 */
#define MAX_MS INT64_C(253402300799999)	/* 9999-12-31T23:59:59.999Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[64], span[64];
	int64_t ms, again, user;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (when_parse_iso(s, &ms) == 0) {
		if (ms >= 0 && ms <= MAX_MS) {
			when_format(ms, buf, sizeof(buf));
			if (when_parse_iso(buf, &again) != 0 || again != ms - ms % 1000)
				abort();	/* what we write, we read back */
		}
		when_format_span(ms, span, sizeof(span));
		if (!memchr(span, 0, sizeof(span)))
			abort();
	}
	if (when_parse_user(s, NOW_MS, &user) == 0 && user > NOW_MS && when_parse_iso(s, &ms) != 0)
		abort();	/* "30m", "now": never in the future */
	free(s);
	return 0;
}
