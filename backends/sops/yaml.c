#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/why.h"

/*
 * The YAML store.  DESIGN.md keeps libyaml inside lib/config for
 * harombe.yaml; a SOPS file is not configuration but a data format of this
 * backend, with rules of its own (multi-document files, comments that are
 * encrypted pseudo-items, yaml.v3 scalar typing, sops' output layout), so
 * it is parsed here, with libyaml's event API, and never through
 * lib/config.
 *
 * libyaml drops comments, so they are found in the raw text: a '#' at the
 * start of a line or after a blank, outside every scalar libyaml reported
 * (keys, values, quoted and block scalars).  Each comment becomes a
 * comment item of the innermost block collection that spans it and whose
 * items are not indented deeper than the comment, before the first item
 * that follows it: the places sops' own files put them.
 *
 * Positions are (line, column) in characters, as libyaml counts them.
 */

#define POS(l, c) (((uint64_t)(l) << 24) | (uint64_t)(c))

struct span {
	uint64_t a, b;
};

struct coll {
	struct sops_node *n;
	uint64_t start, end;
	size_t col;
	int flow;
	size_t doc;
};

struct anchor {
	char *name;
	struct sops_node *node;
};

struct yp {
	yaml_parser_t p;
	struct span *spans;
	size_t nspans, capspans;
	struct coll *colls;
	size_t ncolls, capcolls;
	struct anchor *anchors;
	size_t nanchors;
	uint64_t *docstart;
	size_t ndocs;
	struct why *why;
};

