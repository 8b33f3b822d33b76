/*
 * libFuzzer target: names and renders, the bytes that reach a view from
 * outside.  Byte 0 chooses:
 *   0-2  names_check_container / _env / _key on the rest (NUL-terminated),
 *        each acceptance checked against the documented grammar;
 *   3    /proc/PID/cgroup text through access_cgroup_parse() and, split at
 *        the first NUL, a pattern and a path through access_cgroup_match();
 *   4-7  render_view() of RENDER_ENV / DOCKER_ENV / JSON / RAW over the
 *        values in the rest (separated by the bytes FE FD), each output
 *        decoded the way its consumer reads it (sh's double quotes,
 *        docker's NAME=value lines, JSON) and compared with the values; a
 *        refusal must be one the format documents (render.h).
 */
#include "lib/compat.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "fs/access.h"
#include "inject/render.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/fuzz/utf8-oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXV 8

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void names(unsigned int which, const char *s)
{
	size_t n = strlen(s), i;

	switch (which) {
	case 0:
		if (names_check_container(s))
			return;
		if (!n || n > 64 || !alnum(s[0]))
			abort();
		for (i = 1; i < n; i++)
			if (!alnum(s[i]) && !strchr("_.-", s[i]))
				abort();
		return;
	case 1:
		if (names_check_env(s))
			return;
		if (!n || n > 255 || (s[0] >= '0' && s[0] <= '9'))
			abort();
		for (i = 0; i < n; i++)
			if (!alnum(s[i]) && s[i] != '_')
				abort();
		return;
	default: {
		const char *hash;
		size_t plen;

		if (names_check_key(s))
			return;
		/* what every backend relies on, fs/ and vault.c's URLs included */
		hash = strchr(s, '#');
		plen = hash ? (size_t)(hash - s) : n;
		if (!n || n > 512 || !plen || s[0] == '/' || s[plen - 1] == '/' || (hash && strchr(hash + 1, '#')) ||
		    (hash && !hash[1]))
			abort();
		for (i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				abort();
		for (i = 0; i < plen; i++) {
			size_t seg = i, len;

			while (i < plen && s[i] != '/')
				i++;
			len = i - seg;
			if (!len || (len == 1 && s[seg] == '.') || (len == 2 && !strncmp(s + seg, "..", 2)))
				abort();
		}
	}
	}
}

static void cgroups(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), buf[256];
	size_t plen;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = 0;
	if (access_cgroup_parse(text, buf, sizeof(buf)) == 0 && (buf[0] != '/' || strchr(buf, '\n')))
		abort();
	plen = strlen(text);
	if (plen < size)
		(void)access_cgroup_match(text, text + plen + 1);
	free(text);
}

struct val {
	const unsigned char *p;
	size_t n;
};

/* Would the format refuse this value?  (render.h) */
static int inexpressible(enum render_kind kind, const char *name, const struct val *v)
{
	switch (kind) {
	case RENDER_ENV:
		return memchr(v->p, 0, v->n) != NULL;
	case RENDER_DOCKER_ENV:
		return memchr(v->p, '\n', v->n) || memchr(v->p, 0, v->n) || (v->n && v->p[v->n - 1] == '\r') ||
		       !utf8_ok(v->p, v->n) || strlen(name) + 1 + v->n > 65535;
	case RENDER_JSON:
		return !utf8_ok(v->p, v->n);
	default:
		return 0;
	}
}

/* sh's double quotes as render_view() writes them: NAME="..."\n lines. */
static void decode_env(const unsigned char *o, size_t len, size_t n, char names[][8], const struct val *vals)
{
	size_t at = 0, i;

	for (i = 0; i < n; i++) {
		size_t nl = strlen(names[i]), k = 0;

		if (len - at < nl + 2 || memcmp(o + at, names[i], nl) || memcmp(o + at + nl, "=\"", 2))
			abort();
		at += nl + 2;
		for (;;) {
			unsigned char c;

			if (at >= len)
				abort();
			c = o[at++];
			if (c == '"')
				break;
			if (c == '`' || c == '$')
				abort();	/* unescaped: sh would expand it */
			if (c == '\\' && at < len && strchr("\"\\`$\n", o[at])) {
				if (o[at] == '\n')
					abort();	/* a line continuation would eat a newline */
				c = o[at++];
			}
			if (k >= vals[i].n || vals[i].p[k++] != c)
				abort();
		}
		if (k != vals[i].n || at >= len || o[at++] != '\n')
			abort();
	}
	if (at != len)
		abort();
}

