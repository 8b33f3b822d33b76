#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "inject/rotate.h"
#include "inject/template.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("harombe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static size_t edits(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *cli_closest(const char *word, const char *const *names)
{
	const char *best = NULL;
	size_t i, bd = 3, wl = strlen(word);

	for (i = 0; names[i]; i++) {
		size_t d = edits(word, names[i]);

		if (wl >= 3 && !strncmp(names[i], word, wl))
			d = 1;	/* a prefix: --base for --baseline */
		if (d < bd && d < wl) {
			bd = d;
			best = names[i];
		}
	}
	return best;
}

void cli_unknown_command(const char *group, const char *word, const char *const *names)
{
	const char *near = cli_closest(word, names);
	char list[512] = "", where[64] = "";
	size_t i;

	for (i = 0; names[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
	if (group)
		snprintf(where, sizeof(where), "%s: ", group);
	if (near)
		cli_error("%sunknown command '%s'; did you mean '%s'? (%s)", where, word, near, list);
	else
		cli_error("%sunknown command '%s' (%s)", where, word, list);
}

void cli_bad_option(const char *group, const char *cmd, const char *arg, const struct option *lo, int missing)
{
	const char *names[128], *near;
	char word[128], dashed[130], where[160];
	size_t n = 0;

	snprintf(where, sizeof(where), "%s%s%s", group, cmd && *cmd ? " " : "", cmd ? cmd : "");
	if (missing) {
		cli_error("%s: option '%s' needs a value", where, arg);
		return;
	}
	if (!strncmp(arg, "--", 2)) {
		snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
		for (; lo && lo->name && n < ARRAY_SIZE(names) - 1; lo++)
			names[n++] = lo->name;
		names[n] = NULL;
		if ((near = cli_closest(word, names))) {
			snprintf(dashed, sizeof(dashed), "--%s", near);
			cli_error("%s: unknown option '%s'; did you mean '%s'? (see harombe help %s)", where, arg, dashed,
				  where);
			return;
		}
	}
	cli_error("%s: unknown option '%s' (see harombe help %s)", where, arg, where);
}

void cli_usage_for(FILE *f, void (*usage)(FILE *), const char *group, const char *cmd)
{
	char *text = NULL, *line, *save = NULL, want[96];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int in_usage = 1, keep = 0, printed = 0;

	if (!m) {
		usage(f);
		return;
	}
	usage(m);
	fclose(m);
	snprintf(want, sizeof(want), "harombe %s %s", group, cmd);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *t = line + strspn(line, " ");

		if (!strncmp(t, "usage: ", 7))
			t += 7;
		if (in_usage && !strncmp(t, "harombe ", 8)) {
			size_t n = strlen(want);

			keep = !strncmp(t, want, n) && (t[n] == ' ' || !t[n]);
			if (keep)
				fprintf(f, "%s%s\n", printed++ ? "       " : "usage: ", t);
			continue;
		}
		if (in_usage && line[0] == ' ') {	/* a usage line's continuation */
			if (keep)
				fprintf(f, "%s\n", line);
			continue;
		}
		if (in_usage) {
			in_usage = 0;
			fputc('\n', f);
		}
		fprintf(f, "%s\n", line);
	}
	free(text);
}

int cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

const char *cli_find_config(const struct cli *c)
{
	const char *env = getenv("HAROMBE_CONFIG");

	if (c->config_path)
		return c->config_path;
	if (env && *env)
		return env;
	if (access("harombe.yaml", F_OK) == 0)
		return "harombe.yaml";
	if (access("/etc/harombe/harombe.yaml", F_OK) == 0)
		return "/etc/harombe/harombe.yaml";
	return NULL;
}

int cli_config(struct cli *c)
{
	struct why err = WHY_INIT;
	const char *path;

	if (c->cfg)
		return 0;
	path = cli_find_config(c);
	if (!path) {
		/* With --provider, the defaults of that provider are enough;
		 * -mount (vault) is the one setting a command line gives. */
		char text[320] = "";

		if (c->mount)
			snprintf(text, sizeof(text), "security:\n  credentials:\n    mount_point: \"%s\"\n",
				 c->mount);
		if (c->provider && config_load_text("(defaults)", text, strlen(text), &c->cfg, &err) == 0)
			return 0;
		if (c->provider) {
			cli_error("%s", why_str(&err));
			return EXIT_USAGE;
		}
		cli_error("no config: use -c FILE, $HAROMBE_CONFIG, ./harombe.yaml or "
			  "/etc/harombe/harombe.yaml, or --provider vault|sops|env (the vault group "
			  "uses Vault by itself when VAULT_ADDR is set)");
		return EXIT_USAGE;
	}
	if (c->mount) {
		cli_error("-mount is for use without a config: set mount_point in %s", path);
		return EXIT_USAGE;
	}
	if (config_load(path, &c->cfg, &err) != 0) {
		cli_error("%s", err.msg);
		return EXIT_USAGE;
	}
	return 0;
}

int cli_backend(struct cli *c)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	int r;

	if (c->be)
		return 0;
	if ((r = cli_config(c)))
		return r;
	if (!c->audit && audit_open(NULL, 0, 0, &c->audit, &err) != 0) {
		cli_error("%s", why_str(&err));
		return EXIT_USAGE;
	}
	ctx.cfg = c->cfg;
	ctx.provider = c->provider;
	ctx.audit = c->audit;
	ctx.source = "harombe";
	if ((r = backend_open(&ctx, &c->be, &err)) != 0) {
		cli_error("%s", err.msg);
		return r == -EINVAL ? EXIT_USAGE : EXIT_BACKEND;
	}
	return 0;
}

