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
#include "inject/fetch.h"
#include "inject/run.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * harombe container secrets | rotate-secrets | start.  A container is a
 * view of harombe.yaml; `start` hands it to docker or podman with the view
 * bind-mounted read-only at /run/secrets.
 */

/* ---- secrets ---- */

static int do_secrets(struct cli *c, const char *name)
{
	const struct view *v;
	struct inject_values vals = INJECT_VALUES_INIT;
	int r, worst = 0;
	size_t i, w = 4, kw = 3;

	if (!(v = cli_view(c, name, &r)))
		return r;
	if ((r = cli_backend(c)))
		return r;
	/* Resolving means fetching; the values are dropped (wiped) at once. */
	if (inject_fetch(c->be, v->names, v->keys, v->n, &vals) && vals.failed == v->n) {
		r = EXIT_BACKEND;
		goto out;
	}
	inject_values_wipe(&vals);
	for (i = 0; i < v->n; i++) {
		int e = cli_exit_for(vals.rcs[i]);

		/* 3 (store failing) over 2 (bad key) over 1 (missing) */
		if (e > worst)
			worst = e;
		if (strlen(v->names[i]) > w)
			w = strlen(v->names[i]);
		if (strlen(v->keys[i]) > kw)
			kw = strlen(v->keys[i]);
	}
	if (c->json) {
		fputs("{\"container\":", stdout);
		cli_json_str(v->container);
		printf(",\"provider\":");
		cli_json_str(backend_name(c->be));
		fputs(",\"secrets\":[", stdout);
		for (i = 0; i < v->n; i++) {
			fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
			cli_json_str(v->names[i]);
			fputs(",\"key\":", stdout);
			cli_json_str(v->keys[i]);
			printf(",\"resolves\":%s,\"status\":", vals.rcs[i] ? "false" : "true");
			cli_json_str(vals.rcs[i] ? backend_strerror(vals.rcs[i]) : "ok");
			if (vals.rcs[i] && vals.whys[i].msg[0]) {
				fputs(",\"reason\":", stdout);
				cli_json_str(vals.whys[i].msg);
			}
			putchar('}');
		}
		puts("]}");
	} else {
		printf("%-*s  %-*s  %s\n", (int)w, "NAME", (int)kw, "KEY", "STATUS");
		for (i = 0; i < v->n; i++) {
			const struct why *why = vals.rcs[i] ? &vals.whys[i] : NULL;

			printf("%-*s  %-*s  %s%s%s\n", (int)w, v->names[i], (int)kw, v->keys[i],
			       vals.rcs[i] ? backend_strerror(vals.rcs[i]) : "ok", why_sep(why), why_str(why));
		}
		if (!v->n)
			printf("(container '%s' maps no secrets)\n", v->container);
	}
	r = worst;
out:
	inject_values_release(&vals);
	return r;
}

/* ---- rotate-secrets ---- */

static int do_rotate_secrets(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "generator", required_argument, NULL, 'g' }, { "length", required_argument, NULL, 'l' },
		{ "no-prefix", no_argument, NULL, 'P' },      { "no-hooks", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },	      { NULL, 0, NULL, 0 },
	};
	struct cli_rotate_opts o = { .trigger = "container" };
	const struct view *v;
	const char **keys;
	size_t i, k, n = 0;
	int opt, r;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":g:l:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			cli_help(stdout, "container", "rotate-secrets");
			return 0;
		}
		if ((r = cli_rotate_option(opt, optarg, &o)) == 1) {
			cli_bad_option("container", "rotate-secrets", argv[optind - 1], longopts, opt == ':');
			return EXIT_USAGE;
		}
		if (r)
			return r;
	}
	if (argc - optind != 1) {
		cli_help(stderr, "container", "rotate-secrets");
		return EXIT_USAGE;
	}
	if (!(v = cli_view(c, argv[optind], &r)))
		return r;
	if (!v->n) {
		cli_error("container '%s' maps no secrets: nothing to rotate", v->container);
		return EXIT_NEGATIVE;
	}
	o.container = v->container;
	if (!(keys = calloc(v->n, sizeof(*keys))))
		return EXIT_BACKEND;
	for (i = 0; i < v->n; i++) {
		for (k = 0; k < n && strcmp(keys[k], v->keys[i]); k++)
			;
		if (k == n)
			keys[n++] = v->keys[i];
	}
	r = cli_rotate_keys(c, keys, n, &o);
	free(keys);
	return r;
}

/* ---- start ---- */

struct argvec {
	char **v;
	size_t n, cap;
	int oom;
};

