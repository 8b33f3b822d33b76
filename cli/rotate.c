#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backends/backend.h"
#include "inject/rotate.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/when.h"

/*
 * Rotation from the command line: `harombe vault rotate KEY`, `harombe
 * container rotate-secrets NAME` and `harombe rotate --check` all come here.
 * A rotation reads the old value (for its prefix and shape), writes a new
 * one from the CSPRNG, audits secret_rotation (never a value), tells a
 * running harombefs to drop its cached copies, and then runs the on_rotate
 * hook of every container whose secrets changed.
 */

/* Parses --generator/--length/--no-prefix/--no-hooks; 0, 1 (not ours) or an exit status. */
int cli_rotate_option(int opt, const char *arg, struct cli_rotate_opts *o)
{
	enum rotate_gen g;
	char *end;
	unsigned long n;

	switch (opt) {
	case 'g':
		if (rotate_gen_parse(arg, &g)) {
			cli_error("--generator must be auto, urlsafe, random, hex or uuid, not '%s'", arg);
			return EXIT_USAGE;
		}
		o->gen = (int)g;
		o->gen_set = 1;
		return 0;
	case 'l':
		n = strtoul(arg, &end, 10);
		if (*end || !*arg || *arg == '-' || n < ROTATE_LENGTH_MIN || n > ROTATE_LENGTH_MAX) {
			cli_error("--length must be a number from %d to %d, not '%s'", ROTATE_LENGTH_MIN,
				  ROTATE_LENGTH_MAX, arg);
			return EXIT_USAGE;
		}
		o->length = n;
		return 0;
	case 'P':
		o->no_prefix = 1;
		return 0;
	case 'H':
		o->no_hooks = 1;
		return 0;
	}
	return 1;
}

static int check_spec(const struct cli_rotate_opts *o)
{
	if (o->gen_set && o->gen == ROTATE_UUID && o->length) {
		cli_error("--length does not apply to --generator uuid (always 36 characters)");
		return EXIT_USAGE;
	}
	return 0;
}

/* Defaults, then the key's policy, then the command line. */
static struct rotate_spec spec_for(const struct rotate_config *rc, const char *key,
				   const struct cli_rotate_opts *o)
{
	const struct rotate_policy *p = rotate_policy_for(rc, key);
	struct rotate_spec s = p ? p->spec : rc->spec;

	if (o->gen_set) {
		s.gen = (enum rotate_gen)o->gen;
		if (!o->length)
			s.length = 0;
	}
	if (o->length)
		s.length = o->length;
	if (s.gen == ROTATE_UUID)
		s.length = 0;
	if (o->no_prefix)
		s.keep_prefix = 0;
	return s;
}

/* One key: old value in, new value out, audited.  0 or a backend error. */
static int rotate_one(struct cli *c, const char *key, const struct rotate_spec *spec, const char *trigger,
		      const char *container, struct rotate_result *res, struct why *why)
{
	struct secbuf *old = NULL, *val = NULL;
	struct audit_kv extra[4] = {
		{ "action", "rotate", 0 }, { "trigger", trigger, 0 }, { "generator", NULL, 0 }, { "length", NULL, 0 },
	};
	size_t olen, nlen;
	const unsigned char *o, *n;
	int r;

	memset(res, 0, sizeof(*res));
	extra[2].str = rotate_gen_name(spec->gen);
	r = backend_get(c->be, key, &old, why);
	if (r == -BACKEND_ENOTFOUND) {
		size_t l = strlen(why->msg);

		snprintf(why->msg + l, sizeof(why->msg) - l, "%s(vault set creates a key; rotate replaces one)",
			 l ? " " : "");
	}
	if (r)
		goto out;
	o = secbuf_data(old, &olen);
	r = rotate_new_value(spec, o, olen, &val, res);
	secbuf_free(old);
	old = NULL;
	if (r) {
		snprintf(why->msg, sizeof(why->msg), "%s",
			 r == -ENOMEM ? "locked memory exhausted" : "bad generator settings");
		r = r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EINVAL;
		goto out;
	}
	extra[2].str = rotate_gen_name(res->gen);
	extra[3].num = (double)res->length;
	n = secbuf_data(val, &nlen);
	r = backend_set(c->be, key, n, nlen, why);
out:
	secbuf_free(old);
	secbuf_free(val);
	cli_audit_event(c, AUDIT_SECRET_ROTATION, container, NULL, 0, &key, 1, r, why->msg, extra,
			res->length ? 4 : 3);
	return r;
}

