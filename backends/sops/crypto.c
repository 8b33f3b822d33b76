#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * SOPS values: AES-256-GCM with a 32-byte IV (specs/sops.md §2), which is
 * the one primitive taken from OpenSSL's libcrypto (libsodium's AES-GCM
 * only takes 12-byte nonces).  Plaintext is written by EVP straight into
 * doc->plain, locked memory.  OpenSSL keeps the expanded AES key in its own
 * context while a walk runs; EVP_CIPHER_CTX_free() cleanses it.
 *
 * The walk over the tree follows sops' walkBranch/walkSlice exactly: the
 * path (map keys only, list indices are not part of it), the stack of
 * comments that the comment-regex rules look at, and the MAC over the
 * canonical clear values in document order (§3-§5).
 */

#define IV_LEN 32
#define TAG_LEN 16
#define ENC_PREFIX "ENC[AES256_GCM,data:"
#define MAC_ONLY_ENCRYPTED_INIT "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
#define CANON_MAX 400

enum walk_mode { WALK_DECRYPT, WALK_SEAL };

struct cmt {
	const struct sops_node *c;
	int level;
};

struct walk {
	struct sops_doc *doc;
	enum walk_mode mode;
	const char *comp[SOPS_MAX_DEPTH + 1];
	size_t clen[SOPS_MAX_DEPTH + 1];
	int depth, level;
	struct cmt *cs;
	size_t ncs, capcs;
	crypto_hash_sha512_state mac;
	EVP_CIPHER_CTX *ctx;
	pcre2_match_data *md;
	struct obuf aad;
	struct why *why;
};

/* ---- AES-256-GCM ---- */

static int gcm(EVP_CIPHER_CTX *ctx, int enc, const unsigned char *key, const unsigned char *iv,
	       size_t ivlen, const void *aad, size_t aadlen, const unsigned char *in, size_t n,
	       unsigned char *out, unsigned char tag[TAG_LEN])
{
	int l = 0, ok;

	if (n > INT32_MAX || aadlen > INT32_MAX)
		return -EINVAL;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) == 1 &&
	     (!aadlen || EVP_CipherUpdate(ctx, NULL, &l, aad, (int)aadlen) == 1) &&
	     (!n || EVP_CipherUpdate(ctx, out, &l, in, (int)n) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
		     EVP_CipherFinal_ex(ctx, out + l, &l) == 1;
	else if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + l, &l) == 1 &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
	return ok ? 0 : -EBADMSG;
}

struct enc_parts {
	const char *data, *iv, *tag, *type;
	size_t dlen, ivlen, taglen, typelen;
};

static const char *find(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle));
}

/* ^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\] */
static int enc_parse(const char *s, size_t n, struct enc_parts *p)
{
	const char *iv, *tag, *type, *end = s + n;

	if (n < sizeof(ENC_PREFIX) || memcmp(s, ENC_PREFIX, sizeof(ENC_PREFIX) - 1) != 0)
		return -EINVAL;
	p->data = s + sizeof(ENC_PREFIX) - 1;
	if (!(iv = find(p->data, (size_t)(end - p->data), ",iv:")) ||
	    !(tag = find(iv + 4, (size_t)(end - iv - 4), ",tag:")) ||
	    !(type = find(tag + 5, (size_t)(end - tag - 5), ",type:")))
		return -EINVAL;
	while (end > type && end[-1] != ']')
		end--;
	p->dlen = (size_t)(iv - p->data);
	p->iv = iv + 4;
	p->ivlen = (size_t)(tag - p->iv);
	p->tag = tag + 5;
	p->taglen = (size_t)(type - p->tag);
	p->type = type + 6;
	if (end <= p->type + 1)
		return -EINVAL;
	p->typelen = (size_t)(end - 1 - p->type);
	return p->dlen && p->ivlen && p->taglen && p->typelen ? 0 : -EINVAL;
}

static int b64(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	return sodium_base642bin(out, cap, s, n, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) ? -EINVAL : 0;
}

