#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/why.h"

/*
 * sops' line-based stores: dotenv (KEY=VALUE, '#' comments, "\n" for a
 * newline, metadata flattened as sops_*) and INI (sections of key = value,
 * ';' or '#' comments, metadata flattened in a [sops] section).  Messages
 * name line numbers, never a line's content.
 */

static char *unescape_nl(const char *s, size_t n, size_t *outlen)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
			o[k++] = '\n';
			i++;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = 0;
	*outlen = k;
	return o;
}

static void put_escaped_nl(struct obuf *b, const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (s[i] == '\n') {
			obuf_put(b, s + start, i - start);
			obuf_puts(b, "\\n");
			start = i + 1;
		}
	obuf_put(b, s + start, n - start);
}

static int push_scalar(struct sops_node *map, const char *k, size_t kl, char *v, size_t vl, int line)
{
	struct sops_node *n = sops_node_new(SN_SCALAR);
	char *key = k ? strndup(k, kl) : NULL;

	if (!n || (k && !key)) {
		free(n);
		free(key);
		free(v);
		return -ENOMEM;
	}
	n->text = v;
	n->len = vl;
	n->type = SV_STR;
	n->quoted = 1;
	n->line = line;
	return sops_node_push(map, key, kl, n);
}

static int push_comment(struct sops_node *map, const char *t, size_t tl, int line)
{
	struct sops_node *c = sops_scalar_new(t, tl, SV_COMMENT);

	if (!c)
		return -ENOMEM;
	c->kind = SN_COMMENT;
	c->line = line;
	return sops_node_push(map, NULL, 0, c);
}

static int set_root(struct sops_doc *doc, struct sops_node *root, struct sops_node *flatmeta, struct why *why)
{
	int r;

	if (!(doc->branches = calloc(1, sizeof(*doc->branches)))) {
		sops_node_free(root);
		sops_node_free(flatmeta);
		return -ENOMEM;
	}
	doc->branches[0] = root;
	doc->nbranches = 1;
	r = sops_meta_unflatten(flatmeta, &doc->meta, why);
	sops_node_free(flatmeta);
	if (!r && doc->plaintext && doc->meta->n) {
		why_set(why, "the file has sops metadata: it is encrypted already");
		r = -EINVAL;
	} else if (!r && doc->plaintext) {
		sops_node_free(doc->meta);	/* a plain document has none */
		doc->meta = NULL;
	} else if (!r && !doc->plaintext && !doc->meta->n) {
		why_set(why, "no sops metadata: the file is not encrypted with sops");
		r = -EINVAL;
	}
	return r;
}

static int dotenv_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why)
{
	struct sops_node *root = sops_node_new(SN_MAP), *meta = sops_node_new(SN_MAP);
	size_t pos = 0;
	int line = 0, r = 0;

	if (!root || !meta) {
		sops_node_free(root);
		sops_node_free(meta);
		return -ENOMEM;
	}
	while (pos < len && !r) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos), *eq;
		size_t ll = nl ? (size_t)(nl - l) : len - pos, vl;
		char *v;

		pos += ll + 1;
		line++;
		if (ll == 0)
			continue;
		if (l[0] == '#') {
			r = push_comment(root, l + 1, ll - 1, line);
			continue;
		}
		if (!(eq = memchr(l, '=', ll)) || eq == l) {
			why_set(why, "line %d: not KEY=VALUE", line);
			r = -EINVAL;
			break;
		}
		if (!(v = unescape_nl(eq + 1, ll - (size_t)(eq + 1 - l), &vl))) {
			r = -ENOMEM;
			break;
		}
		if ((size_t)(eq - l) > 5 && !memcmp(l, "sops_", 5))
			r = push_scalar(meta, l + 5, (size_t)(eq - l) - 5, v, vl, line);
		else
			r = push_scalar(root, l, (size_t)(eq - l), v, vl, line);
	}
	if (r) {
		sops_node_free(root);
		sops_node_free(meta);
		return r;
	}
	return set_root(doc, root, meta, why);
}

