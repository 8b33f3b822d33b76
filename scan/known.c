#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lib/secbuf.h"

/*
 * Exact known values (a container's secrets) and their encodings.  Every
 * form of every value is kept back to back in one locked buffer; the index
 * that finds them is locked too, since its 4-byte grams are pieces of the
 * values.
 *
 * Search samples the text every `step` bytes, where step = shortest form -
 * Q + 1: any occurrence of a form of length >= shortest covers one sampled
 * position whose Q-gram lies inside it (Wu-Manber style sampling).  The
 * index maps the first `step` Q-grams of each form to (form, offset); a hit
 * is confirmed by comparing the whole form.
 *
 * base64 forms: a value inside a larger base64 blob (docker "auth":
 * base64("user:" + value)) is encoded differently for each of the three
 * alignments, so each alignment's stable characters (the ones that depend
 * on the value alone) are a form.  A match is widened by up to 4 base64
 * characters on each side, so the characters shared with the neighbours go
 * too.
 */

#define Q 4u
#define BITMAP_BITS 16u
#define HEAD_BITS 14u

enum form_kind { FORM_RAW, FORM_B64, FORM_HEX };

struct kform {
	size_t off, len;
	size_t value;
	enum form_kind kind;
};

struct kent {
	uint32_t gram;
	uint32_t form;
	uint32_t at;
	uint32_t next;		/* index + 1, 0 = end */
};

struct known {
	struct secbuf *blob;
	struct kform *forms;
	size_t n_forms, cap_forms;
	char **labels;
	size_t n_values;
	/* index (locked) */
	unsigned char *bitmap;
	uint32_t *head;
	struct kent *ent;
	size_t n_ent;
	size_t step, minlen, maxlen;
};

static uint32_t load_gram(const unsigned char *p)
{
	uint32_t g;

	memcpy(&g, p, sizeof(g));
	return g;
}

static uint32_t hash_gram(uint32_t g, unsigned int bits)
{
	return (g * 2654435761u) >> (32 - bits);
}

/* Keep the form just written past the end of the blob (len bytes at off,
 * reserved but not committed): 0 and the caller commits it, or 1 when it
 * is too short or the same bytes are already a form, after wiping it. */
static int keep_form(struct known *k, size_t off, size_t len, size_t value, enum form_kind kind)
{
	unsigned char *b = (unsigned char *)secbuf_data(k->blob, NULL);
	int r = 0;
	size_t i;

	if (len < Q)
		r = 1;
	for (i = 0; i < k->n_forms && !r; i++)
		if (k->forms[i].len == len && !memcmp(b + k->forms[i].off, b + off, len))
			r = 1;
	if (!r && k->n_forms == k->cap_forms) {
		size_t cap = k->cap_forms ? k->cap_forms * 2 : 32;
		struct kform *nf = realloc(k->forms, cap * sizeof(*nf));

		if (nf) {
			k->forms = nf;
			k->cap_forms = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r)
		sodium_memzero(b + off, len);	/* not kept: wipe it */
	else
		k->forms[k->n_forms++] = (struct kform){ off, len, value, kind };
	return r;
}

/* Reserve room for n bytes at the end of the blob. */
static unsigned char *room(struct known *k, size_t n, size_t *off)
{
	*off = secbuf_len(k->blob);
	return secbuf_tail(k->blob, n);
}

static int add_raw(struct known *k, const unsigned char *v, size_t n, size_t value)
{
	size_t off;
	unsigned char *p = room(k, n, &off);
	int r;

	if (!p)
		return -ENOMEM;
	memcpy(p, v, n);
	if ((r = keep_form(k, off, n, value, FORM_RAW)) < 0)
		return r;
	if (r == 0)
		secbuf_commit(k->blob, n);
	return 0;
}

static int add_hex(struct known *k, const unsigned char *v, size_t n, size_t value, int upper)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *d = upper ? up : lo;
	size_t off, i;
	unsigned char *p = room(k, 2 * n, &off);
	int r;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		p[2 * i] = (unsigned char)d[v[i] >> 4];
		p[2 * i + 1] = (unsigned char)d[v[i] & 15];
	}
	if ((r = keep_form(k, off, 2 * n, value, FORM_HEX)) < 0)
		return r;
	if (r == 0)
		secbuf_commit(k->blob, 2 * n);
	return 0;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* Percent-encoding (RFC 3986); plus: ' ' as '+' (form encoding). */
