#include "lib/compat.h"
#include "backends/sops/sopsfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>

#include "backends/sops/age.h"
#include "backends/sops/sops-internal.h"
#include "lib/fileio.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * Whole SOPS files for `harombe sops` (sopsfile.h): the decrypted view of
 * a document, encrypting a plain one, putting an edited one back, and
 * rewrapping or replacing the data key.  The stores, the walk and the MAC
 * are those of the backend (tree.c, json.c, yaml.c, flat.c, crypto.c).
 *
 * A decrypted document is emitted from a "view": a copy of the tree's
 * shape whose scalars borrow their text from doc->plain (locked) or from
 * the file's clear text, into an obuf that appends to locked memory.  A
 * plain document read for encryption is parsed by the same stores; each
 * value (and comment) is moved into doc->plain at once and the parser's
 * heap copy wiped.  Comments are opened and sealed here (crypto.c's walk
 * leaves them, as they are not in the MAC).
 */

struct sopsfile {
	char *path;
	struct stat st;
	struct sops_doc doc;
};

/* ---- --extract ---- */

void sopsfile_extract_free(struct sopsfile_step *steps, size_t n)
{
	size_t i;

	for (i = 0; steps && i < n; i++)
		free(steps[i].key);
	free(steps);
}

/* sops' tree path: ["key"] or ['key'] for a map key, [N] for a list index. */
int sopsfile_extract_parse(const char *s, struct sopsfile_step **out, size_t *n, struct why *why)
{
	struct sopsfile_step *st = calloc(SOPSFILE_EXTRACT_MAX, sizeof(*st));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return why_fail(why, -ENOMEM, "out of memory");
	while (*s) {
		const char *close;

		if (k == SOPSFILE_EXTRACT_MAX) {
			sopsfile_extract_free(st, k);
			return why_fail(why, -EINVAL, "--extract: more than %d steps", SOPSFILE_EXTRACT_MAX);
		}
		if (*s != '[')
			goto bad;
		s++;
		if (*s == '"' || *s == '\'') {
			char q = *s++;

			if (!(close = strchr(s, q)) || close[1] != ']')
				goto bad;
			if (!(st[k].key = strndup(s, (size_t)(close - s)))) {
				sopsfile_extract_free(st, k);
				return why_fail(why, -ENOMEM, "out of memory");
			}
			st[k].klen = (size_t)(close - s);
			s = close + 2;
		} else {
			size_t v = 0, digits = 0;

			for (; *s >= '0' && *s <= '9'; s++, digits++) {
				if (v > (SIZE_MAX - 9) / 10)
					goto bad;
				v = v * 10 + (size_t)(*s - '0');
			}
			if (!digits || *s != ']')
				goto bad;
			st[k].index = v;
			s++;
		}
		k++;
	}
	if (!k)
		goto bad;
	*out = st;
	*n = k;
	return 0;
 bad:
	sopsfile_extract_free(st, k);
	return why_fail(why, -EINVAL, "--extract wants a path like '[\"key\"][\"sub\"][0]'");
}

/* ---- files ---- */

int sopsfile_type(const char *name, const char *path, int *fmt)
{
	static const char *const names[] = { "json", "yaml", "dotenv", "ini", "binary" };
	size_t i;

	if (!name || !*name) {
		*fmt = (int)sops_format_for(path);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i])) {
			*fmt = (int)i;
			return 0;
		}
	if (!strcmp(name, "yml") || !strcmp(name, "env")) {
		*fmt = !strcmp(name, "yml") ? SOPS_FMT_YAML : SOPS_FMT_DOTENV;
		return 0;
	}
	return -EINVAL;
}

/* Ciphertext into ordinary memory. */
static int read_text(const char *path, char **out, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	r = fd_read_all(fd, 64u << 20, out, len);
	close(fd);
	return r;
}

void sopsfile_close(struct sopsfile *f)
{
	if (!f)
		return;
	sops_doc_release(&f->doc);
	free(f->path);
	free(f);
}