static int dotenv_emit(const struct sops_doc *doc, struct obuf *out)
{
	const struct sops_node *root = doc->branches[0];
	struct sops_node *flat = sops_node_new(SN_MAP);
	size_t i;
	int r = 0;

	if (!flat)
		return -ENOMEM;
	for (i = 0; i < root->n; i++) {
		const struct sops_node *v = root->items[i].val;

		if (!v)
			continue;
		if (v->kind == SN_COMMENT) {
			obuf_putc(out, '#');
			obuf_put(out, v->text, v->len);
			obuf_putc(out, '\n');
			continue;
		}
		if (v->kind != SN_SCALAR) {
			sops_node_free(flat);
			return -EINVAL;
		}
		obuf_put(out, root->items[i].key, root->items[i].klen);
		obuf_putc(out, '=');
		put_escaped_nl(out, v->text, v->len);
		obuf_putc(out, '\n');
	}
	if (doc->meta && (r = sops_meta_flatten(doc->meta, flat, "sops_")) == 0)
		for (i = 0; i < flat->n; i++) {
			obuf_put(out, flat->items[i].key, flat->items[i].klen);
			obuf_putc(out, '=');
			put_escaped_nl(out, flat->items[i].val->text, flat->items[i].val->len);
			obuf_putc(out, '\n');
		}
	sops_node_free(flat);
	return r ? r : out->err;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

static int ini_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why)
{
	struct sops_node *root = sops_node_new(SN_MAP), *meta = sops_node_new(SN_MAP);
	struct sops_node *sec = NULL, *pending = sops_node_new(SN_MAP);
	size_t pos = 0, i;
	int line = 0, r = 0, in_meta = 0;

	if (!root || !meta || !pending) {
		r = -ENOMEM;
		goto out;
	}
	while (pos < len && !r) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos), *d;
		size_t ll = nl ? (size_t)(nl - l) : len - pos, kl, vl;

		pos += ll + 1;
		line++;
		trim(&l, &ll);
		if (ll == 0)
			continue;
		if (l[0] == ';' || l[0] == '#') {
			/* Comments attach to what follows them: held until then. */
			r = push_comment(pending, l + 1, ll - 1, line);
			continue;
		}
		if (l[0] == '[') {
			const char *name = l + 1;
			size_t nlen;

			if (l[ll - 1] != ']' || ll < 3) {
				why_set(why, "line %d: malformed section header", line);
				r = -EINVAL;
				break;
			}
			nlen = ll - 2;
			trim(&name, &nlen);
			in_meta = nlen == 4 && !memcmp(name, "sops", 4);
			if (in_meta) {
				sec = meta;
			} else {
				char *k = strndup(name, nlen);

				if (sops_map_get(root, k ? k : "")) {
					why_set(why, "line %d: section repeated", line);
					free(k);
					r = -EINVAL;
					break;
				}
				if (!k || !(sec = sops_node_new(SN_MAP)) || sops_node_push(root, k, nlen, sec)) {
					r = -ENOMEM;
					break;
				}
				sec->line = line;
			}
			for (i = 0; i < pending->n && !r && !in_meta; i++) {
				r = sops_node_push(sec, NULL, 0, pending->items[i].val);
				pending->items[i].val = NULL;
			}
			for (i = 0; i < pending->n; i++)
				sops_node_free(pending->items[i].val);
			pending->n = 0;
			continue;
		}
		for (d = l; d < l + ll && *d != '=' && *d != ':'; d++)
			;
		if (d == l + ll || d == l) {
			why_set(why, "line %d: not 'key = value'", line);
			r = -EINVAL;
			break;
		}
		{
			const char *k = l, *v = d + 1;
			char *val;

			kl = (size_t)(d - l);
			vl = ll - kl - 1;
			trim(&k, &kl);
			trim(&v, &vl);
			if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') || (v[0] == '`' && v[vl - 1] == '`')))
				v++, vl -= 2;
			if (!sec) {
				if (!(sec = sops_node_new(SN_MAP)) ||
				    sops_node_push(root, strdup("DEFAULT"), 7, sec)) {
					r = -ENOMEM;
					break;
				}
			}
			for (i = 0; i < pending->n && !r && !in_meta; i++) {
				r = sops_node_push(sec, NULL, 0, pending->items[i].val);
				pending->items[i].val = NULL;
			}
			for (i = 0; i < pending->n; i++)
				sops_node_free(pending->items[i].val);
			pending->n = 0;
			if (in_meta)
				val = unescape_nl(v, vl, &vl);
			else
				val = strndup(v, vl);
			if (!val) {
				r = -ENOMEM;
				break;
			}
			r = push_scalar(sec, k, kl, val, vl, line);
		}
	}
	/* Trailing comments stay with the last section. */
	for (i = 0; i < pending->n && !r; i++) {
		struct sops_node *tgt = sec && sec != meta ? sec : root;

		r = sops_node_push(tgt, NULL, 0, pending->items[i].val);
		pending->items[i].val = NULL;
	}
 out:
	sops_node_free(pending);
	if (r) {
		sops_node_free(root);
		sops_node_free(meta);
		return r;
	}
	return set_root(doc, root, meta, why);
}