static const char *describe_status(int status, int timed_out, char *buf, size_t len)
{
	if (timed_out)
		snprintf(buf, len, "timed out (killed by signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended with status %d", status);
	return buf;
}

/*
 * The hooks of every container whose view maps one of changed[].  Each
 * runs once with the changed keys it maps; its result is audited.  Returns
 * how many failed; report (may be NULL) gets one line per hook.
 */
static int run_hooks(struct cli *c, const struct rotate_config *rc, const char *const *changed, size_t n,
		     FILE *report)
{
	const struct viewset *vs;
	size_t h, i, k;
	int failed = 0;

	if (!n || !rc->nhooks || cli_views(c, &vs))
		return 0;
	for (h = 0; h < rc->nhooks; h++) {
		const struct rotate_hook *hk = &rc->hooks[h];
		const struct view *v = viewset_find(vs, hk->container);
		const char **keys = calloc(n + 1, sizeof(*keys)), **names = calloc((v ? v->n : 0) + 1, sizeof(*names));
		size_t nk = 0, nn = 0;
		char reason[128];
		struct audit_kv extra[2] = { { "action", "on_rotate", 0 }, { "exit_status", NULL, 0 } };
		int status = 0, timed_out = 0, r;

		if (!keys || !names) {
			free(keys);
			free(names);
			return failed + 1;
		}
		for (i = 0; v && i < n; i++) {
			int hit = 0;

			for (k = 0; k < v->n; k++) {
				if (rotate_key_affects(changed[i], v->keys[k])) {
					size_t m;

					hit = 1;
					for (m = 0; m < nn && strcmp(names[m], v->names[k]); m++)
						;
					if (m == nn)
						names[nn++] = v->names[k];
				}
			}
			if (hit)
				keys[nk++] = changed[i];
		}
		if (!nk) {
			free(keys);
			free(names);
			continue;
		}
		r = rotate_hook_run(hk, keys, nk, names, nn, cli_dropped_env(c), rc->hook_timeout_ms, &status,
				    &timed_out);
		if (r) {
			snprintf(reason, sizeof(reason), "cannot start '%s': %s", hk->argv[0], strerror(-r));
			extra[1].num = 127;
		} else {
			describe_status(status, timed_out, reason, sizeof(reason));
			extra[1].num = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ?
											  WTERMSIG(status) : 0);
		}
		{
			int ok = !r && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;

			cli_audit_event(c, AUDIT_SECRET_ROTATION, hk->container, names, nn, keys, nk,
					ok ? 0 : -BACKEND_EUNAVAIL, reason, extra, 2);
			if (!ok) {
				failed++;
				cli_error("on_rotate of container '%s' failed: %s", hk->container, reason);
			}
			if (report)
				fprintf(report, "on_rotate %s: %s\n", hk->container, ok ? "exit status 0" : reason);
		}
		free(keys);
		free(names);
	}
	return failed;
}

/* Record rotations of policy keys in the state file (a warning when it
 * cannot be written: the store itself has the new value). */