int cli_exit_for(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case BACKEND_ENOTFOUND:
		return EXIT_NEGATIVE;
	case BACKEND_EINVAL:
	case BACKEND_ENOTSUP:
		return EXIT_USAGE;
	default:
		return EXIT_BACKEND;
	}
}

static int cmd_config(struct cli *c, int argc, char **argv)
{
	struct why err = WHY_INIT;
	struct viewset *vs = NULL;
	size_t i;
	int r;

	if (cli_wants_help(argc, argv)) {
		printf("usage: harombe [-c FILE] config check\n\n"
		       "Load harombe.yaml as harombefs would (its provider included) and list its views\n"
		       "(names and keys only).\n");
		return 0;
	}
	if (argc < 2) {
		cli_error("config: give a command (check)");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "check")) {
		static const char *const cmds[] = { "check", NULL };

		cli_unknown_command("config", argv[1], cmds);
		return EXIT_USAGE;
	}
	if (argc > 2) {
		cli_error("config check: %s '%s'", argv[2][0] == '-' ? "unknown option" : "unexpected argument",
			  argv[2]);
		return EXIT_USAGE;
	}
	if (c->json) {
		cli_error("config check: --format json is not supported (the summary is text)");
		return EXIT_USAGE;
	}
	if ((r = cli_config(c)))
		return r;
	{
		struct backend_ctx ctx = { 0 };

		ctx.cfg = c->cfg;
		ctx.provider = c->provider;
		if (backend_check_provider(&ctx, &err) != 0) {
			cli_error("%s", why_str(&err));
			return EXIT_USAGE;
		}
	}
	if (viewset_load(c->cfg, &vs, &err) != 0) {
		cli_error("%s", err.msg);
		return EXIT_USAGE;
	}
	{
		const struct rotate_config *rc;	/* security.rotation and on_rotate */

		if ((r = cli_rotation(c, &rc))) {
			viewset_free(vs);
			return r;
		}
	}
	printf("%s: provider %s, %zu view%s\n", c->cfg->path, c->cfg->provider, vs->n, vs->n == 1 ? "" : "s");
	for (i = 0; i < vs->n; i++) {
		const struct view *v = &vs->views[i];
		size_t k;

		printf("  %s (uid %u, gid %u%s%s)\n", v->container, (unsigned)v->uid, (unsigned)v->gid,
		       v->cgroup ? ", cgroup " : "", v->cgroup ? v->cgroup : "");
		for (k = 0; k < v->n; k++)
			printf("    %s: %s\n", v->secrets[k].name, v->secrets[k].key);
		for (k = 0; k < v->n_templates; k++) {
			const struct template *t = v->templates[k].tmpl;
			size_t j;

			printf("    file %s (mode %04o):", v->templates[k].name, v->templates[k].mode);
			for (j = 0; j < template_nkeys(t); j++)
				printf("%s %s", j ? "," : "", template_names(t)[j]);
			printf("\n");
		}
		for (k = 0; k < v->n_files; k++)
			printf("    file %s (mode %04o): %s\n", v->files[k].name, v->mode, v->files[k].key);
	}
	viewset_free(vs);
	return 0;
}

