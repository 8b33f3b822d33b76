#include "lib/compat.h"
#include "inject/dotenv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/secbuf.h"

/*
 * A hand-written scanner: no library reads this dialect, and the input is
 * a file full of secrets, so it must never be copied anywhere but locked
 * memory, and an error can only say where and what, never quote.
 */

struct scan {
	const unsigned char *p, *end;
	unsigned int line;
	struct dotenv_error *err;
};

static int fail(struct scan *s, unsigned int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int fail(struct scan *s, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int off;

	s->err->line = line;
	off = snprintf(s->err->why.msg, sizeof(s->err->why.msg), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(s->err->why.msg + off, sizeof(s->err->why.msg) - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* At a line end: "\n", "\r\n" or the end of the text. */
static int at_eol(const struct scan *s)
{
	return s->p == s->end || *s->p == '\n' || (*s->p == '\r' && (s->p + 1 == s->end || s->p[1] == '\n'));
}

static void eat_eol(struct scan *s)
{
	if (s->p < s->end && *s->p == '\r')
		s->p++;
	if (s->p < s->end && *s->p == '\n') {
		s->p++;
		s->line++;
	}
}

static void skip_blanks(struct scan *s)
{
	while (s->p < s->end && is_blank(*s->p))
		s->p++;
}

static void skip_line(struct scan *s)
{
	while (!at_eol(s))
		s->p++;
	eat_eol(s);
}

static int dq_escape(unsigned char c, unsigned char *out)
{
	static const char from[] = "\\\"'$`nrtabfv0";
	static const char to[] = "\\\"'$`\n\r\t\a\b\f\v";
	const char *hit = c ? strchr(from, c) : NULL;

	if (!hit)
		return 0;
	*out = hit - from < (long)(sizeof(to) - 1) ? (unsigned char)to[hit - from] : 0;
	return 1;
}

/*
 * A quoted string starting at s->p (the opening quote).  It may span lines.
 * The decoded bytes go to a new secbuf sized for the raw text.
 */
static int quoted(struct scan *s, struct secbuf **out)
{
	unsigned char q = *s->p, c;
	const unsigned char *start = ++s->p, *p;
	unsigned int opened = s->line, line = s->line;
	struct secbuf *sb;
	unsigned char *w;
	size_t n = 0;

	*out = NULL;
	for (p = start; p < s->end && *p != q; p++) {
		if (*p == 0)
			return fail(s, line, "a NUL byte in a quoted value (write it as \\0)");
		if (*p == '\n')
			line++;
		if (*p == '\\' && p + 1 < s->end && p[1] != 0) {
			if (p[1] == '\n')
				line++;
			p++;
		}
	}
	if (p == s->end)
		return fail(s, opened, "unterminated %s-quoted value (no closing %c)",
			    q == '"' ? "double" : "single", q);
	if (!(sb = secbuf_new((size_t)(p - start))))
		return -ENOMEM;
	w = secbuf_tail(sb, (size_t)(p - start));
	for (s->p = start; s->p < p; s->p++) {
		c = *s->p;
		if (c == '\n')
			s->line++;
		if (c == '\\' && s->p + 1 < p) {
			unsigned char e = s->p[1], d;

			if (q == '\'' ? (e == '\'' || e == '\\') : dq_escape(e, &d)) {
				w[n++] = q == '\'' ? e : d;
				s->p++;
				continue;
			}
		}
		w[n++] = c;
	}
	secbuf_commit(sb, n);
	s->p = p + 1;
	*out = sb;
	return 0;
}

/* An unquoted value: to the end of the line or an inline comment (a '#'
 * after a blank), trailing blanks dropped.  after_blank: the value was
 * preceded by a blank, so a '#' right at its start opens a comment. */
static int unquoted(struct scan *s, int after_blank, struct secbuf **out)
{
	const unsigned char *start = s->p, *stop;
	int prev_blank = after_blank;

	*out = NULL;
	while (!at_eol(s)) {
		if (*s->p == 0)
			return fail(s, s->line, "a NUL byte in a value (quote it and write \\0)");
		if (*s->p == '#' && prev_blank)
			break;
		prev_blank = is_blank(*s->p);
		s->p++;
	}
	stop = s->p;
	while (stop > start && is_blank(stop[-1]))
		stop--;
	skip_line(s);
	if (!(*out = secbuf_dup(start, (size_t)(stop - start))))
		return -ENOMEM;
	return 0;
}

static int key_byte(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '=' && c != '"' && c != '\'';
}

/* The key, into ordinary memory: keys are names, not secrets. */
static int parse_key(struct scan *s, char **out)
{
	const unsigned char *start = s->p;
	struct secbuf *q = NULL;
	size_t n;
	int r;

	*out = NULL;
	if (s->p < s->end && *s->p == '"') {
		if ((r = quoted(s, &q)))
			return r;
		const unsigned char *d = secbuf_data(q, &n);

		if (!n || memchr(d, 0, n)) {
			secbuf_free(q);
			return fail(s, s->line, "an empty key, or a NUL byte in a quoted key");
		}
		*out = strndup((const char *)d, n);
		secbuf_free(q);
		return *out ? 0 : -ENOMEM;
	}
	while (s->p < s->end && key_byte(*s->p))
		s->p++;
	if (s->p == start)
		return fail(s, s->line, "expected KEY=VALUE");
	if (!(*out = strndup((const char *)start, (size_t)(s->p - start))))
		return -ENOMEM;
	return 0;
}

static int add(struct dotenv *d, char *key, struct secbuf *value, unsigned int line)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dotenv_entry *ne = realloc(d->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->e = ne;
		d->cap = cap;
	}
	d->e[d->n].key = key;
	d->e[d->n].value = value;
	d->e[d->n].line = line;
	d->n++;
	return 0;
}

static int entry(struct scan *s, struct dotenv *d)
{
	unsigned int line = s->line;
	struct secbuf *value = NULL;
	char *key = NULL;
	size_t i;
	int r, blank;

	/* "export KEY=..." (but a key named export is a key). */
	if (s->end - s->p > 6 && !memcmp(s->p, "export", 6) && is_blank(s->p[6])) {
		s->p += 6;
		skip_blanks(s);
	}
	if ((r = parse_key(s, &key)))
		goto out;
	skip_blanks(s);
	if (s->p == s->end || *s->p != '=') {
		r = fail(s, line, at_eol(s) ? "expected '=' after the key" :
					      "expected '=' after the key, found another character");
		goto out;
	}
	s->p++;
	blank = s->p < s->end && is_blank(*s->p);
	skip_blanks(s);
	if (s->p < s->end && (*s->p == '"' || *s->p == '\'')) {
		if ((r = quoted(s, &value)))
			goto out;
		skip_blanks(s);
		if (s->p < s->end && *s->p == '#') {
			skip_line(s);
		} else if (!at_eol(s)) {
			r = fail(s, s->line, "unexpected text after the closing quote");
			goto out;
		} else {
			eat_eol(s);
		}
	} else if ((r = unquoted(s, blank, &value))) {
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		if (!strcmp(d->e[i].key, key)) {
			r = fail(s, line, "the key is already set on line %u", d->e[i].line);
			goto out;
		}
	}
	if ((r = add(d, key, value, line)))
		goto out;
	key = NULL;
	value = NULL;
out:
	free(key);
	secbuf_free(value);
	return r;
}

int dotenv_parse(const unsigned char *text, size_t len, struct dotenv *out, struct dotenv_error *err)
{
	struct scan s = { text, text + len, 1, err };
	int r = 0;

	err->line = 0;
	err->why.msg[0] = 0;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		s.p += 3;
	while (s.p < s.end && !r) {
		skip_blanks(&s);
		if (at_eol(&s))
			eat_eol(&s);
		else if (*s.p == '#')
			skip_line(&s);
		else
			r = entry(&s, out);
	}
	if (r) {
		if (r == -ENOMEM && !err->why.msg[0])
			fail(&s, s.line, "out of locked memory");
		dotenv_release(out);
	}
	return r;
}

void dotenv_release(struct dotenv *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->e[i].key);
		secbuf_free(d->e[i].value);
	}
	free(d->e);
	d->e = NULL;
	d->n = d->cap = 0;
}

/* Bytes a key may have without quotes: what every dotenv reader takes. */
static int bare_key(const char *key)
{
	const char *p;

	if (!*key || *key == '#')
		return 0;
	for (p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("_./#@:+-", *p)))
			return 0;
	return 1;
}