static void record(const struct rotate_config *rc, const char *const *keys, size_t n)
{
	struct rotate_state *st = NULL;
	struct why err = WHY_INIT;
	int64_t now = when_now_ms();
	size_t i, want = 0;

	for (i = 0; i < n; i++)
		want += rotate_policy_for(rc, keys[i]) != NULL;
	if (!want)
		return;
	if (rotate_state_open(rc->state_file, &st, &err) != 0) {
		cli_error("warning: rotated, but could not record it: %.511s", why_str(&err));
		return;
	}
	for (i = 0; i < n; i++)
		if (rotate_policy_for(rc, keys[i]))
			rotate_state_set(st, keys[i], now, 0);
	if (rotate_state_save(st, &err) != 0)
		cli_error("warning: rotated, but could not record it: %.511s", why_str(&err));
	rotate_state_close(st);
}

int cli_rotate_keys(struct cli *c, const char *const *keys, size_t n, const struct cli_rotate_opts *o)
{
	const struct rotate_config *rc;
	const char **done = calloc(n + 1, sizeof(*done));
	size_t i, nd = 0;
	int r = 0, first = 0, hooks_failed = 0;

	if (!done)
		return EXIT_BACKEND;
	if ((r = check_spec(o)) || (r = cli_rotation(c, &rc)) || (r = cli_audit(c)) || (r = cli_backend(c)))
		goto out;
	for (i = 0; i < n; i++) {
		struct rotate_spec spec = spec_for(rc, keys[i], o);
		struct rotate_result res;
		struct why why = { "" };

		r = rotate_one(c, keys[i], &spec, o->trigger, o->container, &res, &why);
		if (r) {
			cli_error("cannot rotate '%s' in %s: %s%s%s", keys[i], backend_name(c->be),
				  backend_strerror(r), why_sep(&why), why_str(&why));
			if (!first)
				first = r;
			continue;
		}
		done[nd++] = keys[i];
		if (!c->json)
			printf("rotated %s (%s, %zu characters%s)\n", keys[i], rotate_gen_name(res.gen),
			       res.length, res.prefix_len ? ", prefix kept" : "");
	}
	record(rc, done, nd);
	cli_forget(c, done, nd);
	if (nd && !(backend_caps(c->be) & BACKEND_PERSISTENT))
		cli_error("note: the %s backend keeps new values for this process only", backend_name(c->be));
	if (!o->no_hooks)
		hooks_failed = run_hooks(c, rc, done, nd, c->json ? NULL : stdout);
	if (c->json) {
		fputs("{\"rotated\":[", stdout);
		for (i = 0; i < nd; i++) {
			fputs(i ? "," : "", stdout);
			cli_json_str(done[i]);
		}
		printf("],\"failed\":%zu,\"hooks_failed\":%d}\n", n - nd, hooks_failed);
	}
	r = first ? cli_exit_for(first) : hooks_failed ? EXIT_NEGATIVE : 0;
out:
	free(done);
	return r;
}

#define ROTATE_LONGOPTS                                                                               \
	{ "generator", required_argument, NULL, 'g' }, { "length", required_argument, NULL, 'l' },      \
		{ "no-prefix", no_argument, NULL, 'P' }, { "no-hooks", no_argument, NULL, 'H' },        \
		{ "help", no_argument, NULL, 'h' }

int cli_vault_rotate(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { ROTATE_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct cli_rotate_opts o = { .trigger = "manual" };
	const char *bad;
	int opt, r;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":g:l:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			cli_help(stdout, "rotate", NULL);
			return 0;
		}
		if ((r = cli_rotate_option(opt, optarg, &o)) == 1) {
			cli_bad_option("vault", "rotate", argv[optind - 1], longopts, opt == ':');
			return EXIT_USAGE;
		}
		if (r)
			return r;
	}
	if (argc - optind < 1) {
		cli_help(stderr, "rotate", NULL);
		return EXIT_USAGE;
	}
	for (r = optind; r < argc; r++) {
		if ((bad = names_check_key(argv[r]))) {
			cli_error("key '%s' %s", argv[r], bad);
			return EXIT_USAGE;
		}
	}
	return cli_rotate_keys(c, (const char *const *)argv + optind, (size_t)(argc - optind), &o);
}

/* ---- harombe rotate --check ---- */