static int add_url(struct known *k, const unsigned char *v, size_t n, size_t value, int upper, int plus)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t off, i, o = 0;
	unsigned char *p = room(k, 3 * n, &off);
	int r;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (unreserved(v[i])) {
			p[o++] = v[i];
		} else if (plus && v[i] == ' ') {
			p[o++] = '+';
		} else {
			p[o++] = '%';
			p[o++] = (unsigned char)d[v[i] >> 4];
			p[o++] = (unsigned char)d[v[i] & 15];
		}
	}
	if ((r = keep_form(k, off, o, value, FORM_RAW)) < 0)
		return r;
	if (r == 0)
		secbuf_commit(k->blob, o);
	return 0;
}

/* The base64 characters of (lead zero bytes + v) that depend on v alone:
 * character i covers bits [6i, 6i+6), which lie within v's bits
 * [8*lead, 8*(lead+n)) for i from ceil(8*lead/6) to floor(8*(lead+n)/6). */
static int add_b64(struct known *k, const unsigned char *v, size_t n, size_t value, unsigned int lead,
		   const char *alphabet)
{
	size_t first = (8 * lead + 5) / 6, last = 8 * (lead + n) / 6, off, i, o = 0;
	unsigned char *p;
	uint32_t acc = 0;
	unsigned int bits = 0;
	size_t ci = 0;
	int r;

	if (last <= first)
		return 0;
	p = room(k, last - first, &off);
	if (!p)
		return -ENOMEM;
	for (i = 0; i < lead + n; i++) {
		acc = (acc << 8) | (i < lead ? 0u : v[i - lead]);
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if (ci >= first && ci < last)
				p[o++] = (unsigned char)alphabet[(acc >> bits) & 63];
			ci++;
		}
		acc &= (1u << bits) - 1;
	}
	sodium_memzero(&acc, sizeof(acc));
	if ((r = keep_form(k, off, o, value, FORM_B64)) < 0)
		return r;
	if (r == 0)
		secbuf_commit(k->blob, o);
	return 0;
}

int known_add(struct known **kp, const void *value, size_t len, const char *label)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *v = value;
	struct known *k = *kp;
	char **labels;
	size_t idx;
	unsigned int lead;
	int r;

	if (len < SCAN_KNOWN_MIN || len > SCAN_KNOWN_MAX)
		return -EINVAL;
	if (!k) {
		if (!(k = calloc(1, sizeof(*k))))
			return -ENOMEM;
		if (!(k->blob = secbuf_new(4096))) {
			free(k);
			return -ENOMEM;
		}
		*kp = k;
	}
	labels = realloc(k->labels, (k->n_values + 1) * sizeof(*labels));
	if (!labels)
		return -ENOMEM;
	k->labels = labels;
	if (!(labels[k->n_values] = strdup(label ? label : "known value")))
		return -ENOMEM;
	idx = k->n_values++;
	if ((r = add_raw(k, v, len, idx)) || (r = add_hex(k, v, len, idx, 0)) ||
	    (r = add_hex(k, v, len, idx, 1)) || (r = add_url(k, v, len, idx, 1, 0)) ||
	    (r = add_url(k, v, len, idx, 0, 0)) || (r = add_url(k, v, len, idx, 1, 1)) ||
	    (r = add_url(k, v, len, idx, 0, 1)))
		return r;
	for (lead = 0; lead < 3; lead++)
		if ((r = add_b64(k, v, len, idx, lead, std)) || (r = add_b64(k, v, len, idx, lead, url)))
			return r;
	return 0;
}