int sopsfile_open(const char *path, int fmt, struct sopsfile **out, struct why *why)
{
	struct sopsfile *f = calloc(1, sizeof(*f));
	struct age_identities *ids = NULL;
	struct why msg = WHY_INIT;
	char info[1024] = "", *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return why_fail(why, -ENOMEM, "out of memory");
	}
	sops_doc_init(&f->doc, (enum sops_format)fmt);
	if ((r = read_text(path, &text, &len, &f->st))) {
		why_set(why, "cannot read '%s': %s", path, r == -EINVAL ? "not a regular file" : strerror(-r));
		goto out;
	}
	if ((r = sops_parse(&f->doc, text, len, &msg))) {
		why_set(why, "%s: %.399s", path, why_str(&msg));
		goto out;
	}
	if ((r = sops_identities_load(NULL, info, sizeof(info), &ids, &msg))) {
		why_set(why, "%.399s", why_str(&msg));
		goto out;
	}
	if ((r = sops_doc_unlock(&f->doc, ids, &msg))) {
		why_set(why, "%s: %.600s%s%s", path, why_str(&msg), r == -EACCES ? "; identities tried: " : "",
			r == -EACCES ? info : "");
		goto out;
	}
	if ((r = sops_doc_decrypt(&f->doc, &msg)))
		why_set(why, "%s: %.399s", path, why_str(&msg));
	else
		r = sops_comments(&f->doc, 0, why);
 out:
	age_identities_free(ids);
	free(text);
	if (r) {
		sopsfile_close(f);
		return r == -EFBIG || r == -EISDIR ? -EINVAL : r;
	}
	*out = f;
	return 0;
}

size_t sopsfile_recipients(const struct sopsfile *f, const char **out, size_t cap)
{
	size_t i;

	for (i = 0; i < f->doc.m.nage && i < cap; i++)
		out[i] = f->doc.m.age[i].recipient;
	return f->doc.m.nage;
}

static int is_enc_comment(const struct sops_node *n)
{
	size_t i = 0;

	if (!n || n->kind != SN_COMMENT || n->enc)
		return 0;
	while (i < n->len && (n->text[i] == ' ' || n->text[i] == '\t'))
		i++;
	return n->len - i >= 4 && !memcmp(n->text + i, "ENC[", 4);
}

static size_t count_enc_comments(const struct sops_node *n, int depth)
{
	size_t i, c = 0;

	if (!n || depth > SOPS_MAX_DEPTH)
		return 0;
	if (is_enc_comment(n))
		return 1;
	for (i = 0; i < n->n; i++)
		c += count_enc_comments(n->items[i].val, depth + 1);
	return c;
}

size_t sopsfile_enc_comments(const struct sopsfile *f)
{
	size_t b, c = 0;

	for (b = 0; b < f->doc.nbranches; b++)
		c += count_enc_comments(f->doc.branches[b], 0);
	return c;
}

/* ---- the decrypted view ---- */

/* Free a view: its nodes and item arrays; text and keys are borrowed. */
static void view_free(struct sops_node *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++)
		view_free(v->items[i].val);
	free(v->items);
	free(v);
}

static struct sops_node *view_of(const struct sops_doc *doc, const struct sops_node *n, int depth)
{
	struct sops_node *v;
	size_t i;

	if (depth > SOPS_MAX_DEPTH || !(v = calloc(1, sizeof(*v))))
		return NULL;
	v->kind = n->kind;
	v->type = n->type;
	v->line = n->line;
	v->quoted = n->quoted;
	if (n->kind == SN_SCALAR || n->kind == SN_COMMENT) {
		const unsigned char *p;
		size_t len;

		if (n->kind == SN_COMMENT && n->enc) {
			v->text = (char *)secbuf_data(doc->plain, NULL) + n->poff;
			v->len = n->plen;
		} else if (n->kind == SN_COMMENT) {
			v->text = n->text;
			v->len = n->len;
		} else if (sops_node_value(doc, n, &p, &len) == 0) {
			v->text = (char *)p;
			v->len = len;
		}
		if (n->enc && n->type == SV_BOOL) {
			/* sops encrypts True/False (Go's ToBytes); documents say true/false. */
			int t = len == 4 && !strncasecmp((const char *)p, "true", 4);

			v->text = (char *)(t ? "true" : "false");
			v->len = t ? 4 : 5;
		}
		if (n->enc)
			v->quoted = n->type == SV_STR;
		return v;
	}
	if (n->n && !(v->items = calloc(n->n, sizeof(*v->items)))) {
		free(v);
		return NULL;
	}
	v->cap = n->n;
	for (i = 0; i < n->n; i++) {
		const struct sops_node *c = n->items[i].val;

		if (!c || is_enc_comment(c))
			continue;
		v->items[v->n].key = n->items[i].key;
		v->items[v->n].klen = n->items[i].klen;
		v->items[v->n].pos = n->items[i].pos;
		if (!(v->items[v->n].val = view_of(doc, c, depth + 1))) {
			view_free(v);
			return NULL;
		}
		v->n++;
	}
	return v;
}

