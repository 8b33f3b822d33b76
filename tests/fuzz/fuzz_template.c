/*
 * libFuzzer target: templates (inject/template.h).  Byte 0 chooses:
 *   0     template_parse() of the rest (keys a/b and c/d#e allowed, and c/d
 *         whole through json), then
 *         template_render() with fixed values: parse errors must carry a
 *         position, a render may refuse only with a reason;
 *   1-12  one filter (enum template_filter: raw, sh, json, yaml, toml, ini,
 *         xml, url, base64, pgpass, netrc, dotenv) on the rest as the
 *         value, the output decoded the way its consumer reads it and
 *         compared with the value, byte for byte: json by json-c, yaml by
 *         libyaml, url by libcurl's curl_easy_unescape, base64 by
 *         libsodium, dotenv by harombe's own .env reader; sh (single
 *         quotes), toml (basic strings), ini (Python configparser's
 *         `key = value` line), xml (character data and attribute values),
 *         pgpass (libpq's passwordFromFile and field matching) and netrc
 *         (white-space tokens) by decoders written here from the formats'
 *         specifications.  A refusal must be one template.h documents.
 */
#include "lib/compat.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "inject/dotenv.h"
#include "inject/template.h"
#include "lib/jsonw.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/fuzz/utf8-oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void bput(struct buf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			abort();
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void bputc(struct buf *b, unsigned char c)
{
	bput(b, &c, 1);
}

static void expect_same(const struct buf *b, const unsigned char *v, size_t len)
{
	if (b->n != len || memcmp(b->p, v, len))
		abort();
}

static void utf8_put(struct buf *b, uint32_t cp)
{
	unsigned char u[4];

	if (cp < 0x80) {
		bputc(b, (unsigned char)cp);
		return;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 63));
		bput(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
		u[2] = (unsigned char)(0x80 | (cp & 63));
		bput(b, u, 3);
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 63));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 63));
		u[3] = (unsigned char)(0x80 | (cp & 63));
		bput(b, u, 4);
	}
}

static int hexval(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* ---- the oracles ---- */

/* POSIX sh: 'quoted' runs and \' between them, nothing else. */
static void dec_sh(const unsigned char *o, size_t n, struct buf *b)
{
	size_t i = 0;

	if (!n)
		abort();
	while (i < n) {
		if (o[i] == '\'') {
			for (i++; i < n && o[i] != '\''; i++)
				bputc(b, o[i]);
			if (i++ >= n)
				abort();
		} else if (o[i] == '\\' && i + 1 < n && o[i + 1] == '\'') {
			bputc(b, '\'');
			i += 2;
		} else {
			abort();	/* an unquoted byte: sh would interpret it */
		}
	}
}

static void dec_json(const unsigned char *o, size_t n, struct buf *b)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j;

	if (!tok)
		return;
	j = json_tokener_parse_ex(tok, (const char *)o, (int)n);
	if (!j || json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(j, json_type_string) ||
	    (size_t)json_tokener_get_parse_end(tok) != n)
		abort();
	bput(b, json_object_get_string(j), (size_t)json_object_get_string_len(j));
	json_object_put(j);
	json_tokener_free(tok);
}

