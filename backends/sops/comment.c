#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * Encrypted comments for `harombe sops` (file.c).  sops encrypts comments
 * too (type comment), with the path of the mapping that holds them as AAD
 * (specs/sops.md §3).  They are not in the MAC, so
 * the walk of crypto.c leaves them alone; here they are opened for the
 * decrypted view and sealed when a document is written.  A comment that
 * does not open stays as it is written (sops keeps it with a warning).
 */

enum cmode { C_OPEN, C_SEAL };

struct cwalk {
	struct sops_doc *doc;
	enum cmode mode;
	const char *comp[SOPS_MAX_DEPTH + 1];
	size_t clen[SOPS_MAX_DEPTH + 1];
	int depth;
	struct obuf aad;
	pcre2_match_data *md;
};

static const char *cw_aad(struct cwalk *w, size_t *len)
{
	int i;

	w->aad.len = 0;
	for (i = 0; i < w->depth; i++) {
		obuf_put(&w->aad, w->comp[i], w->clen[i]);
		obuf_putc(&w->aad, ':');
	}
	if (!w->depth)
		obuf_putc(&w->aad, ':');
	*len = w->aad.len;
	return w->aad.err ? NULL : w->aad.p;
}

static int cw_match(struct cwalk *w, const char *s, size_t n)
{
	return w->md && pcre2_match(w->doc->m.re, (PCRE2_SPTR)s, n, 0, 0, w->md, NULL) >= 0;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

/* Whether a comment with plaintext pt at the current path is encrypted:
 * the file's rule applied to the path of its mapping; under the comment
 * rules, a comment that matches stays clear (the walk of the values reads
 * it). */
static int cw_encrypt(struct cwalk *w, const char *pt, size_t n)
{
	const struct sops_meta *m = &w->doc->m;
	int i, enc = 1;

	switch (m->rule) {
	case RULE_UNENC_SUFFIX:
		for (i = 0; i < w->depth; i++)
			if (ends_with(w->comp[i], w->clen[i], m->rule_arg))
				enc = 0;
		return enc;
	case RULE_ENC_SUFFIX:
		for (i = 0, enc = 0; i < w->depth; i++)
			if (ends_with(w->comp[i], w->clen[i], m->rule_arg))
				enc = 1;
		return enc;
	case RULE_UNENC_REGEX:
		for (i = 0; i < w->depth; i++)
			if (cw_match(w, w->comp[i], w->clen[i]))
				enc = 0;
		return enc;
	case RULE_ENC_REGEX:
		for (i = 0, enc = 0; i < w->depth; i++)
			if (cw_match(w, w->comp[i], w->clen[i]))
				enc = 1;
		return enc;
	default:
		return !cw_match(w, pt, n);
	}
}

static int cw_comment(struct cwalk *w, struct sops_node *c)
{
	size_t alen, i = 0, off, plen;
	const char *aad = cw_aad(w, &alen);
	int r;

	if (!aad)
		return -ENOMEM;
	if (w->mode == C_OPEN) {
		while (i < c->len && (c->text[i] == ' ' || c->text[i] == '\t'))
			i++;
		if (c->len - i < 4 || memcmp(c->text + i, "ENC[", 4))
			return 0;
		r = sops_text_open(w->doc, c->text + i, c->len - i, aad, alen, &off, &plen);
		if (r == -ENOMEM)
			return r;
		if (!r) {
			c->enc = 1;
			c->poff = off;
			c->plen = plen;
		}
		return 0;
	}
	if (c->dirty) {
		const char *pt = (const char *)secbuf_data(w->doc->plain, NULL) + c->poff;
		char *t = NULL;
		size_t tl = 0;

		if (c->plen && cw_encrypt(w, pt, c->plen)) {
			if ((r = sops_text_seal(w->doc, (const unsigned char *)pt, c->plen, aad, alen, "comment", &t,
						&tl)))
				return r;
			c->enc = 1;
		} else {
			if (!(t = malloc(c->plen + 1)))
				return -ENOMEM;
			memcpy(t, pt, c->plen);
			t[c->plen] = 0;
			tl = c->plen;
			c->enc = 0;
		}
		free(c->text);
		c->text = t;
		c->len = tl;
		c->dirty = 0;
	}
	return 0;
}

static int cw_node(struct cwalk *w, struct sops_node *n)
{
	size_t i;
	int r;

	if (!n || n->kind == SN_SCALAR)
		return 0;
	if (n->kind == SN_COMMENT)
		return cw_comment(w, n);
	if (w->depth >= SOPS_MAX_DEPTH)
		return -EINVAL;
	for (i = 0; i < n->n; i++) {
		struct sops_node *v = n->items[i].val;

		if (n->kind == SN_MAP && n->items[i].key && v && v->kind != SN_COMMENT) {
			w->comp[w->depth] = n->items[i].key;
			w->clen[w->depth] = n->items[i].klen;
			w->depth++;
			r = cw_node(w, v);
			w->depth--;
		} else {
			r = cw_node(w, v);
		}
		if (r)
			return r;
	}
	return 0;
}

int sops_comments(struct sops_doc *doc, int seal, struct why *why)
{
	struct cwalk w;
	size_t b;
	int r = 0;

	memset(&w, 0, sizeof(w));
	w.doc = doc;
	w.mode = seal ? C_SEAL : C_OPEN;
	if (doc->m.re && !(w.md = pcre2_match_data_create_from_pattern(doc->m.re, NULL)))
		return why_fail(why, -ENOMEM, "out of memory");
	for (b = 0; b < doc->nbranches && !r; b++)
		r = cw_node(&w, doc->branches[b]);
	if (w.md)
		pcre2_match_data_free(w.md);
	obuf_release(&w.aad);
	if (r)
		return why_fail(why, r, r == -ENOMEM ? "out of locked memory" : "cannot encrypt a comment");
	return 0;
}