static const struct sops_node *step(const struct sops_node *n, const struct sopsfile_step *s)
{
	size_t i, k = 0;

	if (!n)
		return NULL;
	if (s->key && n->kind == SN_MAP) {
		const struct sops_item *it = sops_map_find(n, s->key, s->klen);

		if (it)
			return it->val;
		for (i = 0; i < n->n; i++)
			if (n->items[i].key && n->items[i].klen == s->klen &&
			    !memcmp(n->items[i].key, s->key, s->klen))
				return n->items[i].val;
		return NULL;
	}
	if (!s->key && n->kind == SN_SEQ)
		for (i = 0; i < n->n; i++) {
			if (!n->items[i].val || n->items[i].val->kind == SN_COMMENT)
				continue;
			if (k++ == s->index)
				return n->items[i].val;
		}
	return NULL;
}

static int emit_view(enum sops_format fmt, struct sops_node **branches, size_t nb, struct secbuf *sb,
		     struct why *why)
{
	struct sops_doc shell;
	struct obuf ob = { 0 };
	int r;

	sops_doc_init(&shell, fmt);
	ob.sec = sb;
	if (fmt == SOPS_FMT_BINARY) {
		const struct sops_node *d = nb == 1 ? sops_map_get(branches[0], "data") : NULL;

		if (!d || d->kind != SN_SCALAR)
			return why_fail(why, -EINVAL, "binary output needs a document with one 'data' value");
		return secbuf_append(sb, d->text, d->len) ? why_fail(why, -ENOMEM, "out of locked memory") : 0;
	}
	if ((fmt == SOPS_FMT_JSON || fmt == SOPS_FMT_DOTENV || fmt == SOPS_FMT_INI) && nb != 1)
		return why_fail(why, -EINVAL, "%zu YAML documents cannot be written as %s", nb,
				sops_format_name(fmt));
	shell.branches = branches;
	shell.nbranches = nb;
	r = sops_emit(&shell, &ob);
	if (r == -EINVAL)
		return why_fail(why, r, "this document cannot be written as %s (%s)", sops_format_name(fmt),
				fmt == SOPS_FMT_INI ? "INI wants sections of flat keys" : "dotenv wants flat keys");
	if (r)
		return why_fail(why, r, "out of locked memory");
	return 0;
}

int sopsfile_plain(struct sopsfile *f, int out_fmt, const struct sopsfile_step *steps, size_t n,
		   struct secbuf **out, struct why *why)
{
	struct sops_doc *doc = &f->doc;
	enum sops_format fmt = out_fmt < 0 ? doc->fmt : (enum sops_format)out_fmt;
	struct sops_node **views = calloc(doc->nbranches ? doc->nbranches : 1, sizeof(*views));
	struct secbuf *sb = secbuf_new(secbuf_len(doc->plain) + 4096);
	const struct sops_node *at;
	size_t b, i;
	int r = 0;