/* libyaml on "k: OUT\nz: 1\n": the scalar after k, and z still a key. */
static void dec_yaml(const unsigned char *o, size_t n, struct buf *b)
{
	struct buf doc = { 0 };
	yaml_parser_t p;
	yaml_event_t e;
	int scalars = 0, done = 0;

	bput(&doc, "k: ", 3);
	bput(&doc, o, n);
	bput(&doc, "\nz: 1\n", 6);
	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, doc.p, doc.n);
	while (!done) {
		if (!yaml_parser_parse(&p, &e))
			abort();
		if (e.type == YAML_SCALAR_EVENT) {
			const char *want[] = { "k", NULL, "z", "1" };

			if (scalars == 1) {
				if (e.data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
					abort();
				bput(b, e.data.scalar.value, e.data.scalar.length);
			} else if (scalars > 3 || strlen(want[scalars]) != e.data.scalar.length ||
				   memcmp(want[scalars], e.data.scalar.value, e.data.scalar.length)) {
				abort();
			}
			scalars++;
		} else if (e.type == YAML_MAPPING_START_EVENT && scalars) {
			abort();
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	free(doc.p);
	if (scalars != 4)
		abort();
}

/* TOML 1.0 basic string. */
static void dec_toml(const unsigned char *o, size_t n, struct buf *b)
{
	size_t i = 1;

	if (n < 2 || o[0] != '"' || o[n - 1] != '"' || !utf8_ok(o, n))
		abort();
	while (i < n - 1) {
		unsigned char c = o[i];

		if (c == '"' || (c < 0x20 && c != '\t') || c == 0x7f)
			abort();
		if (c != '\\') {
			bputc(b, c);
			i++;
			continue;
		}
		if (i + 1 >= n - 1)
			abort();
		c = o[i + 1];
		i += 2;
		switch (c) {
		case 'b': bputc(b, '\b'); break;
		case 't': bputc(b, '\t'); break;
		case 'n': bputc(b, '\n'); break;
		case 'f': bputc(b, '\f'); break;
		case 'r': bputc(b, '\r'); break;
		case '"': bputc(b, '"'); break;
		case '\\': bputc(b, '\\'); break;
		case 'u':
		case 'U': {
			size_t k, digits = c == 'u' ? 4 : 8;
			uint32_t cp = 0;

			if (i + digits > n - 1)
				abort();
			for (k = 0; k < digits; k++) {
				int h = hexval(o[i + k]);

				if (h < 0)
					abort();
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				abort();
			utf8_put(b, cp);
			i += digits;
			break;
		}
		default:
			abort();
		}
	}
}

static int py_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* configparser: "k = OUT" is one line of a text file (universal newlines:
 * \n, \r), and the value is str.strip()ped. */
static void dec_ini(const unsigned char *o, size_t n, struct buf *b)
{
	size_t s, e;
	uint32_t cp;

	if (!utf8_ok(o, n) || memchr(o, '\n', n) || memchr(o, '\r', n) || memchr(o, 0, n))
		abort();
	s = 0;
	e = n;
	while (s < e && (jsonw_utf8_next(o + s, e - s, &cp), py_space(cp)))
		s += jsonw_utf8_next(o + s, e - s, &cp);
	/* trailing: walk back to the start of the last character */
	for (;;) {
		size_t q = e;

		if (q <= s)
			break;
		do
			q--;
		while (q > s && (o[q] & 0xc0) == 0x80);
		jsonw_utf8_next(o + q, e - q, &cp);
		if (!py_space(cp))
			break;
		e = q;
	}
	bput(b, o + s, e - s);
}

/* XML 1.0 character data and attribute values: no raw markup, quotes or
 * white space that attribute normalisation would change. */
static void dec_xml(const unsigned char *o, size_t n, struct buf *b)
{
	size_t i = 0;

	if (!utf8_ok(o, n))
		abort();
	while (i < n) {
		uint32_t cp;
		size_t k = jsonw_utf8_next(o + i, n - i, &cp);

		if (cp == '<' || cp == '>' || cp == '"' || cp == '\'' || cp < 0x20 || cp == 0xfffe || cp == 0xffff)
			abort();
		if (cp != '&') {
			bput(b, o + i, k);
			i += k;
			continue;
		}
		{
			const unsigned char *semi = memchr(o + i, ';', n - i);
			size_t len;

			if (!semi)
				abort();
			len = (size_t)(semi - (o + i)) + 1;
			if (len == 5 && !memcmp(o + i, "&amp;", 5))
				bputc(b, '&');
			else if (len == 4 && !memcmp(o + i, "&lt;", 4))
				bputc(b, '<');
			else if (len == 4 && !memcmp(o + i, "&gt;", 4))
				bputc(b, '>');
			else if (len == 6 && !memcmp(o + i, "&quot;", 6))
				bputc(b, '"');
			else if (len == 6 && !memcmp(o + i, "&apos;", 6))
				bputc(b, '\'');
			else if (len >= 4 && o[i + 1] == '#') {
				uint32_t c = 0;
				size_t d;

				for (d = i + 2; d < i + len - 1; d++) {
					if (o[d] < '0' || o[d] > '9' || c > 0x10ffff)
						abort();
					c = c * 10 + (uint32_t)(o[d] - '0');
				}
				if (!(c == 9 || c == 10 || c == 13 || (c >= 0x20 && c <= 0xd7ff) ||
				      (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff)))
					abort();
				utf8_put(b, c);
			} else {
				abort();
			}
			i += len;
		}
	}
}

static void dec_url(const unsigned char *o, size_t n, struct buf *b)
{
	CURL *c = curl_easy_init();
	char *s;
	int len = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%", o[i]))
			abort();	/* a byte with a meaning in a URL */
	if (!c)
		return;
	s = curl_easy_unescape(c, (const char *)o, (int)n, &len);
	if (!s)
		abort();
	bput(b, s, (size_t)len);
	curl_free(s);
	curl_easy_cleanup(c);
}

static void dec_base64(const unsigned char *o, size_t n, struct buf *b)
{
	unsigned char *bin = malloc(n + 1);
	size_t blen = 0;
	const char *end = NULL;

	if (!bin)
		return;
	if (sodium_base642bin(bin, n + 1, (const char *)o, n, NULL, &blen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || end != (const char *)o + n)
		abort();
	bput(b, bin, blen);
	free(bin);
}

/* libpq (fe-connect.c): pwdfMatchesString() for a field, then the
 * password's de-escaping, on the line "OUT:5432:*:u:OUT\n" after
 * pg_strip_crlf(); '#' starts a comment line. */
static const unsigned char *pg_match(const unsigned char *p, const unsigned char *want, size_t wlen)
{
	size_t k = 0;

	if (p[0] == '*' && p[1] == ':')
		return p + 2;
	while (*p && *p != ':') {
		if (*p == '\\' && p[1])
			p++;
		if (k >= wlen || *p != want[k])
			return NULL;
		p++;
		k++;
	}
	return *p == ':' && k == wlen ? p + 1 : NULL;
}

static void dec_pgpass(const unsigned char *o, size_t n, const unsigned char *v, size_t vlen, struct buf *b)
{
	struct buf line = { 0 };
	const unsigned char *p;
	size_t len;

	if (memchr(o, '\n', n) || memchr(o, '\r', n) || memchr(o, 0, n))
		abort();
	bput(&line, o, n);
	bput(&line, ":5432:*:u:", 10);
	bput(&line, o, n);
	bput(&line, "\n", 1);
	len = line.n;
	while (len && (line.p[len - 1] == '\n' || line.p[len - 1] == '\r'))
		line.p[--len] = 0;
	if (!len || line.p[0] == '#')
		abort();
	if (!(p = pg_match(line.p, v, vlen)) || !(p = pg_match(p, (const unsigned char *)"5432", 4)) ||
	    !(p = pg_match(p, (const unsigned char *)"anydb", 5)) || !(p = pg_match(p, (const unsigned char *)"u", 1)))
		abort();
	for (; *p && *p != ':'; p++) {
		if (*p == '\\' && p[1])
			p++;
		bputc(b, *p);
	}
	free(line.p);
}

/* .netrc: white-space separated tokens. */
static void dec_netrc(const unsigned char *o, size_t n, struct buf *b)
{
	size_t i;

	if (!n || o[0] == '"' || o[0] == '#')
		abort();
	for (i = 0; i < n; i++)
		if (!o[i] || o[i] == ' ' || (o[i] >= '\t' && o[i] <= '\r'))
			abort();
	bput(b, o, n);
}

static void dec_dotenv(const unsigned char *o, size_t n, struct buf *b)
{
	struct buf doc = { 0 };
	struct dotenv d = DOTENV_INIT;
	struct dotenv_error err;
	const unsigned char *v;
	size_t len;
	int r;

	bput(&doc, "K=", 2);
	bput(&doc, o, n);
	bput(&doc, " # c\nZ=1\n", 9);
	r = dotenv_parse(doc.p, doc.n, &d, &err);
	free(doc.p);
	if (r == -ENOMEM)
		return;
	if (r || d.n != 2 || strcmp(d.e[0].key, "K") || strcmp(d.e[1].key, "Z"))
		abort();
	v = secbuf_data(d.e[0].value, &len);
	bput(b, v, len);
	dotenv_release(&d);
}

/* Would the filter refuse v?  (template.h) */
static int refused(enum template_filter f, const unsigned char *v, size_t n)
{
	size_t i;

	switch (f) {
	case TEMPLATE_SH:
		return memchr(v, 0, n) != NULL;
	case TEMPLATE_JSON:
	case TEMPLATE_YAML:
	case TEMPLATE_TOML:
		return !utf8_ok(v, n);
	case TEMPLATE_INI: {
		uint32_t cp;

		if (!utf8_ok(v, n))
			return 1;
		for (i = 0; i < n; i++)
			if (v[i] < 0x20 || v[i] == 0x7f)
				return 1;
		if (n && (jsonw_utf8_next(v, n, &cp), py_space(cp)))
			return 1;
		for (i = n; i > 0 && (v[i - 1] & 0xc0) == 0x80; i--)
			;
		return n && i && (jsonw_utf8_next(v + i - 1, n - i + 1, &cp), py_space(cp));
	}
	case TEMPLATE_XML: {
		uint32_t cp;

		if (!utf8_ok(v, n))
			return 1;
		for (i = 0; i < n; i += jsonw_utf8_next(v + i, n - i, &cp)) {
			jsonw_utf8_next(v + i, n - i, &cp);
			if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe || cp == 0xffff)
				return 1;
		}
		return 0;
	}
	case TEMPLATE_PGPASS:
		return memchr(v, 0, n) || memchr(v, '\n', n) || memchr(v, '\r', n);
	case TEMPLATE_NETRC:
		if (!n || v[0] == '"' || v[0] == '#')
			return 1;
		for (i = 0; i < n; i++)
			if (!v[i] || v[i] == ' ' || (v[i] >= '\t' && v[i] <= '\r'))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static void filter(enum template_filter f, const unsigned char *v, size_t n)
{
	struct secbuf *out = secbuf_new(n * 2 + 16);
	struct why why = WHY_INIT;
	struct buf b = { 0 };
	const unsigned char *o;
	size_t olen;
	int r;

	if (!out)
		return;
	r = template_escape(f, v, n, out, &why);
	if (r == -ENOMEM)
		goto out;
	if ((r != 0) != refused(f, v, n) || (r && (r != -EINVAL || !why.msg[0])))
		abort();	/* refused exactly what the target cannot carry, and said why */
	if (r)
		goto out;
	o = secbuf_data(out, &olen);
	bput(&b, "", 0);
	switch (f) {
	case TEMPLATE_RAW: bput(&b, o, olen); break;
	case TEMPLATE_SH: dec_sh(o, olen, &b); break;
	case TEMPLATE_JSON: dec_json(o, olen, &b); break;
	case TEMPLATE_YAML: dec_yaml(o, olen, &b); break;
	case TEMPLATE_TOML: dec_toml(o, olen, &b); break;
	case TEMPLATE_INI: dec_ini(o, olen, &b); break;
	case TEMPLATE_XML: dec_xml(o, olen, &b); break;
	case TEMPLATE_URL: dec_url(o, olen, &b); break;
	case TEMPLATE_BASE64: dec_base64(o, olen, &b); break;
	case TEMPLATE_PGPASS: dec_pgpass(o, olen, v, n, &b); break;
	case TEMPLATE_NETRC: dec_netrc(o, olen, &b); break;
	case TEMPLATE_DOTENV: dec_dotenv(o, olen, &b); break;
	case TEMPLATE_FILTER_COUNT: break;
	}
	expect_same(&b, v, n);
out:
	free(b.p);
	secbuf_free(out);
}

static void parse_render(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "a/b", "c/d#e" };
	static const char *const names[] = { "A", "C" };
	static const struct template_origin o = { "fuzz.tmpl", 0, 0, "template 'fuzz'" };
	struct template *t = NULL;
	struct secbuf *vals[3] = { 0 }, *out = NULL;
	struct why why = WHY_INIT;
	int r;

	r = template_parse(&o, (const char *)data, size, keys, names, 2, &t, &why);
	if (r == -ENOMEM)
		return;
	if (r) {
		if (r != -EINVAL || strncmp(why.msg, "fuzz.tmpl:", 10))
			abort();	/* every refusal has a position */
		return;
	}
	/* a/b, c/d#e, and c/d as a whole secret ("c/d#": {{ secret "c/d" | json }}) */
	if (template_nkeys(t) > 3)
		abort();
	for (r = 0; r < (int)template_nkeys(t); r++) {
		const char *k = template_keys(t)[r];

		if (strcmp(k, "a/b") && strcmp(k, "c/d#e") && strcmp(k, "c/d#"))
			abort();	/* only a declared key, or a declared key's path whole */
	}
	vals[0] = secbuf_dup("v1 'x'", 6);
	vals[1] = secbuf_dup("line\n2", 6);
	vals[2] = secbuf_dup("{\"e\":\"line\\n2\"}", 15);
	if (vals[0] && vals[1] && vals[2]) {
		r = template_render(t, vals, 1u << 20, &out, &why);
		if (r && r != -EINVAL && r != -EFBIG && r != -ENOMEM)
			abort();
		if (r == -EINVAL && !why.msg[0])
			abort();
		/* with no action, the text comes back as it was */
		if (!r && !memmem(data, size, "{{", 2) && (secbuf_len(out) != size || memcmp(secbuf_str(out), data, size)))
			abort();
	}
	secbuf_free(out);
	secbuf_free(vals[0]);
	secbuf_free(vals[1]);
	secbuf_free(vals[2]);
	template_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int sel;

	if (!size)
		return 0;
	sel = data[0] % 13;
	data++;
	size--;
	if (sel == 0)
		parse_render(data, size);
	else
		filter((enum template_filter)(sel - 1), data, size);
	return 0;
}