static int type_of(const char *s, size_t n, enum sops_type *t)
{
	static const struct {
		const char *name;
		enum sops_type t;
	} types[] = {
		{ "str", SV_STR }, { "int", SV_INT }, { "float", SV_FLOAT }, { "bool", SV_BOOL },
		{ "time", SV_TIME }, { "comment", SV_COMMENT }, { "bytes", SV_BYTES },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (strlen(types[i].name) == n && !memcmp(types[i].name, s, n)) {
			*t = types[i].t;
			return 0;
		}
	return -EINVAL;
}

/* Decrypt one ENC[...] into out (room for its data length).  0, -EINVAL
 * (not ENC), -EBADMSG (does not authenticate). */
static int enc_open(EVP_CIPHER_CTX *ctx, const unsigned char *key, const char *s, size_t n,
		    const void *aad, size_t aadlen, struct secbuf *out, size_t *plen, enum sops_type *type)
{
	struct enc_parts p;
	unsigned char iv[64], tag[TAG_LEN + 1], *ct, *pt;
	size_t ivl, tagl, ctl;
	enum sops_type t;
	int r;

	if (enc_parse(s, n, &p) || type_of(p.type, p.typelen, &t) ||
	    b64(p.iv, p.ivlen, iv, sizeof(iv), &ivl) || b64(p.tag, p.taglen, tag, sizeof(tag), &tagl) ||
	    tagl != TAG_LEN || ivl == 0)
		return -EINVAL;
	if (!(ct = malloc(p.dlen)))
		return -ENOMEM;
	if (b64(p.data, p.dlen, ct, p.dlen, &ctl)) {
		free(ct);
		return -EINVAL;
	}
	if (!(pt = secbuf_tail(out, ctl + 1))) {
		free(ct);
		return -ENOMEM;
	}
	r = gcm(ctx, 0, key, iv, ivl, aad, aadlen, ct, ctl, pt, tag);
	free(ct);
	if (r) {
		sodium_memzero(pt, ctl);
		return r;
	}
	*plen = ctl;
	*type = t;
	return 0;
}

/* ENC[AES256_GCM,...,type:TYPE] of pt into out (a new malloc'd string). */
static int enc_seal(EVP_CIPHER_CTX *ctx, const unsigned char *key, const unsigned char *pt, size_t n,
		    const void *aad, size_t aadlen, const char *type, char **out, size_t *outlen)
{
	unsigned char iv[IV_LEN], tag[TAG_LEN], *ct = malloc(n + 1);
	struct obuf b = { 0 };
	char *d = malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
	char ivs[sodium_base64_ENCODED_LEN(IV_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char tags[sodium_base64_ENCODED_LEN(TAG_LEN, sodium_base64_VARIANT_ORIGINAL)];
	int r = -ENOMEM;

	if (!ct || !d)
		goto out;
	randombytes_buf(iv, sizeof(iv));
	if ((r = gcm(ctx, 1, key, iv, sizeof(iv), aad, aadlen, pt, n, ct, tag)))
		goto out;
	sodium_bin2base64(d, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), ct, n,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ivs, sizeof(ivs), iv, sizeof(iv), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(tags, sizeof(tags), tag, sizeof(tag), sodium_base64_VARIANT_ORIGINAL);
	obuf_puts(&b, ENC_PREFIX);
	obuf_puts(&b, d);
	obuf_printf(&b, ",iv:%s,tag:%s,type:%s]", ivs, tags, type);
	if ((r = b.err))
		goto out;
	*out = b.p;
	*outlen = b.len;
	b.p = NULL;
 out:
	obuf_release(&b);
	free(ct);
	free(d);
	return r;
}

/* ---- canonical values (ToBytes) ---- */

static int parse_go_int(const char *s, size_t n, int allow_prefixes, long long *v)
{
	char buf[80];
	size_t i, k = 0;
	int neg = 0, base = 10;
	const char *p;
	char *end;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] != '_' || !allow_prefixes)
			buf[k++] = s[i];
	buf[k] = 0;
	p = buf;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (allow_prefixes && p[0] == '0' && p[1]) {
		if (p[1] == 'x' || p[1] == 'X')
			base = 16, p += 2;
		else if (p[1] == 'o' || p[1] == 'O')
			base = 8, p += 2;
		else if (p[1] == 'b' || p[1] == 'B')
			base = 2, p += 2;
		else
			base = 8, p += 1;
	}
	if (!*p || *p == '-' || *p == '+')
		return -EINVAL;
	errno = 0;
	{
		unsigned long long u = strtoull(p, &end, base);

		if (*end || errno || u > (unsigned long long)INT64_MAX + (unsigned long long)neg)
			return -EINVAL;
		*v = neg ? (long long)(0 - u) : (long long)u;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int parse_float(const char *s, size_t n, int yaml, double *v)
{
	char buf[CANON_MAX];
	char *end;
	size_t i, k = 0;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] != '_')
			buf[k++] = s[i];
	buf[k] = 0;
	if (yaml && (buf[0] == '.' || ((buf[0] == '-' || buf[0] == '+') && buf[1] == '.')) &&
	    strpbrk(buf, "iInN")) {
		int neg = buf[0] == '-';
		const char *t = buf + (buf[0] == '-' || buf[0] == '+') + 1;

		*v = (t[0] == 'n' || t[0] == 'N') ? NAN : (neg ? -INFINITY : INFINITY);
		return 0;
	}
	errno = 0;
	*v = strtod(buf, &end);
	explicit_bzero(buf, sizeof(buf));
	return *end || end == buf || (errno && !isinf(*v) && *v != 0) ? -EINVAL : 0;
}

static int parse_go_bool(const char *s, size_t n, int *v)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (strlen(t[i]) == n && !memcmp(t[i], s, n))
			return *v = 1, 0;
		if (strlen(f[i]) == n && !memcmp(f[i], s, n))
			return *v = 0, 0;
	}
	return -EINVAL;
}

