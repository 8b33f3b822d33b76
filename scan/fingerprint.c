/*
 * Fingerprints of findings (rule, path, a slow keyed hash of the value) and
 * the sets a baseline or a .harombeignore file makes of them.  The value
 * goes into the hash and nowhere else; the caller keeps it in locked memory.
 */
#include "lib/compat.h"
#include "scan/fingerprint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <sodium.h>

/* Argon2id at 2 passes over 1 MiB: about a millisecond a finding here, and as
 * much for every guess of someone who wants the value back. */
#define FP_OPSLIMIT 2
#define FP_MEMLIMIT (1u << 20)
static const char fp_domain[] = "harombe scan fingerprint v1";

int fingerprint_make(const char *rule, const char *path, const void *value, size_t len, char *out)
{
	unsigned char salt[crypto_pwhash_SALTBYTES], hash[FINGERPRINT_HASH_HEX / 2];
	crypto_generichash_state st;
	int n;

	if (sodium_init() < 0)
		return -ENOMEM;
	crypto_generichash_init(&st, NULL, 0, sizeof(salt));
	crypto_generichash_update(&st, (const unsigned char *)fp_domain, sizeof(fp_domain));
	crypto_generichash_update(&st, (const unsigned char *)rule, strlen(rule) + 1);
	crypto_generichash_update(&st, (const unsigned char *)path, strlen(path) + 1);
	crypto_generichash_final(&st, salt, sizeof(salt));
	/* crypto_pwhash wants a password of at least 0 bytes and a char pointer */
	if (crypto_pwhash(hash, sizeof(hash), value ? (const char *)value : "", len, salt, FP_OPSLIMIT, FP_MEMLIMIT,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	n = snprintf(out, FINGERPRINT_MAX, "%s:%s:", rule, path);
	if (n < 0 || (size_t)n + FINGERPRINT_HASH_HEX + 1 > FINGERPRINT_MAX)
		return -ENAMETOOLONG;
	sodium_bin2hex(out + n, FINGERPRINT_HASH_HEX + 1, hash, sizeof(hash));
	sodium_memzero(hash, sizeof(hash));
	return 0;
}

struct fpset {
	char **v;
	size_t n, cap;
	int sorted;
};

struct fpset *fpset_new(void)
{
	return calloc(1, sizeof(struct fpset));
}

void fpset_free(struct fpset *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	free(set);
}

int fpset_add(struct fpset *set, const char *fp)
{
	char *c;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		char **nv = realloc(set->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		set->v = nv;
		set->cap = cap;
	}
	if (!(c = strdup(fp)))
		return -ENOMEM;
	set->v[set->n++] = c;
	set->sorted = 0;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fpset_has(struct fpset *set, const char *fp)
{
	if (!set || !set->n)
		return 0;
	if (!set->sorted) {
		qsort(set->v, set->n, sizeof(*set->v), cmp);
		set->sorted = 1;
	}
	return bsearch(&fp, set->v, set->n, sizeof(*set->v), cmp) != NULL;
}

size_t fpset_count(const struct fpset *set)
{
	return set ? set->n : 0;
}

int fpset_load_baseline(struct fpset *set, const char *name, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *doc = NULL, *arr;
	size_t i, n;
	int r = 0;

	if (!tok)
		return -ENOMEM;
	doc = json_tokener_parse_ex(tok, text, (int)(len > 0x7fffffff ? 0x7fffffff : len));
	if (!doc || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		/* trailing blanks after the document are fine */
		size_t k = doc ? json_tokener_get_parse_end(tok) : 0;

		while (doc && k < len && strchr(" \t\r\n", text[k]))
			k++;
		if (!doc || k != len) {
			snprintf(err, errlen, "baseline '%s': not a JSON document", name);
			r = -EINVAL;
			goto out;
		}
	}
	if (!json_object_is_type(doc, json_type_object) || !json_object_object_get_ex(doc, "findings", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		snprintf(err, errlen, "baseline '%s': no \"findings\" list (write one with --write-baseline)", name);
		r = -EINVAL;
		goto out;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n && !r; i++) {
		json_object *f = json_object_array_get_idx(arr, i), *fp;

		if (!json_object_is_type(f, json_type_object) || !json_object_object_get_ex(f, "fingerprint", &fp) ||
		    !json_object_is_type(fp, json_type_string)) {
			snprintf(err, errlen, "baseline '%s': finding %zu has no \"fingerprint\" string", name, i + 1);
			r = -EINVAL;
			break;
		}
		r = fpset_add(set, json_object_get_string(fp));
	}
out:
	json_object_put(doc);
	json_tokener_free(tok);
	return r;
}

int fpset_load_ignore(struct fpset *set, const char *text, size_t len)
{
	size_t i = 0;
	int r = 0;

	while (i < len && !r) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len, b = i;

		i = e + 1;
		while (b < e && strchr(" \t\r", text[b]))
			b++;
		while (e > b && strchr(" \t\r", text[e - 1]))
			e--;
		if (b == e || text[b] == '#')
			continue;
		{
			char *line = strndup(text + b, e - b);

			if (!line)
				return -ENOMEM;
			if (strlen(line) == e - b)	/* a NUL inside: not a fingerprint */
				r = fpset_add(set, line);
			free(line);
		}
	}
	return r;
}