static int yfail(struct yp *y, const yaml_mark_t *m, const char *what)
{
	return why_fail(y->why, -EINVAL, "line %zu: %s", m->line + 1, what);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;

	if (n < *cap)
		return 0;
	np = realloc(*p, (*cap = *cap ? *cap * 2 : 16) * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	return 0;
}

static int add_span(struct yp *y, const yaml_event_t *e)
{
	if (grow((void **)&y->spans, &y->capspans, y->nspans, sizeof(*y->spans)))
		return -ENOMEM;
	y->spans[y->nspans].a = POS(e->start_mark.line, e->start_mark.column);
	y->spans[y->nspans].b = POS(e->end_mark.line, e->end_mark.column);
	y->nspans++;
	return 0;
}

static int next(struct yp *y, yaml_event_t *e)
{
	if (!yaml_parser_parse(&y->p, e))
		return why_fail(y->why, -EINVAL, "line %zu: invalid YAML: %s", y->p.problem_mark.line + 1,
				y->p.problem ? y->p.problem : "syntax error");
	return 0;
}

static enum sops_type tagged(const char *tag, const char *v, size_t n)
{
	static const struct {
		const char *tag;
		enum sops_type t;
	} tags[] = {
		{ "tag:yaml.org,2002:str", SV_STR }, { "tag:yaml.org,2002:int", SV_INT },
		{ "tag:yaml.org,2002:float", SV_FLOAT }, { "tag:yaml.org,2002:bool", SV_BOOL },
		{ "tag:yaml.org,2002:null", SV_NULL },
	};
	size_t i;

	if (!tag || !strcmp(tag, "!"))
		return sops_yaml_resolve(v, n);
	for (i = 0; i < ARRAY_SIZE(tags); i++)
		if (!strcmp(tag, tags[i].tag))
			return tags[i].t;
	return SV_STR;
}

static int remember_anchor(struct yp *y, const yaml_char_t *name, const struct sops_node *n)
{
	struct anchor *na;
	struct sops_node *c;

	if (!name)
		return 0;
	if (!(c = sops_node_copy(n)))
		return -ENOMEM;
	na = realloc(y->anchors, (y->nanchors + 1) * sizeof(*na));
	if (!na || !(na[y->nanchors].name = strdup((const char *)name))) {
		if (na)
			y->anchors = na;
		sops_node_free(c);
		return -ENOMEM;
	}
	y->anchors = na;
	na[y->nanchors++].node = c;
	return 0;
}

static int add_coll(struct yp *y, struct sops_node *n, uint64_t start, uint64_t end, size_t col, int flow)
{
	if (grow((void **)&y->colls, &y->capcolls, y->ncolls, sizeof(*y->colls)))
		return -ENOMEM;
	y->colls[y->ncolls].n = n;
	y->colls[y->ncolls].start = start;
	y->colls[y->ncolls].end = end;
	y->colls[y->ncolls].col = col;
	y->colls[y->ncolls].flow = flow;
	y->colls[y->ncolls].doc = y->ndocs - 1;
	y->ncolls++;
	return 0;
}

static int parse_node(struct yp *y, yaml_event_t *e, int depth, struct sops_node **out);

static int parse_collection(struct yp *y, yaml_event_t *start, int depth, struct sops_node **out)
{
	int is_map = start->type == YAML_MAPPING_START_EVENT;
	int flow = is_map ? start->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
			  : start->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	struct sops_node *n = sops_node_new(is_map ? SN_MAP : SN_SEQ);
	yaml_char_t *anchor = is_map ? start->data.mapping_start.anchor : start->data.sequence_start.anchor;
	uint64_t spos = POS(start->start_mark.line, start->start_mark.column);
	size_t col = start->start_mark.column, idx;
	yaml_event_t e;
	int r = 0;

	if (!n)
		return -ENOMEM;
	n->line = (int)start->start_mark.line + 1;
	n->flow = flow;
	if (depth >= SOPS_MAX_DEPTH) {
		sops_node_free(n);
		return yfail(y, &start->start_mark, "nested too deeply");
	}
	idx = y->ncolls;
	if ((r = add_coll(y, n, spos, spos, col, flow))) {
		sops_node_free(n);
		return r;
	}
	for (;;) {
		struct sops_node *k = NULL, *v = NULL;
		char *key = NULL;
		size_t klen = 0;
		uint64_t ipos;

		if ((r = next(y, &e)))
			break;
		if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
			y->colls[idx].end = POS(e.start_mark.line, e.start_mark.column);
			yaml_event_delete(&e);
			break;
		}
		ipos = POS(e.start_mark.line, e.start_mark.column);
		if (n->n == 0 && !flow)
			y->colls[idx].col = e.start_mark.column;
		if (is_map) {
			if (e.type != YAML_SCALAR_EVENT && e.type != YAML_ALIAS_EVENT) {
				r = yfail(y, &e.start_mark, "only scalar mapping keys are supported");
				yaml_event_delete(&e);
				break;
			}
			r = parse_node(y, &e, depth + 1, &k);
			yaml_event_delete(&e);
			if (r)
				break;
			if (k->kind != SN_SCALAR) {
				sops_node_free(k);
				r = yfail(y, &e.start_mark, "only scalar mapping keys are supported");
				break;
			}
			key = k->text;
			klen = k->len;
			k->text = NULL;
			sops_node_free(k);
			if (sops_map_get(n, key) || memchr(key, 0, klen)) {
				why_set(y->why, "line %d: mapping key repeated",
					(int)(ipos >> 24) + 1);
				free(key);
				r = -EINVAL;
				break;
			}
			if ((r = next(y, &e))) {
				free(key);
				break;
			}
		}
		r = parse_node(y, &e, depth + 1, &v);
		yaml_event_delete(&e);
		if (r) {
			free(key);
			break;
		}
		if ((r = sops_node_push(n, key, klen, v)))
			break;
		n->items[n->n - 1].pos = ipos;
	}
	if (!r)
		r = remember_anchor(y, anchor, n);
	if (r) {
		/* The collection is freed with its parent; forget it here. */
		y->colls[idx].n = NULL;
		sops_node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

static int parse_node(struct yp *y, yaml_event_t *e, int depth, struct sops_node **out)
{
	struct sops_node *n;
	size_t i;

	*out = NULL;
	switch (e->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)e->data.scalar.value;
		size_t len = e->data.scalar.length;
		int plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (add_span(y, e))
			return -ENOMEM;
		if (!(n = sops_scalar_new(v, len, plain ? tagged((const char *)e->data.scalar.tag, v, len)
						      : SV_STR)))
			return -ENOMEM;
		n->quoted = !plain;
		n->line = (int)e->start_mark.line + 1;
		if (remember_anchor(y, e->data.scalar.anchor, n)) {
			sops_node_free(n);
			return -ENOMEM;
		}
		*out = n;
		return 0;
	}
	case YAML_ALIAS_EVENT:
		for (i = y->nanchors; i-- > 0;)
			if (!strcmp(y->anchors[i].name, (const char *)e->data.alias.anchor)) {
				if (!(*out = sops_node_copy(y->anchors[i].node)))
					return -ENOMEM;
				return 0;
			}
		return yfail(y, &e->start_mark, "alias to an unknown anchor");
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		return parse_collection(y, e, depth, out);
	default:
		return yfail(y, &e->start_mark, "unexpected YAML event");
	}
}

