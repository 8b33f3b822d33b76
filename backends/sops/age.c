#include "lib/compat.h"
#include "backends/sops/age.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lib/secbuf.h"

/*
 * age v1 with X25519 recipients, following specs/age.md (the C2SP spec and
 * the Go reference's parser rules, which the CCTV vectors pin down).
 * Everything cryptographic is libsodium: X25519, HMAC-SHA-256 (HKDF is
 * built from it: libsodium 1.0.18, Debian 12's, has no crypto_kdf_hkdf),
 * ChaCha20-Poly1305-IETF and the CSPRNG.  The Bech32 codec of recipients
 * and identities is bech32.c.
 */

#define V1_LINE "age-encryption.org/v1\n"
#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END "-----END AGE ENCRYPTED FILE-----"
#define BYTES_PER_LINE 48
#define COLUMNS_PER_LINE 64
#define CHUNK_CT (AGE_CHUNK + crypto_aead_chacha20poly1305_ietf_ABYTES)
#define TAGLEN crypto_aead_chacha20poly1305_ietf_ABYTES
#define MAX_WHITESPACE 1024
#define SECRET_HRP "AGE-SECRET-KEY-"

static const char x25519_info[] = "age-encryption.org/v1/X25519";

struct age_identity {
	unsigned char sk[AGE_KEY_LEN];
	unsigned char pk[AGE_KEY_LEN];
};

struct age_identities {
	struct age_identity *v;		/* locked memory */
	size_t n, cap;
};

static int fail(struct age_error *err, enum age_fail kind, int r, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

static int fail(struct age_error *err, enum age_fail kind, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->kind = kind;
		va_start(ap, fmt);
		vsnprintf(err->why.msg, sizeof(err->why.msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

/* ---- HKDF-SHA-256 (RFC 5869), one 32-byte output block ---- */

static void hkdf32(unsigned char out[32], const unsigned char *ikm, size_t ikm_len,
		   const unsigned char *salt, size_t salt_len, const char *info)
{
	crypto_auth_hmacsha256_state st;
	unsigned char prk[32];
	static const unsigned char one = 1, none[1];

	/* An absent salt is HashLen zero bytes, which HMAC pads to the same key
	 * as the empty string. */
	crypto_auth_hmacsha256_init(&st, salt ? salt : none, salt_len);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)info, strlen(info));
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(&st, sizeof(st));
}

/* ---- keys ---- */

struct age_identities *age_identities_new(void)
{
	return calloc(1, sizeof(struct age_identities));
}

void age_identities_free(struct age_identities *ids)
{
	if (!ids)
		return;
	secmem_free(ids->v);
	free(ids);
}

size_t age_identities_count(const struct age_identities *ids)
{
	return ids ? ids->n : 0;
}

void age_identities_public(const struct age_identities *ids, size_t i, unsigned char pk[AGE_KEY_LEN])
{
	memcpy(pk, ids->v[i].pk, AGE_KEY_LEN);
}

int age_identity_add(struct age_identities *ids, const char *s, size_t len)
{
	char hrp[32];
	size_t n = 0;
	struct age_identity *id;
	int r;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 4;
		struct age_identity *nv = secmem_alloc(cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		if (ids->n)
			memcpy(nv, ids->v, ids->n * sizeof(*nv));
		secmem_free(ids->v);
		ids->v = nv;
		ids->cap = cap;
	}
	id = &ids->v[ids->n];
	r = age_bech32_decode(s, len, hrp, sizeof(hrp), id->sk, sizeof(id->sk), &n);
	/* The reference compares the HRP case-sensitively: identities are
	 * written upper-case. */
	if (r || strcmp(hrp, SECRET_HRP) != 0 || n != AGE_KEY_LEN) {
		sodium_memzero(id, sizeof(*id));
		return -EINVAL;
	}
	crypto_scalarmult_curve25519_base(id->pk, id->sk);
	ids->n++;
	return 0;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int add_token(struct age_identities *ids, const char *t, size_t n, size_t *skipped)
{
	if (n >= 19 && !memcmp(t, "AGE-SECRET-KEY-PQ-1", 19)) {
		(*skipped)++;
		return 0;
	}
	if (n >= 11 && !memcmp(t, "AGE-PLUGIN-", 11)) {
		(*skipped)++;
		return 0;
	}
	return age_identity_add(ids, t, n);
}

int age_identities_add_text(struct age_identities *ids, const char *text, size_t len, int split_ws,
			    size_t *skipped, struct why *why)
{
	size_t pos = 0, line = 0, n0 = ids->n, sk = 0;
	int r = 0;

	while (pos < len && !r) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - l) : len - pos;

		pos += ll + (nl ? 1 : 0);
		line++;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll == 0 || l[0] == '#')
			continue;
		if (!split_ws) {
			r = add_token(ids, l, ll, &sk);
		} else {
			size_t i = 0;

			while (i < ll && !r) {
				size_t j;

				while (i < ll && is_ws(l[i]))
					i++;
				for (j = i; j < ll && !is_ws(l[j]); j++)
					;
				if (j > i)
					r = add_token(ids, l + i, j - i, &sk);
				i = j;
			}
		}
		if (r == -EINVAL)
			why_set(why, "line %zu is not an age identity (AGE-SECRET-KEY-1...)", line);
		else if (r)
			why_set(why, "out of locked memory");
	}
	if (r) {
		/* All or nothing: one bad line invalidates the source, as in sops. */
		if (ids->n > n0)
			sodium_memzero(&ids->v[n0], (ids->n - n0) * sizeof(*ids->v));
		ids->n = n0;
		return r;
	}
	if (skipped)
		*skipped += sk;
	return 0;
}

