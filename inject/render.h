#ifndef RENDER_H
#define RENDER_H

#include <stddef.h>

/*
 * The file formats of a view, rendered straight into locked memory.
 *
 *  RENDER_ENV         NAME="value" lines.  Inside the double quotes only
 *                     " \ ` $ are escaped (with a backslash); newlines stay
 *                     literal.  POSIX sh, bash, dash and systemd's
 *                     EnvironmentFile= all read that back byte for byte, and
 *                     sourcing it runs nothing.  A NUL cannot be expressed.
 *  RENDER_DOCKER_ENV  NAME=value lines, as docker run --env-file reads them:
 *                     no quoting at all, so a value with a newline, a NUL, a
 *                     trailing CR or invalid UTF-8, or a line over 64 KiB,
 *                     cannot be expressed and the render fails.
 *  RENDER_JSON        {"NAME": "value", ...}; values must be UTF-8.
 *  RENDER_RAW         the one value, byte for byte.
 */

enum render_kind { RENDER_ENV, RENDER_DOCKER_ENV, RENDER_JSON, RENDER_RAW };

struct secbuf;
struct why;

/* 0 and *out, or -EINVAL (value not expressible: why names the variable
 * and the reason, never the value), -EFBIG (over max bytes) or -ENOMEM. */
int render_view(enum render_kind kind, size_t n, const char *const *names,
		struct secbuf *const *values, size_t max, struct secbuf **out, struct why *why);

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int render_utf8_valid(const unsigned char *s, size_t len);

#endif
