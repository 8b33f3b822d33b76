#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/sops/sopsfile.h"
#include "lib/fileio.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/*
 * harombe sops: one SOPS file at a time, as the sops command handles it
 * (decrypt, encrypt, edit, updatekeys, rotate), with no harombe.yaml.
 * Identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default
 * keys file, as sops finds them; recipients from --age or .sops.yaml.
 * Decrypted text goes to stdout with write(2) from locked memory.
 */

#define SOPS_PLAIN_MAX (64u << 20)

struct sops_opts {
	const char *file, *input_type, *output_type, *extract, *output, *config;
	const char *rule_key, *rule_arg;
	char *age[64];
	size_t nage;
	int in_place, mac_only, allow_editor_files;
	int output_from_name;		/* decrypt: --output FILE's name may pick the output type */
};

static int need(int argc, char **argv, int *i, const char **val)
{
	const char *a = argv[*i], *eq = strchr(a, '=');

	if (a[0] == '-' && a[1] == '-' && eq) {
		*val = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc) {
		cli_error("%s needs a value", a);
		return EXIT_USAGE;
	}
	*val = argv[++*i];
	return 0;
}

static int is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(a, name, n) && (a[n] == 0 || a[n] == '=');
}

static int add_age_list(struct sops_opts *o, const char *list)
{
	const char *s = list, *e;

	for (;;) {
		e = strchr(s, ',');
		if (e ? e > s : *s != 0) {
			if (o->nage == ARRAY_SIZE(o->age)) {
				cli_error("too many age recipients (at most %zu)", ARRAY_SIZE(o->age));
				return EXIT_USAGE;
			}
			if (!(o->age[o->nage++] = e ? strndup(s, (size_t)(e - s)) : strdup(s))) {
				cli_error("out of memory");
				return EXIT_BACKEND;
			}
		}
		if (!e)
			return 0;
		s = e + 1;
	}
}

static int parse_opts(int argc, char **argv, struct sops_opts *o)
{
	static const char *const rules[] = { "--encrypted-regex", "--unencrypted-regex", "--encrypted-suffix",
					     "--unencrypted-suffix", "--encrypted-comment-regex",
					     "--unencrypted-comment-regex" };
	static const char *const meta_names[] = { "encrypted_regex", "unencrypted_regex", "encrypted_suffix",
						  "unencrypted_suffix", "encrypted_comment_regex",
						  "unencrypted_comment_regex" };
	int i, r;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v;

		if (!strcmp(a, "--")) {
			if (i + 1 < argc)
				o->file = argv[++i];
			continue;
		}
		if (is_opt(a, "--extract")) {
			if ((r = need(argc, argv, &i, &o->extract)))
				return r;
		} else if (is_opt(a, "--input-type")) {
			if ((r = need(argc, argv, &i, &o->input_type)))
				return r;
		} else if (is_opt(a, "--output-type")) {
			if ((r = need(argc, argv, &i, &o->output_type)))
				return r;
		} else if (is_opt(a, "--output")) {
			if ((r = need(argc, argv, &i, &o->output)))
				return r;
		} else if (is_opt(a, "--config")) {
			if ((r = need(argc, argv, &i, &o->config)))
				return r;
		} else if (is_opt(a, "--age") || !strcmp(a, "-a")) {
			if ((r = need(argc, argv, &i, &v)) || (r = add_age_list(o, v)))
				return r;
		} else if (!strcmp(a, "-i") || !strcmp(a, "--in-place")) {
			o->in_place = 1;
		} else if (!strcmp(a, "--mac-only-encrypted")) {
			o->mac_only = 1;
		} else if (!strcmp(a, "--allow-editor-files")) {
			o->allow_editor_files = 1;
		} else if (!strcmp(a, "-y") || !strcmp(a, "--yes")) {
			/* updatekeys: harombe does not ask */
		} else if (a[0] == '-' && a[1]) {
			for (k = 0; k < ARRAY_SIZE(rules); k++)
				if (is_opt(a, rules[k]))
					break;
			if (k == ARRAY_SIZE(rules)) {
				cli_error("sops %s: unknown option '%s' (see harombe help sops)", argv[0], a);
				return EXIT_USAGE;
			}
			if (o->rule_key) {
				cli_error("give one of the --*-regex / --*-suffix options");
				return EXIT_USAGE;
			}
			if ((r = need(argc, argv, &i, &o->rule_arg)))
				return r;
			o->rule_key = meta_names[k];
		} else if (!o->file) {
			o->file = a;
		} else {
			cli_error("one FILE only ('%s' and '%s')", o->file, a);
			return EXIT_USAGE;
		}
	}
	if (!o->file) {
		cli_error("no FILE (see harombe sops --help)");
		return EXIT_USAGE;
	}
	return 0;
}