	*out = NULL;
	if (!views || !sb) {
		r = why_fail(why, -ENOMEM, "out of memory");
		goto out;
	}
	if (n) {
		/* sops: --extract reads the first document. */
		at = doc->nbranches ? doc->branches[0] : NULL;
		for (i = 0; i < n && at; i++)
			at = step(at, &steps[i]);
		if (!at) {
			r = why_fail(why, -ENOENT, "--extract: step %zu leads nowhere in %s", i, f->path);
			goto out;
		}
		if (at->kind == SN_SCALAR) {
			const unsigned char *p;
			size_t len;

			sops_node_value(doc, at, &p, &len);
			if (at->enc && at->type == SV_BOOL) {
				/* as in the view: true/false, not sops' True/False */
				int t = len == 4 && !strncasecmp((const char *)p, "true", 4);

				p = (const unsigned char *)(t ? "true" : "false");
				len = t ? 4 : 5;
			}
			if (secbuf_append(sb, p, len))
				r = why_fail(why, -ENOMEM, "out of locked memory");
			goto out;
		}
		if (!(views[0] = view_of(doc, at, 0))) {
			r = why_fail(why, -ENOMEM, "out of memory");
			goto out;
		}
		if (views[0]->kind == SN_SEQ && (fmt == SOPS_FMT_DOTENV || fmt == SOPS_FMT_INI)) {
			r = why_fail(why, -EINVAL, "--extract: a list cannot be written as %s", sops_format_name(fmt));
			goto out;
		}
		r = emit_view(fmt == SOPS_FMT_BINARY ? SOPS_FMT_YAML : fmt, views, 1, sb, why);
		goto out;
	}
	for (b = 0; b < doc->nbranches; b++)
		if (!(views[b] = view_of(doc, doc->branches[b], 0))) {
			r = why_fail(why, -ENOMEM, "out of memory");
			goto out;
		}
	r = emit_view(fmt, views, doc->nbranches, sb, why);
 out:
	for (b = 0; views && b < (doc->nbranches ? doc->nbranches : 1); b++)
		view_free(views[b]);
	free(views);
	if (r) {
		secbuf_free(sb);
		return r;
	}
	*out = sb;
	return 0;
}

/* ---- encrypting ---- */

/* Move every scalar's and comment's text into doc->plain (wiping the
 * parser's copy) and mark it for sealing, values with their type. */
static int take_values(struct sops_doc *doc, struct sops_node *n, int depth)
{
	size_t i;
	int r;

	if (depth > SOPS_MAX_DEPTH)
		return -EINVAL;
	if (n->kind == SN_SCALAR || n->kind == SN_COMMENT) {
		if (n->kind == SN_SCALAR && n->type == SV_NULL)
			return 0;
		n->poff = secbuf_len(doc->plain);
		n->plen = n->len;
		if (n->len && secbuf_append(doc->plain, n->text, n->len))
			return -ENOMEM;
		if (n->text)
			explicit_bzero(n->text, n->len);
		n->dirty = 1;
		n->typed = n->kind == SN_SCALAR;
		n->enc = 0;
		return 0;
	}
	for (i = 0; i < n->n; i++)
		if (n->items[i].val && (r = take_values(doc, n->items[i].val, depth + 1)))
			return r;
	free(n->hidx);
	n->hidx = NULL;
	n->hcap = 0;
	return 0;
}

/* Parse plain text of doc->fmt into doc's branches, values in doc->plain. */
static int parse_plain(struct sops_doc *doc, const struct secbuf *plain, struct why *why)
{
	size_t len, b;
	const char *text = (const char *)secbuf_data(plain, &len);
	struct why msg = WHY_INIT;
	int r;

	doc->plaintext = 1;
	if (!(doc->plain = secbuf_new(len + 64)))
		return why_fail(why, -ENOMEM, "out of locked memory");
	if (doc->fmt == SOPS_FMT_BINARY) {
		struct sops_node *root = sops_node_new(SN_MAP), *d;

		if (!root || !(doc->branches = calloc(1, sizeof(*doc->branches)))) {
			sops_node_free(root);
			return why_fail(why, -ENOMEM, "out of memory");
		}
		doc->branches[0] = root;
		doc->nbranches = 1;
		if (!(d = sops_node_new(SN_SCALAR)) || sops_node_push(root, strdup("data"), 4, d))
			return why_fail(why, -ENOMEM, "out of memory");
		d->type = SV_STR;
		d->poff = 0;
		d->plen = len;
		d->dirty = 1;
		d->typed = 1;
		if (secbuf_append(doc->plain, text, len))
			return why_fail(why, -ENOMEM, "out of locked memory");
		return 0;
	}
	if (memchr(text, 0, len))
		return why_fail(why, -EINVAL, "the plain text has a NUL byte: use --input-type binary");
	r = doc->store->parse(doc, text, len, &msg);
	if (r)
		return why_fail(why, r, "cannot parse the plain text as %s: %.300s", sops_format_name(doc->fmt),
				why_str(&msg));
	for (b = 0; b < doc->nbranches; b++)
		if ((r = take_values(doc, doc->branches[b], 0)))
			return why_fail(why, r, r == -ENOMEM ? "out of locked memory" : "the document is too deep");
	return 0;
}

