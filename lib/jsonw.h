#ifndef JSONW_H
#define JSONW_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writing JSON strings.  json-c parses everywhere in harombe; these two
 * functions exist because the hot paths (audit lines, env.json rendered
 * into locked memory) must write into a buffer they own: json-c would copy
 * each string into its own heap first.
 */

/* Bytes jsonw_escape() writes for s[0..len) (without the quotes). */
size_t jsonw_escaped_len(const unsigned char *s, size_t len);
/* Write the escaped form of s into out (room for jsonw_escaped_len bytes);
 * returns the end.  " \ and control characters are escaped; other bytes,
 * UTF-8 included, are copied (callers check UTF-8 where it matters). */
unsigned char *jsonw_escape(unsigned char *out, const unsigned char *s, size_t len);

/* Text from outside (a process name from /proc, a key): the result is
 * valid UTF-8 whatever s holds, and safe on a terminal.  As jsonw_escape,
 * and also: a byte that is not part of valid UTF-8 becomes \ufffd; DEL,
 * the C1 controls (U+0080..U+009F) and U+2028/U+2029 become \uXXXX. */
size_t jsonw_text_len(const unsigned char *s, size_t len);
unsigned char *jsonw_text_escape(unsigned char *out, const unsigned char *s, size_t len);

/* The length of the valid UTF-8 sequence at s (1..4; at most len) with its
 * code point in *cp, or 0 when s does not start one (overlong forms,
 * surrogates and code points past U+10FFFF are not valid). */
size_t jsonw_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

#endif