static void opts_release(struct sops_opts *o)
{
	size_t i;

	for (i = 0; i < o->nage; i++)
		free(o->age[i]);
}

static int fail(const char *what, const char *file, int r, const struct why *why)
{
	cli_error("cannot %s '%s': %s", what, file, why_str(why)[0] ? why_str(why) : strerror(-r));
	switch (-r) {
	case ENOENT:
		return EXIT_NEGATIVE;
	case EINVAL:
	case ENOTSUP:
		return EXIT_USAGE;
	default:
		return EXIT_BACKEND;
	}
}

/* The input and output formats; the output's name decides only for
 * decrypt (encrypt writes the input's format). */
static int types(const struct sops_opts *o, int *in, int *out)
{
	if (sopsfile_type(o->input_type, o->file, in)) {
		cli_error("--input-type must be json, yaml, dotenv, ini or binary, not '%s'", o->input_type);
		return EXIT_USAGE;
	}
	if (!o->output_type) {
		*out = *in;
		if (o->output && !o->in_place && o->output_from_name)
			sopsfile_type(NULL, o->output, out);
		return 0;
	}
	if (sopsfile_type(o->output_type, o->file, out)) {
		cli_error("--output-type must be json, yaml, dotenv, ini or binary, not '%s'", o->output_type);
		return EXIT_USAGE;
	}
	return 0;
}