static const struct {
	const char *name;
	cli_group_fn *fn;
	const char *help;
} groups[] = {
	{ "vault", cli_vault, "get, set, list, delete, import, export and rotate secrets in the store" },
	{ "secrets", cli_secrets, "find and redact secrets: filter, scan, scan-git, redact, rules" },
	{ "container", cli_container, "a container's secrets: list, rotate, start with docker or podman" },
	{ "run", cli_run, "run a command with secrets in its environment only" },
	{ "rotate", cli_rotate, "rotate what security.rotation.policies says is due (--check)" },
	{ "audit", cli_audit_group, "query the audit log, or count it by container, secret or event" },
	{ "sops", cli_sops, "SOPS files as sops handles them: decrypt, encrypt, edit, updatekeys, rotate" },
	{ "config", cmd_config, "check harombe.yaml" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: harombe [-c FILE] [--provider NAME] [--format text|json|sarif] GROUP COMMAND ...\n\n");
	for (i = 0; i < ARRAY_SIZE(groups); i++)
		fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].help);
	fprintf(f, "\nThe config comes from -c, else $HAROMBE_CONFIG, else ./harombe.yaml, else\n"
		   "/etc/harombe/harombe.yaml.  Exit status: 0 success, 1 not found / findings,\n"
		   "2 usage or config error, 3 backend unavailable, denied or tampered.\n"
		   "`harombe help GROUP [COMMAND]` (or `harombe GROUP [COMMAND] --help`) describes a\n"
		   "group or one of its commands; man harombe(1) has them all.\n");
}

/* --format json where a command prints no data is refused, not ignored;
 * the commands that print data honour it (secrets checks its own). */
static int json_means_nothing(int argc, char **argv)
{
	static const struct {
		const char *group, *cmd, *why;
	} refused[] = {
		{ "run", NULL, "the output is the command's own" },
		{ "sops", NULL, "use --output-type json for the document" },
		{ "vault", "set", "set prints nothing but notes" },
		{ "vault", "delete", "delete prints nothing" },
		{ "vault", "create", "create prints one line of text" },
		{ "container", "start", "the output is the engine's" },
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(refused); k++) {
		if (strcmp(argv[1], refused[k].group))
			continue;
		if (refused[k].cmd && (argc < 3 || strcmp(argv[2], refused[k].cmd)))
			continue;
		cli_error("%s%s%s: --format json is not supported (%s)", argv[1], refused[k].cmd ? " " : "",
			  refused[k].cmd ? refused[k].cmd : "", refused[k].why);
		return EXIT_USAGE;
	}
	return 0;
}

/* Global options may come anywhere before "--" (harombe vault get KEY
 * --provider sops, as users of the vault CLI write them); take them out. */
