/*
 * harombe config check: load harombe.yaml as harombefs would (provider,
 * views, templates, rotation) and say what it holds, names and keys only.
 * With --format json the same as one JSON object:
 *   {"config": PATH, "valid": true|false, "checked": [...],
 *    "errors": [{"file", "line", "column", "message"}], "provider", "views": [...]}
 * "checked" lists the steps that ran, in order; the first that fails ends
 * the check (as harombefs would stop there) and gives the one error.
 */
#include "lib/compat.h"
#include "cli/cli.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "inject/rotate.h"
#include "inject/template.h"
#include "inject/view.h"
#include "lib/config.h"

/* "FILE:LINE:COL: message" (why's form; FILE may be a template's) into its
 * parts; without a position, the file is the config and line and column
 * are null. */
static json_object *error_json(const char *path, const char *msg)
{
	json_object *e = json_object_new_object();
	const char *p, *file_end = NULL, *text = msg;
	unsigned long line = 0, col = 0;
	size_t plen = path ? strlen(path) : 0;

	for (p = strchr(msg, ':'); p && !file_end; p = strchr(p + 1, ':')) {
		char *a, *b;

		line = strtoul(p + 1, &a, 10);
		if (a == p + 1 || *a != ':')
			continue;
		col = strtoul(a + 1, &b, 10);
		if (b == a + 1 || *b != ':' || !line)
			continue;
		file_end = p;
		text = b + 1;
	}
	if (!file_end) {
		line = col = 0;
		if (plen && !strncmp(msg, path, plen) && msg[plen] == ':')
			text = msg + plen + 1;
	}
	text += strspn(text, " ");
	if (file_end)
		json_object_object_add(e, "file", json_object_new_string_len(msg, (int)(file_end - msg)));
	else
		json_object_object_add(e, "file", path ? json_object_new_string(path) : NULL);
	json_object_object_add(e, "line", line ? json_object_new_int64((int64_t)line) : NULL);
	json_object_object_add(e, "column", col ? json_object_new_int64((int64_t)col) : NULL);
	json_object_object_add(e, "message", json_object_new_string(text));
	return e;
}

