#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "lib/why.h"

/*
 * The JSON store (and sops' "binary" store, a JSON object with one "data"
 * key).  json-c parses the file; what it holds is the file's own text,
 * ciphertext and clear values, never a decrypted value.  The tree we keep
 * is our own, so json-c's objects are dropped right after parsing.
 */

static size_t line_of(const char *text, size_t off)
{
	size_t i, line = 1;

	for (i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

static struct sops_node *from_json(struct json_object *o, int depth, int *err)
{
	struct sops_node *n = NULL;
	const char *s;
	size_t i, len;

	if (depth > SOPS_MAX_DEPTH) {
		*err = -E2BIG;
		return NULL;
	}
	switch (json_object_get_type(o)) {
	case json_type_object: {
		struct json_object_iterator it = json_object_iter_begin(o), end = json_object_iter_end(o);

		if (!(n = sops_node_new(SN_MAP)))
			break;
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);
			struct sops_node *v = from_json(json_object_iter_peek_value(&it), depth + 1, err);
			char *kd = strdup(k);

			if (!v || !kd || sops_node_push(n, kd, strlen(k), v)) {
				if (!v || !kd) {
					free(kd);
					sops_node_free(v);
				}
				sops_node_free(n);
				return NULL;
			}
		}
		return n;
	}
	case json_type_array:
		if (!(n = sops_node_new(SN_SEQ)))
			break;
		len = json_object_array_length(o);
		for (i = 0; i < len; i++) {
			struct sops_node *v = from_json(json_object_array_get_idx(o, i), depth + 1, err);

			if (!v || sops_node_push(n, NULL, 0, v)) {
				sops_node_free(n);
				return NULL;
			}
		}
		return n;
	case json_type_string:
		n = sops_scalar_new(json_object_get_string(o), (size_t)json_object_get_string_len(o), SV_STR);
		if (n)
			n->quoted = 1;
		return n ? n : (*err = -ENOMEM, NULL);
	case json_type_null:
		return sops_scalar_new("null", 4, SV_NULL);
	case json_type_boolean:
		return json_object_get_boolean(o) ? sops_scalar_new("true", 4, SV_BOOL)
						  : sops_scalar_new("false", 5, SV_BOOL);
	case json_type_int:
	case json_type_double:
		/* json-c keeps a parsed number's original spelling. */
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		return sops_scalar_new(s, strlen(s),
				       json_object_get_type(o) == json_type_int ? SV_INT : SV_FLOAT);
	}
	if (!n)
		*err = -ENOMEM;
	return n;
}

static int json_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why)
{
	struct json_tokener *tok = json_tokener_new_ex(SOPS_MAX_DEPTH);
	struct json_object *o = NULL;
	struct sops_node *root = NULL;
	size_t end, i;
	int r = 0;

	if (!tok)
		return -ENOMEM;
	if (len > INT32_MAX) {
		why_set(why, "file too large");
		r = -EINVAL;
		goto out;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) != json_tokener_success || !o) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		why_set(why, "line %zu: invalid JSON: %s", line_of(text, end),
			e == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc(e));
		r = -EINVAL;
		goto out;
	}
	for (i = end; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			why_set(why, "line %zu: data after the JSON document", line_of(text, i));
			r = -EINVAL;
			goto out;
		}
	if (!json_object_is_type(o, json_type_object)) {
		why_set(why, "the JSON document is not an object");
		r = -EINVAL;
		goto out;
	}
	if (!(root = from_json(o, 0, &r))) {
		if (r == -E2BIG)
			why_set(why, "the document is nested more than %d levels deep", SOPS_MAX_DEPTH);
		r = r ? (r == -E2BIG ? -EINVAL : r) : -ENOMEM;
		goto out;
	}
	if (!(doc->branches = calloc(1, sizeof(*doc->branches)))) {
		sops_node_free(root);
		r = -ENOMEM;
		goto out;
	}
	doc->branches[0] = root;
	doc->nbranches = 1;
	r = sops_doc_take_meta(doc, why);
 out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

static void put_json_string(struct obuf *b, const char *s, size_t n)
{
	obuf_putc(b, '"');
	obuf_put_json(b, s, n);
	obuf_putc(b, '"');
}

static void indent(struct obuf *b, int depth)
{
	int i;

	for (i = 0; i < depth; i++)
		obuf_putc(b, '\t');
}

static void emit(struct obuf *b, const struct sops_node *n, int depth)
{
	size_t i, shown = 0, total = 0;

	switch (n->kind) {
	case SN_SCALAR:
		if (n->type == SV_STR || n->type == SV_TIME || n->type == SV_BYTES || n->enc)
			put_json_string(b, n->text, n->len);
		else
			obuf_put(b, n->text, n->len);
		return;
	case SN_COMMENT:
		return;
	case SN_MAP:
	case SN_SEQ:
		for (i = 0; i < n->n; i++)
			total += n->items[i].val && n->items[i].val->kind != SN_COMMENT;
		if (!total) {
			obuf_puts(b, n->kind == SN_MAP ? "{}" : "[]");
			return;
		}
		obuf_puts(b, n->kind == SN_MAP ? "{\n" : "[\n");
		for (i = 0; i < n->n; i++) {
			const struct sops_node *v = n->items[i].val;

			if (!v || v->kind == SN_COMMENT)
				continue;
			indent(b, depth + 1);
			if (n->kind == SN_MAP) {
				put_json_string(b, n->items[i].key, n->items[i].klen);
				obuf_puts(b, ": ");
			}
			emit(b, v, depth + 1);
			obuf_puts(b, ++shown < total ? ",\n" : "\n");
		}
		indent(b, depth);
		obuf_putc(b, n->kind == SN_MAP ? '}' : ']');
		return;
	}
}

static int json_emit(const struct sops_doc *doc, struct obuf *out)
{
	const struct sops_node *root = doc->branches[0];
	size_t i;

	/* Without metadata (a decrypted document), the root alone. */
	if (!doc->meta) {
		emit(out, root, 0);
		obuf_putc(out, '\n');
		return out->err;
	}
	obuf_puts(out, "{\n");
	for (i = 0; i < root->n; i++) {
		if (!root->items[i].val || root->items[i].val->kind == SN_COMMENT)
			continue;
		obuf_putc(out, '\t');
		put_json_string(out, root->items[i].key, root->items[i].klen);
		obuf_puts(out, ": ");
		emit(out, root->items[i].val, 1);
		obuf_puts(out, ",\n");
	}
	obuf_puts(out, "\t\"sops\": ");
	emit(out, doc->meta, 1);
	obuf_puts(out, "\n}\n");
	return out->err;
}

const struct sops_store_ops sops_store_json = {
	.name = "json",
	.parse = json_parse,
	.emit = json_emit,
};
