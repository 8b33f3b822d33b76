#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "inject/dotenv.h"
#include "inject/fetch.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/credshape.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/fileio.h"
#include "lib/why.h"

/*
 * harombe vault import FILE.env / vault export FILE: a backup in the dotenv
 * dialect of inject/dotenv.h, so that importing an export gives every key
 * and value back byte for byte.
 */

#define BATCH 64

/* "PATH/" from --prefix PATH (or PATH/); "" without. */
static int folder(const char *prefix, char *buf, size_t len)
{
	size_t n = prefix ? strlen(prefix) : 0;

	if (!n) {
		buf[0] = 0;
		return 0;
	}
	if (snprintf(buf, len, "%s%s", prefix, prefix[n - 1] == '/' ? "" : "/") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int report_partial(const struct dotenv *d, char *const *keys, size_t done)
{
	size_t i;

	fprintf(stderr, "harombe: imported %zu of %zu keys before that", done, d->n);
	for (i = 0; i < done; i++)
		fprintf(stderr, "%s%s", i ? ", " : " (", keys[i]);
	fprintf(stderr, "%s; not imported:", done ? ")" : "");
	for (i = done; i < d->n; i++)
		fprintf(stderr, "%s %s", i > done ? "," : "", keys[i]);
	fputc('\n', stderr);
	return 0;
}

int cli_vault_import(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dotenv d = DOTENV_INIT;
	struct dotenv_error perr;
	struct why why = { "" };
	struct audit_kv action = { "action", "import", 0 };
	struct secbuf *text = NULL;
	const char *prefix = NULL, *file;
	char dir[NAMES_KEY_MAX + 2], **keys = NULL;
	int opt, dry = 0, r = 0, fd = -1;
	size_t i, done = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			prefix = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		case 'h':
			cli_help(stdout, "vault", "import");
			return 0;
		default:
			cli_bad_option("vault", "import", argv[optind - 1], longopts, opt == ':');
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_help(stderr, "vault", "import");
		return EXIT_USAGE;
	}
	file = argv[optind];
	if (folder(prefix, dir, sizeof(dir)) != 0) {
		cli_error("--prefix is too long");
		return EXIT_USAGE;
	}
	if (prefix && *prefix) {
		char probe[NAMES_KEY_MAX + 8];
		const char *bad;

		snprintf(probe, sizeof(probe), "%sx", dir);
		if ((bad = names_check_key(probe)) || strchr(dir, '#')) {
			cli_error("--prefix '%s' %s", prefix, bad ? bad : "contains '#'");
			return EXIT_USAGE;
		}
	}

	/* The file holds plaintext: straight into locked memory. */
	fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		cli_error("cannot open '%s': %s", file, strerror(errno));
		return EXIT_USAGE;
	}
	if ((r = secbuf_read_fd(fd, SIZE_MAX / 2, &text)) != 0) {
		cli_error("cannot read '%s': %s", file, r == -ENOMEM ? "out of locked memory" : strerror(-r));
		r = r != -ENOMEM ? EXIT_USAGE : EXIT_BACKEND;
		goto out;
	}
	{
		size_t len;
		const unsigned char *t = secbuf_data(text, &len);

		r = dotenv_parse(t, len, &d, &perr);
	}
	secbuf_free(text);
	text = NULL;
	if (r) {
		cli_error("%s: %s; nothing was imported", file,
			  r == -ENOMEM ? "out of locked memory" : why_str(&perr.why));
		r = r == -ENOMEM ? EXIT_BACKEND : EXIT_USAGE;
		goto out;
	}
	if (!d.n) {
		cli_error("%s: no KEY=value lines; nothing to import", file);
		r = EXIT_NEGATIVE;
		goto out;
	}

	/* Every key is checked before anything is written. */
	keys = calloc(d.n, sizeof(*keys));
	if (!keys) {
		r = EXIT_BACKEND;
		goto out;
	}
	for (i = 0; i < d.n; i++) {
		const char *bad, *shape;

		if (asprintf(&keys[i], "%s%s", dir, d.e[i].key) < 0) {
			keys[i] = NULL;
			r = EXIT_BACKEND;
			goto out;
		}
		/* A key is printed in reports: one shaped like a token is
		 * most likely a value on a line that lost its name. */
		if ((shape = credshape_known(d.e[i].key, strlen(d.e[i].key)))) {
			cli_error("%s: line %u: the key looks like a credential (%s), not a name; "
				  "nothing was imported", file, d.e[i].line, shape);
			r = EXIT_USAGE;
			goto out;
		}
		if ((bad = names_check_key(keys[i]))) {
			cli_error("%s: line %u: the key %s; nothing was imported", file, d.e[i].line, bad);
			r = EXIT_USAGE;
			goto out;
		}
	}
	if (dry) {
		if ((r = cli_config(c)))
			goto out;
		printf("would import %zu key%s from %s:", d.n, d.n == 1 ? "" : "s", file);
		for (i = 0; i < d.n; i++)
			printf("%s %s", i ? "," : "", keys[i]);
		putchar('\n');
		r = 0;
		goto out;
	}
	if ((r = cli_audit(c)) || (r = cli_backend(c)))
		goto out;
	for (done = 0; done < d.n; done++) {
		size_t len;
		const unsigned char *v = secbuf_data(d.e[done].value, &len);

		r = backend_set(c->be, keys[done], v, len, &why);
		cli_audit_event(c, AUDIT_SECRET_WRITE, NULL, NULL, 0, (const char *const *)&keys[done], 1, r,
				why.msg, &action, 1);
		if (r)
			break;
	}
	cli_forget(c, (const char *const *)keys, done);
	if (r) {
		cli_error("cannot set '%s' in %s: %s%s%s", keys[done], backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		report_partial(&d, keys, done);
		r = cli_exit_for(r);
		goto out;
	}
	if (c->json) {
		fputs("{\"provider\":", stdout);
		cli_json_str(backend_name(c->be));
		fputs(",\"imported\":[", stdout);
		for (i = 0; i < d.n; i++) {
			fputs(i ? "," : "", stdout);
			cli_json_str(keys[i]);
		}
		puts("]}");
	} else {
		printf("imported %zu key%s into %s:", d.n, d.n == 1 ? "" : "s", backend_name(c->be));
		for (i = 0; i < d.n; i++)
			printf("%s %s", i ? "," : "", keys[i]);
		putchar('\n');
	}
	if (!(backend_caps(c->be) & BACKEND_PERSISTENT))
		cli_error("note: the %s backend keeps these keys for this process only", backend_name(c->be));
	r = 0;
out:
	if (fd > 0)
		close(fd);
	secbuf_free(text);
	for (i = 0; keys && i < d.n; i++)
		free(keys[i]);
	free(keys);
	dotenv_release(&d);
	return r;
}

/* ---- export ---- */

struct keylist {
	char **v;
	size_t n, cap;
	int err;
};

static int collect(const char *key, void *arg)
{
	struct keylist *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return l->err = -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(key)))
		return l->err = -ENOMEM;
	l->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every key under prefix; folders ("dir/") are walked. */
