/*
 * harombe secrets filter | scan | scan-git | redact | rules: the dispatch,
 * the options they share, the known values (--known, --known-from), the
 * scanner's setup and the callbacks every subcommand uses for a finding.
 * Each subcommand has a file of its own (cli/secrets-*.c).
 *
 * Everything read from the input may be a secret, so it is read into locked
 * memory (struct secbuf / secmem) and handed to the scanner, which keeps it
 * there.  What goes out is redacted.  Messages and the audit log name the
 * type, rule and position of a finding, never its value.
 */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "scan/report.h"
#include "scan/scan.h"
#include "lib/fileio.h"

/* ---- output ---- */

int secrets_out_flush(struct ctx *x)
{
	int r = 0;

	if (x->olen && !x->werr) {
		r = fd_write_all(x->out_fd, x->obuf, x->olen);
		if (r)
			x->werr = r;
	}
	x->olen = 0;
	return x->werr;
}

/* The scanner's output: redacted text. */
int secrets_on_output(void *arg, const void *data, size_t len)
{
	struct ctx *x = arg;

	if (x->werr)
		return x->werr;
	if (x->olen + len > READ_CHUNK && secrets_out_flush(x))
		return x->werr;
	if (len >= READ_CHUNK)
		return (x->werr = fd_write_all(x->out_fd, data, len));
	memcpy(x->obuf + x->olen, data, len);
	x->olen += len;
	return 0;
}

static void audit_leak(struct ctx *x, const struct scan_finding *f, const char *result)
{
	struct audit_kv kv[8];
	struct audit_record rec = { 0 };
	size_t n = 0;

	if (!x->audit)
		return;
	kv[n++] = (struct audit_kv){ "type", f->type, 0 };
	kv[n++] = (struct audit_kv){ "rule", f->rule, 0 };
	kv[n++] = (struct audit_kv){ "confidence", NULL, f->confidence };
	kv[n++] = (struct audit_kv){ "offset", NULL, (double)f->offset };
	kv[n++] = (struct audit_kv){ "line", NULL, (double)f->line };
	if (f->marker && *f->marker)
		kv[n++] = (struct audit_kv){ "marker", f->marker, 0 };
	if (f->label)
		kv[n++] = (struct audit_kv){ "known_value", f->label, 0 };
	rec.event = AUDIT_LEAK_DETECTED;
	rec.source = x->o->source ? x->o->source : x->path;
	rec.result = result;
	rec.extra = kv;
	rec.n_extra = n;
	audit_write(x->audit, &rec);
}

static void alert(struct ctx *x, const struct scan_finding *f, const char *what)
{
	char extra[4400] = "", num[32];	/* a known value's label may be a path:line */

	if (x->o->quiet)
		return;
	if (f->marker && *f->marker)
		snprintf(extra, sizeof(extra), ", starts with \"%s\"", f->marker);
	if (f->label)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", known value %s", f->label);
	fprintf(stderr, "harombe: leak detected in %s: %s (rule %s, confidence %s%s) at line %llu, offset %llu: %s\n",
		x->o->source ? x->o->source : x->path, f->type, f->rule, report_number(f->confidence, num), extra,
		(unsigned long long)f->line, (unsigned long long)f->offset, what);
}

int secrets_on_filter_finding(void *arg, const struct scan_finding *f)
{
	struct ctx *x = arg;

	x->findings++;
	alert(x, f, "redacted");
	audit_leak(x, f, "redacted");
	return 0;
}

/* ---- setup ---- */

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_ulong(const char *s, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > hi)
		return -1;
	*out = v;
	return 0;
}