/* Quoted body bytes: \ " $ ` newline CR and NUL escaped, the rest as is. */
static size_t escaped_len(const unsigned char *v, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += strchr("\\\"$`\n\r", v[i]) || !v[i] ? 2 : 1;
	return n;
}

static unsigned char *escape(unsigned char *p, const unsigned char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = v[i];

		if (!c || strchr("\\\"$`\n\r", c)) {
			*p++ = '\\';
			*p++ = c == '\n' ? 'n' : c == '\r' ? 'r' : !c ? '0' : c;
		} else {
			*p++ = c;
		}
	}
	return p;
}

int dotenv_write(struct secbuf *out, const char *key, const unsigned char *value, size_t len)
{
	size_t klen = strlen(key), need;
	int bare = bare_key(key);
	unsigned char *start, *p;

	need = (bare ? klen : 2 + escaped_len((const unsigned char *)key, klen)) + 4 +
	       escaped_len(value, len);
	if (!(start = p = secbuf_tail(out, need)))
		return -ENOMEM;
	if (bare) {
		memcpy(p, key, klen);
		p += klen;
	} else {
		*p++ = '"';
		p = escape(p, (const unsigned char *)key, klen);
		*p++ = '"';
	}
	*p++ = '=';
	*p++ = '"';
	p = escape(p, value, len);
	*p++ = '"';
	*p++ = '\n';
	secbuf_commit(out, (size_t)(p - start));
	return 0;
}
