#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>

#include "lib/jsonw.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/* ---- obuf ---- */

void obuf_put(struct obuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->sec) {
		if (secbuf_append(b->sec, p, n))
			b->err = -ENOMEM;
		else
			b->len += n;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(np = realloc(b->p, cap))) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void obuf_put_json(struct obuf *b, const char *s, size_t n)
{
	/* In slices through the stack, wiped after: s may be a decrypted value. */
	unsigned char out[64 * 6];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < 64 ? n - i : 64;
		obuf_put(b, out, (size_t)(jsonw_escape(out, (const unsigned char *)s + i, k) - out));
	}
	sodium_memzero(out, sizeof(out));
}

void obuf_puts(struct obuf *b, const char *s)
{
	obuf_put(b, s, strlen(s));
}

void obuf_putc(struct obuf *b, char c)
{
	obuf_put(b, &c, 1);
}

void obuf_printf(struct obuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		obuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void obuf_release(struct obuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- nodes ---- */

struct sops_node *sops_node_new(enum sops_kind kind)
{
	struct sops_node *n = calloc(1, sizeof(*n));

	if (n)
		n->kind = kind;
	return n;
}

struct sops_node *sops_scalar_new(const char *text, size_t len, enum sops_type type)
{
	struct sops_node *n = sops_node_new(SN_SCALAR);

	if (!n)
		return NULL;
	if (!(n->text = malloc(len + 1))) {
		free(n);
		return NULL;
	}
	memcpy(n->text, text, len);
	n->text[len] = 0;
	n->len = len;
	n->type = type;
	return n;
}

void sops_node_free(struct sops_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		free(n->items[i].key);
		sops_node_free(n->items[i].val);
	}
	free(n->items);
	free(n->text);
	free(n->hidx);
	free(n);
}

int sops_node_push(struct sops_node *parent, char *key, size_t klen, struct sops_node *val)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct sops_item *ni = realloc(parent->items, cap * sizeof(*ni));

		if (!ni) {
			free(key);
			sops_node_free(val);
			return -ENOMEM;
		}
		parent->items = ni;
		parent->cap = cap;
	}
	parent->items[parent->n].key = key;
	parent->items[parent->n].klen = klen;
	parent->items[parent->n].val = val;
	parent->items[parent->n].pos = val ? val->start : 0;
	parent->n++;
	return 0;
}

struct sops_node *sops_node_copy(const struct sops_node *n)
{
	struct sops_node *c = sops_node_new(n->kind);
	size_t i;

	if (!c)
		return NULL;
	*c = *n;
	c->items = NULL;
	c->n = c->cap = 0;
	c->hidx = NULL;
	c->hcap = 0;
	c->text = NULL;
	c->enc = c->dirty = 0;
	if (n->text && !(c->text = malloc(n->len + 1))) {
		free(c);
		return NULL;
	}
	if (n->text) {
		memcpy(c->text, n->text, n->len);
		c->text[n->len] = 0;
	}
	for (i = 0; i < n->n; i++) {
		char *k = NULL;
		struct sops_node *v = n->items[i].val ? sops_node_copy(n->items[i].val) : NULL;

		if (n->items[i].key)
			k = strndup(n->items[i].key, n->items[i].klen);
		if ((n->items[i].key && !k) || (n->items[i].val && !v)) {
			free(k);
			sops_node_free(v);
			sops_node_free(c);
			return NULL;
		}
		if (sops_node_push(c, k, n->items[i].klen, v)) {
			sops_node_free(c);
			return NULL;
		}
	}
	return c;
}

struct sops_node *sops_map_get(const struct sops_node *map, const char *key)
{
	size_t i, kl = strlen(key);

	if (!map || map->kind != SN_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (map->items[i].key && map->items[i].klen == kl && !memcmp(map->items[i].key, key, kl))
			return map->items[i].val;
	return NULL;
}

#define INDEX_MIN 16

static uint32_t hash_key(const char *k, size_t kl)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < kl; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

struct sops_item *sops_map_find(const struct sops_node *map, const char *k, size_t kl)
{
	size_t i;

