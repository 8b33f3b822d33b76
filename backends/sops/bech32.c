#include "lib/compat.h"
#include "backends/sops/age.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sodium.h>

/*
 * Bech32 (BIP-173) without its 90-character limit, as age uses it for
 * recipients ("age1...") and identities ("AGE-SECRET-KEY-1...").  A codec
 * of its own spec, apart from age's format: it holds no key beyond the
 * call, and wipes its scratch (an identity passes through it).
 */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
	uint32_t b = chk >> 25;
	int i;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (i = 0; i < 5; i++)
		if ((b >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static uint32_t hrp_polymod(const char *hrp, size_t n)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; i < n; i++)
		chk = polymod_step(chk, (unsigned)(hrp[i] | 0x20) >> 5 & 7);
	chk = polymod_step(chk, 0);
	for (i = 0; i < n; i++)
		chk = polymod_step(chk, (unsigned)(hrp[i] | 0x20) & 31);
	return chk;
}

/* Lower-cased for the checksum: Bech32 is case-insensitive but not mixed. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

int age_bech32_decode(const char *s, size_t len, char *hrp, size_t hrpcap, unsigned char *data,
		      size_t datacap, size_t *datalen)
{
	unsigned char v[1024];
	size_t i, sep = 0, nv = 0, out = 0;
	int has_lower = 0, has_upper = 0, r = -EINVAL;
	uint32_t chk, acc = 0;
	unsigned bits = 0;
	char hl[128];

	if (len < 8 || len > sizeof(v))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126)
			return -EINVAL;
		has_lower |= c >= 'a' && c <= 'z';
		has_upper |= c >= 'A' && c <= 'Z';
		if (c == '1')
			sep = i;
	}
	if ((has_lower && has_upper) || sep < 1 || sep + 7 > len || sep >= hrpcap || sep >= sizeof(hl))
		return -EINVAL;
	for (i = 0; i < sep; i++)
		hl[i] = lower(s[i]);
	chk = hrp_polymod(hl, sep);
	for (i = sep + 1; i < len; i++) {
		const char *p = strchr(bech32_charset, lower(s[i]));

		if (!p || !*p)
			goto out;
		v[nv] = (unsigned char)(p - bech32_charset);
		chk = polymod_step(chk, v[nv]);
		nv++;
	}
	if (chk != 1)
		goto out;
	/* 5-bit groups to bytes, no padding allowed. */
	for (i = 0; i + 6 < nv; i++) {
		acc = (acc << 5) | v[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (out >= datacap)
				goto out;
			data[out++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (bits >= 5 || acc != 0)
		goto out;
	memcpy(hrp, s, sep);
	hrp[sep] = 0;
	*datalen = out;
	r = 0;
 out:
	sodium_memzero(v, sizeof(v));
	sodium_memzero(&acc, sizeof(acc));
	return r;
}

int age_bech32_encode(const char *hrp, const unsigned char *data, size_t len, int upper, char *out,
		      size_t outcap)
{
	size_t hn = strlen(hrp), i, o = 0, nv = 0;
	unsigned char v[256];
	uint32_t acc = 0, chk;
	unsigned bits = 0;

	if (len * 8 / 5 + 2 > sizeof(v) || hn + 1 + (len * 8 + 4) / 5 + 6 + 1 > outcap)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v[nv++] = (unsigned char)((acc >> bits) & 31);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits)
		v[nv++] = (unsigned char)((acc << (5 - bits)) & 31);
	chk = hrp_polymod(hrp, hn);
	for (i = 0; i < nv; i++)
		chk = polymod_step(chk, v[i]);
	for (i = 0; i < 6; i++)
		chk = polymod_step(chk, 0);
	chk ^= 1;
	for (i = 0; i < hn; i++)
		out[o++] = upper ? (char)(hrp[i] >= 'a' && hrp[i] <= 'z' ? hrp[i] - 32 : hrp[i]) : lower(hrp[i]);
	out[o++] = '1';
	for (i = 0; i < nv + 6; i++) {
		unsigned d = i < nv ? v[i] : (chk >> (5 * (5 - (i - nv)))) & 31;
		char c = bech32_charset[d];

		out[o++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	out[o] = 0;
	sodium_memzero(v, sizeof(v));
	sodium_memzero(&acc, sizeof(acc));
	return 0;
}