static void meta_reset(struct sops_doc *doc)
{
	free(doc->m.age);
	if (doc->m.re)
		pcre2_code_free(doc->m.re);
	memset(&doc->m, 0, sizeof(doc->m));
}

static void del_key(struct sops_node *meta, const char *key)
{
	size_t i;

	for (i = 0; i < meta->n; i++)
		if (meta->items[i].key && !strcmp(meta->items[i].key, key)) {
			free(meta->items[i].key);
			sops_node_free(meta->items[i].val);
			memmove(&meta->items[i], &meta->items[i + 1], (meta->n - i - 1) * sizeof(meta->items[0]));
			meta->n--;
			return;
		}
}

static int parse_recipients(const char *const *age, size_t n, unsigned char (**out)[AGE_KEY_LEN],
			    struct why *why)
{
	unsigned char (*pks)[AGE_KEY_LEN];
	struct why msg = WHY_INIT;
	size_t i;

	if (!n)
		return why_fail(why, -EINVAL, "no age recipient (--age age1..., or a .sops.yaml creation rule)");
	if (!(pks = calloc(n, sizeof(*pks))))
		return why_fail(why, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (age_recipient_parse(age[i], pks[i], &msg)) {
			free(pks);
			return why_fail(why, -EINVAL, "recipient '%.80s': %.299s", age[i], why_str(&msg));
		}
	*out = pks;
	return 0;
}

/* The metadata of a new document (as sops_doc_create() writes it) with
 * rule's encryption rule, moved into doc along with its data key. */
static int new_meta(struct sops_doc *doc, const char *const *age, size_t n, const struct sopsfile_rule *rule,
		    struct why *why)
{
	unsigned char (*pks)[AGE_KEY_LEN] = NULL;
	struct sops_doc tmp;
	int r;

