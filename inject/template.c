#include "lib/compat.h"
#include "inject/template.h"

/*
 * Templates: parsing the logic-less language at config load (positions,
 * keys checked against the container's secrets, credentials refused), the
 * escaping filters, and rendering into locked memory.  See template.h for
 * the language and for what each filter promises.
 */

#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject/render.h"
#include "lib/credshape.h"
#include "lib/jsonw.h"
#include "lib/secbuf.h"
#include "lib/why.h"

struct part {
	size_t off, len;	/* literal text in t->text (after the action's output) */
	int key;		/* index in t->keys, -1: literal only */
	unsigned char filters[TEMPLATE_MAX_FILTERS];
	size_t nf;
	int whole;		/* a whole secret: the value is a JSON object already,
				 * and filters[0] (json) is not applied again */
};

struct template {
	char *text;		/* literal bytes of every part, copied */
	size_t text_len;
	struct part *parts;
	size_t n;
	char **keys;		/* "path#" for a whole secret (backends/backend.h) */
	const char **names;	/* borrowed from the view; a whole secret's is its key */
	size_t nkeys;
};

static const char *const filter_names[TEMPLATE_FILTER_COUNT] = {
	NULL, "sh", "json", "yaml", "toml", "ini", "xml", "url", "base64", "pgpass", "netrc", "dotenv",
};

const char *template_filter_name(enum template_filter f)
{
	return (unsigned int)f < TEMPLATE_FILTER_COUNT ? filter_names[f] : NULL;
}

int template_filter_find(const char *name, size_t len)
{
	int i;

	for (i = 1; i < TEMPLATE_FILTER_COUNT; i++)
		if (strlen(filter_names[i]) == len && !memcmp(filter_names[i], name, len))
			return i;
	return -1;
}

/* ---- filters ---- */

static int put(struct secbuf *out, const void *p, size_t n)
{
	return secbuf_append(out, p, n);
}

static int puts_(struct secbuf *out, const char *s)
{
	return secbuf_append(out, s, strlen(s));
}

