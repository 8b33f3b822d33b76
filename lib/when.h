#ifndef WHEN_H
#define WHEN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Points in time as milliseconds since the Unix epoch, UTC: what the audit
 * log, the rotation state file and the command line exchange.
 */

/* ISO 8601 / RFC 3339: "2024-01-31", "2024-01-31T10:00", "2024-01-31 10:00:05",
 * "2024-01-31T10:00:05.123Z", "...+02:00".  No zone means UTC.  0 or -EINVAL. */
int when_parse_iso(const char *s, int64_t *ms);
/* What a person types for --since/--until: an ISO time as above, "now",
 * or a duration ago ("30m", "12h", "7d", "2w").  0 or -EINVAL. */
int when_parse_user(const char *s, int64_t now_ms, int64_t *ms);
/* "2024-01-31T10:00:05Z" (seconds precision). */
void when_format(int64_t ms, char *buf, size_t len);
/* A duration for people: "45s", "12m", "3h 20m", "31d 4h". */
void when_format_span(int64_t ms, char *buf, size_t len);
int64_t when_now_ms(void);

#endif
