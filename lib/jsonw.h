#ifndef JSONW_H
#define JSONW_H

#include <stddef.h>

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

#endif