static int putf(struct secbuf *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int putf(struct secbuf *out, const char *fmt, ...)
{
	char buf[16];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return secbuf_append(out, buf, (size_t)n);
}

static int refuse(struct why *why, enum template_filter f, const char *what)
{
	return why_fail(why, -EINVAL, "the value %s, which the %s filter cannot write", what,
			filter_names[f]);
}

static int esc_sh(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	size_t i;
	int r = 0;

	if (memchr(v, 0, len))
		return refuse(why, TEMPLATE_SH, "holds a NUL byte");
	r = put(out, "'", 1);
	for (i = 0; i < len && !r; i++)
		r = v[i] == '\'' ? put(out, "'\\''", 4) : put(out, &v[i], 1);
	return r ? r : put(out, "'", 1);
}

static int esc_json(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	unsigned char *p, *start;
	size_t need;

	if (!render_utf8_valid(v, len))
		return refuse(why, TEMPLATE_JSON, "is not valid UTF-8");
	need = jsonw_escaped_len(v, len) + 2;
	if (!(start = p = secbuf_tail(out, need)))
		return -ENOMEM;
	*p++ = '"';
	p = jsonw_escape(p, v, len);
	*p++ = '"';
	secbuf_commit(out, (size_t)(p - start));
	return 0;
}

/* YAML 1.2 c-printable, less what a double-quoted scalar treats specially. */
static int yaml_plain_ok(uint32_t cp)
{
	if (cp == '"' || cp == '\\')
		return 0;
	if (cp >= 0x20 && cp <= 0x7e)
		return 1;
	if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
		return 0;	/* line breaks (YAML 1.1) and the BOM */
	return (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
	       (cp >= 0x10000 && cp <= 0x10ffff);
}

static int esc_yaml_toml(enum template_filter f, const unsigned char *v, size_t len,
			 struct secbuf *out, struct why *why)
{
	size_t i = 0;
	int r;

	if (!render_utf8_valid(v, len))
		return refuse(why, f, "is not valid UTF-8");
	if ((r = put(out, "\"", 1)))
		return r;
	while (i < len && !r) {
		uint32_t cp;
		size_t n = jsonw_utf8_next(v + i, len - i, &cp);

		if (cp == '"' || cp == '\\')
			r = put(out, cp == '"' ? "\\\"" : "\\\\", 2);
		else if (f == TEMPLATE_YAML && yaml_plain_ok(cp))
			r = put(out, v + i, n);
		else if (f == TEMPLATE_TOML && cp >= 0x20 && cp != 0x7f)
			r = put(out, v + i, n);
		else if (cp == '\n')
			r = puts_(out, "\\n");
		else if (cp == '\t')
			r = puts_(out, "\\t");
		else if (f == TEMPLATE_YAML && cp < 0x100)
			r = putf(out, "\\x%02X", (unsigned int)cp);
		else if (cp < 0x10000)
			r = putf(out, "\\u%04X", (unsigned int)cp);
		else
			r = putf(out, "\\U%08X", (unsigned int)cp);
		i += n;
	}
	return r ? r : put(out, "\"", 1);
}

static int is_unicode_space(uint32_t cp)
{
	/* what Python's str.strip() removes beyond ASCII blanks */
	return (cp >= 0x1c && cp <= 0x1f) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
	       cp == 0x205f || cp == 0x3000;
}

static int esc_ini(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	size_t i = 0;
	uint32_t cp = 0;

	if (!render_utf8_valid(v, len))
		return refuse(why, TEMPLATE_INI, "is not valid UTF-8");
	while (i < len) {
		size_t n = jsonw_utf8_next(v + i, len - i, &cp);

		if (cp < 0x20 || cp == 0x7f)
			return refuse(why, TEMPLATE_INI, "holds a control character");
		if ((i == 0 || i + n == len) && (cp == ' ' || is_unicode_space(cp)))
			return refuse(why, TEMPLATE_INI, "starts or ends with white space");
		i += n;
	}
	return put(out, v, len);
}

static int esc_xml(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	size_t i = 0;
	int r = 0;

	if (!render_utf8_valid(v, len))
		return refuse(why, TEMPLATE_XML, "is not valid UTF-8");
	while (i < len && !r) {
		uint32_t cp;
		size_t n = jsonw_utf8_next(v + i, len - i, &cp);

		switch (cp) {
		case '&': r = puts_(out, "&amp;"); break;
		case '<': r = puts_(out, "&lt;"); break;
		case '>': r = puts_(out, "&gt;"); break;
		case '"': r = puts_(out, "&quot;"); break;
		case '\'': r = puts_(out, "&apos;"); break;
		case '\t': r = puts_(out, "&#9;"); break;
		case '\n': r = puts_(out, "&#10;"); break;
		case '\r': r = puts_(out, "&#13;"); break;
		default:
			if (cp < 0x20 || cp == 0xfffe || cp == 0xffff)
				return refuse(why, TEMPLATE_XML, "holds a character XML 1.0 cannot carry");
			r = put(out, v + i, n);
		}
		i += n;
	}
	return r;
}

static int esc_url(const unsigned char *v, size_t len, struct secbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int r = 0;

	for (i = 0; i < len && !r; i++) {
		unsigned char c = v[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			r = put(out, &c, 1);
		} else {
			unsigned char e[3] = { '%', (unsigned char)hex[c >> 4], (unsigned char)hex[c & 15] };

			r = put(out, e, 3);
		}
	}
	return r;
}

static int esc_base64(const unsigned char *v, size_t len, struct secbuf *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	unsigned char *p, *start;

	if (!(start = p = secbuf_tail(out, (len + 2) / 3 * 4)))
		return -ENOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t w = (uint32_t)v[i] << 16 | (uint32_t)v[i + 1] << 8 | v[i + 2];

		*p++ = (unsigned char)b64[w >> 18];
		*p++ = (unsigned char)b64[(w >> 12) & 63];
		*p++ = (unsigned char)b64[(w >> 6) & 63];
		*p++ = (unsigned char)b64[w & 63];
	}
	if (len - i == 1) {
		*p++ = (unsigned char)b64[v[i] >> 2];
		*p++ = (unsigned char)b64[(v[i] & 3) << 4];
		*p++ = '=';
		*p++ = '=';
	} else if (len - i == 2) {
		uint32_t w = (uint32_t)v[i] << 8 | v[i + 1];

		*p++ = (unsigned char)b64[w >> 10];
		*p++ = (unsigned char)b64[(w >> 4) & 63];
		*p++ = (unsigned char)b64[(w << 2) & 63];
		*p++ = '=';
	}
	secbuf_commit(out, (size_t)(p - start));
	return 0;
}

static int esc_pgpass(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	size_t i;
	int r = 0;

	if (memchr(v, 0, len) || memchr(v, '\n', len) || memchr(v, '\r', len))
		return refuse(why, TEMPLATE_PGPASS, "holds a NUL, CR or LF byte");
	for (i = 0; i < len && !r; i++) {
		if (v[i] == '\\' || v[i] == ':' || v[i] == '*' || v[i] == '#')
			r = put(out, "\\", 1);
		if (!r)
			r = put(out, &v[i], 1);
	}
	return r;
}

static int esc_netrc(const unsigned char *v, size_t len, struct secbuf *out, struct why *why)
{
	size_t i;

	if (!len)
		return refuse(why, TEMPLATE_NETRC, "is empty");
	if (v[0] == '"' || v[0] == '#')
		return refuse(why, TEMPLATE_NETRC, "starts with '\"' or '#'");
	for (i = 0; i < len; i++)
		if (!v[i] || v[i] == ' ' || (v[i] >= '\t' && v[i] <= '\r'))
			return refuse(why, TEMPLATE_NETRC, "holds white space or a NUL byte");
	return put(out, v, len);
}

static int esc_dotenv(const unsigned char *v, size_t len, struct secbuf *out)
{
	size_t i;
	int r = put(out, "\"", 1);

	for (i = 0; i < len && !r; i++) {
		unsigned char c = v[i];

		if (!c || strchr("\\\"$`\n\r", c)) {
			unsigned char e[2] = { '\\', c == '\n' ? 'n' : c == '\r' ? 'r' : !c ? '0' : c };

			r = put(out, e, 2);
		} else {
			r = put(out, &c, 1);
		}
	}
	return r ? r : put(out, "\"", 1);
}

int template_escape(enum template_filter f, const unsigned char *v, size_t len, struct secbuf *out,
		    struct why *why)
{
	switch (f) {
	case TEMPLATE_RAW:
		return put(out, v, len);
	case TEMPLATE_SH:
		return esc_sh(v, len, out, why);
	case TEMPLATE_JSON:
		return esc_json(v, len, out, why);
	case TEMPLATE_YAML:
	case TEMPLATE_TOML:
		return esc_yaml_toml(f, v, len, out, why);
	case TEMPLATE_INI:
		return esc_ini(v, len, out, why);
	case TEMPLATE_XML:
		return esc_xml(v, len, out, why);
	case TEMPLATE_URL:
		return esc_url(v, len, out);
	case TEMPLATE_BASE64:
		return esc_base64(v, len, out);
	case TEMPLATE_PGPASS:
		return esc_pgpass(v, len, out, why);
	case TEMPLATE_NETRC:
		return esc_netrc(v, len, out, why);
	case TEMPLATE_DOTENV:
		return esc_dotenv(v, len, out);
	case TEMPLATE_FILTER_COUNT:
		break;
	}
	return why_fail(why, -EINVAL, "unknown filter");
}

/* ---- parsing ---- */

struct parser {
	const struct template_origin *o;
	const char *text;
	size_t len;
	struct template *t;
	struct why *why;
	size_t cap;
	const char *const *allowed;
	const char *const *names;
	size_t n_allowed;
};

static int fail_at(struct parser *ps, size_t at, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail_at(struct parser *ps, size_t at, const char *fmt, ...)
{
	int line = 1, col = 1, off;
	size_t i;
	va_list ap;

	for (i = 0; i < at && i < ps->len; i++) {
		if (ps->text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (!ps->why)
		return -EINVAL;
	if (ps->o->line)
		off = snprintf(ps->why->msg, sizeof(ps->why->msg), "%s:%d:%d: %s, line %d column %d of the text: ",
			       ps->o->file, ps->o->line, ps->o->col, ps->o->what, line, col);
	else
		off = snprintf(ps->why->msg, sizeof(ps->why->msg), "%s:%d:%d: %s: ", ps->o->file, line, col,
			       ps->o->what);
	if (off < 0 || (size_t)off >= sizeof(ps->why->msg))
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(ps->why->msg + off, sizeof(ps->why->msg) - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int add_part(struct parser *ps, struct part **out)
{
	struct template *t = ps->t;

	if (t->n == TEMPLATE_MAX_ACTIONS)
		return fail_at(ps, ps->len, "more than %u actions", TEMPLATE_MAX_ACTIONS);
	if (t->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct part *np = realloc(t->parts, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		t->parts = np;
		ps->cap = cap;
	}
	*out = &t->parts[t->n++];
	memset(*out, 0, sizeof(**out));
	(*out)->key = -1;
	(*out)->off = t->text_len;
	return 0;
}

static void add_text(struct parser *ps, struct part *p, const char *s, size_t n)
{
	memcpy(ps->t->text + ps->t->text_len, s, n);
	ps->t->text_len += n;
	p->len += n;
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_blank(const char *s, size_t i, size_t end)
{
	while (i < end && blank(s[i]))
		i++;
	return i;
}

/* A "string" at i; its decoded bytes into buf (no more than cap).  The end,
 * or 0 with why set. */
static size_t string_at(struct parser *ps, size_t i, size_t end, char *buf, size_t cap, size_t *blen)
{
	size_t n = 0, start = i;

	if (i >= end || ps->text[i] != '"') {
		fail_at(ps, i, "expected a \"quoted string\"");
		return 0;
	}
	for (i++; i < end && ps->text[i] != '"'; i++) {
		char c = ps->text[i];

		if ((unsigned char)c < 0x20 || c == 0x7f) {
			fail_at(ps, i, "a control character in a string");
			return 0;
		}
		if (c == '\\') {
			if (i + 1 >= end || (ps->text[i + 1] != '"' && ps->text[i + 1] != '\\')) {
				fail_at(ps, i, "only \\\" and \\\\ are escapes in a string");
				return 0;
			}
			c = ps->text[++i];
		}
		if (n + 1 >= cap) {
			fail_at(ps, start, "string too long");
			return 0;
		}
		buf[n++] = c;
	}
	if (i >= end) {
		fail_at(ps, start, "unterminated string");
		return 0;
	}
	buf[n] = 0;
	*blen = n;
	return i + 1;
}

/* Is key (no '#') the path of a declared "path#field"? */
static int path_declared(const struct parser *ps, const char *key)
{
	size_t i, n = strlen(key);

	if (strchr(key, '#'))
		return 0;
	for (i = 0; i < ps->n_allowed; i++)
		if (!strncmp(ps->allowed[i], key, n) && ps->allowed[i][n] == '#')
			return 1;
	return 0;
}

/* The index of key in t->keys, added on first use.  json: the action's
 * first filter is json, which makes a path whose fields are declared (but
 * that is not itself declared) a whole secret: *whole = 1 and the key
 * "path#" (docs/templates.md "A whole secret"). */
static int key_index(struct parser *ps, size_t at, const char *key, int json, int *whole)
{
	struct template *t = ps->t;
	char wkey[1026];
	size_t i;

	*whole = 0;
	for (i = 0; i < ps->n_allowed; i++)
		if (!strcmp(ps->allowed[i], key))
			break;
	if (i == ps->n_allowed) {
		if (!path_declared(ps, key))
			return fail_at(ps, at, "key '%s' is not one of the container's secrets (add it under "
				       "'secrets:')", key);
		if (!json)
			return fail_at(ps, at, "key '%s' is not one of the container's secrets; its fields are, "
				       "and the whole secret is offered as one JSON object only: write "
				       "{{ secret \"%s\" | json }}, or name a field (\"%s#FIELD\")", key, key, key);
		snprintf(wkey, sizeof(wkey), "%s#", key);
		key = wkey;
		*whole = 1;
	}
	for (i = 0; i < t->nkeys; i++)
		if (!strcmp(t->keys[i], key))
			return (int)i;
	if (!*whole)
		for (i = 0; i < ps->n_allowed; i++)
			if (!strcmp(ps->allowed[i], key))
				break;
	if (!(t->keys[t->nkeys] = strdup(key)))
		return -ENOMEM;
	t->names[t->nkeys] = ps->names && !*whole ? ps->names[i] : t->keys[t->nkeys];
	return (int)t->nkeys++;
}

/* The action between {{ at open and }} at close. */
static int action(struct parser *ps, size_t open, size_t close, struct part *p)
{
	const char *s = ps->text;
	char buf[1024];
	size_t i = skip_blank(s, open + 2, close), blen, w, key_at;
	int k;

	if (i < close && s[i] == '"') {
		if (!(i = string_at(ps, i, close, buf, sizeof(buf), &blen)))
			return -EINVAL;
		i = skip_blank(s, i, close);
		if (i != close)
			return fail_at(ps, i, "a literal string stands alone in its action");
		add_text(ps, p, buf, blen);
		return 0;
	}
	for (w = i; w < close && !blank(s[w]) && s[w] != '"' && s[w] != '|'; w++)
		;
	if (w == i)
		return fail_at(ps, i, "empty action; write {{ secret \"path#field\" }}");
	if (w - i != 6 || memcmp(s + i, "secret", 6))
		return fail_at(ps, i, "unknown function '%.*s' (the one function is secret)", (int)(w - i), s + i);
	i = skip_blank(s, w, close);
	key_at = i;
	if (!(w = string_at(ps, i, close, buf, sizeof(buf), &blen)))
		return -EINVAL;
	i = skip_blank(s, w, close);
	while (i < close) {
		int f;

		if (s[i] != '|')
			return fail_at(ps, i, "expected '|' and a filter, or '}}'");
		i = skip_blank(s, i + 1, close);
		for (w = i; w < close && !blank(s[w]) && s[w] != '|'; w++)
			;
		if (w == i)
			return fail_at(ps, i, "a filter name after '|'");
		if ((f = template_filter_find(s + i, w - i)) < 0)
			return fail_at(ps, i, "unknown filter '%.*s' (known: sh, json, yaml, toml, ini, xml, "
				       "url, base64, pgpass, netrc, dotenv)", (int)(w - i), s + i);
		if (p->nf == TEMPLATE_MAX_FILTERS)
			return fail_at(ps, i, "more than %u filters", TEMPLATE_MAX_FILTERS);
		p->filters[p->nf++] = (unsigned char)f;
		i = skip_blank(s, w, close);
	}
	if ((k = key_index(ps, key_at, buf, p->nf && p->filters[0] == TEMPLATE_JSON, &p->whole)) < 0)
		return k;
	p->key = k;
	return 0;
}

/* A line "key = value" or "key: value" (quotes around either allowed). */
static int credential_line(const char *s, size_t n, const char **label)
{
	size_t i = 0, ks, ke, vs, ve;
	char key[64];

	while (i < n && blank(s[i]))
		i++;
	if (i < n && (s[i] == '"' || s[i] == '\''))
		i++;
	ks = i;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
		i++;
	ke = i;
	if (ke == ks || ke - ks >= sizeof(key))
		return 0;
	if (i < n && (s[i] == '"' || s[i] == '\''))
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= n || (s[i] != '=' && s[i] != ':'))
		return 0;
	i++;
	while (i < n && blank(s[i]))
		i++;
	vs = i;
	ve = n;
	while (ve > vs && (blank(s[ve - 1]) || s[ve - 1] == ','))
		ve--;
	if (ve - vs >= 2 && (s[vs] == '"' || s[vs] == '\'') && s[ve - 1] == s[vs]) {
		vs++;
		ve--;
	}
	memcpy(key, s + ks, ke - ks);
	key[ke - ks] = 0;
	*label = credshape_value(key, s + vs, ve - vs, 0);
	return *label != NULL;
}

/* Templates hold references, never secrets: each line as the config's
 * values are judged (lib/credshape.h). */
static int check_credentials(struct parser *ps)
{
	const char *s = ps->text, *label = NULL;
	size_t at = 0;

	while (at < ps->len) {
		const char *nl = memchr(s + at, '\n', ps->len - at);
		size_t n = nl ? (size_t)(nl - (s + at)) : ps->len - at;

		if ((label = credshape_known(s + at, n)) ||
		    (!memmem(s + at, n, "{{", 2) && credential_line(s + at, n, &label)))
			return fail_at(ps, at, "this line looks like a credential (%s); templates hold "
				       "references, never secrets: store the value in the vault and write "
				       "{{ secret \"path#field\" }}", label);
		at += n + 1;
	}
	if ((label = credshape_known(s, ps->len)))
		return fail_at(ps, 0, "the text holds a credential (%s); templates hold references, never "
			       "secrets", label);
	return 0;
}

int template_parse(const struct template_origin *o, const char *text, size_t len,
		   const char *const *allowed, const char *const *names, size_t n_allowed,
		   struct template **out, struct why *why)
{
	struct parser ps = { .o = o, .text = text, .len = len, .why = why, .allowed = allowed,
			     .names = names, .n_allowed = n_allowed };
	struct template *t;
	struct part *p = NULL;
	size_t at = 0;
	int r;

	*out = NULL;
	if (len > TEMPLATE_MAX_TEXT)
		return fail_at(&ps, 0, "longer than %u bytes", TEMPLATE_MAX_TEXT);
	if (memchr(text, 0, len))
		return fail_at(&ps, (size_t)((const char *)memchr(text, 0, len) - text), "a NUL byte");
	if (!(t = ps.t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->text = malloc(len + 1);
	/* each declared key, and each declared path as a whole secret */
	t->keys = calloc(2 * n_allowed + 1, sizeof(*t->keys));
	t->names = calloc(2 * n_allowed + 1, sizeof(*t->names));
	if (!t->text || !t->keys || !t->names) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = check_credentials(&ps)))
		goto out;
	if ((r = add_part(&ps, &p)))
		goto out;
	while (at < len) {
		const char *open = len - at >= 2 ? memmem(text + at, len - at, "{{", 2) : NULL;
		size_t o_at, close, i;

		if (!open) {
			add_text(&ps, p, text + at, len - at);
			break;
		}
		o_at = (size_t)(open - text);
		add_text(&ps, p, text + at, o_at - at);
		/* the first "}}" outside a string */
		for (i = o_at + 2, close = len; i + 1 < len; i++) {
			if (text[i] == '"') {
				for (i++; i < len && text[i] != '"' && text[i] != '\n'; i++)
					if (text[i] == '\\' && i + 1 < len)
						i++;
				if (i >= len || text[i] == '\n')
					break;
			} else if (text[i] == '}' && text[i + 1] == '}') {
				close = i;
				break;
			} else if (text[i] == '{' && text[i + 1] == '{') {
				break;
			}
		}
		if (close == len) {
			r = fail_at(&ps, o_at, "'{{' without its '}}'");
			goto out;
		}
		if ((r = add_part(&ps, &p)) || (r = action(&ps, o_at, close, p)))
			goto out;
		at = close + 2;
	}
	t->text[t->text_len] = 0;
 out:
	if (r) {
		if (r == -ENOMEM)
			why_set(why, "%s: out of memory", o->file);
		template_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void template_free(struct template *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; t->keys && i < t->nkeys; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->names);
	free(t->parts);
	free(t->text);
	free(t);
}

size_t template_nkeys(const struct template *t)
{
	return t->nkeys;
}

const char *const *template_keys(const struct template *t)
{
	return (const char *const *)t->keys;
}

const char *const *template_names(const struct template *t)
{
	return t->names;
}

int template_equal(const struct template *a, const struct template *b)
{
	size_t i;

	if (a->n != b->n || a->nkeys != b->nkeys || a->text_len != b->text_len ||
	    memcmp(a->text, b->text, a->text_len))
		return 0;
	for (i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i], b->keys[i]) || strcmp(a->names[i], b->names[i]))
			return 0;
	for (i = 0; i < a->n; i++) {
		const struct part *x = &a->parts[i], *y = &b->parts[i];

		if (x->off != y->off || x->len != y->len || x->key != y->key || x->nf != y->nf ||
		    x->whole != y->whole ||
		    memcmp(x->filters, y->filters, x->nf))
			return 0;
	}
	return 1;
}

/* ---- rendering ---- */

/* One action's value through its chain of filters, appended to out. */
static int render_value(const struct template *t, const struct part *p, struct secbuf *value,
			struct secbuf *out, struct why *why)
{
	struct secbuf *cur = NULL, *next = NULL;
	const unsigned char *v;
	size_t len, i;
	int r = 0;

	v = secbuf_data(value, &len);
	i = p->whole ? 1 : 0;	/* a whole secret is a JSON object already */
	if (i == p->nf)
		return put(out, v, len);
	for (; i < p->nf && !r; i++) {
		int last = i + 1 == p->nf;

		if (!last && !(next = secbuf_new(len * 2 + 16))) {
			r = -ENOMEM;
			break;
		}
		r = template_escape(p->filters[i], v, len, last ? out : next, why);
		if (r == -EINVAL)
			why_prefix(why, "'%s'", t->keys[p->key]);
		secbuf_free(cur);
		cur = next;
		next = NULL;
		if (cur)
			v = secbuf_data(cur, &len);
	}
	secbuf_free(cur);
	return r;
}

int template_render(const struct template *t, struct secbuf *const *values, size_t max,
		    struct secbuf **out, struct why *why)
{
	struct secbuf *sb;
	size_t i;
	int r = 0;

	*out = NULL;
	if (!(sb = secbuf_new(t->text_len + 64)))
		return why_fail(why, -ENOMEM, "locked memory exhausted");
	for (i = 0; i < t->n && !r; i++) {
		const struct part *p = &t->parts[i];

		if (p->key >= 0)
			r = render_value(t, p, values[p->key], sb, why);
		if (!r)
			r = put(sb, t->text + p->off, p->len);
		if (!r && secbuf_len(sb) > max)
			r = why_fail(why, -EFBIG, "rendered file is larger than %zu bytes", max);
	}
	if (r == -ENOMEM)
		why_set(why, "locked memory exhausted");
	if (r) {
		secbuf_free(sb);
		return r;
	}
	*out = sb;
	return 0;
}