static void add(struct argvec *a, const char *s)
{
	char **nv;

	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;

		if (!(nv = realloc(a->v, cap * sizeof(*nv)))) {
			a->oom = 1;
			return;
		}
		a->v = nv;
		a->cap = cap;
	}
	if (!(a->v[a->n] = strdup(s))) {
		a->oom = 1;
		return;
	}
	a->v[++a->n] = NULL;
}

static void addf(struct argvec *a, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void addf(struct argvec *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->oom = 1;
		return;
	}
	add(a, s);
	free(s);
}

static void argvec_free(struct argvec *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* Print an argument so that a POSIX shell reads it back unchanged. */
static void print_quoted(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("_@%+=:,./-", *p)))
			break;
	if (*s && !*p) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (p = s; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

struct extra_secret {
	const char *name;
	const char *key;
};

/* security.container_engine: auto (docker, else podman), docker or podman. */
static int pick_engine(struct cli *c, const char *given, const char **out)
{
	const char *conf = "auto";
	struct why err = WHY_INIT;
	const char *e = given;

	if (!e) {
		if (cfg_get_str(c->cfg->security, "container_engine", &conf, &err) != 0) {
			cli_error("%s", err.msg);
			return EXIT_USAGE;
		}
		e = conf;
	}
	if (!strcmp(e, "auto")) {
		const char *path = getenv("PATH");
		char *dirs = strdup(path ? path : "/usr/bin:/bin"), *d, *save = NULL;
		char probe[4096];

		e = "podman";
		for (d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
			snprintf(probe, sizeof(probe), "%s/docker", d);
			if (access(probe, X_OK) == 0) {
				e = "docker";
				break;
			}
		}
		free(dirs);
	}
	if (strcmp(e, "docker") && strcmp(e, "podman")) {
		if (given)
			cli_error("--engine must be docker or podman, not '%s'", e);
		else
			cli_error("%s:%d:%d: 'container_engine' must be auto, docker or podman, not '%s'",
				  cfg_get(c->cfg->security, "container_engine")->file,
				  cfg_get(c->cfg->security, "container_engine")->line,
				  cfg_get(c->cfg->security, "container_engine")->col, e);
		return EXIT_USAGE;
	}
	*out = e;
	return 0;
}

static int do_start(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "engine", required_argument, NULL, 'e' }, { "secret", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'N' },   { "no-env", no_argument, NULL, 'E' },
		{ "dry-run", no_argument, NULL, 'n' },	    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct argvec a = { 0 };
	struct extra_secret *extra = NULL;
	struct run_env *env = NULL;
	struct inject_values vals = INJECT_VALUES_INIT;
	const struct view *v;
	const struct cfg_node *cnode, *image = NULL, *envmap;
	const char *engine_opt = NULL, *engine, *cname = NULL, **keys = NULL, **names = NULL;
	const char **all_keys = NULL, **all_names = NULL;
	char mnt[4096];
	int opt, r, dry = 0, no_env = 0, via_env, status, timed_out;
	size_t i, nextra = 0, nfetch = 0, dash;
	struct run_opts ro = { .forward = 1 };
	pid_t pid;

	/* Options end at '--': what follows is the engine's. */
	for (dash = 1; dash < (size_t)argc && strcmp(argv[dash], "--"); dash++)
		;
	if (!(extra = calloc((size_t)argc + 1, sizeof(*extra))))
		return EXIT_BACKEND;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long((int)dash, argv, ":e:s:N:nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			engine_opt = optarg;
			break;
		case 's': {
			char *eq = strchr(optarg, '=');
			const char *bad;

			if (!eq) {
				cli_error("--secret wants ENV=KEY, such as GITHUB_TOKEN=github/token");
				r = EXIT_USAGE;
				goto out;
			}
			*eq = 0;
			if ((bad = names_check_env(optarg)) || (bad = names_check_key(eq + 1))) {
				cli_error("--secret %s=%s: %s '%s' %s", optarg, eq + 1,
					  names_check_env(optarg) ? "variable name" : "key",
					  names_check_env(optarg) ? optarg : eq + 1, bad);
				r = EXIT_USAGE;
				goto out;
			}
			extra[nextra].name = optarg;
			extra[nextra++].key = eq + 1;
			break;
		}
		case 'N':
			cname = optarg;
			break;
		case 'E':
			no_env = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 'h':
			cli_help(stdout, "container", "start");
			r = 0;
			goto out;
		default:
			cli_bad_option("container", "start", argv[optind - 1], longopts, opt == ':');
			r = EXIT_USAGE;
			goto out;
		}
	}
	if ((size_t)optind + 1 != dash) {
		if ((size_t)optind >= dash)
			cli_error("container start needs the container's NAME");
		else
			cli_error("put the image and its arguments after '--'");
		r = EXIT_USAGE;
		goto out;
	}
	if (!(v = cli_view(c, argv[optind], &r)))
		goto out;
	if ((r = pick_engine(c, engine_opt, &engine)))
		goto out;
	cnode = cfg_get(c->cfg->containers, v->container);
	image = cfg_get(cnode, "image");
	if (dash + 1 >= (size_t)argc && (!image || image->kind != CFG_SCALAR || cfg_is_null(image))) {
		cli_error("no image for '%s': give one after '--', or set security.containers.%s.image",
			  v->container, v->container);
		r = EXIT_USAGE;
		goto out;
	}
	snprintf(mnt, sizeof(mnt), "%s", c->cfg->fs.mountpoint);
	while (strlen(mnt) > 1 && mnt[strlen(mnt) - 1] == '/')
		mnt[strlen(mnt) - 1] = 0;
	if (strpbrk(mnt, ":,")) {
		cli_error("the mountpoint '%s' contains ':' or ',', which -v cannot express", mnt);
		r = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < nextra; i++) {
		size_t k;

		for (k = 0; k < i; k++) {
			if (!strcmp(extra[k].name, extra[i].name)) {
				cli_error("--secret %s is given twice", extra[i].name);
				r = EXIT_USAGE;
				goto out;
			}
		}
		if (view_find_secret(v, extra[i].name) >= 0 && !no_env) {
			/* both would set it; the engine would pick one silently */
			cli_error("--secret %s: '%s' is already one of container '%s''s variables", extra[i].name,
				  extra[i].name, v->container);
			r = EXIT_USAGE;
			goto out;
		}
	}
	/* docker and podman read --env-file themselves, as the caller: a view
	 * that belongs to someone else would refuse them. */
	via_env = !no_env && v->n && geteuid() != v->uid;

	add(&a, engine);
	add(&a, "run");
	addf(&a, "--name=%s", cname ? cname : v->container);
	add(&a, "--read-only");
	add(&a, "--cap-drop=ALL");
	add(&a, "--security-opt=no-new-privileges");
	add(&a, "--tmpfs=/tmp:rw,noexec,nosuid,nodev,size=64m");
	addf(&a, "--user=%u:%u", (unsigned)v->uid, (unsigned)v->gid);
	if (!strcmp(engine, "podman") && geteuid() != 0)
		add(&a, "--userns=keep-id");	/* so that the view sees the same uid */
	addf(&a, "--volume=%s/%s:/run/secrets:ro", mnt, v->container);
	if (!no_env && v->n && !via_env)
		addf(&a, "--env-file=%s/%s/docker.env", mnt, v->container);
	envmap = cfg_get(cnode, "environment");
	for (i = 0; envmap && envmap->kind == CFG_MAP && i < envmap->n; i++)
		if (envmap->items[i]->kind == CFG_SCALAR)
			addf(&a, "--env=%s=%s", envmap->keys[i]->text, envmap->items[i]->text);
	/* Values from the store: -e NAME, the value only in the engine's environment. */
	keys = calloc(v->n + nextra + 1, sizeof(*keys));
	names = calloc(v->n + nextra + 1, sizeof(*names));
	all_keys = calloc(v->n + nextra + 1, sizeof(*all_keys));
	all_names = calloc(v->n + nextra + 1, sizeof(*all_names));
	if (!keys || !names || !all_keys || !all_names) {
		r = EXIT_BACKEND;
		goto out;
	}
	for (i = 0; via_env && i < v->n; i++) {
		names[nfetch] = v->names[i];
		keys[nfetch++] = v->keys[i];
	}
	for (i = 0; i < nextra; i++) {
		names[nfetch] = extra[i].name;
		keys[nfetch++] = extra[i].key;
	}
	for (i = 0; i < v->n + nextra; i++) {
		all_names[i] = i < v->n ? v->names[i] : extra[i - v->n].name;
		all_keys[i] = i < v->n ? v->keys[i] : extra[i - v->n].key;
	}
	for (i = 0; i < nfetch; i++)
		addf(&a, "--env=%s", names[i]);
	addf(&a, "--label=harombe.container=%s", v->container);
	if (dash + 1 < (size_t)argc) {
		for (i = dash + 1; i < (size_t)argc; i++)
			add(&a, argv[i]);
	} else {
		add(&a, image->text);
	}
	if (a.oom) {
		r = EXIT_BACKEND;
		goto out;
	}
	if (dry) {
		for (i = 0; i < a.n; i++) {
			if (i)
				putchar(' ');
			print_quoted(a.v[i]);
		}
		putchar('\n');
		if (nfetch)
			cli_error("note: %zu variable%s (%s%s) would come from the store through the engine's "
				  "environment", nfetch, nfetch == 1 ? "" : "s", names[0], nfetch > 1 ? ", ..." : "");
		if (access(mnt, F_OK) != 0)
			cli_error("note: %s does not exist: is harombefs mounted?", mnt);
		r = 0;
		goto out;
	}

	/* The real thing: values into locked memory, into the engine's
	 * environment, and gone from here once it has started. */
	if ((r = cli_audit(c)) || (r = cli_backend(c)))
		goto out;
	if (!(env = run_env_new(cli_dropped_env(c)))) {
		r = EXIT_BACKEND;
		goto out;
	}
	if (nfetch) {
		int err = inject_fetch(c->be, names, keys, nfetch, &vals), unfit = 0;

		if (err && vals.failed == nfetch) {
			r = EXIT_BACKEND;
			goto out;
		}
		if (!err && (err = inject_fill_env(&vals, env))) {
			cli_error("the value of %s (%s) contains a NUL byte, which an environment "
				  "variable cannot hold", names[vals.failed], keys[vals.failed]);
			unfit = 1;
		}
		inject_values_wipe(&vals);
		if (unfit) {
			cli_audit_event(c, AUDIT_INJECTION_START, v->container, names, nfetch, keys, nfetch,
					-BACKEND_EINVAL, NULL, NULL, 0);
			r = cli_exit_for(-BACKEND_EINVAL);
			goto out;
		}
		if (err) {
			i = vals.failed;
			cli_error("cannot get '%s' (%s) from %s: %s%s%s", keys[i], names[i], backend_name(c->be),
				  backend_strerror(vals.rc), why_sep(&vals.why), vals.why.msg);
			cli_audit_event(c, AUDIT_INJECTION_START, v->container, names, nfetch, keys, nfetch, vals.rc,
					vals.why.msg, NULL, 0);
			r = cli_exit_for(vals.rc);
			goto out;
		}
	}
	{
		struct audit_kv ex[1] = { { "engine", engine, 0 } };

		cli_audit_event(c, AUDIT_INJECTION_START, v->container, all_names, v->n + nextra, all_keys,
				v->n + nextra, 0, NULL, ex, 1);
	}
	r = run_spawn(engine, a.v, run_env_envp(env), &ro, &pid);
	run_env_free(env);	/* the engine has its copy; ours is wiped */
	env = NULL;
	if (r) {
		cli_error("cannot run '%s': %s", engine, strerror(-r));
		r = r == -ENOENT ? 127 : 126;
		goto out;
	}
	if ((r = run_wait(pid, &ro, 0, &status, &timed_out))) {
		cli_error("cannot wait for '%s': %s", engine, strerror(-r));
		r = EXIT_BACKEND;
		goto out;
	}
	r = run_exit_code(status);
	{
		struct audit_kv ex[2] = { { "engine", engine, 0 }, { "exit_status", NULL, (double)r } };

		cli_audit_event(c, AUDIT_INJECTION_COMPLETE, v->container, all_names, v->n + nextra, all_keys,
				v->n + nextra, 0, NULL, ex, 2);
	}
out:
	run_env_free(env);
	argvec_free(&a);
	free(extra);
	free(keys);
	free(names);
	free(all_keys);
	free(all_names);
	inject_values_release(&vals);
	return r;
}

int cli_container(struct cli *c, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "start"))
		return do_start(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rotate-secrets"))
		return do_rotate_secrets(c, argc - 1, argv + 1);
	if (argc == 3 && !strcmp(argv[1], "secrets") && argv[2][0] != '-')
		return do_secrets(c, argv[2]);
	if (argc >= 2 && strcmp(argv[1], "secrets")) {
		static const char *const cmds[] = { "secrets", "rotate-secrets", "start", NULL };

		cli_unknown_command("container", argv[1], cmds);
		return EXIT_USAGE;
	}
	if (argc > 3) {
		cli_error("container secrets: unexpected argument '%s'", argv[3]);
		return EXIT_USAGE;
	}
	if (argc == 3) {
		cli_error("container secrets: unknown option '%s' (see harombe help container)", argv[2]);
		return EXIT_USAGE;
	}
	cli_help(stderr, "container", argc >= 2 ? argv[1] : NULL);
	return EXIT_USAGE;
}