	if ((r = parse_recipients(age, n, &pks, why)))
		return r;
	sops_doc_init(&tmp, doc->fmt);
	r = sops_doc_create(&tmp, (const unsigned char(*)[32])pks, n, why);
	free(pks);
	if (!r) {
		doc->meta = tmp.meta;
		doc->data_key = tmp.data_key;
		tmp.meta = NULL;
		tmp.data_key = NULL;
	}
	sops_doc_release(&tmp);
	if (r)
		return r;
	if (rule && rule->rule_key) {
		struct sops_item *it = sops_map_find(doc->meta, "unencrypted_suffix", 18);

		if (!it || !(it->key = (free(it->key), strdup(rule->rule_key))))
			return why_fail(why, -ENOMEM, "out of memory");
		it->klen = strlen(rule->rule_key);
		sops_node_free(it->val);
		if (!(it->val = sops_scalar_new(rule->rule_arg, strlen(rule->rule_arg), SV_STR)))
			return why_fail(why, -ENOMEM, "out of memory");
		it->val->quoted = 1;
	}
	if (rule && rule->mac_only_encrypted) {
		struct sops_node *v;

		if (!(v = sops_scalar_new("true", 4, SV_BOOL)) ||
		    sops_node_push(doc->meta, strdup("mac_only_encrypted"), 18, v))
			return why_fail(why, -ENOMEM, "out of memory");
		/* before version, where sops writes it */
		{
			struct sops_item t = doc->meta->items[doc->meta->n - 1];
			size_t i;

			for (i = 0; i + 1 < doc->meta->n; i++)
				if (!strcmp(doc->meta->items[i].key, "version")) {
					memmove(&doc->meta->items[i + 1], &doc->meta->items[i],
						(doc->meta->n - 1 - i) * sizeof(t));
					doc->meta->items[i] = t;
					break;
				}
		}
	}
	if ((r = sops_meta_parse(doc, why)))
		return r;
	return 0;
}

static int emit_text(struct sops_doc *doc, char **out, size_t *outlen, struct why *why)
{
	struct obuf ob = { 0 };
	struct why msg = WHY_INIT;
	int r;

	/* Comments first: the comment rules of the values' walk read them. */
	if ((r = sops_comments(doc, 1, why)))
		return r;
	if ((r = sops_doc_seal(doc, &msg)))
		return why_fail(why, r, "%.399s", msg.msg[0] ? msg.msg : "cannot encrypt");
	if ((r = sops_emit(doc, &ob))) {
		obuf_release(&ob);
		return why_fail(why, r, "cannot write the document as %s", sops_format_name(doc->fmt));
	}
	*out = ob.p;
	*outlen = ob.len;
	return 0;
}

int sopsfile_encrypt(const struct secbuf *plain, int fmt, const struct sopsfile_rule *rule, char **out,
		     size_t *outlen, struct why *why)
{
	struct sops_doc doc;
	int r;

	*out = NULL;
	sops_doc_init(&doc, (enum sops_format)fmt);
	if (!rule || !rule->nage)
		r = why_fail(why, -EINVAL, "no age recipient (--age age1..., or a .sops.yaml creation rule)");
	else if (!(r = parse_plain(&doc, plain, why)) &&
		 !(r = new_meta(&doc, (const char *const *)rule->age, rule->nage, rule, why)))
		r = emit_text(&doc, out, outlen, why);
	sops_doc_release(&doc);
	return r;
}

/* ---- writing a changed file ---- */

static int write_back(struct sopsfile *f, struct sops_doc *doc, struct why *why)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = emit_text(doc, &text, &len, why)))
		return r;
	r = sops_write_atomic(f->path, text, len, &f->st, 0, why);
	free(text);
	return r;
}

int sopsfile_replace(struct sopsfile *f, const struct secbuf *plain, struct why *why)
{
	struct sops_doc doc;
	int r;

	if (sopsfile_enc_comments(f))
		return why_fail(why, -ENOTSUP, "%s has encrypted comments that do not open: harombe will not drop them",
				f->path);
	sops_doc_init(&doc, f->doc.fmt);
	if (!(r = parse_plain(&doc, plain, why))) {
		/* The file's metadata and data key, moved over. */
		doc.meta = f->doc.meta;
		doc.data_key = f->doc.data_key;
		f->doc.meta = NULL;
		f->doc.data_key = NULL;
		meta_reset(&f->doc);
		r = sops_meta_parse(&doc, why);
	}
	if (!r)
		r = write_back(f, &doc, why);
	sops_doc_release(&doc);
	return r;
}

/* Mark every encrypted value for sealing again (same plaintext, type). */
static void mark_enc(struct sops_node *n, int depth)
{
	size_t i;

	if (!n || depth > SOPS_MAX_DEPTH)
		return;
	if (n->kind == SN_SCALAR || n->kind == SN_COMMENT) {
		if (n->enc) {
			n->dirty = 1;
			n->typed = n->kind == SN_SCALAR;
		}
		return;
	}
	for (i = 0; i < n->n; i++)
		mark_enc(n->items[i].val, depth + 1);
}

/* Put age entries for these recipients, wrapping doc->data_key, in place
 * of the metadata's age list (and of key_groups). */
