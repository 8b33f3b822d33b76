#include "compat.h"
#include "jsonw.h"

#include <string.h>

static int short_escape(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '\n': return 'n';
	case '\t': return 't';
	case '\r': return 'r';
	case '\b': return 'b';
	case '\f': return 'f';
	default: return 0;
	}
}

size_t jsonw_escaped_len(const unsigned char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += short_escape(s[i]) ? 2 : s[i] < 0x20 ? 6 : 1;
	return n;
}

unsigned char *jsonw_escape(unsigned char *p, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	int e;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if ((e = short_escape(c))) {
			*p++ = '\\';
			*p++ = (unsigned char)e;
		} else if (c < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = (unsigned char)hex[c >> 4];
			p[5] = (unsigned char)hex[c & 15];
			p += 6;
		} else {
			*p++ = c;
		}
	}
	return p;
}

size_t jsonw_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, i;

	if (!len)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points written as \uXXXX: controls a terminal acts on, and the
 * two separators JavaScript takes for line ends. */
static int text_escape(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/* The run at s that needs no escaping: printable ASCII but '"' and '\\'
 * (most names, keys, paths and commands), taken a run at a time. */
static size_t plain_run(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

size_t jsonw_text_len(const unsigned char *s, size_t len)
{
	size_t i = 0, n = 0, k;
	uint32_t c;

	while (i < len) {
		k = plain_run(s + i, len - i);
		n += k;
		if ((i += k) == len)
			break;
		if (!(k = jsonw_utf8_next(s + i, len - i, &c)))
			n += 6, k = 1;
		else if (short_escape(s[i]))
			n += 2;
		else
			n += text_escape(c) ? 6 : k;
		i += k;
	}
	return n;
}

unsigned char *jsonw_text_escape(unsigned char *p, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, k;
	uint32_t c;
	int e;

	while (i < len) {
		k = plain_run(s + i, len - i);
		memcpy(p, s + i, k);
		p += k;
		if ((i += k) == len)
			break;
		if (!(k = jsonw_utf8_next(s + i, len - i, &c))) {
			memcpy(p, "\\ufffd", 6);
			p += 6;
			i++;
			continue;
		}
		if ((e = short_escape(s[i]))) {
			*p++ = '\\';
			*p++ = (unsigned char)e;
		} else if (text_escape(c)) {
			memcpy(p, "\\u", 2);
			p[2] = (unsigned char)hex[(c >> 12) & 15];
			p[3] = (unsigned char)hex[(c >> 8) & 15];
			p[4] = (unsigned char)hex[(c >> 4) & 15];
			p[5] = (unsigned char)hex[c & 15];
			p += 6;
		} else {
			memcpy(p, s + i, k);
			p += k;
		}
		i += k;
	}
	return p;
}