static int take_globals(struct cli *c, int *argc, char **argv)
{
	static const struct {
		const char *name;
		char shortname;
	} globals[] = { { "--config", 'c' }, { "--provider", 'p' }, { "--format", 'F' } };
	int i, o = 1, k;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		char which = 0;

		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[o++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-c"))
			which = 'c';
		for (k = 0; k < (int)ARRAY_SIZE(globals) && !which; k++) {
			size_t n = strlen(globals[k].name);

			if (!strcmp(a, globals[k].name))
				which = globals[k].shortname;
			else if (!strncmp(a, globals[k].name, n) && a[n] == '=') {
				which = globals[k].shortname;
				val = a + n + 1;
			}
		}
		/* secrets scan --config FILE is the scanner's config, not harombe.yaml */
		if (which == 'c' && strcmp(a, "-c") && o >= 3 && !strcmp(argv[1], "secrets") &&
		    (!strcmp(argv[2], "scan") || !strcmp(argv[2], "scan-git")))
			which = 0;
		if (!which) {
			argv[o++] = argv[i];
			continue;
		}
		if (!val) {
			if (i + 1 >= *argc) {
				cli_error("%s needs a value", a);
				return EXIT_USAGE;
			}
			val = argv[++i];
		}
		if (which == 'c')
			c->config_path = val;
		else if (which == 'p')
			c->provider = val;
		else if (strcmp(val, "json") && strcmp(val, "text") && strcmp(val, "sarif") && strcmp(val, "table")) {
			cli_error("--format must be text or json, not '%s' (or sarif, for secrets scan and scan-git)",
				  val);
			return EXIT_USAGE;
		} else {
			c->json = !strcmp(val, "json");
			c->sarif = !strcmp(val, "sarif");
		}
	}
	*argc = o;
	argv[o] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	size_t i;
	int r;

	log_setup("harombe", 0, LOG_WARN);
	if ((r = take_globals(&c, &argc, argv)))
		return r;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("harombe %s\n", HAROMBE_VERSION);
		return 0;
	}
	/* harombe help [GROUP [CMD]]: the same as harombe GROUP [CMD] --help */
	if (!strcmp(argv[1], "help")) {
		static char help[] = "--help";
		char *hv[4];
		int hc;

		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		if (argc > 4) {
			cli_error("help: unexpected argument '%s' (harombe help [GROUP [COMMAND]])", argv[4]);
			return EXIT_USAGE;
		}
		hv[0] = argv[2];
		hc = 1;
		if (argc == 4)
			hv[hc++] = argv[3];
		hv[hc++] = help;
		hv[hc] = NULL;
		memcpy(argv + 1, hv, (size_t)(hc + 1) * sizeof(*argv));
		argc = hc + 1;
	}
	for (i = 0; i < ARRAY_SIZE(groups); i++)
		if (!strcmp(argv[1], groups[i].name))
			break;
	if (i == ARRAY_SIZE(groups)) {
		const char *names[ARRAY_SIZE(groups) + 2];
		size_t k;

		for (k = 0; k < ARRAY_SIZE(groups); k++)
			names[k] = groups[k].name;
		names[k++] = "help";
		names[k] = NULL;
		if (argv[1][0] == '-')
			cli_error("unknown option '%s' (see harombe --help)", argv[1]);
		else
			cli_unknown_command(NULL, argv[1], names);
		return EXIT_USAGE;
	}
	if (c.json && (r = json_means_nothing(argc, argv)))
		return r;
	if (c.sarif && groups[i].fn != cli_secrets) {
		cli_error("--format sarif is for harombe secrets scan and scan-git only");
		return EXIT_USAGE;
	}
	if (!(r = cli_ops_init(&c)))
		r = groups[i].fn(&c, argc - 1, argv + 1);
	cli_ops_release(&c);
	backend_close(c.be);
	audit_close(c.audit);
	config_free(c.cfg);
	return r > c.exit_floor ? r : c.exit_floor;
}
