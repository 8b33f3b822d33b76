#include "lib/compat.h"
#include "scan/scan.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "scan/scan-internal.h"

/*
 * Decode before judging: the token runs of a stream's window are judged by
 * entropy, or decoded (base64, hex) and their text scanned with every rule;
 * escapes (%3D, \u0070, \x70, =3D) are decoded for the rules' checks.
 */

/* ---- decode before judging ----
 *
 * A token run that is base64 (either alphabet, padded or not) or hex of
 * text is decoded, and the text is scanned with the same rules: a base64
 * blob of "password=..." or of a .env file is redacted whole, as a docker
 * auth field or a kubeconfig client-key-data already were.  Only runs
 * that decode to printable text with a secret-sounding word or a token
 * marker in it are scanned, so binary blobs (images, integrity hashes)
 * cost one failed decode of a few bytes.  The decoded text is on the
 * stack for the duration and wiped. */
#define DECODE_MAX 6144u

/* base64 in base64 is decoded twice at most: each level is a stream */
static _Thread_local int decode_depth;

static int text_byte(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t';
}

/* Decode p[0, n) into out: the number of bytes, or 0 when it is not the
 * encoding of printable text. */
static size_t decode_text(const unsigned char *p, size_t n, unsigned char *out, size_t *written)
{
	size_t i, o = 0;
	unsigned int acc = 0;
	int bits = 0, a, b, std = 0, url = 0;

	while (n && p[n - 1] == '=')
		n--;
	/* hex: the first bytes say so, the rest must agree */
	for (i = 0; i < n && i < 16 && hex_digit(p[i]) >= 0; i++)
		;
	if (i == 16 && !(n & 1)) {
		for (i = 0; i < n && o < DECODE_MAX; i += 2) {
			if ((a = hex_digit(p[i])) < 0 || (b = hex_digit(p[i + 1])) < 0)
				break;
			out[o] = (unsigned char)(a << 4 | b);
			*written = ++o;
			if (!text_byte(out[o - 1]))
				return 0;
		}
		if (i >= n)
			return o;
		o = 0;
	}
	for (i = 0; i < n && o < DECODE_MAX; i++) {
		if ((a = scan_b64_value(p[i])) < 0)
			return 0;
		std |= p[i] == '+' || p[i] == '/';
		url |= p[i] == '-' || p[i] == '_';
		acc = (acc << 6) | (unsigned int)a;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o] = (unsigned char)(acc >> bits);
			if (++o > *written)
				*written = o;
			if (!text_byte(out[o - 1]))
				return 0;
		}
	}
	/* one alphabet or the other, not both */
	return std && url ? 0 : o;
}

/* Worth scanning: a word or a marker that some rule needs. */
static int decoded_worth(const unsigned char *p, size_t n)
{
	static const char *const w[] = { "pass", "secret", "token", "key", "auth", "pwd", "cred", "://",
					 "bearer", "-----begin", "_pat_", "sk-", "akia", "xox", "ghp_", "gho_",
					 "ghs_", "glpat", "npm_", "hvs.", "eyj" };
	size_t i, k, m;

	for (k = 0; k < ARRAY_SIZE(w); k++) {
		m = strlen(w[k]);
		for (i = 0; i + m <= n; i++)
			if (!strncasecmp((const char *)p + i, w[k], m))
				return 1;
	}
	return 0;
}

struct dec_hit {
	int found;
	double conf;
	const char *rule, *type;
};

static int on_decoded(void *arg, const struct scan_finding *f)
{
	struct dec_hit *d = arg;

	if (!d->found || f->confidence > d->conf) {
		d->found = 1;
		d->conf = f->confidence;
		d->rule = f->rule;
		d->type = f->type;
	}
	return 0;
}

/* Scan decoded text with every rule; 1 when something is found. */
static int scan_decoded(const struct scan *s, const unsigned char *p, size_t n, struct dec_hit *d)
{
	if (n < 8 || decode_depth >= 2 || !decoded_worth(p, n))
		return 0;
	decode_depth++;
	if (scan_buffer(s, p, n, NULL, on_decoded, d) < 0 && !d->found) {
		/* no stream for the decoded text (locked memory is short): text
		 * with a secret word that cannot be checked is redacted */
		d->found = 1;
		d->conf = s->opt.min_confidence > 0.8 ? s->opt.min_confidence : 0.8;
		d->rule = "encoded_secret";
		d->type = "generic_secret";
	}
	decode_depth--;
	return d->found && d->conf >= s->opt.min_confidence;
}