	if (!map || map->kind != SN_MAP)
		return NULL;
	if (map->hidx) {
		for (i = hash_key(k, kl) & (map->hcap - 1); map->hidx[i]; i = (i + 1) & (map->hcap - 1)) {
			struct sops_item *it = &map->items[map->hidx[i] - 1];

			if (it->klen == kl && !memcmp(it->key, k, kl))
				return it;
		}
		return NULL;
	}
	for (i = 0; i < map->n; i++)
		if (map->items[i].key && map->items[i].klen == kl && !memcmp(map->items[i].key, k, kl))
			return &map->items[i];
	return NULL;
}

int sops_index_build(struct sops_node *n, int depth)
{
	size_t i, cap = INDEX_MIN * 2;
	int r;

	if (!n || n->kind == SN_SCALAR || n->kind == SN_COMMENT || depth > SOPS_MAX_DEPTH)
		return 0;
	for (i = 0; i < n->n; i++)
		if ((r = sops_index_build(n->items[i].val, depth + 1)))
			return r;
	if (n->kind != SN_MAP || n->n < INDEX_MIN || n->n > UINT32_MAX / 4)
		return 0;
	while (cap < n->n * 2)
		cap *= 2;
	free(n->hidx);
	if (!(n->hidx = calloc(cap, sizeof(*n->hidx))))
		return -ENOMEM;
	n->hcap = cap;
	for (i = 0; i < n->n; i++) {
		size_t h;

		if (!n->items[i].key)
			continue;
		/* the first of two equal keys wins, as in a linear scan */
		for (h = hash_key(n->items[i].key, n->items[i].klen) & (cap - 1); n->hidx[h];
		     h = (h + 1) & (cap - 1))
			if (n->items[n->hidx[h] - 1].klen == n->items[i].klen &&
			    !memcmp(n->items[n->hidx[h] - 1].key, n->items[i].key, n->items[i].klen))
				break;
		if (!n->hidx[h])
			n->hidx[h] = (uint32_t)i + 1;
	}
	return 0;
}

/* ---- document ---- */

/* Each format's store; binary files are kept in the JSON store. */
static const struct sops_store_ops *const stores[] = {
	[SOPS_FMT_JSON] = &sops_store_json,
	[SOPS_FMT_YAML] = &sops_store_yaml,
	[SOPS_FMT_DOTENV] = &sops_store_dotenv,
	[SOPS_FMT_INI] = &sops_store_ini,
	[SOPS_FMT_BINARY] = &sops_store_json,
};

void sops_doc_init(struct sops_doc *doc, enum sops_format fmt)
{
	memset(doc, 0, sizeof(*doc));
	doc->fmt = fmt;
	doc->store = (size_t)fmt < ARRAY_SIZE(stores) ? stores[fmt] : &sops_store_json;
}

void sops_doc_release(struct sops_doc *doc)
{
	size_t i;

	for (i = 0; i < doc->nbranches; i++)
		sops_node_free(doc->branches[i]);
	free(doc->branches);
	sops_node_free(doc->meta);
	free(doc->m.age);
	if (doc->m.re)
		pcre2_code_free(doc->m.re);
	secmem_free(doc->data_key);
	secbuf_free(doc->plain);
	memset(doc, 0, sizeof(*doc));
}

int sops_doc_take_meta(struct sops_doc *doc, struct why *why)
{
	size_t b, i;

	for (b = 0; b < doc->nbranches; b++) {
		struct sops_node *br = doc->branches[b];

		for (i = 0; i < br->n; i++) {
			if (!br->items[i].key || strcmp(br->items[i].key, "sops") != 0)
				continue;
			if (doc->plaintext)
				return why_fail(why, -EINVAL, "the file has a 'sops' key: it is encrypted already");
			if (!doc->meta)
				doc->meta = br->items[i].val;
			else
				sops_node_free(br->items[i].val);
			free(br->items[i].key);
			memmove(&br->items[i], &br->items[i + 1], (br->n - i - 1) * sizeof(br->items[0]));
			br->n--;
			break;
		}
	}
	if (doc->plaintext)
		return 0;
	if (!doc->meta || doc->meta->kind != SN_MAP)
		return why_fail(why, -EINVAL, "no 'sops' metadata: the file is not encrypted with sops");
	return 0;
}

enum sops_format sops_format_for(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

	if (!dot || (slash && dot < slash))
		return SOPS_FMT_BINARY;
	if (!strcmp(dot, ".json"))
		return SOPS_FMT_JSON;
	if (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))
		return SOPS_FMT_YAML;
	if (!strcmp(dot, ".env"))
		return SOPS_FMT_DOTENV;
	if (!strcmp(dot, ".ini"))
		return SOPS_FMT_INI;
	return SOPS_FMT_BINARY;
}

