#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

/*
 * The bodies of the fuzz targets, shared with tests/unit/check_fuzz_regress.c
 * so that every input a fuzzer once crashed on is replayed by `make check`
 * (and under ASan by `make check-sanitize`).
 *
 * sops stores: parse; if that worked, decrypt with a fixed data key (ENC
 * parsing, canonical values, the MAC walk), then emit and parse the output
 * again, which must succeed.  age: header, armor, and a whole decrypt with
 * a fixed identity.
 */

#include <stdlib.h>
#include <string.h>

#include "backends/sops/age.h"
#include "backends/sops/sops-internal.h"
#include "lib/secbuf.h"

#define FUZZ_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"

static inline int fuzz_discard(const unsigned char *p, size_t n, void *arg)
{
	(void)p;
	(void)n;
	(void)arg;
	return 0;
}

static inline void fuzz_sops(enum sops_format fmt, const unsigned char *data, size_t size)
{
	struct sops_doc doc, again;
	struct obuf out = { 0 };
	struct why why = WHY_INIT;
	char *text = malloc(size + 1);

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = 0;
	sops_doc_init(&doc, fmt);
	if (sops_parse(&doc, text, size, &why) == 0) {
		if ((doc.data_key = secmem_alloc(SOPS_DATA_KEY_LEN)) != NULL) {
			memset(doc.data_key, 0x42, SOPS_DATA_KEY_LEN);
			(void)sops_doc_decrypt(&doc, &why);
		}
		if (sops_emit(&doc, &out) == 0) {
			sops_doc_init(&again, fmt);
			if (sops_parse(&again, out.p, out.len, &why) != 0)
				abort();	/* what we write, we must read */
			sops_doc_release(&again);
		}
		obuf_release(&out);
	}
	sops_doc_release(&doc);
	free(text);
}

static inline void fuzz_age(const unsigned char *data, size_t size)
{
	struct age_header h = AGE_HEADER_INIT;
	struct age_error err;
	struct age_identities *ids = age_identities_new();
	unsigned char *bin = NULL;
	size_t blen;

	if (!ids)
		return;
	if (age_header_parse(data, size, &h, &err) == 0)
		age_header_release(&h);
	if (age_armor_decode(data, size, &bin, &blen, &err) == 0)
		free(bin);
	if (age_identity_add(ids, FUZZ_IDENTITY, strlen(FUZZ_IDENTITY)) == 0)
		(void)age_decrypt_any(data, size, ids, fuzz_discard, NULL, &err);
	age_identities_free(ids);
}

#endif
