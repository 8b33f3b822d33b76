/*
 * libFuzzer target: baseline files (`secrets scan --baseline FILE`, JSON)
 * and ignore files (.harombeignore, one fingerprint a line).  Each input is
 * read as both; what is read must be found again by fpset_has, and a
 * refusal must say why.
 */
#include "lib/compat.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "scan/fingerprint.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fpset *a = fpset_new(), *b = fpset_new();
	char err[512] = "";
	int r;

	if (!a || !b)
		abort();
	r = fpset_load_baseline(a, "fuzz", (const char *)data, size, err, sizeof(err));
	if (r && !err[0] && r != -ENOMEM)
		abort();	/* a refusal says why */
	if (fpset_load_ignore(b, (const char *)data, size) == 0 && fpset_count(b) && size < 4096) {
		/* the first fingerprint of the input is in the set */
		size_t i = 0;
		char line[4096];

		while (i < size && strchr(" \t\r\n", data[i]))
			i++;
		if (i < size && data[i] != '#') {
			size_t e = i;

			while (e < size && data[e] != '\n')
				e++;
			while (e > i && strchr(" \t\r", data[e - 1]))
				e--;
			memcpy(line, data + i, e - i);
			line[e - i] = 0;
			if (strlen(line) == e - i && !fpset_has(b, line))
				abort();
		}
	}
	fpset_free(a);
	fpset_free(b);
	return 0;
}