static json_object *views_json(const struct viewset *vs)
{
	json_object *arr = json_object_new_array();
	size_t i, k, j;

	for (i = 0; i < vs->n; i++) {
		const struct view *v = &vs->views[i];
		json_object *o = json_object_new_object(), *sec = json_object_new_array(),
			    *files = json_object_new_array();

		json_object_object_add(o, "container", json_object_new_string(v->container));
		json_object_object_add(o, "uid", json_object_new_int64(v->uid));
		json_object_object_add(o, "gid", json_object_new_int64(v->gid));
		json_object_object_add(o, "cgroup", v->cgroup ? json_object_new_string(v->cgroup) : NULL);
		for (k = 0; k < v->n; k++) {
			json_object *s = json_object_new_object();

			json_object_object_add(s, "name", json_object_new_string(v->secrets[k].name));
			json_object_object_add(s, "key", json_object_new_string(v->secrets[k].key));
			json_object_array_add(sec, s);
		}
		for (k = 0; k < v->n_templates; k++) {
			const struct template *t = v->templates[k].tmpl;
			json_object *f = json_object_new_object(), *keys = json_object_new_array();
			char mode[8];

			snprintf(mode, sizeof(mode), "%04o", v->templates[k].mode);
			json_object_object_add(f, "name", json_object_new_string(v->templates[k].name));
			json_object_object_add(f, "mode", json_object_new_string(mode));
			for (j = 0; j < template_nkeys(t); j++)
				json_object_array_add(keys, json_object_new_string(template_names(t)[j]));
			json_object_object_add(f, "names", keys);
			json_object_array_add(files, f);
		}
		for (k = 0; k < v->n_files; k++) {	/* certificates: one request each */
			json_object *f = json_object_new_object();
			char mode[8];

			snprintf(mode, sizeof(mode), "%04o", v->mode);
			json_object_object_add(f, "name", json_object_new_string(v->files[k].name));
			json_object_object_add(f, "mode", json_object_new_string(mode));
			json_object_object_add(f, "key", json_object_new_string(v->files[k].key));
			json_object_array_add(files, f);
		}
		json_object_object_add(o, "secrets", sec);
		json_object_object_add(o, "files", files);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_text(const struct harombe_config *cfg, const struct viewset *vs)
{
	size_t i, k, j;

	printf("%s: provider %s, %zu view%s\n", cfg->path, cfg->provider, vs->n, vs->n == 1 ? "" : "s");
	for (i = 0; i < vs->n; i++) {
		const struct view *v = &vs->views[i];

		printf("  %s (uid %u, gid %u%s%s)\n", v->container, (unsigned)v->uid, (unsigned)v->gid,
		       v->cgroup ? ", cgroup " : "", v->cgroup ? v->cgroup : "");
		for (k = 0; k < v->n; k++)
			printf("    %s: %s\n", v->secrets[k].name, v->secrets[k].key);
		for (k = 0; k < v->n_templates; k++) {
			const struct template *t = v->templates[k].tmpl;

			printf("    file %s (mode %04o):", v->templates[k].name, v->templates[k].mode);
			for (j = 0; j < template_nkeys(t); j++)
				printf("%s %s", j ? "," : "", template_names(t)[j]);
			printf("\n");
		}
		for (k = 0; k < v->n_files; k++)
			printf("    file %s (mode %04o): %s\n", v->files[k].name, v->mode, v->files[k].key);
	}
}

/* The steps, in order; each 0 or -1 with err said. */
static int check(struct cli *c, const char *path, json_object *checked, struct viewset **vs, struct why *err)
{
	struct backend_ctx ctx = { 0 };
	struct rotate_config *rc = NULL;

	json_object_array_add(checked, json_object_new_string("file"));	/* trust, YAML, schema */
	if (config_load(path, &c->cfg, err) != 0)
		return -1;
	json_object_array_add(checked, json_object_new_string("provider"));
	ctx.cfg = c->cfg;
	ctx.provider = c->provider;
	if (backend_check_provider(&ctx, err) != 0)
		return -1;
	json_object_array_add(checked, json_object_new_string("views"));	/* containers, templates */
	if (viewset_load(c->cfg, vs, err) != 0)
		return -1;
	json_object_array_add(checked, json_object_new_string("rotation"));	/* security.rotation, on_rotate */
	if (rotate_config_load(c->cfg, &rc, err) != 0)
		return -1;
	rotate_config_free(rc);
	return 0;
}

int cli_config_group(struct cli *c, int argc, char **argv)
{
	static const char *const cmds[] = { "check", NULL };
	struct why err = WHY_INIT;
	struct viewset *vs = NULL;
	json_object *out = NULL, *checked, *errors;
	const char *path;
	int r = 0;

	if (argc < 2) {
		cli_error("config: give a command (check)");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "check")) {
		cli_unknown_command("config", argv[1], cmds);
		return EXIT_USAGE;
	}
	if (argc > 2) {
		cli_error("config check: %s '%s'", argv[2][0] == '-' ? "unknown option" : "unexpected argument",
			  argv[2]);
		return EXIT_USAGE;
	}
	if (c->mount) {
		cli_error("config check: -mount is for use without a config");
		return EXIT_USAGE;
	}
	path = cli_find_config(c);
	if (!path && !c->json)
		return cli_config(c);	/* says where a config is looked for */
	checked = json_object_new_array();
	errors = json_object_new_array();
	if (!path)
		why_set(&err, "no config: use -c FILE, $HAROMBE_CONFIG, ./harombe.yaml or the default");
	else if (check(c, path, checked, &vs, &err) == 0 && !c->json)
		print_text(c->cfg, vs);
	if (err.msg[0]) {
		r = EXIT_USAGE;
		if (!c->json)
			cli_error("%s", err.msg);
		json_object_array_add(errors, error_json(path, err.msg));
	}
	if (c->json) {
		out = json_object_new_object();
		json_object_object_add(out, "config", path ? json_object_new_string(path) : NULL);
		json_object_object_add(out, "valid", json_object_new_boolean(!r));
		json_object_object_add(out, "checked", checked);
		json_object_object_add(out, "errors", errors);
		checked = errors = NULL;
		if (!r) {
			json_object_object_add(out, "provider", json_object_new_string(c->cfg->provider));
			json_object_object_add(out, "views", views_json(vs));
		}
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
	}
	json_object_put(checked);
	json_object_put(errors);
	viewset_free(vs);
	return r;
}