int age_recipient_parse(const char *s, unsigned char pk[AGE_KEY_LEN], struct why *why)
{
	char hrp[64];
	size_t n = 0, len = strlen(s);

	if (!strncmp(s, "age1pq1", 7))
		return why_fail(why, -EINVAL, "post-quantum (age1pq1...) recipients are not supported");
	if (!strncmp(s, "ssh-", 4))
		return why_fail(why, -EINVAL, "SSH recipients are not supported, only age X25519 (age1...)");
	if (age_bech32_decode(s, len, hrp, sizeof(hrp), pk, AGE_KEY_LEN, &n) != 0 ||
	    strcmp(hrp, "age") != 0 || n != AGE_KEY_LEN) {
		if (!strncmp(s, "age1", 4) && strchr(s + 4, '1'))
			why_set(why, "age plugin recipients are not supported");
		else
			why_set(why, "not an age X25519 recipient (age1...)");
		return -EINVAL;
	}
	return 0;
}

void age_recipient_format(const unsigned char pk[AGE_KEY_LEN], char *out, size_t outlen)
{
	if (age_bech32_encode("age", pk, AGE_KEY_LEN, 0, out, outlen) != 0 && outlen)
		out[0] = 0;
}

/* ---- base64 ---- */

/* Canonical unpadded base64 of one header token; 0 or -1.  A CR or LF in
 * the token is refused by the decoder like any other stray byte. */
static int b64raw_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	return sodium_base642bin(out, cap, s, n, NULL, outlen, NULL,
				 sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

static size_t b64raw_encode(char *out, size_t cap, const unsigned char *in, size_t n)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return strlen(out);
}

/* ---- armor ---- */

static int only_ws(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_ws((char)p[i]))
			return 0;
	return 1;
}

int age_armor_detect(const unsigned char *in, size_t len)
{
	size_t i = 0;

	while (i < len && i < MAX_WHITESPACE && is_ws((char)in[i]))
		i++;
	return len - i >= sizeof(ARMOR_BEGIN) - 1 && !memcmp(in + i, ARMOR_BEGIN, sizeof(ARMOR_BEGIN) - 1);
}

/* The next line at *pos: its start and length without LF and one CR.
 * 0, or -1 at the end of the input. */
static int next_line(const unsigned char *in, size_t len, size_t *pos, const unsigned char **l,
		     size_t *ll, int *had_lf)
{
	const unsigned char *nl;

	if (*pos >= len)
		return -1;
	*l = in + *pos;
	nl = memchr(*l, '\n', len - *pos);
	*ll = nl ? (size_t)(nl - *l) : len - *pos;
	*pos += *ll + (nl ? 1 : 0);
	*had_lf = nl != NULL;
	if (*ll && (*l)[*ll - 1] == '\r')
		(*ll)--;
	return 0;
}

