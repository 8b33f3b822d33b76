#include "lib/compat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zlib.h>

#include "backends/sops/age.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"

/*
 * The C2SP/CCTV age vectors (tests/fixtures/age-vectors/testdata): every
 * vector that needs only X25519 identities must end exactly as it says
 * (success with the payload's SHA-256, or the stated failure class, with
 * the hash of what was released before a payload failure).  scrypt and
 * post-quantum vectors are counted as skipped, and the counts are checked
 * so that a lost fixture cannot pass silently.
 */

#define VEC_DIR "tests/fixtures/age-vectors/testdata"

struct vector {
	char expect[256];
	char payload[256];
	int armored, compressed, passphrase, pq;
	struct age_identities *ids;
	unsigned char *body;
	size_t body_len;
};

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static unsigned char *inflate_all(const unsigned char *in, size_t len, size_t *outlen)
{
	z_stream zs = { 0 };
	size_t cap = len * 4 + 1024;
	unsigned char *out = malloc(cap);
	int r;

	ck_assert_int_eq(inflateInit(&zs), Z_OK);
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		r = inflate(&zs, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			break;
		ck_assert_msg(r == Z_OK || r == Z_BUF_ERROR, "inflate: %d", r);
		cap *= 2;
		out = realloc(out, cap);
	}
	*outlen = zs.total_out;
	inflateEnd(&zs);
	return out;
}

static int load_vector(const char *name, struct vector *v)
{
	char path[512];
	size_t len, pos = 0;
	unsigned char *raw;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/%s", VEC_DIR, name);
	raw = slurp(path, &len);
	ck_assert_msg(raw != NULL, "cannot read %s", path);
	v->ids = age_identities_new();
	for (;;) {
		unsigned char *nl = memchr(raw + pos, '\n', len - pos);
		char line[256];
		size_t ll;

		ck_assert_msg(nl != NULL, "%s: no end of header", name);
		ll = (size_t)(nl - (raw + pos));
		if (ll == 0) {
			pos++;
			break;
		}
		ck_assert(ll < sizeof(line));
		memcpy(line, raw + pos, ll);
		line[ll] = 0;
		pos += ll + 1;
		if (!strncmp(line, "expect: ", 8))
			snprintf(v->expect, sizeof(v->expect), "%s", line + 8);
		else if (!strncmp(line, "payload: ", 9))
			snprintf(v->payload, sizeof(v->payload), "%s", line + 9);
		else if (!strcmp(line, "armored: yes"))
			v->armored = 1;
		else if (!strcmp(line, "compressed: zlib"))
			v->compressed = 1;
		else if (!strncmp(line, "passphrase: ", 12))
			v->passphrase = 1;
		else if (!strncmp(line, "identity: AGE-SECRET-KEY-PQ-", 28))
			v->pq = 1;
		else if (!strncmp(line, "identity: ", 10))
			ck_assert_msg(age_identity_add(v->ids, line + 10, strlen(line + 10)) == 0,
				      "%s: identity does not parse", name);
	}
	if (v->compressed) {
		v->body = inflate_all(raw + pos, len - pos, &v->body_len);
		free(raw);
	} else {
		v->body_len = len - pos;
		v->body = malloc(v->body_len + 1);
		memcpy(v->body, raw + pos, v->body_len);
		free(raw);
	}
	return 0;
}

static int hash_sink(const unsigned char *p, size_t n, void *arg)
{
	crypto_hash_sha256_update(arg, p, n);
	return 0;
}