int scan_unescape_scan(const struct scan *s, const unsigned char *p, size_t n, double *conf, const char **type)
{
	unsigned char out[DECODE_MAX];
	struct dec_hit d = { 0 };
	size_t i = 0, o = 0;
	int a, b, esc = 0, r;

	while (i < n && o < sizeof(out)) {
		if (p[i] == '%' && i + 2 < n && (a = hex_digit(p[i + 1])) >= 0 && (b = hex_digit(p[i + 2])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 3;
			esc++;
		} else if (p[i] == '=' && i + 2 < n && (a = hex_digit(p[i + 1])) >= 0 && (b = hex_digit(p[i + 2])) >= 0 &&
			   !islower(p[i + 1]) && !islower(p[i + 2])) {
			out[o++] = (unsigned char)(a << 4 | b);	/* quoted-printable */
			i += 3;
			esc++;
		} else if (p[i] == '\\' && i + 5 < n && p[i + 1] == 'u' && p[i + 2] == '0' && p[i + 3] == '0' &&
			   (a = hex_digit(p[i + 4])) >= 0 && (b = hex_digit(p[i + 5])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 6;
			esc++;
		} else if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && (a = hex_digit(p[i + 2])) >= 0 &&
			   (b = hex_digit(p[i + 3])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 4;
			esc++;
		} else {
			out[o++] = p[i++];
		}
		if (!text_byte(out[o - 1]))
			break;
	}
	r = esc && i == n && scan_decoded(s, out, o, &d);
	explicit_bzero(out, sizeof(out));
	if (r) {
		*conf = d.conf;
		*type = d.type;
	}
	return r;
}

/* The first character of a base64 quad that encodes a printable byte,
 * and a hex pair that is one. */
static int text_quad(unsigned char c)
{
	return (c >= 'I' && c <= 'Z') || (c >= 'a' && c <= 'f');
}

static int text_hex(const unsigned char *p)
{
	return p[0] >= '2' && p[0] <= '7' && hex_digit(p[1]) >= 0 && (p[0] != '7' || p[1] != 'f');
}

/* The decoding itself, with its buffer: out of line, so that the runs
 * refused on their first byte do not pay for a 6 KiB stack frame. */
static __attribute__((noinline)) int decode_run(const struct scan *s, const unsigned char *p, size_t n,
						struct dec_hit *d)
{
	unsigned char out[DECODE_MAX];
	size_t len, written = 0;
	int r;

	len = decode_text(p, n, out, &written);
	r = scan_decoded(s, out, len, d);
	explicit_bzero(out, written);
	return r;
}

static int decoded_secret(struct scan_stream *st, size_t start, size_t end)
{
	struct dec_hit d = { 0 };
	struct fnd *f;
	unsigned char c = st->buf[start];

	/* text's first byte is 0x20..0x7e: base64 of it starts with I-Z or
	 * a-f, hex of it with 2-7; most runs stop here */
	if (!((c >= 'I' && c <= 'Z') || (c >= 'a' && c <= 'f') || (c >= '2' && c <= '7')))
		return 0;
	if (end - start < 16 || end - start > DECODE_MAX * 4 / 3 || decode_depth >= 2)
		return 0;
	/* and so do the next two bytes' */
	if (!(text_quad(st->buf[start + 4]) && text_quad(st->buf[start + 8])) &&
	    !(text_hex(st->buf + start) && text_hex(st->buf + start + 2) && text_hex(st->buf + start + 4)))
		return 0;
	if (!decode_run(st->s, st->buf + start, end - start, &d))
		return 0;
	if (st->s->n_allow_re && scan_allowed_secret(st->s, st->buf + start, end - start, st->md_allow))
		return 0;
	if (!(f = scan_add_fnd(st)))
		return st->err;
	f->m0 = f->s0 = start;
	f->m1 = f->s1 = end;
	f->conf = d.conf;
	f->rule = "encoded_secret";
	f->type = d.type;
	f->marker = "";
	f->flags = F_TOKEN;
	return 0;
}

int scan_on_run(void *arg, size_t start, size_t end)
{
	struct scan_stream *st = arg;
	const struct scan *s = st->s;
	size_t lim = start > 256 ? start - 256 : 0, ls;
	const unsigned char *nl;
	struct fnd *f;
	double conf;

	/* runs come in order: skip intervals that end before this one */
	while (st->ivl_pos < st->nivl && st->ivl[2 * st->ivl_pos + 1] <= start)
		st->ivl_pos++;
	if (st->ivl_pos < st->nivl && st->ivl[2 * st->ivl_pos] < end)
		return 0;
	/* the line in front (its last 256 bytes are plenty) */
	nl = memrchr(st->buf + lim, '\n', start - lim);
	ls = nl ? (size_t)(nl - st->buf) + 1 : lim;
	if (!s->opt.entropy || entropy_judge(st->buf, st->len, start, end, ls, &s->opt, &conf) != 0 ||
	    conf < s->opt.min_confidence)
		return decoded_secret(st, start, end);
	if (s->n_allow_re && scan_allowed_secret(s, st->buf + start, end - start, st->md_allow))
		return 0;
	if (!(f = scan_add_fnd(st)))
		return st->err;
	f->m0 = f->s0 = start;
	f->m1 = f->s1 = end;
	f->conf = conf;
	f->rule = "high_entropy";
	f->type = "generic_secret";
	f->marker = "";
	f->flags = F_TOKEN;
	return 0;
}
