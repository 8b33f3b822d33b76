/*
 * The libFuzzer driver's job without libFuzzer: feed every file named on
 * the command line (or found in a directory named there) to
 * LLVMFuzzerTestOneInput once.  Linked with each tests/fuzz/fuzz_<t>.c by
 * the ordinary compiler, it lets `make check` replay the regression inputs
 * (tests/fuzz/regressions/<t>/) and the seed corpora of every target, and
 * `make check-asan` do it under AddressSanitizer.  A crash is the failure.
 */
#include "lib/compat.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int one(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got);
	fclose(f);
	/* libFuzzer hands over a buffer of exactly size bytes: so do we, so
	 * that ASan sees a read past the end. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (!exact) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = 0;
	int i, bad = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) != 0)
			continue;	/* no regressions yet for this target */
		if (!S_ISDIR(st.st_mode)) {
			bad |= one(argv[i], &n);
			continue;
		}
		if (!(d = opendir(argv[i]))) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				bad |= one(path, &n);
		}
		closedir(d);
	}
	printf("%s: %zu inputs replayed\n", argv[0], n);
	if (!n)
		fprintf(stderr, "replay: no input at all: every target has seeds\n");
	return bad || !n ? 1 : 0;
}