/* ---- comments ---- */

struct ycomment {
	uint64_t pos;
	size_t col;
	const char *text;
	size_t len;
};

static int insert_comment(struct sops_node *c, const struct ycomment *cm)
{
	struct sops_node *node = sops_scalar_new(cm->text, cm->len, SV_COMMENT);
	size_t at;
	int r;

	if (!node)
		return -ENOMEM;
	node->kind = SN_COMMENT;
	for (at = 0; at < c->n && c->items[at].pos <= cm->pos; at++)
		;
	if ((r = sops_node_push(c, NULL, 0, node)))
		return r;
	memmove(&c->items[at + 1], &c->items[at], (c->n - 1 - at) * sizeof(c->items[0]));
	c->items[at].key = NULL;
	c->items[at].klen = 0;
	c->items[at].val = node;
	c->items[at].pos = cm->pos;
	return 0;
}

static int place_comment(struct yp *y, struct sops_doc *doc, const struct ycomment *cm)
{
	size_t d = 0, i, best = SIZE_MAX;

	for (i = 0; i < y->ndocs; i++)
		if (y->docstart[i] <= cm->pos)
			d = i;
	if (d >= doc->nbranches)
		return 0;
	for (i = 0; i < y->ncolls; i++) {
		const struct coll *c = &y->colls[i];

		if (!c->n || c->doc != d || c->start > cm->pos || cm->pos >= c->end)
			continue;
		if (!c->flow && cm->col < c->col)
			continue;
		best = i;
	}
	/* A comment just above the first item of a block collection, at the
	 * items' indentation, is that collection's (yaml.v3: a head comment of
	 * its first key; sops encrypts it with the collection's path). */
	{
		/* the first scalar after the comment (spans are in document order) */
		size_t lo = 0, hi = y->nspans;
		uint64_t next = UINT64_MAX;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (y->spans[mid].a > cm->pos)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (lo < y->nspans)
			next = y->spans[lo].a;
		for (i = 0; i < y->ncolls; i++) {
			const struct coll *c = &y->colls[i];

			if (!c->n || c->doc != d || c->flow || c->start <= cm->pos || cm->col != c->col ||
			    next < c->start || (best != SIZE_MAX && c->start >= y->colls[best].end))
				continue;
			best = i;
			break;
		}
	}
	return insert_comment(best == SIZE_MAX ? doc->branches[d] : y->colls[best].n, cm);
}