int known_compile(struct known *k)
{
	const unsigned char *b;
	size_t i, a, nent = 0;

	if (!k || !k->n_forms)
		return 0;
	b = secbuf_data(k->blob, NULL);
	k->minlen = (size_t)-1;
	k->maxlen = 0;
	for (i = 0; i < k->n_forms; i++) {
		if (k->forms[i].len < k->minlen)
			k->minlen = k->forms[i].len;
		if (k->forms[i].len > k->maxlen)
			k->maxlen = k->forms[i].len;
	}
	k->step = k->minlen - Q + 1;
	k->bitmap = secmem_alloc((1u << BITMAP_BITS) / 8);
	k->head = secmem_alloc((1u << HEAD_BITS) * sizeof(uint32_t));
	k->ent = secmem_alloc(k->n_forms * k->step * sizeof(struct kent));
	if (!k->bitmap || !k->head || !k->ent)
		return -ENOMEM;
	memset(k->bitmap, 0, (1u << BITMAP_BITS) / 8);
	memset(k->head, 0, (1u << HEAD_BITS) * sizeof(uint32_t));
	for (i = 0; i < k->n_forms; i++) {
		for (a = 0; a < k->step; a++) {
			uint32_t g = load_gram(b + k->forms[i].off + a), h = hash_gram(g, HEAD_BITS);
			struct kent *e = &k->ent[nent];

			e->gram = g;
			e->form = (uint32_t)i;
			e->at = (uint32_t)a;
			e->next = k->head[h];
			k->head[h] = (uint32_t)++nent;
			h = hash_gram(g, BITMAP_BITS);
			k->bitmap[h >> 3] |= (unsigned char)(1u << (h & 7));
		}
	}
	k->n_ent = nent;
	return 0;
}

static int b64char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/' || c == '-' || c == '_' || c == '=';
}

int known_find(const struct known *k, const unsigned char *buf, size_t from, size_t to,
	       known_hit_fn *fn, void *arg)
{
	const unsigned char *b;
	size_t pos;
	int r;

	if (!k || !k->n_ent || to - from < k->minlen)
		return 0;
	b = secbuf_data(k->blob, NULL);
	for (pos = from; pos + Q <= to; pos += k->step) {
		uint32_t g = load_gram(buf + pos), h = hash_gram(g, BITMAP_BITS), e;

		if (!(k->bitmap[h >> 3] & (1u << (h & 7))))
			continue;
		for (e = k->head[hash_gram(g, HEAD_BITS)]; e; e = k->ent[e - 1].next) {
			const struct kent *ke = &k->ent[e - 1];
			const struct kform *f = &k->forms[ke->form];
			size_t s, end, w;

			if (ke->gram != g || pos < from + ke->at)
				continue;
			s = pos - ke->at;
			if (s + f->len > to || memcmp(buf + s, b + f->off, f->len))
				continue;
			end = s + f->len;
			if (f->kind == FORM_B64) {
				/* the characters shared with the neighbours (3 at most
				 * on either side) and the padding */
				for (w = 0; w < 3 && s > from && b64char(buf[s - 1]) && buf[s - 1] != '='; w++)
					s--;
				for (w = 0; w < 3 && end < to && b64char(buf[end]) && buf[end] != '='; w++)
					end++;
				for (w = 0; w < 2 && end < to && buf[end] == '='; w++)
					end++;
			}
			if ((r = fn(arg, s, end, k->labels[f->value])))
				return r;
		}
	}
	return 0;
}

void known_free(struct known *k)
{
	size_t i;

	if (!k)
		return;
	secbuf_free(k->blob);
	secmem_free(k->bitmap);
	secmem_free(k->head);
	secmem_free(k->ent);
	for (i = 0; i < k->n_values; i++)
		free(k->labels[i]);
	free(k->labels);
	free(k->forms);
	free(k);
}