enum {
	O_RULES = 256, O_KNOWN, O_KNOWN_FROM, O_MINCONF, O_MINLEN, O_NOENT, O_REPL, O_WITHTYPE,
	O_SOURCE, O_AUDIT, O_HOLD, O_LINEBUF, O_BUFFERED, O_QUIET, O_RECURSIVE, O_COMMITS, O_REPO,
	O_OUTPUT, O_INPLACE, O_STATS, O_CONFIG, O_NOCONFIG, O_BASELINE, O_WBASELINE, O_IGNFILE, O_NOINLINE,
	O_NOGITIGNORE, O_SINCE, O_ALL, O_STAGED, O_PRECOMMIT, O_COLOR, O_EXITERR, O_THREADS,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "rules", required_argument, NULL, O_RULES },
		{ "known", required_argument, NULL, O_KNOWN },
		{ "known-from", required_argument, NULL, O_KNOWN_FROM },
		{ "min-confidence", required_argument, NULL, O_MINCONF },
		{ "min-length", required_argument, NULL, O_MINLEN },
		{ "no-entropy", no_argument, NULL, O_NOENT },
		{ "replacement", required_argument, NULL, O_REPL },
		{ "with-type", no_argument, NULL, O_WITHTYPE },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "audit-log", required_argument, NULL, O_AUDIT },
		{ "hold-ms", required_argument, NULL, O_HOLD },
		{ "line-buffered", no_argument, NULL, O_LINEBUF },
		{ "buffered", no_argument, NULL, O_BUFFERED },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "recursive", required_argument, NULL, O_RECURSIVE },
		{ "commits", required_argument, NULL, O_COMMITS },
		{ "repo", required_argument, NULL, O_REPO },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "in-place", no_argument, NULL, O_INPLACE },
		{ "stats", no_argument, NULL, O_STATS },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "no-config", no_argument, NULL, O_NOCONFIG },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "write-baseline", required_argument, NULL, O_WBASELINE },
		{ "ignore-file", required_argument, NULL, O_IGNFILE },
		{ "no-inline-allow", no_argument, NULL, O_NOINLINE },
		{ "no-gitignore", no_argument, NULL, O_NOGITIGNORE },
		{ "since", required_argument, NULL, O_SINCE },
		{ "all", no_argument, NULL, O_ALL },
		{ "staged", no_argument, NULL, O_STAGED },
		{ "pre-commit", no_argument, NULL, O_PRECOMMIT },
		{ "color", required_argument, NULL, O_COLOR },
		{ "exit-code-on-error", required_argument, NULL, O_EXITERR },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long ul;
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":ho:qr:", lo, NULL)) != -1) {
		switch (ch) {
		case O_RULES:
			if (o->n_rules == ARRAY_SIZE(o->rules))
				goto many;
			o->rules[o->n_rules++] = optarg;
			break;
		case O_KNOWN:
			if (o->n_known == ARRAY_SIZE(o->known))
				goto many;
			o->known[o->n_known++] = optarg;
			break;
		case O_KNOWN_FROM:
			if (o->n_known_from == ARRAY_SIZE(o->known_from))
				goto many;
			o->known_from[o->n_known_from++] = optarg;
			break;
		case O_MINCONF:
			if (parse_double(optarg, 0, 1, &o->so.min_confidence)) {
				cli_error("--min-confidence wants a number from 0 to 1, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_MINLEN:
			if (parse_ulong(optarg, 256, &ul) || ul < 1) {
				cli_error("--min-length wants a number from 1 to 256, not '%s'", optarg);
				return EXIT_USAGE;
			}
			o->so.min_length = ul;
			break;
		case O_NOENT:
			o->so.entropy = 0;
			break;
		case O_REPL:
			o->so.replacement = optarg;
			break;
		case O_WITHTYPE:
			o->with_type = 1;
			break;
		case O_SOURCE:
			o->source = optarg;
			break;
		case O_AUDIT:
			o->audit_log = optarg;
			break;
		case O_HOLD:
			if (parse_ulong(optarg, 60000, &ul)) {
				cli_error("--hold-ms wants milliseconds (0 to 60000), not '%s'", optarg);
				return EXIT_USAGE;
			}
			o->hold_ms = (long)ul;
			break;
		case O_LINEBUF:
			o->line_mode = 1;
			break;
		case O_BUFFERED:
			o->line_mode = 0;
			break;
		case 'q':
		case O_QUIET:
			o->quiet = 1;
			break;
		case 'r':
		case O_RECURSIVE:
			if (o->n_dirs == ARRAY_SIZE(o->dirs))
				goto many;
			o->dirs[o->n_dirs++] = optarg;
			break;
		case O_COMMITS:
			if (parse_ulong(optarg, 1000000, &o->commits) || !o->commits) {
				cli_error("--commits wants a positive number, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_REPO:
			o->repo = optarg;
			break;
		case 'o':
		case O_OUTPUT:
			o->output = optarg;
			break;
		case O_INPLACE:
			o->in_place = 1;
			break;
		case O_STATS:
			o->stats = 1;
			break;
		case O_CONFIG:
			o->config = optarg;
			break;
		case O_NOCONFIG:
			o->no_config = 1;
			break;
		case O_BASELINE:
			o->baseline = optarg;
			break;
		case O_WBASELINE:
			o->write_baseline = optarg;
			break;
		case O_IGNFILE:
			o->ignore_file = optarg;
			break;
		case O_NOINLINE:
			o->no_inline_allow = 1;
			break;
		case O_NOGITIGNORE:
			o->no_gitignore = 1;
			break;
		case O_SINCE:
			if (!*optarg || *optarg == '-') {
				cli_error("secrets %s: --since wants a date, not '%s'", argv[0], optarg);
				return EXIT_USAGE;
			}
			o->since = optarg;
			break;
		case O_ALL:
			o->all_refs = 1;
			break;
		case O_STAGED:
			o->staged = 1;
			break;
		case O_PRECOMMIT:
			o->staged = o->pre_commit = 1;
			break;
		case O_COLOR:
			if (!strcmp(optarg, "auto"))
				o->color = -1;
			else if (!strcmp(optarg, "always"))
				o->color = 1;
			else if (!strcmp(optarg, "never"))
				o->color = 0;
			else {
				cli_error("secrets %s: --color wants auto, always or never, not '%s'", argv[0], optarg);
				return EXIT_USAGE;
			}
			break;
		case O_EXITERR:
			if (parse_ulong(optarg, 255, &ul)) {
				cli_error("secrets %s: --exit-code-on-error wants a status from 0 to 255, not '%s'",
					  argv[0], optarg);
				return EXIT_USAGE;
			}
			o->exit_on_error = (int)ul;
			break;
		case O_THREADS:
			if (parse_ulong(optarg, SECRETS_THREADS_MAX, &ul) || !ul) {
				cli_error("secrets %s: --threads wants a number from 1 to %d, not '%s'", argv[0],
					  SECRETS_THREADS_MAX, optarg);
				return EXIT_USAGE;
			}
			o->threads = (unsigned int)ul;
			break;
		case 'h':
			cli_help(stdout, "secrets", argv[0]);
			return -1;
		default:
			cli_bad_option("secrets", argv[0], argv[optind - 1], lo, ch == ':');
			return EXIT_USAGE;
		}
	}
	return 0;
many:
	cli_error("too many %s options", argv[optind - 1]);
	return EXIT_USAGE;
}

static int load_known_file(struct scan *s, const char *path, int quiet)
{
	const unsigned char *d;
	struct secbuf *sb;
	size_t len, i = 0, lineno = 0;
	char err[256], label[PATH_MAX + 32];
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		cli_error("cannot open known values file '%s': %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	r = secbuf_read_fd(fd, 64u << 20, &sb);
	close(fd);
	if (r) {
		cli_error("cannot read known values file '%s' into locked memory: %s", path, strerror(-r));
		return EXIT_USAGE;
	}
	d = secbuf_data(sb, &len);
	while (i < len) {
		const unsigned char *nl = memchr(d + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - d) : len, n;

		lineno++;
		n = e - i;
		if (n && d[i + n - 1] == '\r')
			n--;
		if (n) {
			snprintf(label, sizeof(label), "%s:%zu", path, lineno);
			if (n < SCAN_KNOWN_MIN) {
				if (!quiet)
					cli_error("warning: %s: the value is shorter than %d bytes; not matched", label,
						  SCAN_KNOWN_MIN);
			} else if (scan_add_known(s, d + i, n, label, err, sizeof(err))) {
				cli_error("%s", err);
				r = EXIT_USAGE;
				break;
			}
		}
		i = e + 1;
	}
	secbuf_free(sb);
	return r;
}

/* A harombefs view: DIR/secrets/NAME holds the value of NAME, byte for byte. */
static int load_known_dir(struct scan *s, const char *dir, int quiet)
{
	char path[PATH_MAX], sdir[PATH_MAX], err[256];
	struct dirent *de;
	DIR *d;
	size_t count = 0;
	int r = 0;

	snprintf(sdir, sizeof(sdir), "%s/secrets", dir);
	if (!(d = opendir(sdir))) {
		if (errno != ENOENT || !(d = opendir(dir))) {
			cli_error("cannot read the view '%s': %s/secrets: %s", dir, dir, strerror(errno));
			return EXIT_USAGE;
		}
		snprintf(sdir, sizeof(sdir), "%s", dir);
	}
	while ((de = readdir(d))) {
		const unsigned char *v;
		struct secbuf *sb;
		struct stat st;
		size_t len;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", sdir, de->d_name) >= (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			cli_error("cannot open '%s': %s", path, strerror(errno));
			r = EXIT_USAGE;
			break;
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		r = secbuf_read_fd(fd, SCAN_KNOWN_MAX + 2, &sb);
		close(fd);
		if (r) {
			cli_error("cannot read '%s' into locked memory: %s", path, strerror(-r));
			r = EXIT_USAGE;
			break;
		}
		v = secbuf_data(sb, &len);
		if (len < SCAN_KNOWN_MIN) {
			if (!quiet && len)
				cli_error("warning: %s: the value is shorter than %d bytes; not matched", path,
					  SCAN_KNOWN_MIN);
		} else {
			r = scan_add_known(s, v, len, de->d_name, err, sizeof(err)) ? EXIT_USAGE : 0;
			/* a value stored with a final newline also leaks without it */
			if (!r && v[len - 1] == '\n' && len - 1 >= SCAN_KNOWN_MIN)
				r = scan_add_known(s, v, len - 1, de->d_name, err, sizeof(err)) ? EXIT_USAGE : 0;
			if (r)
				cli_error("%s", err);
			count++;
		}
		secbuf_free(sb);
		if (r)
			break;
	}
	closedir(d);
	if (!r && !count && !quiet)
		cli_error("warning: no secrets found in '%s'", sdir);
	return r;
}

/* The scan config of the scanned tree: --config, else ROOT/.harombe-scan.yaml
 * when there is one (root NULL: filter, redact and rules read none).  0 or
 * an exit status, said. */
static int load_config(struct ctx *x, const char *root)
{
	char path[PATH_MAX];
	const char *p = x->o->config;

	if (!p && root && !x->o->no_config) {
		snprintf(path, sizeof(path), "%s/.harombe-scan.yaml", root);
		if (access(path, F_OK) != 0)
			return 0;
		p = path;
	}
	return p ? secrets_load_config(x, p) : 0;
}

static int setup(struct ctx *x, int want_audit, const char *root)
{
	struct opts *o = x->o;
	struct why why = WHY_INIT;
	char err[1024];
	size_t i;
	int r;

	if ((r = secmem_init(secrets_arena_size(o->threads), &why)) && r != -EBUSY) {
		cli_error("%s", why_str(&why));
		return EXIT_USAGE;
	}
	if (o->with_type)
		o->so.replacement = "[REDACTED:{type}]";
	if (scan_new(&o->so, &x->s, err, sizeof(err))) {
		cli_error("%s", err);
		return EXIT_USAGE;
	}
	for (i = 0; i < o->n_rules; i++) {
		if (scan_load_rules(x->s, o->rules[i], err, sizeof(err))) {
			cli_error("%s", err);
			return EXIT_USAGE;
		}
	}
	if ((r = load_config(x, root)))
		return r;
	for (i = 0; i < o->n_known; i++)
		if ((r = load_known_file(x->s, o->known[i], o->quiet)))
			return r;
	for (i = 0; i < o->n_known_from; i++)
		if ((r = load_known_dir(x->s, o->known_from[i], o->quiet)))
			return r;
	if (scan_compile(x->s, err, sizeof(err))) {
		cli_error("%s", err);
		return EXIT_USAGE;
	}
	if (!want_audit)
		return 0;
	/* leak_detected goes where the other events go: the config's audit
	 * log, unless --audit-log says otherwise.  No config, no audit. */
	if (o->audit_log) {
		r = audit_open(o->audit_log, 1, ~0u, &x->audit, &why);
	} else if (cli_find_config(x->c)) {
		/* A harombe.yaml that only happens to be in the current directory
		 * is not what filter and redact are for: if it does not load,
		 * say so and go on without its audit log. */
		if (!x->c->config_path && !getenv("HAROMBE_CONFIG") && !x->c->cfg) {
			struct harombe_config *cfg = NULL;

			if (config_load(cli_find_config(x->c), &cfg, &why) != 0) {
				if (!o->quiet)
					cli_error("warning: %s; leak_detected is not audited (use --audit-log FILE)",
						  why_str(&why));
				return 0;
			}
			x->c->cfg = cfg;
		}
		if ((r = cli_config(x->c)))
			return r;
		r = audit_open(x->c->cfg->fs.audit_log, x->c->cfg->audit.enabled, x->c->cfg->audit.events,
			       &x->audit, &why);
	}
	if (r) {
		cli_error("%s", why_str(&why));
		return EXIT_USAGE;
	}
	return 0;
}

double secrets_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int secrets_color(const struct ctx *x, int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (x->o->color >= 0)
		return x->o->color;
	if (nc && *nc)
		return 0;
	if (term && !strcmp(term, "dumb"))
		return 0;
	return isatty(fd);
}

int secrets_progress_ok(const struct ctx *x)
{
	const char *term = getenv("TERM");

	if (x->o->quiet || x->o->pre_commit || !isatty(2))
		return 0;
	return !(term && !strcmp(term, "dumb"));
}

int secrets_exit(const struct ctx *x)
{
	if (x->errors)
		return x->o->exit_on_error;
	return x->findings ? EXIT_NEGATIVE : 0;
}

int secrets_report_format(const struct cli *c)
{
	return c->sarif ? REPORT_SARIF : c->json ? REPORT_JSON : REPORT_TEXT;
}

static const char *const commands[] = { "filter", "scan", "scan-git", "redact", "rules", NULL };

/* An option given to a command it means nothing to is an error, not a no-op. */
static int misplaced(const char *cmd, const char *padded, const struct opts *o)
{
	static const struct {
		const char *name;
		const char *cmds;	/* the commands it is for, space-separated */
	} only[] = {
		{ "--baseline", "scan scan-git" }, { "--write-baseline", "scan scan-git" },
		{ "--ignore-file", "scan scan-git" }, { "--no-inline-allow", "scan scan-git" },
		{ "--no-config", "scan scan-git" }, { "--exit-code-on-error", "scan scan-git" },
		{ "--recursive", "scan" }, { "--no-gitignore", "scan" },
		{ "--commits", "scan-git" }, { "--repo", "scan-git" }, { "--since", "scan-git" },
		{ "--all", "scan-git" }, { "--staged", "scan-git" }, { "--pre-commit", "scan-git" },
		{ "--hold-ms", "filter" }, { "--stats", "filter" }, { "--output", "redact" },
		{ "--in-place", "redact" }, { "--color", "scan scan-git" },
		{ "--line-buffered or --buffered", "filter" }, { "--replacement", "filter redact" },
		{ "--with-type", "filter redact" }, { "--audit-log", "filter redact" },
		{ "--threads", "scan scan-git" },
	};
	const int set[] = {
		!!o->baseline, !!o->write_baseline, !!o->ignore_file, o->no_inline_allow, o->no_config,
		o->exit_on_error != EXIT_USAGE, o->n_dirs > 0, o->no_gitignore, o->commits > 0, !!o->repo,
		!!o->since, o->all_refs, o->staged && !o->pre_commit, o->pre_commit, o->hold_ms != 100, o->stats,
		!!o->output, o->in_place, o->color != -1, o->line_mode != -1,
		strcmp(o->so.replacement, "[REDACTED]") != 0, o->with_type, !!o->audit_log, o->threads > 0,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(only); i++) {
		char pad[64];

		snprintf(pad, sizeof(pad), " %s ", only[i].cmds);
		if (set[i] && !strstr(pad, padded)) {
			cli_error("secrets %s: %s is for secrets %s only", cmd, only[i].name, only[i].cmds);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int cli_secrets(struct cli *c, int argc, char **argv)
{
	struct opts o = { .so = SCAN_OPTIONS_INIT, .hold_ms = 100, .line_mode = -1, .color = -1,
			  .exit_on_error = EXIT_USAGE };
	struct ctx x = { .c = c, .o = &o, .out_fd = 1, .conf = SCANCONF_INIT };
	const char *cmd, *root = NULL;
	char padded[32];
	size_t k;
	int r;

	if (argc < 2) {
		cli_help(stderr, "secrets", NULL);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	for (k = 0; commands[k]; k++)
		if (!strcmp(cmd, commands[k]))
			break;
	if (!commands[k]) {
		cli_unknown_command("secrets", cmd, commands);
		return EXIT_USAGE;
	}
	if ((r = parse_opts(argc - 1, argv + 1, &o)))
		return r < 0 ? 0 : r;
	snprintf(padded, sizeof(padded), " %s ", cmd);
	if ((r = misplaced(cmd, padded, &o)))
		return r;
	if (!o.threads && (!strcmp(cmd, "scan") || !strcmp(cmd, "scan-git")))
		o.threads = secrets_threads_default();
	if (c->sarif && strcmp(cmd, "scan") && strcmp(cmd, "scan-git")) {
		cli_error("secrets %s: --format sarif is for secrets scan and scan-git", cmd);
		return EXIT_USAGE;
	}
	if (c->json && (!strcmp(cmd, "filter") || !strcmp(cmd, "redact"))) {
		cli_error("secrets %s: --format json means nothing here: the output is the input, redacted "
			  "(use secrets scan --format json for a report)", cmd);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	if (!strcmp(cmd, "rules") && optind < argc) {
		cli_error("secrets rules: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "scan-git") && optind + (o.staged ? 0 : 1) < argc) {
		cli_error("secrets scan-git: unexpected argument '%s'%s", argv[optind + (o.staged ? 0 : 1)],
			  o.staged ? " (--staged scans the index)" : " (give one revision or range)");
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "scan"))
		root = o.n_dirs ? o.dirs[0] : ".";
	else if (!strcmp(cmd, "scan-git"))
		root = o.repo ? o.repo : ".";
	if ((r = setup(&x, !strcmp(cmd, "filter") || !strcmp(cmd, "redact"), root)))
		goto out;
	if (root && (r = secrets_found_setup(&x, root)))
		goto out;
	if (!strcmp(cmd, "filter"))
		r = secrets_filter(&x, argc, argv);
	else if (!strcmp(cmd, "scan"))
		r = secrets_scan(&x, argc, argv);
	else if (!strcmp(cmd, "scan-git"))
		r = secrets_scan_git(&x, argc, argv);
	else if (!strcmp(cmd, "redact"))
		r = secrets_redact(&x, argc, argv);
	else
		r = secrets_rules(&x);
	if (root && (r == 0 || r == EXIT_NEGATIVE)) {
		int w = secrets_found_finish(&x);

		if (w)
			r = w;
	}
out:
	secrets_found_release(&x);
	report_free(x.rep);
	audit_close(x.audit);
	scan_free(x.s);
	return r;
}