const char *sops_format_name(enum sops_format fmt)
{
	static const char *const names[] = { "json", "yaml", "dotenv", "ini", "binary" };

	return names[fmt];
}

int sops_parse(struct sops_doc *doc, const char *text, size_t len, struct why *why)
{
	const char *nul = memchr(text, 0, len);
	int r;

	/* No store holds a NUL byte in its text (JSON escapes it). */
	if (nul)
		return why_fail(why, -EINVAL, "the file contains a NUL byte (offset %zu)", (size_t)(nul - text));

	r = doc->store->parse(doc, text, len, why);
	if (!r)
		r = sops_meta_parse(doc, why);
	return r;
}

int sops_emit(const struct sops_doc *doc, struct obuf *out)
{
	return doc->store->emit(doc, out);
}

/* ---- metadata ---- */

static const char *scalar_text(const struct sops_node *n)
{
	return n && n->kind == SN_SCALAR && n->type != SV_NULL ? n->text : NULL;
}

static int add_age_entries(struct sops_doc *doc, const struct sops_node *list, struct why *why)
{
	size_t i;

	if (!list || (list->kind == SN_SCALAR && list->type == SV_NULL))
		return 0;
	if (list->kind != SN_SEQ)
		return why_fail(why, -EINVAL, "metadata: 'age' is not a list");
	for (i = 0; i < list->n; i++) {
		const struct sops_node *e = list->items[i].val;
		const char *rec = scalar_text(sops_map_get(e, "recipient"));
		const struct sops_node *enc = sops_map_get(e, "enc");
		struct sops_age_entry *na;

		if (!e || e->kind == SN_COMMENT)
			continue;
		if (!rec || !scalar_text(enc))
			return why_fail(why, -EINVAL, "metadata: age entry %zu has no 'recipient' or 'enc'", i + 1);
		na = realloc(doc->m.age, (doc->m.nage + 1) * sizeof(*na));
		if (!na)
			return -ENOMEM;
		doc->m.age = na;
		na[doc->m.nage].recipient = rec;
		na[doc->m.nage].enc = enc->text;
		na[doc->m.nage].enc_len = enc->len;
		doc->m.nage++;
	}
	return 0;
}

static void count_others(struct sops_doc *doc, const struct sops_node *group)
{
	static const char *const kinds[] = { "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms" };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		const struct sops_node *l = sops_map_get(group, kinds[k]);
		size_t used = strlen(doc->m.other_kinds);

		if (!l || l->kind != SN_SEQ || !l->n)
			continue;
		doc->m.nother += l->n;
		if (!strstr(doc->m.other_kinds, kinds[k]))
			snprintf(doc->m.other_kinds + used, sizeof(doc->m.other_kinds) - used, "%s%s",
				 used ? ", " : "", kinds[k]);
	}
}