static int line_is(const unsigned char *l, size_t ll, const char *want)
{
	return ll == strlen(want) && !memcmp(l, want, ll);
}

int age_armor_decode(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
		     struct age_error *err)
{
	const unsigned char *l;
	size_t pos = 0, ll, o = 0, n;
	unsigned char *buf = NULL;
	int lf, r;

	*out = NULL;
	*outlen = 0;
	while (pos < len && is_ws((char)in[pos]))
		pos++;
	if (pos > MAX_WHITESPACE)
		return fail(err, AGE_ARMOR, -EINVAL, "too much whitespace before the armor");
	if (next_line(in, len, &pos, &l, &ll, &lf) || !line_is(l, ll, ARMOR_BEGIN) || !lf)
		return fail(err, AGE_ARMOR, -EINVAL, "armor does not start with '" ARMOR_BEGIN "'");
	if (!(buf = malloc(len / 4 * 3 + 3)))
		return fail(err, AGE_NOMEM, -ENOMEM, "out of memory");
	for (;;) {
		if (next_line(in, len, &pos, &l, &ll, &lf)) {
			r = fail(err, AGE_ARMOR, -EINVAL, "armor has no END line");
			goto bad;
		}
		if (line_is(l, ll, ARMOR_END))
			break;
		if (ll == 0 || ll > COLUMNS_PER_LINE) {
			r = fail(err, AGE_ARMOR, -EINVAL, "armor line of %zu columns", ll);
			goto bad;
		}
		if (sodium_base642bin(buf + o, BYTES_PER_LINE, (const char *)l, ll, NULL, &n, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0) {
			r = fail(err, AGE_ARMOR, -EINVAL, "armor line is not canonical padded base64");
			goto bad;
		}
		o += n;
		if (n < BYTES_PER_LINE) {
			/* A short line is the last one: END must follow. */
			if (next_line(in, len, &pos, &l, &ll, &lf) || !line_is(l, ll, ARMOR_END)) {
				r = fail(err, AGE_ARMOR, -EINVAL, "short armor line not followed by the END line");
				goto bad;
			}
			break;
		}
	}
	if (len - pos > MAX_WHITESPACE || !only_ws(in + pos, len - pos)) {
		r = fail(err, AGE_ARMOR, -EINVAL, "data after the armor's END line");
		goto bad;
	}
	*out = buf;
	*outlen = o;
	return 0;
 bad:
	free(buf);
	return r;
}

int age_armor_encode(const unsigned char *in, size_t len, char **out, size_t *outlen)
{
	size_t lines = (len + BYTES_PER_LINE - 1) / BYTES_PER_LINE;
	size_t cap = sizeof(ARMOR_BEGIN) + sizeof(ARMOR_END) + lines * (COLUMNS_PER_LINE + 1) + 4;
	char *buf = malloc(cap);
	size_t o = 0, i;

	if (!buf)
		return -ENOMEM;
	o += (size_t)snprintf(buf + o, cap - o, "%s\n", ARMOR_BEGIN);
	for (i = 0; i < len; i += BYTES_PER_LINE) {
		size_t n = len - i < BYTES_PER_LINE ? len - i : BYTES_PER_LINE;

		sodium_bin2base64(buf + o, cap - o, in + i, n, sodium_base64_VARIANT_ORIGINAL);
		o += strlen(buf + o);
		buf[o++] = '\n';
	}
	o += (size_t)snprintf(buf + o, cap - o, "%s\n", ARMOR_END);
	*out = buf;
	*outlen = o;
	return 0;
}

/* ---- header ---- */

void age_header_release(struct age_header *h)
{
	size_t i, k;

	for (i = 0; i < h->n; i++) {
		free(h->stanzas[i].type);
		for (k = 0; k < h->stanzas[i].nargs; k++)
			free(h->stanzas[i].args[k]);
		free(h->stanzas[i].body);
	}
	free(h->stanzas);
	memset(h, 0, sizeof(*h));
}

static int vchar_only(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return 0;
	return n > 0;
}

/* A header line at *pos, without its LF; -1 when no LF ends it. */
static int header_line(const unsigned char *in, size_t len, size_t *pos, const char **l, size_t *ll)
{
	const unsigned char *nl;

	if (*pos >= len || !(nl = memchr(in + *pos, '\n', len - *pos)))
		return -1;
	*l = (const char *)in + *pos;
	*ll = (size_t)(nl - (in + *pos));
	*pos += *ll + 1;
	return 0;
}

static int parse_stanza(const unsigned char *in, size_t len, size_t *pos, const char *l, size_t ll,
			struct age_stanza *s, struct age_error *err)
{
	size_t i = 3, start, cap = 0;