static int rewrap(struct sops_doc *doc, const char *const *age, size_t n, struct why *why)
{
	unsigned char (*pks)[AGE_KEY_LEN] = NULL;
	struct sops_node *list = sops_node_new(SN_SEQ);
	struct sops_item *it;
	size_t i;
	int r;

	if (!list)
		return why_fail(why, -ENOMEM, "out of memory");
	if ((r = parse_recipients(age, n, &pks, why))) {
		sops_node_free(list);
		return r;
	}
	for (i = 0; i < n && !r; i++) {
		struct sops_node *e = sops_node_new(SN_MAP), *rv, *ev;
		unsigned char *bin = NULL;
		char *arm = NULL, rec[AGE_RECIPIENT_MAX];
		size_t blen = 0, alen = 0;

		if (!e || sops_node_push(list, NULL, 0, e)) {
			r = -ENOMEM;
			break;
		}
		age_recipient_format(pks[i], rec, sizeof(rec));
		if ((r = age_encrypt(doc->data_key, SOPS_DATA_KEY_LEN, &pks[i], 1, &bin, &blen)) ||
		    (r = age_armor_encode(bin, blen, &arm, &alen))) {
			free(bin);
			break;
		}
		free(bin);
		rv = sops_scalar_new(rec, strlen(rec), SV_STR);
		ev = sops_scalar_new(arm, alen, SV_STR);
		free(arm);
		if (rv)
			rv->quoted = 1;
		if (ev)
			ev->quoted = 1;
		if (!rv || !ev) {
			sops_node_free(rv);
			sops_node_free(ev);
			r = -ENOMEM;
			break;
		}
		if (sops_node_push(e, strdup("recipient"), 9, rv) || sops_node_push(e, strdup("enc"), 3, ev))
			r = -ENOMEM;
	}
	free(pks);
	if (r) {
		sops_node_free(list);
		return why_fail(why, r, "cannot wrap the data key");
	}
	del_key(doc->meta, "key_groups");
	if ((it = sops_map_find(doc->meta, "age", 3)) != NULL) {
		sops_node_free(it->val);
		it->val = list;
	} else if (sops_node_push(doc->meta, strdup("age"), 3, list)) {
		return why_fail(why, -ENOMEM, "out of memory");
	}
	meta_reset(doc);
	return sops_meta_parse(doc, why);
}

static int current_recipients(const struct sopsfile *f, char ***out, size_t *n)
{
	size_t i, k = f->doc.m.nage;
	char **v = calloc(k ? k : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (i = 0; i < k; i++)
		if (!(v[i] = strdup(f->doc.m.age[i].recipient))) {
			while (i)
				free(v[--i]);
			free(v);
			return -ENOMEM;
		}
	*out = v;
	*n = k;
	return 0;
}

int sopsfile_rotate(struct sopsfile *f, struct why *why)
{
	struct sops_doc *doc = &f->doc;
	char **rec = NULL;
	size_t n = 0, b, i;
	int r;

	if (sopsfile_enc_comments(f))
		return why_fail(why, -ENOTSUP, "%s has encrypted comments that do not open: harombe will not drop them",
				f->path);
	if (doc->m.nother)
		return why_fail(why, -ENOTSUP, "%s also has %s keys, which harombe cannot wrap a new data key for",
				f->path, doc->m.other_kinds);
	if ((r = current_recipients(f, &rec, &n)))
		return why_fail(why, r, "out of memory");
	randombytes_buf(doc->data_key, SOPS_DATA_KEY_LEN);
	for (b = 0; b < doc->nbranches; b++)
		mark_enc(doc->branches[b], 0);
	r = rewrap(doc, (const char *const *)rec, n, why);
	if (!r)
		r = write_back(f, doc, why);
	for (i = 0; i < n; i++)
		free(rec[i]);
	free(rec);
	return r;
}

int sopsfile_updatekeys(struct sopsfile *f, const char *const *age, size_t n, int *changed, struct why *why)
{
	struct sops_doc *doc = &f->doc;
	size_t i, k;
	int r, same = doc->m.nage == n && !doc->m.nother && doc->m.ngroups <= 1;

	*changed = 0;
	for (i = 0; i < n && same; i++) {
		for (k = 0; k < doc->m.nage; k++)
			if (!strcmp(age[i], doc->m.age[k].recipient))
				break;
		same = k < doc->m.nage;
	}
	if (same)
		return 0;
	if ((r = rewrap(doc, age, n, why)))
		return r;
	*changed = 1;
	return write_back(f, doc, why);
}

int sopsfile_write(const char *path, const char *data, size_t len, struct why *why)
{
	struct stat st;
	int have = stat(path, &st) == 0;

	return sops_write_atomic(path, data, len, have ? &st : NULL, 0, why);
}
