#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include <time.h>

#include "backends/backend.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/fileio.h"
#include "lib/jsonw.h"
#include "lib/why.h"

static int check_key(const char *key)
{
	const char *why = names_check_key(key);

	if (why) {
		cli_error("key '%s' %s", key, why);
		return EXIT_USAGE;
	}
	return 0;
}


/* What vault's own options asked of get. */
struct get_opts {
	const char *field;	/* -field NAME */
};

/* All fields of one read, for the table and -format=json: names in
 * ordinary memory (they are not secret), values in one locked buffer. */
struct fieldset {
	char **names;
	size_t *off, *len;
	size_t n, cap;
	struct secbuf *vals;
	int err;
};

static int collect(const char *field, const struct secbuf *value, void *arg)
{
	struct fieldset *fs = arg;
	const unsigned char *d;
	size_t l;

	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 8;
		char **nn = realloc(fs->names, cap * sizeof(*nn));
		size_t *no, *nl;

		if (nn)
			fs->names = nn;
		no = nn ? realloc(fs->off, cap * sizeof(*no)) : NULL;
		if (no)
			fs->off = no;
		nl = no ? realloc(fs->len, cap * sizeof(*nl)) : NULL;
		if (!nl)
			return fs->err = -ENOMEM;
		fs->len = nl;
		fs->cap = cap;
	}
	d = secbuf_data(value, &l);
	if (!(fs->names[fs->n] = strdup(field)))
		return fs->err = -ENOMEM;
	fs->off[fs->n] = secbuf_len(fs->vals);
	fs->len[fs->n] = l;
	fs->n++;
	if (secbuf_append(fs->vals, d, l))
		return fs->err = -ENOMEM;
	return 0;
}

static void fieldset_release(struct fieldset *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->names[i]);
	free(fs->names);
	free(fs->off);
	free(fs->len);
	secbuf_free(fs->vals);
}

static int put_json_str(struct secbuf *out, const void *p, size_t n)
{
	size_t el = jsonw_escaped_len(p, n);
	unsigned char *t;

	if (secbuf_putc(out, '"') || !(t = secbuf_tail(out, el)))
		return -ENOMEM;
	jsonw_escape(t, p, n);
	secbuf_commit(out, el);
	return secbuf_putc(out, '"');
}

static int put_str(struct secbuf *out, const char *s)
{
	return secbuf_append(out, s, strlen(s));
}

