#include "lib/compat.h"
#include "backends/vault/sjson.h"

#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "lib/jsonw.h"
#include "lib/secbuf.h"
#include "lib/why.h"

#define SJSON_DEPTH 32

/*
 * How json-c's copies are kept in check (see sjson.h for the contract).
 *
 * The tokener gathers every string and number into its scratch printbuf
 * before it creates the json_object, and it grows that buffer with
 * realloc(), which would leave partial copies of a long value in freed heap
 * that nobody can wipe.  A string token can never be longer than the input,
 * so before the real parse we feed the same tokener a dummy string of that
 * length: the buffer reaches its final size while it holds only 'x's.
 * After the parse the dummy goes through again and overwrites whatever
 * bytes of the document are left in it.  This uses only the public API
 * (json_tokener.h marks the struct fields deprecated, so we do not touch
 * tok->pb).
 *
 * The objects themselves are wiped by sjson_put(): a string's bytes through
 * json_object_get_string() (inline or heap, json-c hands out the buffer it
 * owns), a double's original text through its userdata (json-c keeps it
 * for re-serialising), integers and booleans by setting them to 0.
 */

static int prime(struct json_tokener *tok, const char *dummy, size_t len)
{
	struct json_object *o;

	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, dummy, (int)len);
	if (!o)
		return -ENOMEM;
	json_object_put(o);
	json_tokener_reset(tok);
	return 0;
}

/* NaN and Infinity: json-c takes them, even strict; JSON has no such
 * numbers, and nothing could write them back. */
static int nonfinite(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (nonfinite(json_object_array_get_idx(o, i)))
				return 1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(o, key, child) {
			(void)key;
			if (nonfinite(child))
				return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

int sjson_parse(const char *text, size_t len, struct json_object **out, struct why *why)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	char *dummy = NULL;
	size_t end;
	int r = 0, flushed = 0;

	*out = NULL;
	if (len > (size_t)INT32_MAX - 8)
		return why_fail(why, -EINVAL, "JSON document too large");
	dummy = malloc(len + 3);
	tok = json_tokener_new_ex(SJSON_DEPTH);
	if (!dummy || !tok) {
		r = -ENOMEM;
		goto out;
	}
	/* Strict: JSON as RFC 8259 has it (no leading zeros, no "1e", no
	 * single quotes, NaN or trailing commas), as Vault sends it; whatever
	 * we accept we can write back as the same document.  Trailing bytes
	 * are checked below, where whitespace is allowed. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	dummy[0] = '"';
	memset(dummy + 1, 'x', len);
	dummy[len + 1] = '"';
	dummy[len + 2] = 0;
	if ((r = prime(tok, dummy, len + 2)))
		goto out;

	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	/* A number that ends the text ("0", "1.5") is complete only once the
	 * tokener sees the end of the input: show it the terminating NUL. */
	if (!o && jerr == json_tokener_continue) {
		flushed = 1;
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = o ? json_tokener_get_error(tok) : json_tokener_continue;
	}
	if (!o || jerr != json_tokener_success) {
		why_set(why, "%s", jerr == json_tokener_continue ? "truncated JSON"
				  : json_tokener_error_desc(jerr));
		r = -EINVAL;
		goto out;
	}
	if (nonfinite(o)) {
		why_set(why, "NaN or Infinity is not a JSON number");
		r = -EINVAL;
		goto out;
	}
	for (end = flushed ? len : json_tokener_get_parse_end(tok); end < len; end++) {
		if (text[end] != ' ' && text[end] != '\n' && text[end] != '\r' && text[end] != '\t') {
			why_set(why, "trailing bytes after the JSON document");
			r = -EINVAL;
			goto out;
		}
	}
out:
	if (r) {
		sjson_put(o);
		o = NULL;
	}
	if (tok && dummy)
		(void)prime(tok, dummy, len + 2);	/* overwrite the scratch buffer */
	if (tok)
		json_tokener_free(tok);
	free(dummy);
	*out = o;
	return r;
}

static void wipe(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_string: {
		const char *s = json_object_get_string(o);

		explicit_bzero((char *)s, (size_t)json_object_get_string_len(o));
		break;
	}
	case json_type_double: {
		char *text = json_object_get_userdata(o);

		if (text)
			explicit_bzero(text, strlen(text));
		json_object_set_double(o, 0);
		break;
	}
	case json_type_int:
		json_object_set_int64(o, 0);
		break;
	case json_type_boolean:
		json_object_set_boolean(o, 0);
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (v)
				wipe(v);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			struct json_object *v = json_object_array_get_idx(o, i);

			if (v)
				wipe(v);
		}
		break;
	default:
		break;
	}
}