int sops_meta_parse(struct sops_doc *doc, struct why *why)
{
	static const char *const rules[] = {
		"unencrypted_suffix", "encrypted_suffix", "unencrypted_regex",
		"encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex",
	};
	const struct sops_node *meta = doc->meta, *groups = sops_map_get(meta, "key_groups");
	const char *moe;
	size_t i, nrules = 0;
	int r;

	doc->m.rule = RULE_UNENC_SUFFIX;
	doc->m.rule_arg = "_unencrypted";
	if (groups && groups->kind == SN_SEQ && groups->n) {
		doc->m.ngroups = groups->n;
		for (i = 0; i < groups->n; i++) {
			if ((r = add_age_entries(doc, sops_map_get(groups->items[i].val, "age"), why)))
				return r;
			count_others(doc, groups->items[i].val);
		}
	} else {
		doc->m.ngroups = 1;
		if ((r = add_age_entries(doc, sops_map_get(meta, "age"), why)))
			return r;
		count_others(doc, meta);
	}
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		const char *v = scalar_text(sops_map_get(meta, rules[i]));

		if (!v || !*v)
			continue;
		nrules++;
		doc->m.rule = (enum sops_rule)i;
		doc->m.rule_arg = v;
	}
	if (nrules > 1)
		return why_fail(why, -EINVAL, "metadata: more than one of the *_suffix / *_regex rules");
	if (doc->m.rule >= RULE_UNENC_REGEX) {
		int ec;
		PCRE2_SIZE eo;

		doc->m.re = pcre2_compile((PCRE2_SPTR)doc->m.rule_arg, PCRE2_ZERO_TERMINATED,
					  PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
		if (!doc->m.re)
			return why_fail(why, -EINVAL, "metadata: %s does not compile (offset %zu)",
					rules[doc->m.rule], (size_t)eo);
	}
	moe = scalar_text(sops_map_get(meta, "mac_only_encrypted"));
	doc->m.mac_only_encrypted = moe && (!strcmp(moe, "true") || !strcmp(moe, "True"));
	doc->m.lastmodified = sops_map_get(meta, "lastmodified");
	doc->m.mac = sops_map_get(meta, "mac");
	if (!scalar_text(doc->m.lastmodified) || !doc->m.mac || doc->m.mac->kind != SN_SCALAR)
		return why_fail(why, -EINVAL, "metadata: 'lastmodified' or 'mac' is missing");
	return 0;
}

/* ---- flattening (dotenv, INI) ---- */

static int find_sep(const char *s, size_t len, size_t *at, int *is_list)
{
	size_t i;

	for (i = 0; i + 6 <= len; i++) {
		if (!memcmp(s + i, "__map_", 6)) {
			*at = i;
			*is_list = 0;
			return 1;
		}
		if (i + 7 <= len && !memcmp(s + i, "__list_", 7)) {
			*at = i;
			*is_list = 1;
			return 1;
		}
	}
	return 0;
}

/* Put value at the flattened key k (e.g. "age__list_0__map_enc") under root. */
static int unflatten_one(struct sops_node *root, const char *k, size_t kl, struct sops_node *value)
{
	struct sops_node *cur = root;
	size_t at;
	int is_list, depth = 0;
	char *name;

	/* First component: a map key of the root. */
	for (;;) {
		if (++depth > SOPS_MAX_DEPTH)
			return -EINVAL;
		int has = find_sep(k, kl, &at, &is_list);
		size_t clen = has ? at : kl;
		struct sops_node *child = NULL;

		if (cur->kind == SN_MAP) {
			size_t i;

			for (i = 0; i < cur->n; i++)
				if (cur->items[i].key && cur->items[i].klen == clen &&
				    !memcmp(cur->items[i].key, k, clen))
					child = cur->items[i].val;
			if (!has) {
				if (child)
					return -EINVAL;	/* duplicate */
				if (!(name = strndup(k, clen)))
					return -ENOMEM;
				return sops_node_push(cur, name, clen, value);
			}
			if (!child) {
				if (!(child = sops_node_new(is_list ? SN_SEQ : SN_MAP)) || !(name = strndup(k, clen)))
					return free(child), -ENOMEM;
				if (sops_node_push(cur, name, clen, child))
					return -ENOMEM;
			}
		} else {
			/* cur is a SEQ: k starts with the index digits. */
			char *end;
			unsigned long idx = strtoul(k, &end, 10);

			if (end == k || (size_t)(end - k) != clen || idx > 4096)
				return -EINVAL;
			while (cur->n <= idx) {
				struct sops_node *slot = has ? sops_node_new(is_list ? SN_SEQ : SN_MAP) : NULL;

				if (has && !slot)
					return -ENOMEM;
				if (sops_node_push(cur, NULL, 0, slot))
					return -ENOMEM;
			}
			child = cur->items[idx].val;
			if (!has) {
				if (child)
					return -EINVAL;
				cur->items[idx].val = value;
				return 0;
			}
			if (!child && !(child = cur->items[idx].val = sops_node_new(is_list ? SN_SEQ : SN_MAP)))
				return -ENOMEM;
		}
		if ((is_list && child->kind != SN_SEQ) || (!is_list && child->kind != SN_MAP))
			return -EINVAL;
		cur = child;
		k += at + (is_list ? 7 : 6);
		kl -= at + (is_list ? 7 : 6);
	}
}