	/* "-> " then arguments separated by exactly one space each. */
	if (ll < 3 || memcmp(l, "-> ", 3) != 0)
		return fail(err, AGE_HEADER, -EINVAL, "malformed stanza line");
	for (start = i; i <= ll; i++) {
		char **slot;

		if (i < ll && l[i] != ' ')
			continue;
		if (!vchar_only(l + start, i - start))
			return fail(err, AGE_HEADER, -EINVAL, "malformed stanza argument");
		if (!s->type) {
			slot = &s->type;
		} else {
			if (s->nargs == AGE_MAX_ARGS)
				return fail(err, AGE_HEADER, -EINVAL, "too many stanza arguments");
			slot = &s->args[s->nargs++];
		}
		if (!(*slot = strndup(l + start, i - start)))
			return fail(err, AGE_NOMEM, -ENOMEM, "out of memory");
		start = i + 1;
	}
	for (;;) {
		const char *b;
		size_t bl, n;

		if (header_line(in, len, pos, &b, &bl))
			return fail(err, AGE_HEADER, -EINVAL, "header ends inside a stanza body");
		if (bl > COLUMNS_PER_LINE)
			return fail(err, AGE_HEADER, -EINVAL, "stanza body line longer than 64 columns");
		if (s->body_len + BYTES_PER_LINE > cap) {
			unsigned char *nb = realloc(s->body, cap = cap * 2 + BYTES_PER_LINE);

			if (!nb)
				return fail(err, AGE_NOMEM, -ENOMEM, "out of memory");
			s->body = nb;
		}
		if (b64raw_decode(b, bl, s->body + s->body_len, BYTES_PER_LINE, &n) != 0) {
			if ((bl >= 3 && !memcmp(b, "---", 3)) || (bl >= 2 && !memcmp(b, "->", 2)))
				return fail(err, AGE_HEADER, -EINVAL, "stanza ended without a short body line");
			return fail(err, AGE_HEADER, -EINVAL, "stanza body is not canonical base64");
		}
		s->body_len += n;
		if (n < BYTES_PER_LINE)
			return 0;
	}
}

int age_header_parse(const unsigned char *in, size_t len, struct age_header *h, struct age_error *err)
{
	size_t pos = sizeof(V1_LINE) - 1, cap = 0;
	int r;

	memset(h, 0, sizeof(*h));
	if (len < pos || memcmp(in, V1_LINE, pos) != 0) {
		if (len >= 19 && !memcmp(in, "age-encryption.org/", 19))
			return fail(err, AGE_HEADER, -EINVAL, "unsupported age format version");
		return fail(err, AGE_HEADER, -EINVAL, "not an age file");
	}
	for (;;) {
		const char *l;
		size_t ll, n;

		if (header_line(in, len, &pos, &l, &ll)) {
			r = fail(err, AGE_HEADER, -EINVAL, "age header is truncated");
			goto bad;
		}
		if (ll >= 3 && !memcmp(l, "---", 3)) {
			unsigned char mac[33];

			if (ll < 4 || l[3] != ' ' || memchr(l + 4, ' ', ll - 4) ||
			    b64raw_decode(l + 4, ll - 4, mac, sizeof(mac), &n) != 0 || n != 32) {
				r = fail(err, AGE_HEADER, -EINVAL, "malformed header MAC line");
				goto bad;
			}
			memcpy(h->mac, mac, 32);
			h->mac_input_len = (size_t)(l - (const char *)in) + 3;
			h->len = pos;
			break;
		}
		if (ll < 2 || memcmp(l, "->", 2) != 0) {
			r = fail(err, AGE_HEADER, -EINVAL, "unexpected line in the age header");
			goto bad;
		}
		if (h->n == cap) {
			struct age_stanza *ns = realloc(h->stanzas, (cap = cap * 2 + 2) * sizeof(*ns));

			if (!ns) {
				r = fail(err, AGE_NOMEM, -ENOMEM, "out of memory");
				goto bad;
			}
			h->stanzas = ns;
		}
		memset(&h->stanzas[h->n], 0, sizeof(h->stanzas[h->n]));
		h->n++;
		if ((r = parse_stanza(in, len, &pos, l, ll, &h->stanzas[h->n - 1], err)))
			goto bad;
	}
	if (h->n == 0) {
		r = fail(err, AGE_HEADER, -EINVAL, "age header has no recipient stanza");
		goto bad;
	}
	return 0;
 bad:
	age_header_release(h);
	return r;
}

/* ---- decrypt ---- */

/* 0: file key found; 1: not for this identity; <0: the file must be refused. */
static int x25519_unwrap(const struct age_stanza *s, const struct age_identity *id,
			 unsigned char file_key[AGE_FILE_KEY_LEN], struct age_error *err)
{
	unsigned char share[AGE_KEY_LEN + 1], ss[AGE_KEY_LEN], salt[2 * AGE_KEY_LEN], wrap[32];
	static const unsigned char zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long fl = 0;
	size_t n;
	int r;

	if (strcmp(s->type, "X25519") != 0)
		return 1;
	if (s->nargs != 1)
		return fail(err, AGE_HEADER, -EBADMSG, "X25519 stanza with %zu arguments", s->nargs + 1);
	if (b64raw_decode(s->args[0], strlen(s->args[0]), share, sizeof(share), &n) != 0 ||
	    n != AGE_KEY_LEN)
		return fail(err, AGE_HEADER, -EBADMSG, "X25519 stanza share is not 32 bytes of canonical base64");
	if (crypto_scalarmult_curve25519(ss, id->sk, share) != 0) {
		sodium_memzero(ss, sizeof(ss));
		return fail(err, AGE_HEADER, -EBADMSG, "X25519 stanza share is a low-order point");
	}
	if (s->body_len != AGE_FILE_KEY_LEN + TAGLEN) {
		sodium_memzero(ss, sizeof(ss));
		return fail(err, AGE_HEADER, -EBADMSG, "X25519 stanza body is %zu bytes, not 32", s->body_len);
	}
	memcpy(salt, share, AGE_KEY_LEN);
	memcpy(salt + AGE_KEY_LEN, id->pk, AGE_KEY_LEN);
	hkdf32(wrap, ss, sizeof(ss), salt, sizeof(salt), x25519_info);
	r = crypto_aead_chacha20poly1305_ietf_decrypt(file_key, &fl, NULL, s->body, s->body_len, NULL, 0,
						      zero_nonce, wrap) == 0 && fl == AGE_FILE_KEY_LEN
		    ? 0 : 1;
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(wrap, sizeof(wrap));
	return r;
}

static int find_file_key(const struct age_header *h, const struct age_identities *ids,
			 unsigned char file_key[AGE_FILE_KEY_LEN], struct age_error *err)
{
	size_t i, k, nx = 0;
	int r;

	for (k = 0; k < h->n; k++) {
		if (!strcmp(h->stanzas[k].type, "scrypt")) {
			if (h->n != 1)
				return fail(err, AGE_HEADER, -EBADMSG, "an scrypt stanza must be alone in the header");
			return fail(err, AGE_NO_MATCH, -ENOKEY,
				    "the file is encrypted with a passphrase (scrypt), which is not supported");
		}
		nx += !strcmp(h->stanzas[k].type, "X25519");
	}
	for (i = 0; ids && i < ids->n; i++)
		for (k = 0; k < h->n; k++)
			if ((r = x25519_unwrap(&h->stanzas[k], &ids->v[i], file_key, err)) <= 0)
				return r;
	if (!nx)
		return fail(err, AGE_NO_MATCH, -ENOKEY,
			    "no X25519 stanza in the file (only other recipient types, e.g. post-quantum or plugin)");
	return fail(err, AGE_NO_MATCH, -ENOKEY, "none of %zu identit%s matches the file's %zu X25519 stanza%s",
		    ids ? ids->n : 0, ids && ids->n == 1 ? "y" : "ies", nx, nx == 1 ? "" : "s");
}

static void chunk_nonce(unsigned char nonce[12], uint64_t counter, int last)
{
	int i;

	memset(nonce, 0, 12);
	for (i = 0; i < 8; i++)
		nonce[10 - i] = (unsigned char)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

static int open_chunk(unsigned char *pt, const unsigned char *ct, size_t n, const unsigned char *key,
		      uint64_t counter, int last)
{
	unsigned char nonce[12];
	unsigned long long pl;

	chunk_nonce(nonce, counter, last);
	return crypto_aead_chacha20poly1305_ietf_decrypt(pt, &pl, NULL, ct, n, NULL, 0, nonce, key);
}

static int stream_decrypt(const unsigned char *in, size_t len, const unsigned char key[32],
			  age_sink_fn *sink, void *arg, struct age_error *err)
{
	size_t pos = 0, bufcap = len < CHUNK_CT ? (len > TAGLEN ? len - TAGLEN : 1) : AGE_CHUNK;
	unsigned char *pt = secmem_alloc(bufcap);
	uint64_t counter = 0;
	int r = 0;

	if (!pt)
		return fail(err, AGE_NOMEM, -ENOMEM, "out of locked memory");
	for (;;) {
		size_t rem = len - pos, n;
		int last;

		if (rem == 0) {
			r = fail(err, AGE_PAYLOAD, -EBADMSG, "payload is truncated: no final chunk");
			break;
		}
		if (rem < CHUNK_CT) {
			if (rem < TAGLEN || (counter > 0 && rem == TAGLEN)) {
				r = fail(err, AGE_PAYLOAD, -EBADMSG,
					 rem < TAGLEN ? "payload chunk is too short"
						      : "final payload chunk is empty");
				break;
			}
			n = rem;
			last = 1;
			if (open_chunk(pt, in + pos, n, key, counter, 1) != 0) {
				r = fail(err, AGE_PAYLOAD, -EBADMSG, "payload chunk %llu does not authenticate",
					 (unsigned long long)counter);
				break;
			}
		} else {
			n = CHUNK_CT;
			last = 0;
			if (open_chunk(pt, in + pos, n, key, counter, 0) != 0) {
				/* Maybe a full-size final chunk. */
				last = 1;
				if (open_chunk(pt, in + pos, n, key, counter, 1) != 0) {
					r = fail(err, AGE_PAYLOAD, -EBADMSG,
						 "payload chunk %llu does not authenticate",
						 (unsigned long long)counter);
					break;
				}
			}
		}
		pos += n;
		counter++;
		if ((r = sink(pt, n - TAGLEN, arg)) != 0) {
			fail(err, AGE_NOMEM, r, "cannot keep the decrypted payload");
			break;
		}
		if (last) {
			if (pos != len)
				r = fail(err, AGE_PAYLOAD, -EBADMSG, "data after the final payload chunk");
			break;
		}
	}
	secmem_free(pt);
	return r;
}

int age_decrypt(const unsigned char *in, size_t len, const struct age_identities *ids,
		age_sink_fn *sink, void *arg, struct age_error *err)
{
	struct age_header h = AGE_HEADER_INIT;
	unsigned char file_key[AGE_FILE_KEY_LEN], k[32], mac[32];
	crypto_auth_hmacsha256_state st;
	int r;

	if (err) {
		err->kind = AGE_OK;
		err->why.msg[0] = 0;
	}
	if ((r = age_header_parse(in, len, &h, err)))
		return r == -ENOMEM ? r : -EBADMSG;
	if ((r = find_file_key(&h, ids, file_key, err)))
		goto out;
	hkdf32(k, file_key, sizeof(file_key), NULL, 0, "header");
	crypto_auth_hmacsha256_init(&st, k, sizeof(k));
	crypto_auth_hmacsha256_update(&st, in, h.mac_input_len);
	crypto_auth_hmacsha256_final(&st, mac);
	if (sodium_memcmp(mac, h.mac, sizeof(mac)) != 0) {
		r = fail(err, AGE_HMAC, -EBADMSG, "the age header MAC does not verify");
		goto out;
	}
	if (len - h.len < 16) {
		r = fail(err, AGE_HEADER, -EBADMSG, "the payload nonce is missing");
		goto out;
	}
	hkdf32(k, file_key, sizeof(file_key), in + h.len, 16, "payload");
	r = stream_decrypt(in + h.len + 16, len - h.len - 16, k, sink, arg, err);
 out:
	sodium_memzero(file_key, sizeof(file_key));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(&st, sizeof(st));
	age_header_release(&h);
	return r;
}

int age_decrypt_any(const unsigned char *in, size_t len, const struct age_identities *ids,
		    age_sink_fn *sink, void *arg, struct age_error *err)
{
	unsigned char *bin = NULL;
	size_t blen = 0;
	int r;

	if (!age_armor_detect(in, len))
		return age_decrypt(in, len, ids, sink, arg, err);
	if ((r = age_armor_decode(in, len, &bin, &blen, err)))
		return r;
	r = age_decrypt(bin, blen, ids, sink, arg, err);
	free(bin);
	return r;
}

/* ---- encrypt ---- */

int age_encrypt(const unsigned char *pt, size_t len, const unsigned char (*recipients)[AGE_KEY_LEN],
		size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char file_key[AGE_FILE_KEY_LEN], e[AGE_KEY_LEN], E[AGE_KEY_LEN], ss[AGE_KEY_LEN];
	unsigned char salt[2 * AGE_KEY_LEN], k[32], body[AGE_FILE_KEY_LEN + TAGLEN], mac[32], nonce[12];
	static const unsigned char zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	size_t chunks = len ? (len + AGE_CHUNK - 1) / AGE_CHUNK : 1;
	size_t cap = 64 + n * 128 + 64 + 16 + len + chunks * TAGLEN, o = 0, i;
	crypto_auth_hmacsha256_state st;
	unsigned char *buf;
	int r = 0;

	*out = NULL;
	*outlen = 0;
	if (n == 0)
		return -EINVAL;
	if (!(buf = malloc(cap)))
		return -ENOMEM;
	randombytes_buf(file_key, sizeof(file_key));
	memcpy(buf, V1_LINE, sizeof(V1_LINE) - 1);
	o = sizeof(V1_LINE) - 1;
	for (i = 0; i < n; i++) {
		randombytes_buf(e, sizeof(e));
		crypto_scalarmult_curve25519_base(E, e);
		if (crypto_scalarmult_curve25519(ss, e, recipients[i]) != 0) {
			r = -EINVAL;
			goto out;
		}
		memcpy(salt, E, AGE_KEY_LEN);
		memcpy(salt + AGE_KEY_LEN, recipients[i], AGE_KEY_LEN);
		hkdf32(k, ss, sizeof(ss), salt, sizeof(salt), x25519_info);
		crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, file_key, sizeof(file_key), NULL, 0,
							  NULL, zero_nonce, k);
		memcpy(buf + o, "-> X25519 ", 10);
		o += 10;
		o += b64raw_encode((char *)buf + o, cap - o, E, sizeof(E));
		buf[o++] = '\n';
		o += b64raw_encode((char *)buf + o, cap - o, body, sizeof(body));
		buf[o++] = '\n';
	}
	memcpy(buf + o, "---", 3);
	o += 3;
	hkdf32(k, file_key, sizeof(file_key), NULL, 0, "header");
	crypto_auth_hmacsha256_init(&st, k, sizeof(k));
	crypto_auth_hmacsha256_update(&st, buf, o);
	crypto_auth_hmacsha256_final(&st, mac);
	buf[o++] = ' ';
	o += b64raw_encode((char *)buf + o, cap - o, mac, sizeof(mac));
	buf[o++] = '\n';
	randombytes_buf(buf + o, 16);
	hkdf32(k, file_key, sizeof(file_key), buf + o, 16, "payload");
	o += 16;
	for (i = 0; i < chunks; i++) {
		size_t off = i * AGE_CHUNK, cl = len - off < AGE_CHUNK ? len - off : AGE_CHUNK;

		chunk_nonce(nonce, i, i + 1 == chunks);
		crypto_aead_chacha20poly1305_ietf_encrypt(buf + o, NULL, pt + off, cl, NULL, 0, NULL, nonce, k);
		o += cl + TAGLEN;
	}
	*out = buf;
	*outlen = o;
	buf = NULL;
 out:
	free(buf);
	sodium_memzero(file_key, sizeof(file_key));
	sodium_memzero(e, sizeof(e));
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(&st, sizeof(st));
	return r;
}