static int list_all(struct backend *be, const char *prefix, struct keylist *out, struct why *why)
{
	struct keylist here = { 0 };
	size_t i;
	int r;

	r = backend_list(be, prefix, collect, &here, why);
	if (r == -BACKEND_ENOTFOUND)	/* an empty store or folder (Vault) */
		r = 0;
	if (!r)
		r = here.err;
	for (i = 0; i < here.n && !r; i++) {
		size_t len = strlen(here.v[i]);

		if (len && here.v[i][len - 1] == '/') {
			char *sub;

			/* Stores that list relative names under a folder give
			 * "x/", others the whole path. */
			if (!strncmp(here.v[i], prefix, strlen(prefix)))
				sub = strdup(here.v[i]);
			else if (asprintf(&sub, "%s%s", prefix, here.v[i]) < 0)
				sub = NULL;
			if (!sub) {
				r = -ENOMEM;
				break;
			}
			if (!strcmp(sub, prefix)) {
				free(sub);
				continue;
			}
			r = list_all(be, sub, out, why);
			free(sub);
		} else {
			char *full;

			if (!strncmp(here.v[i], prefix, strlen(prefix)))
				full = strdup(here.v[i]);
			else if (asprintf(&full, "%s%s", prefix, here.v[i]) < 0)
				full = NULL;
			if (!full || collect(full, out)) {
				free(full);
				r = -ENOMEM;
				break;
			}
			free(full);
		}
	}
	for (i = 0; i < here.n; i++)
		free(here.v[i]);
	free(here.v);
	return r;
}


/* Put the finished temporary file in place: never over an existing file
 * unless forced, decided by the kernel at the rename itself. */
static int place(const char *tmp, const char *file, int force)
{
	if (force)
		return rename(tmp, file) == 0 ? 0 : -errno;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, file, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, file) != 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/* The fields of one secret, copied into locked memory. */
struct fieldset {
	char **name;
	struct secbuf **val;
	size_t n, cap;
	int err;
};