/* RFC 3339 -> Go's MarshalText (RFC3339Nano: trailing zeros of the
 * fraction dropped, "Z" for a zero offset); with seconds_only, Go's
 * Format(RFC3339) (no fraction). */
static int canon_time(const char *s, size_t n, int seconds_only, char *out, size_t cap)
{
	size_t i = 19, fe, o;
	int neg;

	if (n < 20 || cap < 64 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	memcpy(out, s, 19);
	out[10] = 'T';
	o = 19;
	if (s[i] == '.') {
		for (fe = i + 1; fe < n && s[fe] >= '0' && s[fe] <= '9'; fe++)
			;
		if (fe == i + 1)
			return -EINVAL;
		if (!seconds_only) {
			size_t last = fe;

			while (last > i + 1 && s[last - 1] == '0')
				last--;
			if (last > i + 1) {
				memcpy(out + o, s + i, last - i);
				o += last - i;
			}
		}
		i = fe;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
		out[o++] = 'Z';
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		neg = s[i] == '-';
		if (!memcmp(s + i + 1, "00:00", 5))
			out[o++] = 'Z';
		else {
			out[o++] = neg ? '-' : '+';
			memcpy(out + o, s + i + 1, 5);
			o += 5;
		}
	} else {
		return -EINVAL;
	}
	out[o] = 0;
	return 0;
}

/* The bytes sops hashes for a value of type t whose text is s (decrypted
 * plaintext or clear text).  *out points at s or at buf. */
static int canon(enum sops_type t, int yaml_clear, const char *s, size_t n, char *buf,
		 const char **out, size_t *outlen)
{
	long long iv;
	double dv;
	int bv;

	*out = s;
	*outlen = n;
	switch (t) {
	case SV_INT:
		if (parse_go_int(s, n, yaml_clear, &iv))
			return -EINVAL;
		*outlen = (size_t)snprintf(buf, CANON_MAX, "%lld", iv);
		*out = buf;
		return 0;
	case SV_FLOAT:
		if (parse_float(s, n, yaml_clear, &dv))
			return -EINVAL;
		sops_format_float(dv, buf, CANON_MAX);
		*out = buf;
		*outlen = strlen(buf);
		return 0;
	case SV_BOOL:
		if (parse_go_bool(s, n, &bv))
			return -EINVAL;
		*out = bv ? "True" : "False";
		*outlen = strlen(*out);
		return 0;
	case SV_TIME:
		if (canon_time(s, n, 0, buf, CANON_MAX) == 0) {
			*out = buf;
			*outlen = strlen(buf);
		}
		return 0;
	default:
		return 0;
	}
}

static const char *type_name(enum sops_type t)
{
	switch (t) {
	case SV_INT:
		return "int";
	case SV_FLOAT:
		return "float";
	case SV_BOOL:
		return "bool";
	case SV_TIME:
		return "time";
	case SV_BYTES:
		return "bytes";
	case SV_COMMENT:
		return "comment";
	default:
		return "str";
	}
}

/* ---- the walk ---- */

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

static int re_match(struct walk *w, const char *s, size_t n)
{
	return pcre2_match(w->doc->m.re, (PCRE2_SPTR)s, n, 0, 0, w->md, NULL) >= 0;
}

static int should_encrypt(struct walk *w, int is_comment)
{
	const struct sops_meta *m = &w->doc->m;
	int i, enc = 1;
	size_t k;

	switch (m->rule) {
	case RULE_UNENC_SUFFIX:
		for (i = 0; i < w->depth; i++)
			if (ends_with(w->comp[i], w->clen[i], m->rule_arg))
				enc = 0;
		break;
	case RULE_ENC_SUFFIX:
		enc = 0;
		for (i = 0; i < w->depth; i++)
			if (ends_with(w->comp[i], w->clen[i], m->rule_arg))
				enc = 1;
		break;
	case RULE_UNENC_REGEX:
		for (i = 0; i < w->depth && enc; i++)
			if (re_match(w, w->comp[i], w->clen[i]))
				enc = 0;
		break;
	case RULE_ENC_REGEX:
		enc = 0;
		for (i = 0; i < w->depth && !enc; i++)
			if (re_match(w, w->comp[i], w->clen[i]))
				enc = 1;
		break;
	case RULE_UNENC_COMMENT_REGEX:
		for (k = 0; k < w->ncs && enc; k++)
			if (re_match(w, w->cs[k].c->text, w->cs[k].c->len))
				enc = 0;
		break;
	case RULE_ENC_COMMENT_REGEX:
		enc = 0;
		for (k = 0; k < w->ncs && !enc; k++) {
			/* The matching comment line itself stays clear. */
			if (is_comment && k + 1 == w->ncs && w->cs[k].level == w->level)
				continue;
			if (re_match(w, w->cs[k].c->text, w->cs[k].c->len))
				enc = 1;
		}
		break;
	}
	return enc;
}

/* "a:b:c:" for messages and as the AAD.  Keys are not secret. */
static const char *aad(struct walk *w, size_t *len)
{
	int i;

	w->aad.len = 0;
	obuf_putc(&w->aad, 0);
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

static int hash_value(struct walk *w, enum sops_type t, int yaml_clear, const char *s, size_t n,
		      const char *path)
{
	char buf[CANON_MAX];
	const char *c;
	size_t cl;

	if (canon(t, yaml_clear, s, n, buf, &c, &cl))
		return why_fail(w->why, -EINVAL, "value at '%s' is not a valid %s", path,
				t == SV_INT ? "int" : t == SV_FLOAT ? "float" : "bool");
	crypto_hash_sha512_update(&w->mac, (const unsigned char *)c, cl);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int leaf_decrypt(struct walk *w, struct sops_node *n, int encrypt)
{
	struct sops_doc *doc = w->doc;
	size_t alen, plen = 0, off;
	const char *path = aad(w, &alen);
	int yaml = doc->fmt == SOPS_FMT_YAML;
	int r;

	if (!path)
		return -ENOMEM;
	if (!encrypt) {
		if (doc->m.mac_only_encrypted)
			return 0;
		return hash_value(w, n->type, yaml && !n->quoted, n->text, n->len, path);
	}
	if (n->type == SV_STR && n->len == 0)
		return 0;	/* sops leaves empty strings unencrypted */
	if (n->type != SV_STR || n->len < sizeof(ENC_PREFIX) ||
	    memcmp(n->text, ENC_PREFIX, sizeof(ENC_PREFIX) - 1) != 0)
		return why_fail(w->why, -EBADMSG, "the value at '%s' should be encrypted but is clear text", path);
	off = secbuf_len(doc->plain);
	r = enc_open(w->ctx, doc->data_key, n->text, n->len, path, alen, doc->plain, &plen, &n->type);
	if (r == -EINVAL)
		return why_fail(w->why, -EBADMSG, "the value at '%s' is not a well-formed ENC[AES256_GCM,...] value", path);
	if (r == -EBADMSG)
		return why_fail(w->why, -EBADMSG,
				"the value at '%s' does not authenticate (altered, or moved from another key)", path);
	if (r)
		return why_fail(w->why, r, "out of locked memory decrypting '%s'", path);
	secbuf_commit(doc->plain, plen);
	n->enc = 1;
	n->poff = off;
	n->plen = plen;
	if (n->type == SV_COMMENT)
		return 0;
	return hash_value(w, n->type, 0, (const char *)secbuf_data(doc->plain, NULL) + off, plen, path);
}

static int leaf_seal(struct walk *w, struct sops_node *n, int encrypt)
{
	struct sops_doc *doc = w->doc;
	size_t alen;
	const char *path = aad(w, &alen);
	const unsigned char *p;
	int r, yaml_typed = 0;

	if (!path)
		return -ENOMEM;
	if (n->dirty) {
		char *t = NULL;
		size_t tl = 0;

		p = secbuf_data(doc->plain, NULL) + n->poff;
		if (encrypt && n->plen && n->typed && n->type != SV_STR) {
			/* sops encrypts a typed value's canonical text (ToBytes). */
			char buf[CANON_MAX];
			const char *c;
			size_t cl;

			if (canon(n->type, doc->fmt == SOPS_FMT_YAML, (const char *)p, n->plen, buf, &c, &cl))
				return why_fail(w->why, -EINVAL, "the value at '%s' is not a valid %s", path,
						type_name(n->type));
			r = enc_seal(w->ctx, doc->data_key, (const unsigned char *)c, cl, path, alen,
				     type_name(n->type), &t, &tl);
			explicit_bzero(buf, sizeof(buf));
			if (r)
				return why_fail(w->why, r, "cannot encrypt the value at '%s'", path);
			n->enc = 1;
		} else if (encrypt && n->plen) {
			if ((r = enc_seal(w->ctx, doc->data_key, p, n->plen, path, alen, "str", &t, &tl)))
				return why_fail(w->why, r, "cannot encrypt the value at '%s'", path);
			n->enc = 1;
		} else {
			/* Clear by the file's own rules (or empty): sops does the same. */
			if (n->plen && !n->typed)
				log_warn("sops: '%s' is stored in clear text (the file's %s rule)", path,
					 doc->m.rule == RULE_UNENC_SUFFIX ? "unencrypted_suffix" : "encryption");
			if (!(t = malloc(n->plen + 1)))
				return -ENOMEM;
			memcpy(t, p, n->plen);
			t[n->plen] = 0;
			tl = n->plen;
			n->enc = 0;
			n->quoted = !n->typed || n->type == SV_STR;
		}
		free(n->text);
		n->text = t;
		n->len = tl;
		if (!n->typed)
			n->type = SV_STR;
		yaml_typed = n->typed && doc->fmt == SOPS_FMT_YAML;
		n->dirty = 0;
		n->typed = 0;
	}
	if (doc->m.mac_only_encrypted && !encrypt)
		return 0;
	if (n->enc) {
		if (n->type == SV_COMMENT)
			return 0;
		p = secbuf_data(doc->plain, NULL) + n->poff;
		return hash_value(w, n->type, yaml_typed, (const char *)p, n->plen, path);
	}
	return hash_value(w, n->type, doc->fmt == SOPS_FMT_YAML && !n->quoted, n->text, n->len, path);
}

static int push_comment(struct walk *w, const struct sops_node *c)
{
	if (w->ncs == w->capcs) {
		size_t cap = w->capcs ? w->capcs * 2 : 16;
		struct cmt *nc = realloc(w->cs, cap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		w->cs = nc;
		w->capcs = cap;
	}
	w->cs[w->ncs].c = c;
	w->cs[w->ncs].level = w->level;
	w->ncs++;
	return 0;
}

static void clear_level(struct walk *w)
{
	while (w->ncs && w->cs[w->ncs - 1].level >= w->level)
		w->ncs--;
}

static int walk_node(struct walk *w, struct sops_node *n)
{
	size_t i;
	int r = 0;

	if (!n)
		return 0;
	if (n->kind == SN_SCALAR) {
		if (n->type == SV_NULL && !n->enc)
			return 0;
		return w->mode == WALK_DECRYPT ? leaf_decrypt(w, n, should_encrypt(w, 0))
					       : leaf_seal(w, n, should_encrypt(w, 0));
	}
	if (n->kind == SN_COMMENT)
		return 0;	/* comments are kept as written and are not in the MAC */
	if (w->depth >= SOPS_MAX_DEPTH)
		return why_fail(w->why, -EINVAL, "the document is nested more than %d levels deep", SOPS_MAX_DEPTH);
	w->level++;
	for (i = 0; i < n->n && !r; i++) {
		struct sops_node *v = n->items[i].val;

		if (v && v->kind == SN_COMMENT) {
			r = push_comment(w, v);
			continue;
		}
		if (n->kind == SN_MAP) {
			w->comp[w->depth] = n->items[i].key;
			w->clen[w->depth] = n->items[i].klen;
			w->depth++;
			r = walk_node(w, v);
			w->depth--;
		} else {
			r = walk_node(w, v);
		}
		clear_level(w);
	}
	clear_level(w);
	w->level--;
	return r;
}

static int walk_all(struct sops_doc *doc, enum walk_mode mode, char mac_hex[129], struct why *why)
{
	struct walk w;
	unsigned char digest[crypto_hash_sha512_BYTES];
	size_t b;
	int r = 0;

	memset(&w, 0, sizeof(w));
	w.doc = doc;
	w.mode = mode;
	w.why = why;
	crypto_hash_sha512_init(&w.mac);
	if (doc->m.mac_only_encrypted) {
		unsigned char init[32];

		sodium_hex2bin(init, sizeof(init), MAC_ONLY_ENCRYPTED_INIT, 64, NULL, NULL, NULL);
		crypto_hash_sha512_update(&w.mac, init, sizeof(init));
	}
	if (!(w.ctx = EVP_CIPHER_CTX_new()) ||
	    (doc->m.re && !(w.md = pcre2_match_data_create_from_pattern(doc->m.re, NULL)))) {
		r = -ENOMEM;
		goto out;
	}
	for (b = 0; b < doc->nbranches && !r; b++)
		r = walk_node(&w, doc->branches[b]);
	if (!r) {
		size_t i;

		crypto_hash_sha512_final(&w.mac, digest);
		for (i = 0; i < sizeof(digest); i++)
			snprintf(mac_hex + 2 * i, 3, "%02X", digest[i]);
	}
 out:
	EVP_CIPHER_CTX_free(w.ctx);
	if (w.md)
		pcre2_match_data_free(w.md);
	free(w.cs);
	obuf_release(&w.aad);
	sodium_memzero(&w.mac, sizeof(w.mac));
	return r;
}

int sops_doc_decrypt(struct sops_doc *doc, struct why *why)
{
	char computed[129], lm[64];
	struct secbuf *macbuf = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	const struct sops_node *mac = doc->m.mac, *lmn = doc->m.lastmodified;
	enum sops_type t;
	size_t cap = 64, i, plen = 0;
	int r;

	/* Every plaintext is shorter than its base64 ciphertext: size once. */
	for (i = 0; i < doc->nbranches; i++) {
		struct sops_node *stack[SOPS_MAX_DEPTH + 1];
		size_t sp = 0, k;

		stack[sp++] = doc->branches[i];
		while (sp) {
			struct sops_node *n = stack[--sp];

			if (n->kind == SN_SCALAR) {
				cap += n->len;
				continue;
			}
			for (k = 0; k < n->n; k++) {
				struct sops_node *v = n->items[k].val;

				if (!v)
					continue;
				if (v->kind == SN_SCALAR)
					cap += v->len;
				else if (sp < ARRAY_SIZE(stack))
					stack[sp++] = v;
				else
					cap += 4096;
			}
		}
	}
	secbuf_free(doc->plain);
	if (!(doc->plain = secbuf_new(cap)))
		return why_fail(why, -ENOMEM, "out of locked memory (%zu bytes for the decrypted values)", cap);
	if ((r = walk_all(doc, WALK_DECRYPT, computed, why)))
		return r;
	if (canon_time(lmn->text, lmn->len, 1, lm, sizeof(lm)))
		return why_fail(why, -EINVAL, "metadata: 'lastmodified' is not an RFC 3339 time");
	if (mac->len == 0)
		return why_fail(why, -EBADMSG, "the file has no MAC");
	if (!(macbuf = secbuf_new(mac->len)) || !(ctx = EVP_CIPHER_CTX_new())) {
		r = -ENOMEM;
		goto out;
	}
	r = enc_open(ctx, doc->data_key, mac->text, mac->len, lm, strlen(lm), macbuf, &plen, &t);
	if (r == -EINVAL || r == -EBADMSG) {
		why_set(why, r == -EINVAL ? "the MAC is not a well-formed ENC[...] value"
					  : "the MAC does not authenticate (lastmodified or MAC altered)");
		r = -EBADMSG;
		goto out;
	}
	if (r)
		goto out;
	if (plen != 128 || sodium_memcmp(secbuf_data(macbuf, NULL), computed, 128) != 0) {
		why_set(why, "MAC mismatch: values were added, removed, reordered or changed");
		r = -EBADMSG;
	}
 out:
	EVP_CIPHER_CTX_free(ctx);
	secbuf_free(macbuf);
	return r;
}

static int set_text(struct sops_node *n, const char *s, size_t len)
{
	char *t = malloc(len + 1);

	if (!t)
		return -ENOMEM;
	memcpy(t, s, len);
	t[len] = 0;
	free(n->text);
	n->text = t;
	n->len = len;
	n->type = SV_STR;
	return 0;
}

int sops_doc_seal(struct sops_doc *doc, struct why *why)
{
	char mac_hex[129], now[32], *t = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	struct tm tm;
	time_t tt = time(NULL);
	size_t tl;
	int r;

	if ((r = walk_all(doc, WALK_SEAL, mac_hex, why)))
		return r;
	gmtime_r(&tt, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((r = set_text(doc->m.lastmodified, now, strlen(now))))
		return r;
	doc->m.lastmodified->quoted = 1;
	if (!(ctx = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	r = enc_seal(ctx, doc->data_key, (const unsigned char *)mac_hex, 128, now, strlen(now), "str", &t, &tl);
	EVP_CIPHER_CTX_free(ctx);
	if (r)
		return why_fail(why, r, "cannot encrypt the MAC");
	free(doc->m.mac->text);
	doc->m.mac->text = t;
	doc->m.mac->len = tl;
	doc->m.mac->type = SV_STR;
	return 0;
}

int sops_text_open(struct sops_doc *doc, const char *text, size_t len, const char *aad, size_t aadlen,
		   size_t *off, size_t *plen)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	enum sops_type t;
	int r;

	if (!ctx)
		return -ENOMEM;
	*off = secbuf_len(doc->plain);
	r = enc_open(ctx, doc->data_key, text, len, aad, aadlen, doc->plain, plen, &t);
	EVP_CIPHER_CTX_free(ctx);
	if (!r)
		secbuf_commit(doc->plain, *plen);
	return r;
}

int sops_text_seal(const struct sops_doc *doc, const unsigned char *pt, size_t n, const char *aad, size_t aadlen,
		   const char *type, char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int r;

	if (!ctx)
		return -ENOMEM;
	r = enc_seal(ctx, doc->data_key, pt, n, aad, aadlen, type, out, outlen);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}
