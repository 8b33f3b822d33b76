/*
 * libFuzzer target: harombe.yaml.  config_load_text() (libyaml, the tree,
 * the shared settings, durations and sizes, the credential-shape check),
 * then the views (names, keys, owners, cgroup patterns) and, for the env
 * provider, the backend's own options.  What loads must be consistent:
 * every view is found by its name and every secret by its variable.
 */
#include "lib/compat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "inject/view.h"
#include "lib/config.h"
#include "lib/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz", 0, 0);	/* warnings about unknown keys: not wanted here */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harombe_config *cfg = NULL;
	struct viewset *vs = NULL;
	struct why err = WHY_INIT;
	size_t i, k;

	if (config_load_text("fuzz.yaml", (const char *)data, size, &cfg, &err) != 0) {
		if (!err.msg[0])
			abort();	/* every refusal says why */
		return 0;
	}
	if (viewset_load(cfg, &vs, &err) == 0) {
		for (i = 0; i < vs->n; i++) {
			const struct view *v = &vs->views[i];

			if (viewset_find(vs, v->container) != v || !view_equal(v, v))
				abort();
			for (k = 0; k < v->n; k++)
				if (view_find_secret(v, v->secrets[k].name) < 0 ||
				    strcmp(v->names[k], v->secrets[k].name) || strcmp(v->keys[k], v->secrets[k].key))
					abort();
		}
		viewset_free(vs);
	} else if (!err.msg[0]) {
		abort();
	}
	if (!strcmp(cfg->provider, "env")) {
		struct backend_ctx ctx = { .cfg = cfg, .source = "fuzz" };
		struct backend *be = NULL;

		err.msg[0] = 0;
		if (backend_open(&ctx, &be, &err) == 0)
			backend_close(be);
	}
	config_free(cfg);
	return 0;
}
