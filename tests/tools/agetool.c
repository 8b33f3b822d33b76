/*
 * agetool: harombe's age code on stdin/stdout, so the integration tests can
 * check it against the real `age` binary in both directions.
 *
 *   agetool decrypt KEYFILE   < age file (binary or armored) > plaintext
 *   agetool encrypt RECIPIENT [--armor] < plaintext > age file
 *
 * Exit 0 on success, 1 with a message on stderr otherwise.  Test data only.
 */
#include "lib/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/sops/age.h"

static unsigned char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0, r;
	unsigned char *b = malloc(cap);

	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	*len = n;
	return b;
}

static int out_sink(const unsigned char *p, size_t n, void *arg)
{
	(void)arg;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t len;
	unsigned char *in;
	struct why why = WHY_INIT;

	if (argc < 3)
		return fprintf(stderr, "usage: agetool decrypt KEYFILE | encrypt RECIPIENT [--armor]\n"), 2;
	in = read_all(stdin, &len);
	if (!in)
		return 1;
	if (!strcmp(argv[1], "decrypt")) {
		struct age_identities *ids = age_identities_new();
		struct age_error err;
		size_t klen, skipped = 0;
		FILE *kf = fopen(argv[2], "r");
		unsigned char *keys = kf ? read_all(kf, &klen) : NULL;

		int r = 0;

		if (kf)
			fclose(kf);
		if (!keys || age_identities_add_text(ids, (char *)keys, klen, 0, &skipped, &why))
			r = 1, fprintf(stderr, "agetool: bad keys file: %.199s\n", why_str(&why));
		else if (age_decrypt_any(in, len, ids, out_sink, NULL, &err))
			r = 1, fprintf(stderr, "agetool: %s\n", err.why.msg);
		age_identities_free(ids);
		free(keys);
		free(in);
		return r;
	}
	if (!strcmp(argv[1], "encrypt")) {
		unsigned char pk[AGE_KEY_LEN], *ct;
		size_t ctlen;

		if (age_recipient_parse(argv[2], pk, &why))
			return fprintf(stderr, "agetool: %.199s\n", why_str(&why)), 1;
		if (age_encrypt(in, len, (const unsigned char(*)[AGE_KEY_LEN])pk, 1, &ct, &ctlen))
			return fprintf(stderr, "agetool: encrypt failed\n"), 1;
		if (argc > 3 && !strcmp(argv[3], "--armor")) {
			char *arm;
			size_t alen;

			if (age_armor_encode(ct, ctlen, &arm, &alen))
				return 1;
			fwrite(arm, 1, alen, stdout);
			free(arm);
		} else {
			fwrite(ct, 1, ctlen, stdout);
		}
		free(ct);
		free(in);
		return 0;
	}
	return 2;
}