static int find_comments(struct yp *y, struct sops_doc *doc, const char *text, size_t len)
{
	size_t i = 0, line = 0, col = 0, si = 0;
	int r = 0;

	while (i < len && !r) {
		uint64_t pos = POS(line, col);
		unsigned char ch = (unsigned char)text[i];

		while (si < y->nspans && y->spans[si].b <= pos)
			si++;
		if (si < y->nspans && y->spans[si].a <= pos) {
			/* inside a scalar */
		} else if (ch == '#' && (col == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
			struct ycomment cm = { pos, col, text + i + 1, 0 };
			size_t end = i + 1;

			/* libyaml breaks lines at LF, CR and CRLF */
			while (end < len && text[end] != '\n' && text[end] != '\r')
				end++;
			cm.len = end - i - 1;
			r = place_comment(y, doc, &cm);
			i = end;
			continue;
		}
		if (ch == '\n' || (ch == '\r' && (i + 1 == len || text[i + 1] != '\n'))) {
			line++;
			col = 0;
		} else if ((ch & 0xc0) != 0x80) {
			col++;
		}
		i++;
	}
	return r;
}

static int yaml_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why)
{
	struct yp y;
	yaml_event_t e;
	size_t i;
	int r = 0, done = 0;

	memset(&y, 0, sizeof(y));
	y.why = why;
	if (!yaml_parser_initialize(&y.p))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	while (!done && !r) {
		struct sops_node *root = NULL, **nb;
		uint64_t *nd;

		if ((r = next(&y, &e)))
			break;
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (!(nd = realloc(y.docstart, (y.ndocs + 1) * sizeof(*nd)))) {
				r = -ENOMEM;
				break;
			}
			y.docstart = nd;
			y.docstart[y.ndocs] = y.ndocs ? POS(e.start_mark.line, e.start_mark.column) : 0;
			y.ndocs++;
			yaml_event_delete(&e);
			if ((r = next(&y, &e)))
				break;
			r = parse_node(&y, &e, 0, &root);
			if (!r && root->kind == SN_SCALAR && root->type == SV_NULL) {
				sops_node_free(root);
				if (!(root = sops_node_new(SN_MAP)))
					r = -ENOMEM;
			} else if (!r && root->kind != SN_MAP) {
				r = yfail(&y, &e.start_mark, "a YAML document must be a mapping for sops");
				sops_node_free(root);
			}
			if (!r && !(nb = realloc(doc->branches, (doc->nbranches + 1) * sizeof(*nb)))) {
				sops_node_free(root);
				r = -ENOMEM;
			} else if (!r) {
				doc->branches = nb;
				doc->branches[doc->nbranches++] = root;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	if (!r && !doc->nbranches) {
		why_set(why, "empty YAML file");
		r = -EINVAL;
	}
	if (!r)
		r = find_comments(&y, doc, text, len);
	if (!r)
		r = sops_doc_take_meta(doc, why);
	yaml_parser_delete(&y.p);
	for (i = 0; i < y.nanchors; i++) {
		free(y.anchors[i].name);
		sops_node_free(y.anchors[i].node);
	}
	free(y.anchors);
	free(y.spans);
	free(y.colls);
	free(y.docstart);
	return r;
}

/* ---- emitting ---- */

#define INDENT 4

static int plain_ok(const char *s, size_t n)
{
	static const char *const bool11[] = { "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO",
					      "on", "On", "ON", "off", "Off", "OFF" };
	size_t i;

	if (!n || strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) || (s[0] >= '0' && s[0] <= '9') ||
	    s[n - 1] == ' ' || s[n - 1] == ':' || s[n - 1] == '\t')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == ':' && i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
			return 0;
		if (c == '#' && i && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			return 0;
	}
	for (i = 0; i < ARRAY_SIZE(bool11); i++)
		if (strlen(bool11[i]) == n && !memcmp(bool11[i], s, n))
			return 0;
	return sops_yaml_resolve(s, n) == SV_STR;
}

static void put_quoted(struct obuf *b, const char *s, size_t n)
{
	size_t i;

	obuf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			obuf_puts(b, "\\\"");
			break;
		case '\\':
			obuf_puts(b, "\\\\");
			break;
		case '\n':
			obuf_puts(b, "\\n");
			break;
		case '\t':
			obuf_puts(b, "\\t");
			break;
		case '\r':
			obuf_puts(b, "\\r");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				obuf_printf(b, "\\x%02x", c);
			else
				obuf_putc(b, (char)c);
		}
	}
	obuf_putc(b, '"');
}

static void spaces(struct obuf *b, size_t n)
{
	while (n--)
		obuf_putc(b, ' ');
}

/* A literal block (| or |-) keeps multi-line text readable, as sops
 * writes the armored data keys. */
static int literal_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || !memchr(s, '\n', n) || s[0] == ' ' || s[0] == '\n' ||
	    (n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\n'))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return 0;
		if (c == '\n' && i + 1 < n && s[i + 1] == ' ')
			return 0;	/* more-indented lines would need an indentation indicator */
		if (c == ' ' && (i + 1 == n || s[i + 1] == '\n'))
			return 0;
	}
	return 1;
}