void sjson_put(struct json_object *o)
{
	if (!o)
		return;
	wipe(o);
	json_object_put(o);
}

int sjson_raw(struct secbuf *sb, const char *s)
{
	return secbuf_append(sb, s, strlen(s));
}

int sjson_write_str(struct secbuf *sb, const void *p, size_t n)
{
	size_t len = jsonw_escaped_len(p, n);
	unsigned char *out = secbuf_tail(sb, len + 2), *end;

	if (!out)
		return -ENOMEM;
	out[0] = '"';
	end = jsonw_escape(out + 1, p, n);
	*end = '"';
	secbuf_commit(sb, len + 2);
	return 0;
}

static int write_num(struct secbuf *sb, struct json_object *o)
{
	char buf[64];
	const char *text;
	int r;

	if (json_object_is_type(o, json_type_double)) {
		if (!isfinite(json_object_get_double(o)))
			return -EINVAL;	/* JSON has no NaN or Infinity */
		text = json_object_get_userdata(o);
		if (text)
			return secbuf_append(sb, text, strlen(text));
		snprintf(buf, sizeof(buf), "%.17g", json_object_get_double(o));
	} else {
		int64_t v = json_object_get_int64(o);

		if (v == INT64_MAX)
			snprintf(buf, sizeof(buf), "%" PRIu64, json_object_get_uint64(o));
		else
			snprintf(buf, sizeof(buf), "%" PRId64, v);
	}
	r = secbuf_append(sb, buf, strlen(buf));
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int sjson_write(struct secbuf *sb, struct json_object *o)
{
	size_t i, n;
	int r = 0, first = 1;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return sjson_raw(sb, "null");
	case json_type_boolean:
		return sjson_raw(sb, json_object_get_boolean(o) ? "true" : "false");
	case json_type_int:
	case json_type_double:
		return write_num(sb, o);
	case json_type_string:
		return sjson_write_str(sb, json_object_get_string(o), (size_t)json_object_get_string_len(o));
	case json_type_object:
		if ((r = secbuf_putc(sb, '{')))
			return r;
		{
			json_object_object_foreach(o, k, v) {
				if ((!first && (r = secbuf_putc(sb, ','))) ||
				    (r = sjson_write_str(sb, k, strlen(k))) || (r = secbuf_putc(sb, ':')) ||
				    (r = v ? sjson_write(sb, v) : sjson_raw(sb, "null")))
					return r;
				first = 0;
			}
		}
		return secbuf_putc(sb, '}');
	case json_type_array:
		if ((r = secbuf_putc(sb, '[')))
			return r;
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			struct json_object *v = json_object_array_get_idx(o, i);

			if ((i && (r = secbuf_putc(sb, ','))) ||
			    (r = v ? sjson_write(sb, v) : sjson_raw(sb, "null")))
				return r;
		}
		return secbuf_putc(sb, ']');
	}
	return -EINVAL;
}

int sjson_value(struct json_object *o, struct secbuf **out)
{
	struct secbuf *sb;
	int r;

	*out = NULL;
	if (o && json_object_is_type(o, json_type_string)) {
		sb = secbuf_dup(json_object_get_string(o), (size_t)json_object_get_string_len(o));
		if (!sb)
			return -ENOMEM;
		*out = sb;
		return 0;
	}
	sb = secbuf_new(64);
	if (!sb)
		return -ENOMEM;
	r = o ? sjson_write(sb, o) : sjson_raw(sb, "null");
	if (r) {
		secbuf_free(sb);
		return r;
	}
	*out = sb;
	return 0;
}

struct json_object *sjson_obj(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *sjson_str(struct json_object *o, const char *key)
{
	struct json_object *v = sjson_obj(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

long long sjson_int(struct json_object *o, const char *key, long long def)
{
	struct json_object *v = sjson_obj(o, key);
	char *end;
	long long n;

	if (!v)
		return def;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		return (long long)json_object_get_int64(v);
	if (json_object_is_type(v, json_type_string)) {
		errno = 0;
		n = strtoll(json_object_get_string(v), &end, 10);
		if (!errno && end != json_object_get_string(v) && !*end)
			return n;
	}
	return def;
}

int sjson_bool(struct json_object *o, const char *key, int def)
{
	struct json_object *v = sjson_obj(o, key);

	if (!v || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}