/* Plaintext out: stdout, or --output FILE (mode 0600; the caller's choice). */
static int put_plain(const struct sops_opts *o, const struct secbuf *sb)
{
	size_t len;
	const unsigned char *d = secbuf_data(sb, &len);
	int fd = 1, r;

	if (o->output && (fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		cli_error("cannot write '%s': %s", o->output, strerror(errno));
		return EXIT_USAGE;
	}
	r = fd_write_all(fd, d, len);
	if (fd != 1 && close(fd) != 0 && !r)
		r = -errno;
	if (r) {
		cli_error("cannot write %s: %s", o->output ? o->output : "to stdout", strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_decrypt(struct sops_opts *o)
{
	struct why why = WHY_INIT;
	struct sopsfile *f = NULL;
	struct sopsfile_step *steps = NULL;
	struct secbuf *out = NULL;
	size_t n = 0;
	int in, outfmt, r;

	o->output_from_name = 1;
	if ((r = types(o, &in, &outfmt)))
		return r;
	if (o->extract && (r = sopsfile_extract_parse(o->extract, &steps, &n, &why)))
		return fail("decrypt", o->file, r, &why);
	if (!(r = sopsfile_open(o->file, in, &f, &why)))
		r = sopsfile_plain(f, outfmt, steps, n, &out, &why);
	sopsfile_close(f);
	sopsfile_extract_free(steps, n);
	if (r)
		return fail("decrypt", o->file, r, &why);
	r = put_plain(o, out);
	secbuf_free(out);
	return r;
}

/* The creation rule for file: .sops.yaml (o->config, else found from the
 * file's directory up).  0 and *rule, 1 when there is no .sops.yaml or
 * no rule matches, else an exit status. */
static int find_rule(const struct sops_opts *o, struct sopsfile_rule *rule)
{
	struct why why = WHY_INIT;
	struct secbuf *text = NULL;
	char *conf = o->config ? strdup(o->config) : sopsfile_find_config(o->file);
	char dir[PATH_MAX], abs[PATH_MAX], *slash;
	const char *rel = o->file;
	int fd, r;

	if (!conf)
		return 1;
	if ((fd = open(conf, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_error("cannot read '%s': %s", conf, strerror(errno));
		free(conf);
		return EXIT_USAGE;
	}
	r = secbuf_read_fd(fd, SOPSFILE_CONF_MAX, &text);
	close(fd);
	if (r) {
		cli_error("cannot read '%s': %s", conf, strerror(-r));
		free(conf);
		return EXIT_USAGE;
	}
	/* path_regex sees the file's path relative to the .sops.yaml. */
	if (realpath(conf, dir) && (slash = strrchr(dir, '/')) && realpath(o->file, abs)) {
		*slash = 0;
		if (!strncmp(abs, dir, strlen(dir)) && abs[strlen(dir)] == '/')
			rel = abs + strlen(dir) + 1;
	}
	r = sopsfile_rules_match(secbuf_str(text), secbuf_len(text), rel, rule, &why);
	secbuf_free(text);
	if (r == -ENOENT) {
		free(conf);
		return 1;
	}
	if (r) {
		cli_error("%s: %s", conf, why_str(&why));
		free(conf);
		return EXIT_USAGE;
	}
	free(conf);
	return 0;
}

static int cmd_encrypt(struct sops_opts *o)
{
	struct why why = WHY_INIT;
	struct sopsfile_rule rule = { 0 };
	struct secbuf *plain = NULL;
	char *out = NULL;
	size_t outlen = 0, i;
	int in, outfmt, fd, r;

	if ((r = types(o, &in, &outfmt)))
		return r;
	if (in != outfmt) {
		cli_error("encrypt writes the input's own format: drop --output-type");
		return EXIT_USAGE;
	}
	if (o->in_place && o->output) {
		cli_error("give -i or --output, not both");
		return EXIT_USAGE;
	}
	if (o->nage) {
		rule.age = o->age;
		rule.nage = o->nage;
	} else if ((r = find_rule(o, &rule)) > 1) {
		return r;
	} else if (r == 1) {
		const char *env = getenv("SOPS_AGE_RECIPIENTS");

		if (!env || !*env || add_age_list(o, env)) {
			cli_error("no age recipient: give --age age1..., a .sops.yaml creation rule for '%s', "
				  "or SOPS_AGE_RECIPIENTS", o->file);
			return EXIT_USAGE;
		}
		rule.age = o->age;
		rule.nage = o->nage;
	}
	if (o->rule_key) {
		free(rule.rule_arg);
		rule.rule_key = o->rule_key;
		if (!(rule.rule_arg = strdup(o->rule_arg))) {
			r = EXIT_BACKEND;
			goto out;
		}
	}
	if (o->mac_only)
		rule.mac_only_encrypted = 1;
	if ((fd = open(o->file, O_RDONLY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? EXIT_NEGATIVE : EXIT_USAGE;
		cli_error("cannot read '%s': %s", o->file, strerror(errno));
		goto out;
	}
	r = secbuf_read_fd(fd, SOPS_PLAIN_MAX, &plain);
	close(fd);
	if (r) {
		cli_error("cannot read '%s': %s", o->file, r == -ENOMEM ? "out of locked memory" : strerror(-r));
		r = EXIT_USAGE;
		goto out;
	}
	r = sopsfile_encrypt(plain, in, &rule, &out, &outlen, &why);
	secbuf_free(plain);
	if (r) {
		r = fail("encrypt", o->file, r, &why);
		goto out;
	}
	if (o->in_place || o->output) {
		if ((r = sopsfile_write(o->in_place ? o->file : o->output, out, outlen, &why))) {
			r = fail("write", o->in_place ? o->file : o->output, r, &why);
			goto out;
		}
	} else if ((r = fd_write_all(1, out, outlen))) {
		cli_error("cannot write to stdout: %s", strerror(-r));
		r = EXIT_USAGE;
		goto out;
	}
	r = 0;
 out:
	free(out);
	if (rule.age == o->age) {
		rule.age = NULL;
		rule.nage = 0;
	}
	for (i = 0; i < rule.nage; i++)
		free(rule.age[i]);
	free(rule.age);
	free(rule.rule_arg);
	return r;
}

/* ---- edit ---- */

/* Editors known to write backup, swap, auto-save or lock files beside the
 * file or in a directory on disk: refused unless --allow-editor-files. */
static const char *const noisy_editors[] = {
	"emacs", "emacsclient", "xemacs", "gedit", "gnome-text-editor", "kate", "kwrite", "code", "codium",
	"subl", "sublime_text", "atom", "micro", "joe", "jmacs", "jstar", "jpico", "mcedit", "mousepad",
	"pluma", "xed", "geany",
};
/* vi and its kin: started with no swap file, no viminfo/shada, and no
 * backup or undo files. */
static const char *const vi_editors[] = { "vi", "vim", "nvim", "view", "vim.basic", "vim.tiny", "gvim",
					  "rvim" };

static int in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return 1;
	return 0;
}

/* The program's base name: the first word of the editor command. */
static void editor_name(const char *cmd, char *out, size_t cap)
{
	const char *s = cmd, *e, *b;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s; *e && *e != ' ' && *e != '\t'; e++)
		;
	for (b = e; b > s && b[-1] != '/'; b--)
		;
	snprintf(out, cap, "%.*s", (int)(e - b), b);
}

/* Run the editor as system(3) would: SIGINT and SIGQUIT go to it, not to
 * us, so that ^C in the editor does not leave it orphaned. */
static int run_editor(const char *cmd, const char *path)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	pid_t pid;
	int st, r = 0;

	fflush(NULL);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	if ((pid = fork()) < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		char script[PATH_MAX + 64];

		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);

		snprintf(script, sizeof(script), "%s \"$1\"", cmd);
		execl("/bin/sh", "sh", "-c", script, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
 out:
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGQUIT, &oquit, NULL);
	return r;
}

static int cmd_edit(struct sops_opts *o)
{
	struct why why = WHY_INIT;
	struct sopsfile *f = NULL;
	struct secbuf *before = NULL, *after = NULL;
	const char *ed = getenv("SOPS_EDITOR");
	char name[128], path[64], *cmd = NULL;
	size_t blen, alen;
	const unsigned char *bd, *ad;
	int in, outfmt, fd = -1, r, st;

	if ((r = types(o, &in, &outfmt)))
		return r;
	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	editor_name(ed, name, sizeof(name));
	if (!o->allow_editor_files && in_list(name, noisy_editors, ARRAY_SIZE(noisy_editors))) {
		cli_error("editor '%s' writes backup, auto-save or lock files (plaintext on disk): use another "
			  "editor, or --allow-editor-files if you have configured it not to", name);
		return EXIT_USAGE;
	}
	if (in_list(name, vi_editors, ARRAY_SIZE(vi_editors)) && !o->allow_editor_files) {
		if (asprintf(&cmd, "%s -n -i NONE -c 'set nobackup nowritebackup noundofile noswapfile'", ed) < 0)
			cmd = NULL;
	} else {
		cmd = strdup(ed);
	}
	if (!cmd) {
		cli_error("out of memory");
		return EXIT_BACKEND;
	}
	if ((r = sopsfile_open(o->file, in, &f, &why))) {
		r = fail("decrypt", o->file, r, &why);
		goto out;
	}
	if (sopsfile_enc_comments(f)) {
		cli_error("'%s' has %zu encrypted comments that do not open (damaged): harombe will not drop "
			  "them", o->file, sopsfile_enc_comments(f));
		r = EXIT_USAGE;
		goto out;
	}
	if ((r = sopsfile_plain(f, -1, NULL, 0, &before, &why))) {
		r = fail("decrypt", o->file, r, &why);
		goto out;
	}
	/* A file in memory: no directory entry, nothing on a disk. */
	if ((fd = memfd_create("harombe-sops-edit", 0)) < 0) {
		cli_error("cannot make a file in memory (memfd_create): %s", strerror(errno));
		r = EXIT_BACKEND;
		goto out;
	}
	bd = secbuf_data(before, &blen);
	if ((r = fd_write_all(fd, bd, blen))) {
		cli_error("cannot write the file in memory: %s", strerror(-r));
		r = EXIT_BACKEND;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	st = run_editor(cmd, path);
	if (st < 0) {
		cli_error("cannot start the editor (%s): %s: '%s' is unchanged", name, strerror(-st), o->file);
		r = EXIT_BACKEND;
		goto out;
	}
	if (st != 0) {
		cli_error("the editor (%s) exited with status %d: '%s' is unchanged", name, st, o->file);
		r = EXIT_USAGE;
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) != 0 || (r = secbuf_read_fd(fd, SOPS_PLAIN_MAX, &after))) {
		cli_error("cannot read the edited text back: '%s' is unchanged", o->file);
		r = EXIT_BACKEND;
		goto out;
	}
	ad = secbuf_data(after, &alen);
	bd = secbuf_data(before, &blen);
	if (alen == blen && secbuf_equal(before, ad, alen)) {
		cli_error("'%s' has not changed: not re-encrypted", o->file);
		r = 0;
		goto out;
	}
	if ((r = sopsfile_replace(f, after, &why))) {
		cli_error("'%s' is unchanged: %s", o->file, why_str(&why));
		r = r == -EINVAL || r == -ENOTSUP ? EXIT_USAGE : EXIT_BACKEND;
		goto out;
	}
	r = 0;
 out:
	if (fd >= 0) {
		if (ftruncate(fd, 0) != 0)
			r = r ? r : EXIT_BACKEND;
		close(fd);
	}
	secbuf_free(before);
	secbuf_free(after);
	sopsfile_close(f);
	free(cmd);
	return r;
}

/* ---- keys ---- */

static int cmd_updatekeys(struct sops_opts *o)
{
	struct why why = WHY_INIT;
	struct sopsfile_rule rule = { 0 };
	struct sopsfile *f = NULL;
	int in, outfmt, r, changed = 0;

	if ((r = types(o, &in, &outfmt)))
		return r;
	if ((r = find_rule(o, &rule)) == 1) {
		cli_error("no .sops.yaml creation rule matches '%s': nothing to update to", o->file);
		return EXIT_USAGE;
	}
	if (r)
		return r;
	if (!(r = sopsfile_open(o->file, in, &f, &why)))
		r = sopsfile_updatekeys(f, (const char *const *)rule.age, rule.nage, &changed, &why);
	if (r)
		r = fail("update the keys of", o->file, r, &why);
	else if (!changed)
		cli_error("'%s': the recipients are those of .sops.yaml already", o->file);
	else
		cli_error("'%s': data key wrapped for %zu recipient%s", o->file, rule.nage,
			  rule.nage == 1 ? "" : "s");
	sopsfile_close(f);
	sopsfile_rule_release(&rule);
	return r;
}

static int cmd_rotate(struct sops_opts *o)
{
	struct why why = WHY_INIT;
	struct sopsfile *f = NULL;
	int in, outfmt, r;

	if ((r = types(o, &in, &outfmt)))
		return r;
	if (!(r = sopsfile_open(o->file, in, &f, &why)))
		r = sopsfile_rotate(f, &why);
	sopsfile_close(f);
	if (r)
		return fail("rotate the data key of", o->file, r, &why);
	return 0;
}

int cli_sops(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name, *alias;
		int (*fn)(struct sops_opts *o);
	} cmds[] = {
		{ "decrypt", "-d", cmd_decrypt }, { "encrypt", "-e", cmd_encrypt }, { "edit", NULL, cmd_edit },
		{ "updatekeys", NULL, cmd_updatekeys }, { "rotate", "-r", cmd_rotate },
	};
	struct sops_opts o;
	size_t i;
	int r;

	if (argc < 2) {
		cli_help(stderr, "sops", NULL);
		return EXIT_USAGE;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name) || (cmds[i].alias && !strcmp(argv[1], cmds[i].alias)))
			break;
	if (i == ARRAY_SIZE(cmds)) {
		static const char *const names[] = { "decrypt", "encrypt", "edit", "updatekeys", "rotate", NULL };

		cli_unknown_command("sops", argv[1], names);
		return EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	/* --config is one of harombe's global options: taken out of argv
	 * before us.  The sops group has no harombe.yaml, so it is sops'
	 * --config (the .sops.yaml to use). */
	o.config = c->config_path;
	if (!(r = parse_opts(argc - 1, argv + 1, &o)))
		r = cmds[i].fn(&o);
	opts_release(&o);
	return r;
}
