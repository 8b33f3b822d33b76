/* libFuzzer target: .sops.yaml creation rules and --extract paths, as
 * `harombe sops` reads them (backends/sops/conf.c, file.c). */
#include "lib/compat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/sops/sopsfile.h"
#include "lib/why.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "secrets.yaml", "k8s/a.yaml", "x.json", "" };
	struct why why = WHY_INIT;
	struct sopsfile_rule r;
	struct sopsfile_step *st = NULL;
	size_t i, n = 0;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (sopsfile_rules_match(text, size, paths[i], &r, &why) == 0)
			sopsfile_rule_release(&r);
	if (sopsfile_extract_parse(text, &st, &n, &why) == 0)
		sopsfile_extract_free(st, n);
	free(text);
	return 0;
}