static int collect_field(const char *field, const struct secbuf *value, void *arg)
{
	struct fieldset *fs = arg;
	size_t len;
	const unsigned char *d = secbuf_data(value, &len);

	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 8;
		char **nn = realloc(fs->name, cap * sizeof(*nn));
		struct secbuf **nv;

		if (!nn)
			return fs->err = -BACKEND_ENOMEM;
		fs->name = nn;
		if (!(nv = realloc(fs->val, cap * sizeof(*nv))))
			return fs->err = -BACKEND_ENOMEM;
		fs->val = nv;
		fs->cap = cap;
	}
	fs->name[fs->n] = strdup(field);
	fs->val[fs->n] = secbuf_dup(d, len);
	fs->n++;
	if (!fs->name[fs->n - 1] || !fs->val[fs->n - 1])
		return fs->err = -BACKEND_ENOMEM;
	return 0;
}

/* KEY="v" for a secret whose one field is "value", else KEY#FIELD="v" for
 * each field, so that an import writes the same fields back. */
static int export_fields(struct cli *c, const char *key, size_t plen, struct secbuf *out, size_t *written,
			 struct why *why)
{
	struct fieldset fs = { 0 };
	size_t i, len;
	int r;

	r = backend_fields(c->be, key, collect_field, &fs, why);
	if (!r)
		r = fs.err;
	if (r == -BACKEND_ENOMEM)
		cli_error("out of locked memory reading '%s'", key);
	for (i = 0; !r && i < fs.n; i++) {
		const unsigned char *v = secbuf_data(fs.val[i], &len);
		char *name = NULL;

		if (fs.n == 1 && !strcmp(fs.name[0], "value"))
			r = dotenv_write(out, key + plen, v, len);
		else if (asprintf(&name, "%s#%s", key + plen, fs.name[i]) < 0)
			r = -ENOMEM;
		else
			r = dotenv_write(out, name, v, len);
		free(name);
		if (r)
			r = -BACKEND_ENOMEM;
		else
			(*written)++;
	}
	if (!r && !fs.n)
		cli_error("note: '%s' has no fields; not exported", key);
	for (i = 0; i < fs.n; i++) {
		free(fs.name[i]);
		secbuf_free(fs.val[i]);
	}
	free(fs.name);
	free(fs.val);
	return r;
}