static void ini_comments_then(struct obuf *out, const struct sops_node *sec, size_t *i)
{
	while (*i < sec->n && sec->items[*i].val && sec->items[*i].val->kind == SN_COMMENT) {
		obuf_putc(out, ';');
		obuf_put(out, sec->items[*i].val->text, sec->items[*i].val->len);
		obuf_putc(out, '\n');
		(*i)++;
	}
}

static int ini_emit(const struct sops_doc *doc, struct obuf *out)
{
	const struct sops_node *root = doc->branches[0];
	struct sops_node *flat = sops_node_new(SN_MAP);
	size_t s, i;
	int r = 0;

	if (!flat)
		return -ENOMEM;
	for (s = 0; s < root->n; s++) {
		const struct sops_node *sec = root->items[s].val;

		if (!sec)
			continue;
		if (sec->kind == SN_COMMENT) {
			obuf_putc(out, ';');
			obuf_put(out, sec->text, sec->len);
			obuf_putc(out, '\n');
			continue;
		}
		if (sec->kind != SN_MAP) {
			sops_node_free(flat);
			return -EINVAL;
		}
		i = 0;
		ini_comments_then(out, sec, &i);
		obuf_putc(out, '[');
		obuf_put(out, root->items[s].key, root->items[s].klen);
		obuf_puts(out, "]\n");
		for (; i < sec->n; i++) {
			const struct sops_node *v = sec->items[i].val;

			if (!v)
				continue;
			if (v->kind == SN_COMMENT) {
				ini_comments_then(out, sec, &i);
				i--;
				continue;
			}
			if (v->kind != SN_SCALAR) {
				sops_node_free(flat);
				return -EINVAL;
			}
			obuf_put(out, sec->items[i].key, sec->items[i].klen);
			obuf_puts(out, " = ");
			obuf_put(out, v->text, v->len);
			obuf_putc(out, '\n');
		}
		obuf_putc(out, '\n');
	}
	if (doc->meta)
		obuf_puts(out, "[sops]\n");
	if (doc->meta && (r = sops_meta_flatten(doc->meta, flat, "")) == 0)
		for (i = 0; i < flat->n; i++) {
			obuf_put(out, flat->items[i].key, flat->items[i].klen);
			obuf_puts(out, " = ");
			put_escaped_nl(out, flat->items[i].val->text, flat->items[i].val->len);
			obuf_putc(out, '\n');
		}
	sops_node_free(flat);
	return r ? r : out->err;
}

const struct sops_store_ops sops_store_dotenv = {
	.name = "dotenv",
	.parse = dotenv_parse,
	.emit = dotenv_emit,
};

const struct sops_store_ops sops_store_ini = {
	.name = "ini",
	.parse = ini_parse,
	.emit = ini_emit,
};
