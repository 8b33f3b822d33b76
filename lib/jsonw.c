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
