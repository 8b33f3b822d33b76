#include "lib/compat.h"
#include "inject/render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/jsonw.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/* docker's bufio.Scanner gives up on a line of 64 KiB or more. */
#define DOCKER_MAX_LINE 65535

int render_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int env_escape(unsigned char c)
{
	return c == '"' || c == '\\' || c == '`' || c == '$';
}

/* Bytes a value takes in the output, or (size_t)-1 with why set. */
static size_t measure(enum render_kind kind, const char *name, const unsigned char *v, size_t len,
		      struct why *why)
{
	size_t i, n = 0;

	switch (kind) {
	case RENDER_ENV:
		for (i = 0; i < len; i++) {
			if (!v[i]) {
				why_set(why, "value of %s contains a NUL byte, which a shell "
				        "variable cannot hold (read secrets/%s instead)", name, name);
				return (size_t)-1;
			}
			n += env_escape(v[i]) ? 2 : 1;
		}
		return strlen(name) + 4 + n;	/* NAME="..."\n */
	case RENDER_DOCKER_ENV:
		if (memchr(v, '\n', len)) {
			why_set(why, "value of %s contains a newline, which docker --env-file "
			        "cannot express (use env, env.json or secrets/%s)", name, name);
			return (size_t)-1;
		}
		if (memchr(v, 0, len)) {
			why_set(why, "value of %s contains a NUL byte, which docker --env-file "
			        "cannot express (use secrets/%s)", name, name);
			return (size_t)-1;
		}
		if (len && v[len - 1] == '\r') {
			why_set(why, "value of %s ends with a carriage return, which docker "
			        "--env-file would drop (use env, env.json or secrets/%s)", name, name);
			return (size_t)-1;
		}
		if (!render_utf8_valid(v, len)) {
			why_set(why, "value of %s is not valid UTF-8, which docker --env-file "
			        "refuses (use secrets/%s)", name, name);
			return (size_t)-1;
		}
		if (strlen(name) + 1 + len > DOCKER_MAX_LINE) {
			why_set(why, "line for %s is longer than docker --env-file accepts "
			        "(64 KiB; use secrets/%s)", name, name);
			return (size_t)-1;
		}
		return strlen(name) + 2 + len;	/* NAME=...\n */
	case RENDER_JSON:
		if (!render_utf8_valid(v, len)) {
			why_set(why, "value of %s is not valid UTF-8, which JSON cannot carry "
			        "(use secrets/%s)", name, name);
			return (size_t)-1;
		}
		return strlen(name) + 10 + jsonw_escaped_len(v, len);	/* '  "NAME": "..."' + ",\n" at most */
	case RENDER_RAW:
		return len;
	}
	return (size_t)-1;
}

static unsigned char *put(unsigned char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static unsigned char *emit(enum render_kind kind, unsigned char *p, const char *name,
			   const unsigned char *v, size_t len, int last)
{
	size_t i;

	switch (kind) {
	case RENDER_ENV:
		p = put(p, name, strlen(name));
		p = put(p, "=\"", 2);
		for (i = 0; i < len; i++) {
			if (env_escape(v[i]))
				*p++ = '\\';
			*p++ = v[i];
		}
		return put(p, "\"\n", 2);
	case RENDER_DOCKER_ENV:
		p = put(p, name, strlen(name));
		*p++ = '=';
		p = put(p, v, len);
		*p++ = '\n';
		return p;
	case RENDER_JSON:
		p = put(p, "  \"", 3);
		p = put(p, name, strlen(name));
		p = put(p, "\": \"", 4);
		p = jsonw_escape(p, v, len);
		*p++ = '"';
		if (!last)
			*p++ = ',';
		*p++ = '\n';
		return p;
	case RENDER_RAW:
		return put(p, v, len);
	}
	return p;
}

int render_view(enum render_kind kind, size_t n, const char *const *names,
		struct secbuf *const *values, size_t max, struct secbuf **out, struct why *why)
{
	size_t total = kind == RENDER_JSON ? 4 : 0, i;
	unsigned char *p, *start;
	struct secbuf *sb;

	*out = NULL;
	if (kind == RENDER_RAW && n != 1) {
		why_set(why, "a raw file holds exactly one value");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		size_t len;
		const unsigned char *v = secbuf_data(values[i], &len);
		size_t m = measure(kind, names[i], v, len, why);

		if (m == (size_t)-1)
			return -EINVAL;
		total += m;
		if (total > max) {
			why_set(why, "rendered file is larger than %zu bytes", max);
			return -EFBIG;
		}
	}
	sb = secbuf_new(total);
	if (!sb) {
		why_set(why, "locked memory exhausted");
		return -ENOMEM;
	}
	start = p = secbuf_tail(sb, total);
	if (kind == RENDER_JSON)
		p = put(p, n ? "{\n" : "{", n ? 2 : 1);
	for (i = 0; i < n; i++) {
		size_t len;
		const unsigned char *v = secbuf_data(values[i], &len);

		p = emit(kind, p, names[i], v, len, i + 1 == n);
	}
	if (kind == RENDER_JSON)
		p = put(p, "}\n", 2);
	secbuf_commit(sb, (size_t)(p - start));
	*out = sb;
	return 0;
}
