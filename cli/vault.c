#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "backends/backend.h"
#include "lib/config.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/fileio.h"

static void vault_usage(FILE *f)
{
	fprintf(f, "usage: harombe vault get KEY\n"
		   "       harombe vault set KEY [VALUE|-]     (no VALUE or '-': read it from stdin)\n"
		   "       harombe vault set KEY FIELD=VALUE FIELD=VALUE...   (VALUE '-': from stdin)\n"
		   "       harombe vault list [PREFIX]\n"
		   "       harombe vault delete KEY [--purge]\n"
		   "       harombe vault create --age RECIPIENT[,RECIPIENT...] [--age ...] FILE\n"
		   "                                        (sops: a new, empty encrypted file)\n"
		   "       harombe vault rotate KEY [--generator G] [--length N]   (see rotate --help)\n"
		   "       harombe vault import [--prefix PATH] FILE.env\n"
		   "       harombe vault export [--prefix PATH] [--force] FILE\n"
		   "       harombe vault leases                (harombefs's live leases of dynamic secrets)\n"
		   "\n"
		   "KEY is path or path#field; with Vault KV 2 also path@VERSION.  get prints the\n"
		   "value and a newline, nothing else.  set KEY VALUE writes the field 'value',\n"
		   "set KEY#FIELD VALUE changes one field and keeps the others, and two or more\n"
		   "FIELD=VALUE pairs replace the secret with those fields.  list shows folders\n"
		   "with a trailing '/'.  delete removes the current version (KEY@N: version N);\n"
		   "--purge removes every version and the metadata.\n"
		   "Options anywhere: -c FILE, --provider NAME, --format text|json.\n");
}

static int check_key(const char *key)
{
	const char *why = names_check_key(key);

	if (why) {
		cli_error("key '%s' %s", key, why);
		return EXIT_USAGE;
	}
	return 0;
}


static int do_get(struct cli *c, const char *key)
{
	struct why why = { "" };
	struct secbuf *v = NULL;
	size_t len;
	int r;

	if ((r = check_key(key)) || (r = cli_backend(c)))
		return r;
	r = backend_get(c->be, key, &v, &why);
	if (r) {
		cli_error("cannot get '%s' from %s: %s%s%s", key, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		return cli_exit_for(r);
	}
	const unsigned char *d = secbuf_data(v, &len);

	r = fd_write_all(1, d, len);
	if (!r)
		r = fd_write_all(1, "\n", 1);
	secbuf_free(v);
	if (r) {
		cli_error("cannot write to stdout: %s", strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
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
			vault_usage(stderr);
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

int cli_vault(struct cli *c, int argc, char **argv)
{
	/* cli/vault-io.c and cli/rotate.c */
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return cli_vault_import(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "export"))
		return cli_vault_export(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rotate"))
		return cli_vault_rotate(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "leases"))	/* cli/vault-leases.c */
		return cli_vault_leases(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv)) {
		vault_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		vault_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "get") && argc == 3)
		return do_get(c, argv[2]);
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
	vault_usage(stderr);
	return EXIT_USAGE;
}
