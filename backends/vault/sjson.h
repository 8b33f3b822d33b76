#ifndef SJSON_H
#define SJSON_H

#include <stddef.h>

/*
 * json-c for documents that hold secrets (backends/ only).
 *
 * json-c keeps what it parses in ordinary heap memory: the tokener's
 * scratch buffer and one malloc()ed copy per string or number.  We cannot
 * give it locked memory, so these helpers keep those copies short-lived and
 * wipe every one of them before json-c frees it:
 *
 *   sjson_parse()  parses text that lives in locked memory.  The tokener's
 *                  scratch buffer is grown to the size of the input BEFORE
 *                  any secret byte enters it (it would otherwise grow by
 *                  realloc() and leave unwiped copies behind) and
 *                  overwritten after the parse.
 *   sjson_put()    wipes every string, number and boolean of a tree, then
 *                  drops the tree.  Use it, never json_object_put(), on
 *                  anything sjson_parse() returned.
 *   sjson_write*() serialise into a secbuf.  json-c's own serialiser grows
 *                  its output with realloc(), so request bodies that carry a
 *                  secret are escaped (lib/jsonw) straight into locked memory.
 *
 * Object keys (field names) are not wiped: they are names, not values.
 */

struct json_object;
struct secbuf;
struct why;

/* Parse len bytes.  0 and *out, or -EINVAL (why says what is wrong: never
 * the text) or -ENOMEM.  depth limits nesting. */
int sjson_parse(const char *text, size_t len, struct json_object **out, struct why *why);
/* Wipe the tree's values and release it.  NULL-safe. */
void sjson_put(struct json_object *o);

/* Append o as JSON text.  0 or -ENOMEM. */
int sjson_write(struct secbuf *sb, struct json_object *o);
/* Append p[0..n) as a JSON string literal, quotes included.  0 or -ENOMEM. */
int sjson_write_str(struct secbuf *sb, const void *p, size_t n);
/* Append a C string verbatim (JSON syntax, field names).  0 or -ENOMEM. */
int sjson_raw(struct secbuf *sb, const char *s);

/* A value as the bytes a consumer wants: a string's own bytes, anything
 * else as JSON text.  0 and *out (new secbuf), or -ENOMEM. */
int sjson_value(struct json_object *o, struct secbuf **out);

/* Shorthands for walking a parsed response: NULL when absent or of the
 * wrong type. */
struct json_object *sjson_obj(struct json_object *o, const char *key);
const char *sjson_str(struct json_object *o, const char *key);
/* Integer field (JSON number or decimal string); def when absent. */
long long sjson_int(struct json_object *o, const char *key, long long def);
/* Boolean field; def when absent. */
int sjson_bool(struct json_object *o, const char *key, int def);

#endif