/* A scalar after "key:" or "-"; ind is the indentation of its parent line. */
static void put_scalar(struct obuf *b, const struct sops_node *v, size_t ind)
{
	const char *s = v->text;
	size_t n = v->len, i, start;

	if (v->type != SV_STR && !v->enc) {
		/* int, float, bool, null as written (plain in the source) */
		obuf_put(b, s, n);
		return;
	}
	if (plain_ok(s, n)) {
		obuf_put(b, s, n);
		return;
	}
	if (!literal_ok(s, n)) {
		put_quoted(b, s, n);
		return;
	}
	obuf_puts(b, s[n - 1] == '\n' ? "|" : "|-");
	for (start = 0, i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n')
			continue;
		if (i == n && start == n)
			break;
		obuf_putc(b, '\n');
		if (i > start) {
			spaces(b, ind + INDENT);
			obuf_put(b, s + start, i - start);
		}
		start = i + 1;
	}
}

static void put_key(struct obuf *b, const char *k, size_t n)
{
	if (plain_ok(k, n))
		obuf_put(b, k, n);
	else
		put_quoted(b, k, n);
}

static void emit_node(struct obuf *b, const struct sops_node *n, size_t ind);

static void emit_comment(struct obuf *b, const struct sops_node *c, size_t ind)
{
	spaces(b, ind);
	obuf_putc(b, '#');
	obuf_put(b, c->text, c->len);
	obuf_putc(b, '\n');
}

static int is_empty_coll(const struct sops_node *v)
{
	return (v->kind == SN_MAP || v->kind == SN_SEQ) && v->n == 0;
}

/* The value of a map key or a list item, after "key:" or "-". */
static void emit_value(struct obuf *b, const struct sops_node *v, size_t ind, int in_seq)
{
	if (!v) {
		obuf_puts(b, " null\n");
		return;
	}
	if (v->kind == SN_SCALAR) {
		obuf_putc(b, ' ');
		put_scalar(b, v, ind);
		obuf_putc(b, '\n');
		return;
	}
	if (is_empty_coll(v)) {
		obuf_puts(b, v->kind == SN_MAP ? " {}\n" : " []\n");
		return;
	}
	if (in_seq && v->kind == SN_MAP && v->items[0].val && v->items[0].val->kind != SN_COMMENT) {
		/* "- key: value" with the other keys aligned under the first. */
		size_t i;

		obuf_putc(b, ' ');
		for (i = 0; i < v->n; i++) {
			if (!v->items[i].key) {
				emit_comment(b, v->items[i].val, ind + 2);
				continue;
			}
			if (i)
				spaces(b, ind + 2);
			put_key(b, v->items[i].key, v->items[i].klen);
			obuf_putc(b, ':');
			emit_value(b, v->items[i].val, ind + 2, 0);
		}
		return;
	}
	obuf_putc(b, '\n');
	emit_node(b, v, in_seq ? ind + 2 : ind + INDENT);
}

static void emit_node(struct obuf *b, const struct sops_node *n, size_t ind)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		const struct sops_node *v = n->items[i].val;

		if (v && v->kind == SN_COMMENT) {
			emit_comment(b, v, ind);
			continue;
		}
		spaces(b, ind);
		if (n->kind == SN_MAP) {
			put_key(b, n->items[i].key, n->items[i].klen);
			obuf_putc(b, ':');
			emit_value(b, v, ind, 0);
		} else {
			obuf_putc(b, '-');
			emit_value(b, v, ind, 1);
		}
	}
}

static int yaml_emit(const struct sops_doc *doc, struct obuf *out)
{
	size_t d;

	for (d = 0; d < doc->nbranches; d++) {
		if (d)
			obuf_puts(out, "---\n");
		emit_node(out, doc->branches[d], 0);
		if (!doc->meta)
			continue;	/* a decrypted document */
		obuf_puts(out, "sops:\n");
		emit_node(out, doc->meta, INDENT);
	}
	return out->err;
}

const struct sops_store_ops sops_store_yaml = {
	.name = "yaml",
	.parse = yaml_parse,
	.emit = yaml_emit,
};