int sops_meta_unflatten(struct sops_node *flat, struct sops_node **out, struct why *why)
{
	struct sops_node *root = sops_node_new(SN_MAP);
	size_t i;
	int r = 0;

	*out = NULL;
	if (!root)
		return -ENOMEM;
	for (i = 0; i < flat->n && !r; i++) {
		if (!flat->items[i].key)
			continue;
		r = unflatten_one(root, flat->items[i].key, flat->items[i].klen, flat->items[i].val);
		if (!r)
			flat->items[i].val = NULL;
		else if (r == -EINVAL)
			why_set(why, "metadata key '%s' is malformed or repeated", flat->items[i].key);
	}
	if (r) {
		sops_node_free(root);
		return r;
	}
	/* Only what flattens back to the same keys is well-formed: this
	 * refuses holes in lists (age__list_1 without _0), empty components
	 * and keys that are both a value and a map. */
	{
		struct sops_node *again = sops_node_new(SN_MAP);
		size_t k, nkeys = 0;

		for (i = 0; i < flat->n; i++)
			nkeys += flat->items[i].key != NULL;
		r = again ? sops_meta_flatten(root, again, "") : -ENOMEM;
		if (!r && again->n != nkeys)
			r = -EINVAL;
		for (k = 0; !r && k < again->n; k++) {
			for (i = 0; i < flat->n; i++)
				if (flat->items[i].key && flat->items[i].klen == again->items[k].klen &&
				    !memcmp(flat->items[i].key, again->items[k].key, again->items[k].klen))
					break;
			if (i == flat->n)
				r = -EINVAL;
		}
		/* and the other way round: "__map_mac" beside "mac" flattens
		 * back to "mac" twice, which the count alone does not see */
		for (i = 0; !r && i < flat->n; i++) {
			if (!flat->items[i].key)
				continue;
			for (k = 0; k < again->n; k++)
				if (flat->items[i].klen == again->items[k].klen &&
				    !memcmp(flat->items[i].key, again->items[k].key, again->items[k].klen))
					break;
			if (k == again->n)
				r = -EINVAL;
		}
		sops_node_free(again);
		if (r) {
			if (r == -EINVAL)
				why_set(why, "the sops metadata keys are malformed");
			sops_node_free(root);
			return r;
		}
	}
	*out = root;
	return 0;
}

static int flatten_into(const struct sops_node *n, struct sops_node *flat, char *prefix, size_t plen)
{
	size_t i;
	int r;

	if (n->kind == SN_SCALAR) {
		struct sops_node *v = sops_scalar_new(n->text, n->len, SV_STR);
		char *k = strndup(prefix, plen);

		if (!v || !k) {
			free(k);
			sops_node_free(v);
			return -ENOMEM;
		}
		return sops_node_push(flat, k, plen, v);
	}
	for (i = 0; i < n->n; i++) {
		char buf[1024];
		int m;

		if (!n->items[i].val || n->items[i].val->kind == SN_COMMENT)
			continue;
		if (n->kind == SN_MAP)
			m = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)plen, prefix, plen ? "__map_" : "",
				     n->items[i].key);
		else
			m = snprintf(buf, sizeof(buf), "%.*s__list_%zu", (int)plen, prefix, i);
		if (m < 0 || (size_t)m >= sizeof(buf))
			return -EINVAL;
		if ((r = flatten_into(n->items[i].val, flat, buf, (size_t)m)))
			return r;
	}
	return 0;
}

