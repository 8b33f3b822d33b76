#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "inject/fetch.h"
#include "inject/run.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/names.h"

/*
 * harombe run: a command with secrets in its environment and nowhere else.
 * The values go from the store into locked memory, from there into the
 * environment the kernel copies into the new program, and are wiped here
 * as soon as it has started.  No file, no argument, no log line, no audit
 * record ever holds one.
 */

int cli_run(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "container", required_argument, NULL, 'c' },
		{ "secret", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *container = NULL, **names = NULL, **keys = NULL;
	const struct view *v = NULL;
	struct run_env *env = NULL;
	struct inject_values vals = INJECT_VALUES_INIT;
	struct run_opts ro = { .forward = 1 };
	int opt, r, err, status, timed_out;
	size_t dash, i, k, n = 0;
	pid_t pid;

	for (dash = 1; dash < (size_t)argc && strcmp(argv[dash], "--"); dash++)
		;
	if (!(names = calloc((size_t)argc + 1, sizeof(*names))) ||
	    !(keys = calloc((size_t)argc + 1, sizeof(*keys)))) {
		r = EXIT_BACKEND;
		goto out;
	}
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long((int)dash, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			container = optarg;
			break;
		case 's': {
			char *eq = strchr(optarg, '=');
			const char *bad = NULL;

			if (!eq) {
				cli_error("--secret wants ENV=KEY, such as GITHUB_TOKEN=github/token");
				r = EXIT_USAGE;
				goto out;
			}
			*eq = 0;
			if ((bad = names_check_env(optarg))) {
				cli_error("--secret: variable name '%s' %s", optarg, bad);
				r = EXIT_USAGE;
				goto out;
			}
			if ((bad = names_check_key(eq + 1))) {
				cli_error("--secret %s: key '%s' %s", optarg, eq + 1, bad);
				r = EXIT_USAGE;
				goto out;
			}
			names[n] = optarg;
			keys[n++] = eq + 1;
			break;
		}
		case 'h':
			cli_help(stdout, "run", NULL);
			r = 0;
			goto out;
		default:
			cli_bad_option("run", "", argv[optind - 1], longopts, opt == ':');
			r = EXIT_USAGE;
			goto out;
		}
	}
	if ((size_t)optind != dash || dash + 1 >= (size_t)argc) {
		cli_error(dash < (size_t)argc && (size_t)optind == dash ? "no command after '--'" :
			  "put the command after '--': harombe run [OPTIONS] -- COMMAND [ARGS]");
		r = EXIT_USAGE;
		goto out;
	}
	if (!container && !n) {
		cli_error("nothing to give the command: use --container NAME or --secret ENV=KEY");
		r = EXIT_USAGE;
		goto out;
	}
	if (container) {
		const char **nn, **nk;

		if (!(v = cli_view(c, container, &r)))
			goto out;
		for (i = 0; i < n; i++) {
			if (view_find_secret(v, names[i]) >= 0) {
				cli_error("--secret %s: '%s' is already one of container '%s''s variables", names[i],
					  names[i], v->container);
				r = EXIT_USAGE;
				goto out;
			}
		}
		/* the container's variables first, in config order */
		nn = calloc(v->n + n + 1, sizeof(*nn));
		nk = calloc(v->n + n + 1, sizeof(*nk));
		if (!nn || !nk) {
			free(nn);
			free(nk);
			r = EXIT_BACKEND;
			goto out;
		}
		for (i = 0; i < v->n; i++) {
			nn[i] = v->names[i];
			nk[i] = v->keys[i];
		}
		memcpy(nn + v->n, names, n * sizeof(*names));
		memcpy(nk + v->n, keys, n * sizeof(*keys));
		free(names);
		free(keys);
		names = nn;
		keys = nk;
		n += v->n;
	}
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (!strcmp(names[i], names[k])) {
				cli_error("--secret %s is given twice", names[i]);
				r = EXIT_USAGE;
				goto out;
			}
	if ((r = cli_audit(c)) || (r = cli_backend(c)))
		goto out;
	/* After the backend is open: the env backend has taken its variables
	 * out of our environment by now, and the copy must not have them. */
	env = run_env_new(cli_dropped_env(c));
	if (!env) {
		cli_error("out of memory");
		r = EXIT_BACKEND;
		goto out;
	}
	/* err: inject's -errno / backend error; r: our exit status. */
	err = inject_fetch(c->be, names, keys, n, &vals);
	if (err && vals.failed == n) {
		cli_error("out of memory");
		r = EXIT_BACKEND;
		goto out;
	}
	if (!err)
		err = inject_fill_env(&vals, env);
	inject_values_wipe(&vals);
	if (err) {
		i = vals.failed;
		cli_error("cannot give %s (%s) to the command: %s%s%s", names[i], keys[i], backend_strerror(vals.rc),
			  why_sep(&vals.why), vals.why.msg);
		cli_audit_event(c, AUDIT_INJECTION_START, container, names, n, keys, n, vals.rc, vals.why.msg,
				NULL, 0);
		r = cli_exit_for(vals.rc);
		goto out;
	}
	{
		const char *base = strrchr(argv[dash + 1], '/');
		struct audit_kv ex[2] = { { "action", "run", 0 }, { "command", base ? base + 1 : argv[dash + 1], 0 } };

		cli_audit_event(c, AUDIT_INJECTION_START, container, names, n, keys, n, 0, NULL, ex, 2);
	}
	r = run_spawn(argv[dash + 1], argv + dash + 1, run_env_envp(env), &ro, &pid);
	/* The command has its own copy now (or none): wipe ours. */
	run_env_free(env);
	env = NULL;
	if (r) {
		cli_error("cannot run '%s': %s", argv[dash + 1], strerror(-r));
		r = r == -ENOENT ? 127 : 126;
		goto out;
	}
	if ((r = run_wait(pid, &ro, 0, &status, &timed_out))) {
		cli_error("cannot wait for '%s': %s", argv[dash + 1], strerror(-r));
		r = EXIT_BACKEND;
		goto out;
	}
	r = run_exit_code(status);
	{
		struct audit_kv ex[2] = { { "action", "run", 0 }, { "exit_status", NULL, (double)r } };

		cli_audit_event(c, AUDIT_INJECTION_COMPLETE, container, names, n, keys, n, 0, NULL, ex, 2);
	}
out:
	run_env_free(env);
	inject_values_release(&vals);
	free(names);
	free(keys);
	return r;
}
