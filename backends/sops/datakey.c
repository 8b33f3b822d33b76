#include "lib/compat.h"
#include "backends/sops/sops-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "backends/sops/age.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * The data key: the 32 bytes that encrypt every value of a document,
 * wrapped for each age recipient in the metadata's age list.  Unwrapped
 * into locked memory (doc->data_key) with the caller's identities; a new
 * document gets a fresh one from the CSPRNG.  What the key encrypts, and
 * the MAC, are crypto.c's.
 */

struct keysink {
	unsigned char *key;	/* locked, 33 bytes */
	size_t len;
};

static int key_sink(const unsigned char *p, size_t n, void *arg)
{
	struct keysink *k = arg;

	if (k->len + n > SOPS_DATA_KEY_LEN + 1)
		return -EINVAL;
	memcpy(k->key + k->len, p, n);
	k->len += n;
	return 0;
}

int sops_doc_unlock(struct sops_doc *doc, const struct age_identities *ids, struct why *why)
{
	struct keysink ks = { NULL, 0 };
	char tampered[400] = "", list[sizeof(why->msg)];
	size_t i, o;
	int r;

	if (doc->m.ngroups > 1)
		return why_fail(why, -ENOTSUP,
				"the file uses %zu key groups (Shamir secret sharing), which is not supported",
				doc->m.ngroups);
	if (!(ks.key = secmem_alloc(SOPS_DATA_KEY_LEN + 1)))
		return why_fail(why, -ENOMEM, "out of locked memory");
	for (i = 0; i < doc->m.nage; i++) {
		struct age_error err = { AGE_OK, WHY_INIT };

		ks.len = 0;
		r = age_decrypt_any((const unsigned char *)doc->m.age[i].enc, doc->m.age[i].enc_len, ids,
				    key_sink, &ks, &err);
		if (r == 0 && ks.len == SOPS_DATA_KEY_LEN) {
			secmem_free(doc->data_key);
			doc->data_key = ks.key;
			return 0;
		}
		if (r == -ENOMEM) {
			secmem_free(ks.key);
			return why_fail(why, r, "out of locked memory");
		}
		if (r == 0 || (r != -ENOKEY && !tampered[0]))
			snprintf(tampered, sizeof(tampered), "the data key wrapped for %.70s %s: %.199s",
				 doc->m.age[i].recipient, r == 0 ? "is not 32 bytes" : "is damaged",
				 r == 0 ? "wrong length" : why_str(&err.why));
	}
	secmem_free(ks.key);
	if (tampered[0])
		return why_fail(why, -EBADMSG, "%s", tampered);
	o = (size_t)snprintf(list, sizeof(list), "no age identity matches; the file is encrypted to ");
	if (!doc->m.nage)
		o += (size_t)snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "no age recipient");
	for (i = 0; i < doc->m.nage && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", doc->m.age[i].recipient);
	if (doc->m.nother && o < sizeof(list))
		o += (size_t)snprintf(list + o, sizeof(list) - o, " (and %zu %s key%s harombe cannot use)",
				      doc->m.nother, doc->m.other_kinds, doc->m.nother == 1 ? "" : "s");
	return why_fail(why, -EACCES, "%s", list);
}

int sops_doc_create(struct sops_doc *doc, const unsigned char (*recipients)[32], size_t n,
		    struct why *why)
{
	struct sops_node *meta = sops_node_new(SN_MAP), *age = sops_node_new(SN_SEQ);
	struct sops_node *root = sops_node_new(SN_MAP);
	size_t i;
	int r = -ENOMEM;

	if (!meta || !age || !root || !(doc->branches = calloc(1, sizeof(*doc->branches))) ||
	    !(doc->data_key = secmem_alloc(SOPS_DATA_KEY_LEN))) {
		sops_node_free(meta);
		sops_node_free(age);
		sops_node_free(root);
		return why_fail(why, -ENOMEM, "out of memory");
	}
	doc->branches[0] = root;
	doc->nbranches = 1;
	randombytes_buf(doc->data_key, SOPS_DATA_KEY_LEN);
	if (sops_node_push(meta, strdup("age"), 3, age))
		goto fail;
	for (i = 0; i < n; i++) {
		struct sops_node *e = sops_node_new(SN_MAP);
		unsigned char *bin = NULL;
		size_t blen, alen;
		char *arm = NULL, rec[AGE_RECIPIENT_MAX];

		if (!e)
			goto fail;
		if (sops_node_push(age, NULL, 0, e))
			goto fail;
		age_recipient_format(recipients[i], rec, sizeof(rec));
		if ((r = age_encrypt(doc->data_key, SOPS_DATA_KEY_LEN, &recipients[i], 1, &bin, &blen)) ||
		    (r = age_armor_encode(bin, blen, &arm, &alen))) {
			free(bin);
			why_set(why, "cannot wrap the data key for %s", rec);
			goto fail;
		}
		free(bin);
		r = -ENOMEM;
		if (sops_node_push(e, strdup("recipient"), 9, sops_scalar_new(rec, strlen(rec), SV_STR)) ||
		    sops_node_push(e, strdup("enc"), 3, sops_scalar_new(arm, alen, SV_STR))) {
			free(arm);
			goto fail;
		}
		free(arm);
	}
	if (sops_node_push(meta, strdup("lastmodified"), 12, sops_scalar_new("", 0, SV_STR)) ||
	    sops_node_push(meta, strdup("mac"), 3, sops_scalar_new("", 0, SV_STR)) ||
	    sops_node_push(meta, strdup("unencrypted_suffix"), 18, sops_scalar_new("_unencrypted", 12, SV_STR)) ||
	    sops_node_push(meta, strdup("version"), 7, sops_scalar_new(SOPS_WRITER_VERSION,
									strlen(SOPS_WRITER_VERSION), SV_STR)))
		goto fail;
	doc->meta = meta;
	for (i = 0; i < meta->n; i++)
		if (meta->items[i].val->kind == SN_SCALAR)
			meta->items[i].val->quoted = 1;
	meta = NULL;
	doc->m.lastmodified = sops_map_get(doc->meta, "lastmodified");
	doc->m.mac = sops_map_get(doc->meta, "mac");
	doc->m.rule = RULE_UNENC_SUFFIX;
	doc->m.rule_arg = "_unencrypted";
	if (!(doc->plain = secbuf_new(64)))
		goto fail;
	if (doc->fmt == SOPS_FMT_BINARY &&
	    sops_node_push(root, strdup("data"), 4, sops_scalar_new("", 0, SV_STR)))
		goto fail;
	return sops_doc_seal(doc, why);
 fail:
	sops_node_free(meta);
	if (!why_str(why)[0])
		why_set(why, "out of memory");
	return r;
}