static void decode_docker(const unsigned char *o, size_t len, size_t n, char names[][8], const struct val *vals)
{
	size_t at = 0, i;

	for (i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		const unsigned char *eol;

		if (len - at < nl + 1 || memcmp(o + at, names[i], nl) || o[at + nl] != '=')
			abort();
		at += nl + 1;
		eol = memchr(o + at, '\n', len - at);
		if (!eol || (size_t)(eol - (o + at)) != vals[i].n || memcmp(o + at, vals[i].p, vals[i].n))
			abort();
		at += vals[i].n + 1;
	}
	if (at != len)
		abort();
}

static void decode_json(const unsigned char *o, size_t len, size_t n, char names[][8], const struct val *vals)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *v;
	size_t i;

	if (!tok)
		return;
	root = json_tokener_parse_ex(tok, (const char *)o, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object) || (size_t)json_object_object_length(root) != n)
		abort();
	for (i = 0; i < n; i++) {
		if (!json_object_object_get_ex(root, names[i], &v) || !json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) != vals[i].n ||
		    memcmp(json_object_get_string(v), vals[i].p, vals[i].n))
			abort();
	}
	json_object_put(root);
	json_tokener_free(tok);
}

static void render(enum render_kind kind, const uint8_t *data, size_t size)
{
	struct val vals[MAXV];
	struct secbuf *sbs[MAXV] = { 0 }, *out = NULL;
	char names[MAXV][8];
	const char *np[MAXV] = { 0 };
	struct why why = WHY_INIT;
	size_t n = 0, i, olen;
	int r, refuse = 0;
	const unsigned char *o;

	while (n < MAXV) {
		const uint8_t *sep = size >= 2 ? memmem(data, size, "\xfe\xfd", 2) : NULL;
		size_t len = sep ? (size_t)(sep - data) : size;

		vals[n].p = data;
		vals[n].n = len;
		n++;
		if (!sep)
			break;
		data += len + 2;
		size -= len + 2;
	}
	if (kind == RENDER_RAW)
		n = 1;
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "V%u", (unsigned int)(i % 1000));
		np[i] = names[i];
		if (!(sbs[i] = secbuf_dup(vals[i].p, vals[i].n)))
			goto out;
		refuse |= inexpressible(kind, names[i], &vals[i]);
	}
	r = render_view(kind, n, np, sbs, 1u << 20, &out, &why);
	if (r == -ENOMEM || r == -EFBIG)
		goto out;
	if ((r != 0) != refuse || (r && (r != -EINVAL || !why.msg[0])))
		abort();	/* refused exactly what the format cannot carry, and said why */
	if (r)
		goto out;
	o = secbuf_data(out, &olen);
	switch (kind) {
	case RENDER_ENV:
		decode_env(o, olen, n, names, vals);
		break;
	case RENDER_DOCKER_ENV:
		decode_docker(o, olen, n, names, vals);
		break;
	case RENDER_JSON:
		decode_json(o, olen, n, names, vals);
		break;
	case RENDER_RAW:
		if (olen != vals[0].n || memcmp(o, vals[0].p, olen))
			abort();
		break;
	}
out:
	secbuf_free(out);
	for (i = 0; i < n; i++)
		secbuf_free(sbs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum render_kind kinds[] = { RENDER_ENV, RENDER_DOCKER_ENV, RENDER_JSON, RENDER_RAW };
	unsigned int sel;

	if (!size)
		return 0;
	sel = data[0] % 8;
	data++;
	size--;
	if (sel <= 2) {
		char *s = malloc(size + 1);

		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = 0;
		names(sel, s);
		free(s);
	} else if (sel == 3) {
		cgroups(data, size);
	} else {
		render(kinds[sel - 4], data, size);
	}
	return 0;
}