struct due {
	const char *key;
	const struct rotate_policy *pol;
	int64_t last;		/* when it last changed, 0 unknown */
	const char *source;	/* "store", "state", "first seen" */
	int r;
	char why[sizeof(((struct why *)0)->msg) + 64];
	const char *status;	/* "rotated", "ok", "due", "failed", "tracking" */
};

static int do_check(struct cli *c, int dry, int all, const struct cli_rotate_opts *o)
{
	const struct rotate_config *rc;
	struct rotate_state *st = NULL;
	struct due *d = NULL;
	const char **done = NULL;
	struct why err = WHY_INIT;
	char when[40], span[40];
	int64_t now = when_now_ms();
	size_t n = 0, i, k, nd = 0;
	int r, first = 0, hooks_failed = 0;

	if ((r = cli_rotation(c, &rc)))
		return r;
	if (!rc->enabled) {
		printf("rotation is disabled (security.rotation.enabled: false)\n");
		return 0;
	}
	for (i = 0; i < rc->n; i++)
		n += rc->policies[i].n;
	if (!n) {
		printf("no rotation policies (security.rotation.policies)\n");
		return 0;
	}
	if (!(d = calloc(n, sizeof(*d))) || !(done = calloc(n, sizeof(*done)))) {
		r = EXIT_BACKEND;
		goto out;
	}
	if ((!dry && (r = cli_audit(c))) || (r = cli_backend(c)))
		goto out;
	if (rotate_state_open(rc->state_file, &st, &err) != 0) {
		cli_error("%.511s", why_str(&err));
		r = EXIT_USAGE;
		goto out;
	}
	for (n = 0, i = 0; i < rc->n; i++) {
		for (k = 0; k < rc->policies[i].n; k++, n++) {
			struct due *e = &d[n];
			struct backend_meta meta;
			struct why why = { "" };
			int64_t rotated, seen;

			e->key = rc->policies[i].keys[k];
			e->pol = &rc->policies[i];
			r = backend_meta(c->be, e->key, &meta, &why);
			if (r == 0 && meta.updated > 0 && !meta.store_wide) {
				e->last = meta.updated * 1000;
				e->source = "store";
			} else if (r == 0 || r == -BACKEND_ENOTSUP) {
				/* The store keeps no time: ours, or start the clock.
				 * The key must exist all the same. */
				struct secbuf *probe = NULL;

				if (r == -BACKEND_ENOTSUP && (r = backend_get(c->be, e->key, &probe, &why)) != 0)
					goto failed;
				secbuf_free(probe);
				rotate_state_get(st, e->key, &rotated, &seen);
				e->last = rotated ? rotated : seen;
				e->source = rotated ? "state" : "first seen";
				if (!e->last) {
					e->last = now;
					rotate_state_set(st, e->key, 0, now);
				}
			} else {
				goto failed;
			}
			r = 0;
			e->status = all || now >= e->last + (int64_t)e->pol->schedule_ms ? "due" :
				    !strcmp(e->source, "first seen") && e->last == now ? "tracking" : "ok";
			continue;
failed:
			e->r = r;
			e->status = "failed";
			snprintf(e->why, sizeof(e->why), "%s%s%s", backend_strerror(r), why_sep(&why),
				 why_str(&why));
			if (!first)
				first = r;
		}
	}
	for (i = 0; i < n && !dry; i++) {
		struct rotate_spec spec;
		struct rotate_result res;
		struct why why = { "" };

		if (strcmp(d[i].status, "due"))
			continue;
		spec = spec_for(rc, d[i].key, o);
		r = rotate_one(c, d[i].key, &spec, "policy", NULL, &res, &why);
		if (r) {
			d[i].r = r;
			d[i].status = "failed";
			snprintf(d[i].why, sizeof(d[i].why), "%s%s%s", backend_strerror(r), why_sep(&why),
				 why_str(&why));
			if (!first)
				first = r;
			continue;
		}
		d[i].status = "rotated";
		rotate_state_set(st, d[i].key, now, 0);
		done[nd++] = d[i].key;
	}
	if (!dry && rotate_state_save(st, &err) != 0) {
		cli_error("%.511s", why_str(&err));
		if (!first)
			first = -BACKEND_EUNAVAIL;
	}
	/* Hooks may take minutes: not while holding the state lock. */
	rotate_state_close(st);
	st = NULL;
	cli_forget(c, done, nd);

	if (c->json)
		fputs("{\"secrets\":[", stdout);
	for (i = 0; i < n; i++) {
		int64_t next = d[i].last + (int64_t)d[i].pol->schedule_ms;

		if (c->json) {
			fputs(i ? ",{\"key\":" : "{\"key\":", stdout);
			cli_json_str(d[i].key);
			printf(",\"status\":\"%s\",\"schedule\":", d[i].status);
			cli_json_str(d[i].pol->schedule);
			if (d[i].last) {
				when_format(d[i].last, when, sizeof(when));
				printf(",\"last_changed\":\"%s\",\"source\":\"%s\"", when, d[i].source);
				when_format(!strcmp(d[i].status, "rotated") ? now + (int64_t)d[i].pol->schedule_ms
									     : next, when, sizeof(when));
				printf(",\"next_due\":\"%s\"", when);
			}
			if (d[i].r) {
				fputs(",\"error\":", stdout);
				cli_json_str(d[i].why);
			}
			putchar('}');
			continue;
		}
		if (d[i].r) {
			printf("failed   %s: %s\n", d[i].key, d[i].why);
		} else if (!strcmp(d[i].status, "tracking")) {
			printf("tracking %s: the store keeps no change time; the %s clock starts %s\n", d[i].key,
			       d[i].pol->schedule, dry ? "with the first --check" : "now");
		} else {
			when_format_span(now - d[i].last, span, sizeof(span));
			printf("%-8s %s: %s %s ago, schedule %s", d[i].status, d[i].key,
			       !strcmp(d[i].source, "store") ? "changed (store's clock)" :
			       !strcmp(d[i].source, "state") ? "rotated by harombe" : "first seen", span,
			       d[i].pol->schedule);
			if (!strcmp(d[i].status, "ok")) {
				when_format_span(next - now, span, sizeof(span));
				printf(", due in %s", span);
			}
			putchar('\n');
		}
	}
	if (c->json)
		printf("],\"rotated\":%zu", nd);
	if (nd && !(backend_caps(c->be) & BACKEND_PERSISTENT))
		cli_error("note: the %s backend keeps new values for this process only", backend_name(c->be));
	if (!o->no_hooks && nd)
		hooks_failed = run_hooks(c, rc, done, nd, c->json ? NULL : stdout);
	if (c->json)
		printf(",\"hooks_failed\":%d}\n", hooks_failed);
	r = first ? cli_exit_for(first) : hooks_failed ? EXIT_NEGATIVE : 0;
out:
	rotate_state_close(st);
	free(d);
	free(done);
	return r;
}

int cli_rotate(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		ROTATE_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_rotate_opts o = { .trigger = "policy" };
	int opt, r, check = 0, dry = 0, all = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":g:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			check = 1;
			continue;
		case 'n':
			dry = 1;
			continue;
		case 'a':
			all = 1;
			continue;
		case 'h':
			cli_help(stdout, "rotate", NULL);
			return 0;
		}
		if ((r = cli_rotate_option(opt, optarg, &o)) == 1) {
			cli_bad_option("rotate", "", argv[optind - 1], longopts, opt == ':');
			return EXIT_USAGE;
		}
		if (r)
			return r;
	}
	if (!check || optind != argc) {
		if (optind < argc)
			cli_error("'harombe rotate' takes no keys: use harombe vault rotate KEY, or --check");
		cli_help(stderr, "rotate", NULL);
		return EXIT_USAGE;
	}
	if ((r = check_spec(&o)))
		return r;
	return do_check(c, dry, all, &o);
}