int sops_meta_flatten(const struct sops_node *meta, struct sops_node *flat, const char *prefix)
{
	size_t i;
	int r;

	for (i = 0; i < meta->n; i++) {
		char buf[256];
		int m;

		if (!meta->items[i].key || !meta->items[i].val)
			continue;
		/* Empty master-key lists are not written (as newer sops does). */
		if (meta->items[i].val->kind != SN_SCALAR && meta->items[i].val->n == 0)
			continue;
		if (meta->items[i].val->kind == SN_SCALAR && meta->items[i].val->type == SV_NULL)
			continue;
		m = snprintf(buf, sizeof(buf), "%s%s", prefix, meta->items[i].key);
		if (m < 0 || (size_t)m >= sizeof(buf))
			return -EINVAL;
		if ((r = flatten_into(meta->items[i].val, flat, buf, (size_t)m)))
			return r;
	}
	return 0;
}

/* ---- value conversions ---- */

void sops_format_float(double v, char *buf, size_t cap)
{
	char tmp[64], digits[32];
	int prec, exp10, nd = 0, neg, i, o = 0;
	const char *p;

	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* The shortest %e that reads back as v: Go's 'f', -1 digits. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	neg = tmp[0] == '-';
	for (p = tmp + neg; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (neg)
		buf[o++] = '-';
	if (nd == 1 && digits[0] == '0') {
		buf[o++] = '0';
	} else if (exp10 >= 0) {
		for (i = 0; i <= exp10 || i < nd; i++) {
			if (i == exp10 + 1)
				buf[o++] = '.';
			buf[o++] = i < nd ? digits[i] : '0';
			if ((size_t)o + 2 >= cap)
				break;
		}
	} else {
		buf[o++] = '0';
		buf[o++] = '.';
		for (i = 0; i < -exp10 - 1 && (size_t)o + 2 < cap; i++)
			buf[o++] = '0';
		for (i = 0; i < nd && (size_t)o + 2 < cap; i++)
			buf[o++] = digits[i];
	}
	buf[o] = 0;
	explicit_bzero(tmp, sizeof(tmp));
	explicit_bzero(digits, sizeof(digits));
}

static int all_in(const char *s, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr(set, s[i]))
			return 0;
	return n > 0;
}

static int is_yaml_float(const char *s, size_t n)
{
	size_t i = 0, d = 0;

	/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
		if (!d)
			return 0;
	} else {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
		if (!d)
			return 0;
		if (i < n && s[i] == '.')
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (!d)
			return 0;
	}
	return i == n;
}

enum sops_type sops_yaml_resolve(const char *s, size_t n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE" };
	static const char *const specials[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
						"-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN" };
	size_t i, k = 0;
	char plain[64];

	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strlen(nulls[i]) == n && !memcmp(nulls[i], s, n))
			return SV_NULL;
	for (i = 0; i < ARRAY_SIZE(bools); i++)
		if (strlen(bools[i]) == n && !memcmp(bools[i], s, n))
			return SV_BOOL;
	for (i = 0; i < ARRAY_SIZE(specials); i++)
		if (strlen(specials[i]) == n && !memcmp(specials[i], s, n))
			return SV_FLOAT;
	if (!n || !strchr("+-.0123456789", s[0]) || n >= sizeof(plain))
		return SV_STR;
	for (i = 0; i < n; i++)
		if (s[i] != '_')
			plain[k++] = s[i];
	plain[k] = 0;
	{
		const char *d = plain + (plain[0] == '-' || plain[0] == '+');

		if (all_in(d, strlen(d), "0123456789"))
			return SV_INT;
		if ((!strncmp(d, "0x", 2) && all_in(d + 2, strlen(d + 2), "0123456789abcdefABCDEF")) ||
		    (!strncmp(d, "0o", 2) && all_in(d + 2, strlen(d + 2), "01234567")) ||
		    (!strncmp(d, "0b", 2) && all_in(d + 2, strlen(d + 2), "01")))
			return SV_INT;
	}
	if (is_yaml_float(plain, k))
		return SV_FLOAT;
	return SV_STR;
}

int sops_node_value(const struct sops_doc *doc, const struct sops_node *n, const unsigned char **p,
		    size_t *len)
{
	if (n->kind != SN_SCALAR)
		return -EINVAL;
	if (n->enc || n->dirty) {
		*p = secbuf_data(doc->plain, NULL) + n->poff;
		*len = n->plen;
	} else {
		*p = (const unsigned char *)n->text;
		*len = n->len;
	}
	return 0;
}