static void rfc3339(long long t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	buf[0] = 0;
	if (t > 0 && gmtime_r(&tt, &tm))
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* vault kv get -format=json: the envelope, data.data and data.metadata
 * (KV 2; KV 1 has the fields as data). */
static int render_json(struct secbuf *out, const struct fieldset *fs, const struct backend_meta *m)
{
	const unsigned char *v = secbuf_data(fs->vals, NULL);
	char num[64], t[40];
	size_t i;
	int r = 0;

	r |= put_str(out, "{\n  \"request_id\": \"\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n"
			  "  \"renewable\": false,\n  \"data\": {\n");
	if (m)
		r |= put_str(out, "    \"data\": {\n");
	for (i = 0; i < fs->n && !r; i++) {
		r |= put_str(out, m ? "      " : "    ");
		r |= put_json_str(out, fs->names[i], strlen(fs->names[i]));
		r |= put_str(out, ": ");
		r |= put_json_str(out, v + fs->off[i], fs->len[i]);
		r |= put_str(out, i + 1 < fs->n ? ",\n" : "\n");
	}
	if (m) {
		rfc3339(m->updated, t, sizeof(t));
		snprintf(num, sizeof(num), "%lld", m->version);
		r |= put_str(out, "    },\n    \"metadata\": {\n      \"created_time\": \"");
		r |= put_str(out, t);
		r |= put_str(out, "\",\n      \"custom_metadata\": null,\n      \"deletion_time\": \"\",\n"
				  "      \"destroyed\": false,\n      \"version\": ");
		r |= put_str(out, num);
		r |= put_str(out, "\n    }\n");
	}
	r |= put_str(out, "  },\n  \"warnings\": null\n}\n");
	return r ? -ENOMEM : 0;
}

/* vault kv get's table: "Key   Value" under "====== Data ======". */
static int render_table(struct secbuf *out, const struct fieldset *fs)
{
	const unsigned char *v = secbuf_data(fs->vals, NULL);
	size_t w = 5, i, k;
	int r = 0;

	for (i = 0; i < fs->n; i++)
		if (strlen(fs->names[i]) > w)
			w = strlen(fs->names[i]);
	r |= put_str(out, "====== Data ======\nKey");
	for (k = 3; k < w + 4; k++)
		r |= secbuf_putc(out, ' ');
	r |= put_str(out, "Value\n---");
	for (k = 3; k < w + 4; k++)
		r |= secbuf_putc(out, ' ');
	r |= put_str(out, "-----\n");
	for (i = 0; i < fs->n; i++) {
		r |= put_str(out, fs->names[i]);
		for (k = strlen(fs->names[i]); k < w + 4; k++)
			r |= secbuf_putc(out, ' ');
		r |= secbuf_append(out, v + fs->off[i], fs->len[i]);
		r |= secbuf_putc(out, '\n');
	}
	return r ? -ENOMEM : 0;
}

static int write_out(struct secbuf *out)
{
	size_t len;
	const unsigned char *d = secbuf_data(out, &len);
	int r = fd_write_all(1, d, len);

	if (r) {
		cli_error("cannot write to stdout: %s", strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

/* The whole secret (every field): a table, or JSON. */
static int get_whole(struct cli *c, const char *key, int json)
{
	struct why why = { "" };
	struct fieldset fs = { 0 };
	struct backend_meta meta = { 0 };
	struct secbuf *out = NULL;
	int r, have_meta = 0;

	if (!(fs.vals = secbuf_new(256)) || !(out = secbuf_new(1024))) {
		secbuf_free(fs.vals);
		cli_error("out of locked memory");
		return EXIT_BACKEND;
	}
	r = backend_fields(c->be, key, collect, &fs, &why);
	if (!r && fs.err)
		r = fs.err;
	if (r) {
		cli_error("cannot get '%s' from %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		r = cli_exit_for(r);
		goto out;
	}
	if (json && backend_meta(c->be, key, &meta, &why) == 0 && meta.version > 0)
		have_meta = 1;
	if (json ? render_json(out, &fs, have_meta ? &meta : NULL) : render_table(out, &fs)) {
		cli_error("out of locked memory");
		r = EXIT_BACKEND;
		goto out;
	}
	r = write_out(out);
 out:
	fieldset_release(&fs);
	secbuf_free(out);
	return r;
}

static int do_get(struct cli *c, const char *key, const struct get_opts *o)
{
	struct why why = { "" };
	struct secbuf *v = NULL, *out = NULL;
	char *full = NULL;
	size_t len;
	int r;

	if ((r = check_key(key)))
		return r;
	if (o->field) {
		if (strchr(key, '#')) {
			cli_error("'%s' names a field already: drop -field, or the '#'", key);
			return EXIT_USAGE;
		}
		if (asprintf(&full, "%s#%s", key, o->field) < 0) {
			cli_error("out of memory");
			return EXIT_BACKEND;
		}
		if ((r = check_key(full))) {
			free(full);
			return r;
		}
		key = full;
	}
	if ((r = cli_backend(c)))
		goto done;
	if (c->json && !o->field && !strchr(key, '#') &&
	    !strcmp(backend_name(c->be), "vault")) {
		r = get_whole(c, key, 1);
		goto done;
	}
	r = backend_get(c->be, key, &v, &why);
	if (r == -BACKEND_EINVAL && !strchr(key, '#') && !strcmp(backend_name(c->be), "vault") &&
	    strstr(why_str(&why), "several fields")) {
		r = get_whole(c, key, c->json);
		goto done;
	}
	if (r) {
		cli_error("cannot get '%s' from %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		r = cli_exit_for(r);
		goto done;
	}
	const unsigned char *d = secbuf_data(v, &len);

	if (c->json) {
		/* -field NAME -format=json: the field as a JSON string. */
		if (!(out = secbuf_new(len + 16)) || put_json_str(out, d, len) || secbuf_putc(out, '\n')) {
			cli_error("out of locked memory");
			r = EXIT_BACKEND;
			goto done;
		}
		r = write_out(out);
		goto done;
	}
	r = fd_write_all(1, d, len);
	if (!r)
		r = fd_write_all(1, "\n", 1);
	if (r) {
		cli_error("cannot write to stdout: %s", strerror(-r));
		r = EXIT_USAGE;
	}
 done:
	secbuf_free(v);
	secbuf_free(out);
	free(full);
	return r;
}

/* The value from stdin, into locked memory; one trailing newline is
 * dropped (echo VALUE | harombe vault set KEY). */
static struct secbuf *read_stdin_value(void)
{
	struct secbuf *sb;

	if (secbuf_read_fd(0, SIZE_MAX, &sb) != 0)
		return NULL;
	size_t len;
	const unsigned char *d = secbuf_data(sb, &len);

	if (len && d[len - 1] == '\n') {
		struct secbuf *t = secbuf_dup(d, len - 1);

		secbuf_free(sb);
		return t;
	}
	return sb;
}

static int do_set(struct cli *c, const char *key, char *arg)
{
	struct why why = { "" };
	struct secbuf *v;
	size_t len;
	int r;

	if ((r = check_key(key)))
		return r;
	if (!arg || !strcmp(arg, "-")) {
		if (!arg && isatty(0)) {
			cli_error("no value: give one, or pipe it in (harombe vault set %s - < file)", key);
			return EXIT_USAGE;
		}
		v = read_stdin_value();
	} else {
		v = secbuf_dup(arg, strlen(arg));
		/* Take it out of /proc/PID/cmdline as soon as we have a copy. */
		sodium_memzero(arg, strlen(arg));
	}
	if (!v) {
		cli_error("cannot read the value into locked memory");
		return EXIT_BACKEND;
	}
	if ((r = cli_audit(c)) || (r = cli_backend(c))) {
		secbuf_free(v);
		return r;
	}
	const unsigned char *d = secbuf_data(v, &len);

	r = backend_set(c->be, key, d, len, &why);
	secbuf_free(v);
	cli_changed(c, AUDIT_SECRET_WRITE, key, r, why.msg);
	if (r) {
		cli_error("cannot set '%s' in %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		return cli_exit_for(r);
	}
	if (!(backend_caps(c->be) & BACKEND_PERSISTENT))
		cli_error("note: the %s backend keeps '%s' for this process only", backend_name(c->be), key);
	return 0;
}

struct listing {
	int count;
	int json;
};

static int print_key(const char *key, void *arg)
{
	struct listing *l = arg;

	if (l->json) {
		fputs(l->count ? "," : "[", stdout);
		cli_json_str(key);
	} else {
		printf("%s\n", key);
	}
	l->count++;
	return 0;
}

static int do_list(struct cli *c, const char *prefix)
{
	struct why why = { "" };
	struct listing l = { 0, c->json };
	int r;

	if ((r = cli_backend(c)))
		return r;
	r = backend_list(c->be, prefix ? prefix : "", print_key, &l, &why);
	if (c->json && (l.count || !r))
		puts(l.count ? "]" : "[]");
	if (r) {
		cli_error("cannot list '%s' in %s: %s%s%s", prefix ? prefix : "", backend_name(c->be),
			  backend_strerror(r), why_sep(&why), why_str(&why));
		return cli_exit_for(r);
	}
	return 0;
}

static int do_delete(struct cli *c, const char *key, int purge)
{
	struct why why = { "" };
	int r;

	if ((r = check_key(key)) || (r = cli_audit(c)) || (r = cli_backend(c)))
		return r;
	r = purge ? backend_purge(c->be, key, &why) : backend_delete(c->be, key, &why);
	cli_changed(c, AUDIT_SECRET_DELETE, key, r, why.msg);
	if (r) {
		cli_error("cannot delete '%s' in %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		return cli_exit_for(r);
	}
	return 0;
}

/* harombe vault create --provider sops --age age1... FILE: the file's
 * format comes from its extension (.json, .yaml, .env, .ini). */
static int do_create(struct cli *c, int argc, char **argv)
{
	struct why why = { "" };
	struct backend_ctx ctx = { 0 };
	const char *rcpt[64], *file = NULL;
	size_t n = 0;
	int i, r;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--age") || !strncmp(argv[i], "--age=", 6)) {
			char *list = argv[i][5] == '=' ? argv[i] + 6 : (i + 1 < argc ? argv[++i] : NULL), *tok;

			if (!list) {
				cli_error("--age needs a recipient (age1...)");
				return EXIT_USAGE;
			}
			for (tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
				if (n < ARRAY_SIZE(rcpt) && *tok)
					rcpt[n++] = tok;
		} else if (!file && argv[i][0] != '-') {
			file = argv[i];
		} else {
			cli_help(stderr, "vault", argv[1]);
			return EXIT_USAGE;
		}
	}
	if (!file || !n) {
		cli_error("create needs --age RECIPIENT and FILE");
		return EXIT_USAGE;
	}
	if ((r = cli_config(c)))
		return r;
	ctx.cfg = c->cfg;
	ctx.provider = c->provider;
	ctx.source = "harombe";
	r = backend_create(&ctx, file, rcpt, n, &why);
	if (r) {
		cli_error("cannot create '%s': %s%s%s", file, backend_strerror(r), why_sep(&why),
			  why_str(&why));
		return cli_exit_for(r);
	}
	printf("created %s for %zu recipient%s\n", file, n, n == 1 ? "" : "s");
	return 0;
}

/* FIELD=VALUE pairs: each value into locked memory, the argv copy wiped;
 * at most one VALUE may be '-' (stdin). */
static int do_set_fields(struct cli *c, const char *key, int n, char **pairs)
{
	struct why why = { "" };
	const char **fields = calloc((size_t)n, sizeof(*fields));
	const void **values = calloc((size_t)n, sizeof(*values));
	struct secbuf **bufs = calloc((size_t)n, sizeof(*bufs));
	size_t *lens = calloc((size_t)n, sizeof(*lens));
	int i, r = 0, from_stdin = 0;

	if (!fields || !values || !bufs || !lens) {
		cli_error("out of memory");
		r = EXIT_BACKEND;
		goto out;
	}
	if ((r = check_key(key)))
		goto out;
	if (strchr(key, '#')) {
		cli_error("'%s': give fields as FIELD=VALUE, or one field as KEY#FIELD VALUE", key);
		r = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *eq = strchr(pairs[i], '=');

		if (!eq || eq == pairs[i]) {
			/* never echo it: it may be a value */
			cli_error("value %d is not FIELD=VALUE (with several values, each must be)", i + 1);
			sodium_memzero(pairs[i], strlen(pairs[i]));
			r = EXIT_USAGE;
			goto out;
		}
		*eq = 0;
		fields[i] = pairs[i];
		if (!strcmp(eq + 1, "-")) {
			if (from_stdin++) {
				cli_error("only one FIELD=- can read stdin");
				r = EXIT_USAGE;
				goto out;
			}
			bufs[i] = read_stdin_value();
		} else {
			bufs[i] = secbuf_dup(eq + 1, strlen(eq + 1));
			sodium_memzero(eq + 1, strlen(eq + 1));
		}
		if (!bufs[i]) {
			cli_error("cannot read the value of '%s' into locked memory", fields[i]);
			r = EXIT_BACKEND;
			goto out;
		}
		values[i] = secbuf_data(bufs[i], &lens[i]);
	}
	if ((r = cli_audit(c)) || (r = cli_backend(c)))
		goto out;
	r = backend_set_fields(c->be, key, (size_t)n, fields, values, lens, &why);
	cli_changed(c, AUDIT_SECRET_WRITE, key, r, why.msg);
	if (r) {
		cli_error("cannot set '%s' in %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		r = cli_exit_for(r);
	}
out:
	for (i = 0; bufs && i < n; i++)
		secbuf_free(bufs[i]);
	free(fields);
	free(values);
	free(bufs);
	free(lens);
	return r;
}

/* vault's own spelling of options, -field NAME / -field=NAME /
 * --field NAME and the like: taken out of argv.  0, or an exit status. */
static int take_vault_opts(struct cli *c, int *argc, char **argv, struct get_opts *o)
{
	static const char *const names[] = { "field", "format", "mount" };
	int i, k, out = 1;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL, *name;
		size_t n;

		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		name = a[0] == '-' ? a + 1 + (a[1] == '-') : NULL;
		for (k = 0; name && k < (int)ARRAY_SIZE(names); k++) {
			n = strlen(names[k]);
			if (!strncmp(name, names[k], n) && (name[n] == 0 || name[n] == '='))
				break;
		}
		if (!name || k == (int)ARRAY_SIZE(names)) {
			argv[out++] = argv[i];
			continue;
		}
		n = strlen(names[k]);
		if (name[n] == '=')
			val = name + n + 1;
		else if (i + 1 < *argc)
			val = argv[++i];
		if (!val || !*val) {
			cli_error("-%s needs a value", names[k]);
			return EXIT_USAGE;
		}
		if (k == 0) {
			o->field = val;
		} else if (k == 1) {
			if (strcmp(val, "json") && strcmp(val, "table") && strcmp(val, "text")) {
				cli_error("-format must be table or json, not '%s'", val);
				return EXIT_USAGE;
			}
			c->json = !strcmp(val, "json");
		} else {
			size_t j;

			while (*val == '/')
				val++;
			for (j = 0; val[j]; j++)
				if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./",
					    val[j]))
					break;
			if (!*val || val[j] || j > 200 || strstr(val, "..")) {
				cli_error("-mount '%s' is not a mount path", val);
				return EXIT_USAGE;
			}
			c->mount = val;
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* With no config and no --provider, VAULT_ADDR (or VAULT_AGENT_ADDR) in
 * the environment means Vault, as it does for the vault CLI. */
static void provider_from_env(struct cli *c)
{
	const char *a = getenv("VAULT_ADDR"), *b = getenv("VAULT_AGENT_ADDR");

	if (c->provider || cli_find_config(c))
		return;
	if ((a && *a) || (b && *b)) {
		c->provider = "vault";
		c->provider_from_env = 1;
	}
}

int cli_vault(struct cli *c, int argc, char **argv)
{
	struct get_opts o = { NULL };
	int r;

	if ((r = take_vault_opts(c, &argc, argv, &o)))
		return r;
	provider_from_env(c);
	/* cli/vault-io.c and cli/rotate.c */
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return cli_vault_import(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "export"))
		return cli_vault_export(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rotate"))
		return cli_vault_rotate(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "leases"))	/* cli/vault-leases.c */
		return cli_vault_leases(c, argc - 1, argv + 1);
	if (argc < 2) {
		cli_help(stderr, "vault", NULL);
		return EXIT_USAGE;
	}
	{
		static const char *const cmds[] = { "get", "set", "list", "delete", "create", "rotate", "import",
						    "export", NULL };
		static const struct option known[] = {
			{ "purge", no_argument, NULL, 0 }, { "field", required_argument, NULL, 0 },
			{ "format", required_argument, NULL, 0 }, { "mount", required_argument, NULL, 0 },
			{ "age", required_argument, NULL, 0 }, { "help", no_argument, NULL, 0 },
			{ NULL, 0, NULL, 0 },
		};
		size_t k;
		int i, get_like;

		for (k = 0; cmds[k] && strcmp(cmds[k], argv[1]); k++)
			;
		if (!cmds[k]) {
			cli_unknown_command("vault", argv[1], cmds);
			return EXIT_USAGE;
		}
		/* set takes values, which may start with '-'; the others take keys */
		get_like = strcmp(argv[1], "set") != 0;
		for (i = 2; i < argc && strcmp(argv[1], "create"); i++) {
			const char *a = argv[i];

			if (!strcmp(a, "--"))
				break;
			if (a[0] != '-' || !a[1] || (!get_like && a[1] != '-'))
				continue;
			if (!strcmp(a, "--purge") && !strcmp(argv[1], "delete"))
				continue;
			cli_bad_option("vault", argv[1], a, known, 0);
			return EXIT_USAGE;
		}
		if ((!strcmp(argv[1], "get") || !strcmp(argv[1], "list")) && argc > 3) {
			cli_error("vault %s: unexpected argument '%s' (harombe help vault)", argv[1], argv[3]);
			return EXIT_USAGE;
		}
	}
	if (o.field && strcmp(argv[1], "get")) {
		cli_error("-field is for get");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "get") && argc == 3)
		return do_get(c, argv[2], &o);
	if (!strcmp(argv[1], "set") && (argc == 3 || argc == 4))
		return do_set(c, argv[2], argc == 4 ? argv[3] : NULL);
	if (!strcmp(argv[1], "set") && argc > 4)
		return do_set_fields(c, argv[2], argc - 3, argv + 3);
	if (!strcmp(argv[1], "list") && argc <= 3)
		return do_list(c, argc == 3 ? argv[2] : NULL);
	if (!strcmp(argv[1], "delete") && argc == 3 && strcmp(argv[2], "--purge"))
		return do_delete(c, argv[2], 0);
	if (!strcmp(argv[1], "delete") && argc == 4 && (!strcmp(argv[2], "--purge") || !strcmp(argv[3], "--purge")))
		return do_delete(c, !strcmp(argv[2], "--purge") ? argv[3] : argv[2], 1);
	if (!strcmp(argv[1], "create"))
		return do_create(c, argc, argv);
	cli_help(stderr, "vault", argv[1]);
	return EXIT_USAGE;
}