int cli_vault_export(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct why why = { "" };
	struct inject_values batch = INJECT_VALUES_INIT;
	struct audit_kv extra[2] = { { "action", "export", 0 }, { "file", NULL, 0 } };
	struct keylist keys = { 0 };
	struct secbuf *out = NULL;
	const char *prefix = NULL, *file;
	char dir[NAMES_KEY_MAX + 2], tmp[PATH_MAX] = "";
	sigset_t stop, old;
	int opt, force = 0, r, fd = -1, to_stdout, blocked = 0, use_fields = 1;
	size_t i, k, n, plen, written = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:fh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			prefix = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			cli_help(stdout, "vault", "export");
			return 0;
		default:
			cli_bad_option("vault", "export", argv[optind - 1], longopts, opt == ':');
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_help(stderr, "vault", "export");
		return EXIT_USAGE;
	}
	file = argv[optind];
	to_stdout = !strcmp(file, "-");
	if (folder(prefix, dir, sizeof(dir)) != 0) {
		cli_error("--prefix is too long");
		return EXIT_USAGE;
	}
	plen = strlen(dir);
	if (!to_stdout && !force && access(file, F_OK) == 0) {
		cli_error("'%s' exists; use --force to replace it", file);
		return EXIT_USAGE;
	}
	if ((r = cli_audit(c)) || (r = cli_backend(c)))
		return r;
	r = list_all(c->be, dir, &keys, &why);
	if (r) {
		cli_error("cannot list '%s' in %s: %s%s%s", dir, backend_name(c->be), backend_strerror(r),
			  why_sep(&why), why_str(&why));
		r = cli_exit_for(r);
		goto out;
	}
	if (keys.n)
		qsort(keys.v, keys.n, sizeof(*keys.v), cmp_str);

	/* While a partial plaintext file exists, ^C waits until it is gone. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	blocked = 1;
	if (to_stdout) {
		fd = 1;
	} else {
		/* Next to the target, so that the rename is atomic; 0600. */
		if (snprintf(tmp, sizeof(tmp), "%s.harombe-XXXXXX", file) >= (int)sizeof(tmp)) {
			cli_error("'%s': path too long", file);
			r = EXIT_USAGE;
			goto out;
		}
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			cli_error("cannot create a file next to '%s': %s", file, strerror(errno));
			tmp[0] = 0;
			r = EXIT_USAGE;
			goto out;
		}
	}
	extra[1].str = file;
	if (!(out = secbuf_new(4096))) {
		r = -BACKEND_ENOMEM;
		goto fetch_failed;
	}
	{
		char head[256];
		int hl = snprintf(head, sizeof(head),
				  "# harombe vault export from %s%s%s\n"
				  "# PLAINTEXT SECRETS. `harombe vault import%s%s FILE` restores them.\n",
				  backend_name(c->be), plen ? " under " : "", dir, plen ? " --prefix " : "", dir);

		if ((r = fd_write_all(fd, head, (size_t)hl)))
			goto write_failed;
	}
	for (i = 0; i < keys.n; i += n) {
		if (use_fields) {
			/* Stores with named fields (Vault): every field, by name. */
			n = 1;
			r = export_fields(c, keys.v[i], plen, out, &written, &why);
			if (r == -BACKEND_ENOTSUP) {
				use_fields = 0;
				n = 0;
				continue;
			}
			if (r == -BACKEND_ENOTFOUND) {
				cli_error("note: '%s' is listed but has no current value (deleted?); not exported",
					  keys.v[i]);
				r = 0;
			}
			if (r) {
				if (r != -BACKEND_ENOMEM)
					cli_error("cannot get '%s' from %s: %s%s%s", keys.v[i], backend_name(c->be),
						  backend_strerror(r), why_sep(&why), why_str(&why));
				goto fetch_failed;
			}
		} else {
			n = keys.n - i < BATCH ? keys.n - i : BATCH;
			if (inject_fetch(c->be, NULL, (const char *const *)keys.v + i, n, &batch) &&
			    batch.failed == n) {
				r = -BACKEND_ENOMEM;
				goto fetch_failed;
			}
			r = 0;
			for (k = 0; k < n && !r; k++) {
				size_t len;
				const unsigned char *v;

				if (batch.rcs[k] == -BACKEND_ENOTFOUND) {
					cli_error("note: '%s' is listed but has no current value (deleted?); not "
						  "exported", keys.v[i + k]);
					continue;
				}
				if (batch.rcs[k]) {
					why = batch.whys[k];
					cli_error("cannot get '%s' from %s: %s%s%s", keys.v[i + k], backend_name(c->be),
						  backend_strerror(batch.rcs[k]), why_sep(&why), why_str(&why));
					r = batch.rcs[k];
					break;
				}
				v = secbuf_data(batch.values[k], &len);
				if (dotenv_write(out, keys.v[i + k] + plen, v, len))
					r = -BACKEND_ENOMEM;
				written++;
			}
			inject_values_release(&batch);
			if (r)
				goto fetch_failed;
		}
		{
			size_t len;
			const unsigned char *t = secbuf_data(out, &len);

			r = fd_write_all(fd, t, len);
			secbuf_clear(out);
			if (r)
				goto write_failed;
		}
	}
	if (!to_stdout) {
		if (fsync(fd) != 0) {
			r = -errno;
			goto write_failed;
		}
		close(fd);
		fd = -1;
		if ((r = place(tmp, file, force))) {
			if (r == -EEXIST)
				cli_error("'%s' appeared while exporting; use --force to replace it", file);
			else
				cli_error("cannot create '%s': %s", file, strerror(-r));
			r = EXIT_USAGE;
			goto out;
		}
		tmp[0] = 0;
	}
	cli_audit_event(c, AUDIT_SECRET_READ, NULL, NULL, 0, (const char *const *)keys.v, keys.n, 0, NULL,
			extra, 2);
	if (!to_stdout) {
		cli_error("warning: '%s' holds %zu secret%s in plaintext; keep it off shared disks and "
			  "delete it when done", file, written, written == 1 ? "" : "s");
		if (c->json) {
			fputs("{\"provider\":", stdout);
			cli_json_str(backend_name(c->be));
			fputs(",\"file\":", stdout);
			cli_json_str(file);
			printf(",\"exported\":%zu}\n", written);
		} else {
			printf("exported %zu key%s from %s to %s\n", written, written == 1 ? "" : "s",
			       backend_name(c->be), file);
		}
	}
	r = 0;
	goto out;

fetch_failed:
	if (r == -BACKEND_ENOMEM)
		cli_error("out of locked memory while exporting");
	cli_audit_event(c, AUDIT_SECRET_READ, NULL, NULL, 0, (const char *const *)keys.v, keys.n, r,
			why.msg, extra, 2);
	cli_error("nothing was exported%s", to_stdout ? " (stdout may hold part of it)" : "");
	r = cli_exit_for(r);
	goto out;
write_failed:
	cli_error("cannot write '%s': %s; nothing was exported", to_stdout ? "stdout" : file, strerror(-r));
	r = EXIT_USAGE;
out:
	if (fd > 1)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	secbuf_free(out);
	inject_values_release(&batch);
	for (i = 0; i < keys.n; i++)
		free(keys.v[i]);
	free(keys.v);
	if (blocked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