static const char *kind_name(enum age_fail k)
{
	switch (k) {
	case AGE_OK:
		return "success";
	case AGE_NO_MATCH:
		return "no match";
	case AGE_HEADER:
		return "header failure";
	case AGE_HMAC:
		return "HMAC failure";
	case AGE_PAYLOAD:
		return "payload failure";
	case AGE_ARMOR:
		return "armor failure";
	default:
		return "out of memory";
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

START_TEST(test_cctv_vectors)
{
	struct dirent **ents;
	int n, i, ran = 0, skipped = 0, failed = 0;

	n = scandir(VEC_DIR, &ents, NULL, by_name);
	ck_assert_msg(n > 0, "cannot list %s", VEC_DIR);
	for (i = 0; i < n; i++) {
		struct vector v;
		struct age_error err = { AGE_OK, WHY_INIT };
		crypto_hash_sha256_state hs;
		unsigned char digest[32], *bin = NULL;
		char hex[65];
		size_t blen = 0;
		const char *got;
		int r;

		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		load_vector(ents[i]->d_name, &v);
		if (v.passphrase || v.pq) {
			skipped++;
			goto next;
		}
		ran++;
		crypto_hash_sha256_init(&hs);
		r = 0;
		if (v.armored) {
			r = age_armor_decode(v.body, v.body_len, &bin, &blen, &err);
			if (!r)
				r = age_decrypt(bin, blen, v.ids, hash_sink, &hs, &err);
		} else {
			r = age_decrypt(v.body, v.body_len, v.ids, hash_sink, &hs, &err);
		}
		got = r ? kind_name(err.kind) : "success";
		crypto_hash_sha256_final(&hs, digest);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		if (strcmp(got, v.expect) != 0) {
			fprintf(stderr, "vector %s: expected '%s', got '%s' (%s)\n", ents[i]->d_name, v.expect,
				got, err.why.msg);
			failed++;
		} else if (v.payload[0] && strcmp(hex, v.payload) != 0) {
			fprintf(stderr, "vector %s: payload hash differs\n", ents[i]->d_name);
			failed++;
		}
		free(bin);
 next:
		age_identities_free(v.ids);
		free(v.body);
		free(ents[i]);
	}
	free(ents);
	ck_assert_int_eq(failed, 0);
	/* 98 X25519/generic vectors, 26 scrypt + 19 post-quantum skipped. */
	ck_assert_int_eq(ran, 98);
	ck_assert_int_eq(skipped, 45);
}
END_TEST

/* specs/age.md §5 test pairs. */
START_TEST(test_bech32_pairs)
{
	static const char *const pairs[][2] = {
		{ "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
		  "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef" },
		{ "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG",
		  "age1f3ygt5e2d2h7d6dae2tnwgy4y6f0kwhvpa64cre0k2gprv2r8qnst4j00y" },
		{ "AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6",
		  "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw" },
		{ "AGE-SECRET-KEY-1G0Q5K9TV4REQ3ZSQRMTMG8NSWQGYT0T7TZ33RAZEE0GZYVZN0APSU24RK7",
		  "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		struct age_identities *ids = age_identities_new();
		unsigned char pk[AGE_KEY_LEN], pk2[AGE_KEY_LEN];
		char rec[AGE_RECIPIENT_MAX];
		struct why why = WHY_INIT;

		ck_assert_int_eq(age_identity_add(ids, pairs[i][0], strlen(pairs[i][0])), 0);
		age_identities_public(ids, 0, pk);
		age_recipient_format(pk, rec, sizeof(rec));
		ck_assert_str_eq(rec, pairs[i][1]);
		ck_assert_int_eq(age_recipient_parse(pairs[i][1], pk2, &why), 0);
		ck_assert_mem_eq(pk, pk2, sizeof(pk));
		age_identities_free(ids);
	}
}
END_TEST

START_TEST(test_bech32_rejects)
{
	struct age_identities *ids = age_identities_new();
	unsigned char pk[AGE_KEY_LEN];
	struct why why = WHY_INIT;
	/* lower case identity, mixed case, bad checksum */
	static const char *const bad_ids[] = {
		"age-secret-key-1egtzvffv20835nwyv6270lxyvk2vknx2mmdkwyklmgr48uawx40q2p2lm0",
		"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2Lm0",
		"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM1",
		"AGE-SECRET-KEY-1",
		"",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_ids); i++)
		ck_assert_int_eq(age_identity_add(ids, bad_ids[i], strlen(bad_ids[i])), -EINVAL);
	ck_assert_uint_eq(age_identities_count(ids), 0);
	ck_assert_int_eq(age_recipient_parse("age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryeg",
					     pk, &why), -EINVAL);
	ck_assert_int_eq(age_recipient_parse("age1pq1xyz", pk, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "post-quantum"));
	ck_assert_int_eq(age_recipient_parse("ssh-ed25519 AAAA", pk, &why), -EINVAL);
	age_identities_free(ids);
}
END_TEST

START_TEST(test_keys_file_text)
{
	static const char text[] =
		"# created: 2020-07-18T03:16:47-07:00\n"
		"# public key: age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw\n"
		"AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6\r\n"
		"\n"
		"AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQ\n";
	static const char indented[] = "  AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6\n";
	static const char several[] =
		"AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6 "
		"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
	struct age_identities *ids = age_identities_new();
	size_t skipped = 0;
	struct why why = WHY_INIT;

	ck_assert_int_eq(age_identities_add_text(ids, text, strlen(text), 0, &skipped, &why), 0);
	ck_assert_uint_eq(age_identities_count(ids), 1);
	ck_assert_uint_eq(skipped, 1);
	/* sops does not trim: an indented key invalidates that source. */
	ck_assert_int_eq(age_identities_add_text(ids, indented, strlen(indented), 0, &skipped, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "line 1"));
	ck_assert_ptr_null(strstr(why_str(&why), "NJT5YCS"));
	ck_assert_uint_eq(age_identities_count(ids), 1);
	ck_assert_int_eq(age_identities_add_text(ids, several, strlen(several), 1, &skipped, &why), 0);
	ck_assert_uint_eq(age_identities_count(ids), 3);
	age_identities_free(ids);
}
END_TEST

static int append_sink(const unsigned char *p, size_t n, void *arg)
{
	return secbuf_append(arg, p, n);
}

/* Our writer's output reads back, for sizes around the chunk boundary,
 * and armor round-trips. */
START_TEST(test_encrypt_roundtrip)
{
	static const size_t sizes[] = { 0, 1, 32, AGE_CHUNK - 1, AGE_CHUNK, AGE_CHUNK + 1, 2 * AGE_CHUNK };
	struct age_identities *ids = age_identities_new();
	unsigned char pk[2][AGE_KEY_LEN];
	size_t i;

	ck_assert_int_eq(age_identity_add(ids, "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0", 74), 0);
	ck_assert_int_eq(age_identity_add(ids, "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG", 74), 0);
	age_identities_public(ids, 0, pk[0]);
	age_identities_public(ids, 1, pk[1]);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned char *pt = malloc(sizes[i] + 1), *ct, *bin;
		size_t ctlen, alen, blen;
		struct age_error err;
		struct secbuf *sb = secbuf_new(16);
		char *arm;

		randombytes_buf(pt, sizes[i]);
		ck_assert_int_eq(age_encrypt(pt, sizes[i], (const unsigned char(*)[32])pk, 2, &ct, &ctlen), 0);
		ck_assert_int_eq(age_decrypt(ct, ctlen, ids, append_sink, sb, &err), 0);
		ck_assert_uint_eq(secbuf_len(sb), sizes[i]);
		ck_assert(sizes[i] == 0 || !memcmp(secbuf_data(sb, NULL), pt, sizes[i]));
		ck_assert_int_eq(age_armor_encode(ct, ctlen, &arm, &alen), 0);
		ck_assert(age_armor_detect((unsigned char *)arm, alen));
		ck_assert_int_eq(age_armor_decode((unsigned char *)arm, alen, &bin, &blen, &err), 0);
		ck_assert_uint_eq(blen, ctlen);
		ck_assert_mem_eq(bin, ct, ctlen);
		secbuf_clear(sb);
		ck_assert_int_eq(age_decrypt_any((unsigned char *)arm, alen, ids, append_sink, sb, &err), 0);
		ck_assert_uint_eq(secbuf_len(sb), sizes[i]);
		free(bin);
		free(arm);
		free(ct);
		free(pt);
		secbuf_free(sb);
	}
	age_identities_free(ids);
}
END_TEST

/* kat.json: the age file key inside the YAML fixture's first entry. */
START_TEST(test_sops_fixture_data_key)
{
	static const char enc[] =
		"-----BEGIN AGE ENCRYPTED FILE-----\n"
		"YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBnYU4zaDZ3dFNXTGRLN2Qr\n"
		"ZFdhNGFGUHN2WGxYb1FSNFN6Tk02cHZIMkRnCkVCWXh2NVlTUkRQME9TeGZaaElq\n"
		"eTRieEI1WGdTK1pwL1c1eGtKTDFBUW8KLS0tIFNQeFZSbnJ4QWx3K0wwOFJZODUy\n"
		"SDQ0NDhjcVpYMjYxcm1ZdXFYaWtkakUKWgQTWzf+7rgMjC9rPLSy6jTGbI71hMnC\n"
		"MuRgd5LreYBQo/hRZUYuQ4jmGgOnn3GaUZE1HpSqjjaX8jYn4lNqJA==\n"
		"-----END AGE ENCRYPTED FILE-----\n";
	struct age_identities *ids = age_identities_new();
	struct secbuf *sb = secbuf_new(32);
	struct age_error err;
	char hex[65];

	ck_assert_int_eq(age_identity_add(ids, "AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6", 74), 0);
	ck_assert_int_eq(age_decrypt_any((const unsigned char *)enc, strlen(enc), ids, append_sink, sb, &err), 0);
	ck_assert_uint_eq(secbuf_len(sb), 32);
	sodium_bin2hex(hex, sizeof(hex), secbuf_data(sb, NULL), 32);
	ck_assert_str_eq(hex, "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67");
	secbuf_free(sb);
	age_identities_free(ids);
}
END_TEST

static Suite *age_suite(void)
{
	Suite *s = suite_create("age");
	TCase *tc = tcase_create("vectors");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cctv_vectors);
	suite_add_tcase(s, tc);
	tc = tcase_create("keys");
	tcase_add_test(tc, test_bech32_pairs);
	tcase_add_test(tc, test_bech32_rejects);
	tcase_add_test(tc, test_keys_file_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("encrypt");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_encrypt_roundtrip);
	tcase_add_test(tc, test_sops_fixture_data_key);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(age_suite)
