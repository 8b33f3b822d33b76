#include "lib/compat.h"
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "scan/report.h"
#include "scan/scan.h"
#include "lib/fileio.h"

extern char **environ;

/*
 * harombe secrets filter | scan | scan-git | redact | rules
 *
 * Everything read from the input may be a secret, so it is read into locked
 * memory (struct secbuf / secmem) and handed to the scanner, which keeps it
 * there.  What goes out is redacted.  Messages and the audit log name the
 * type, rule and position of a finding, never its value.
 */

#define READ_CHUNK (64u << 10)
#define LOCKED_ARENA (8u << 20)

struct opts {
	struct scan_options so;
	const char *rules[16];
	size_t n_rules;
	const char *known[64];
	size_t n_known;
	const char *known_from[16];
	size_t n_known_from;
	const char *dirs[64];
	size_t n_dirs;
	const char *source;
	const char *audit_log;
	const char *output;
	const char *repo;
	unsigned long commits;
	long hold_ms;
	int in_place, quiet, stats, line_mode;	/* line_mode: -1 auto, 0 buffered, 1 lines */
	int with_type;
};

struct ctx {
	struct cli *c;
	struct opts *o;
	struct scan *s;
	struct audit *audit;
	struct report *rep;
	const char *path;	/* current file */
	const char *commit;
	uint64_t line_base;	/* scan-git: file line of the hunk's first line, minus one */
	size_t findings;
	int errors;
	/* output buffering (redacted text only) */
	int out_fd;
	char *obuf;
	size_t olen;
	int werr;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: harombe secrets filter [--source NAME] [options]       stdin -> stdout, redacted\n"
		"       harombe secrets scan [options] FILE...|-                exit 1 when something is found\n"
		"       harombe secrets scan [options] --recursive DIR          honours .gitignore, skips binaries\n"
		"       harombe secrets scan-git [--commits N] [--repo DIR] [options]\n"
		"       harombe secrets redact FILE (--output OUT | --in-place) [options]\n"
		"       harombe secrets rules                                  list the rules\n"
		"\n"
		"options:\n"
		"  --rules FILE          custom rules and allowlist (YAML)\n"
		"  --known FILE          known secret values, one per line (also matched base64/hex/URL-encoded)\n"
		"  --known-from DIR      the values in a harombefs view's secrets/ directory\n"
		"  --min-confidence X    report findings at or above X (0.7)\n"
		"  --min-length N        minimum length of generic and entropy findings (16)\n"
		"  --no-entropy          no high-entropy detection\n"
		"  --replacement TEXT    what replaces a secret ([REDACTED]); {type} expands to its type\n"
		"  --with-type           the same as --replacement '[REDACTED:{type}]'\n"
		"  --source NAME         label for alerts and the audit log (filter, redact)\n"
		"  --audit-log FILE      audit log for leak_detected (default: the config's)\n"
		"  --hold-ms MS          filter: emit a partial line after this pause (100)\n"
		"  --line-buffered, --buffered   filter: force either output mode\n"
		"  --format text|json|sarif      scan and scan-git report format\n"
		"  --quiet               no alerts or progress on stderr\n"
		"\n"
		"Exit status: 0 nothing found (or filter/redact done), 1 secrets found (scan, scan-git),\n"
		"2 usage or input error.  See docs/scanner.md.\n");
}

/* ---- output ---- */


static int out_flush(struct ctx *x)
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
static int on_output(void *arg, const void *data, size_t len)
{
	struct ctx *x = arg;

	if (x->werr)
		return x->werr;
	if (x->olen + len > READ_CHUNK && out_flush(x))
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
	char extra[160] = "";

	if (x->o->quiet)
		return;
	if (f->marker && *f->marker)
		snprintf(extra, sizeof(extra), ", starts with \"%s\"", f->marker);
	if (f->label)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", known value %s", f->label);
	fprintf(stderr, "harombe: leak detected in %s: %s (rule %s, confidence %.2f%s) at line %llu, offset %llu: %s\n",
		x->o->source ? x->o->source : x->path, f->type, f->rule, f->confidence, extra,
		(unsigned long long)f->line, (unsigned long long)f->offset, what);
}

static int on_filter_finding(void *arg, const struct scan_finding *f)
{
	struct ctx *x = arg;

	x->findings++;
	alert(x, f, "redacted");
	audit_leak(x, f, "redacted");
	return 0;
}

static int on_scan_finding(void *arg, const struct scan_finding *f)
{
	struct ctx *x = arg;
	struct scan_finding g = *f;

	x->findings++;
	if (x->line_base)
		g.line += x->line_base;
	return report_add(x->rep, x->path, x->commit, &g);
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
	O_OUTPUT, O_INPLACE, O_STATS,
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long ul;
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:qr:", lo, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
			return -1;
		default:
			cli_error("secrets %s: unknown or incomplete option '%s' (see harombe secrets --help)",
				  argv[0], argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return 0;
many:
	cli_error("too many %s options", argv[optind - 1]);
	return EXIT_USAGE;
}

/* Read a whole file into locked memory.  NULL with errno set. */
static struct secbuf *read_locked(int fd, size_t max)
{
	struct secbuf *sb = secbuf_new(4096);
	unsigned char *p;
	ssize_t n;

	if (!sb)
		return NULL;
	for (;;) {
		if (secbuf_len(sb) > max) {
			secbuf_free(sb);
			errno = EFBIG;
			return NULL;
		}
		if (!(p = secbuf_tail(sb, 4096))) {
			secbuf_free(sb);
			errno = ENOMEM;
			return NULL;
		}
		n = read(fd, p, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			secbuf_free(sb);
			errno = e;
			return NULL;
		}
		if (n == 0)
			return sb;
		secbuf_commit(sb, (size_t)n);
	}
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
	sb = read_locked(fd, 64u << 20);
	close(fd);
	if (!sb) {
		cli_error("cannot read known values file '%s' into locked memory: %s", path, strerror(errno));
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
		sb = read_locked(fd, SCAN_KNOWN_MAX + 2);
		close(fd);
		if (!sb) {
			cli_error("cannot read '%s' into locked memory: %s", path, strerror(errno));
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

static int setup(struct ctx *x, int want_audit)
{
	struct opts *o = x->o;
	char err[1024], why[512];
	size_t i;
	int r;

	if ((r = secmem_init(LOCKED_ARENA, why, sizeof(why))) && r != -EBUSY) {
		cli_error("%s", why);
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
		r = audit_open(o->audit_log, 1, ~0u, &x->audit, why, sizeof(why));
	} else if (cli_find_config(x->c)) {
		if ((r = cli_config(x->c)))
			return r;
		r = audit_open(x->c->cfg->fs.audit_log, x->c->cfg->audit.enabled, x->c->cfg->audit.events,
			       &x->audit, why, sizeof(why));
	}
	if (r) {
		cli_error("%s", why);
		return EXIT_USAGE;
	}
	return 0;
}

static void print_stats(struct ctx *x, const struct scan_stream_stats *ss, double secs)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr,
		"harombe: stats: bytes_in %llu bytes_out %llu findings %llu redactions %llu seconds %.3f "
		"max_rss_kib %ld\n",
		(unsigned long long)ss->bytes_in, (unsigned long long)ss->bytes_out,
		(unsigned long long)ss->findings, (unsigned long long)ss->redactions, secs, ru.ru_maxrss);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- filter ---- */

static int want_lines(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return 1;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(fd);
}

static int do_filter(struct ctx *x)
{
	struct opts *o = x->o;
	struct scan_stream *st = NULL;
	struct scan_stream_stats ss;
	struct pollfd pfd = { 0, POLLIN, 0 };
	unsigned char *rb = NULL;
	long held = 0, r = 0;
	int lines = o->line_mode < 0 ? want_lines(1) : o->line_mode;
	double t0 = now_s();

	if (!x->path)
		x->path = "stdin";
	if (!(rb = secmem_alloc(READ_CHUNK)) || !(x->obuf = malloc(READ_CHUNK))) {
		cli_error("cannot allocate the input buffer in locked memory");
		r = -ENOMEM;
		goto out;
	}
	x->out_fd = 1;
	if ((r = scan_stream_new(x->s, on_output, on_filter_finding, x, &st))) {
		cli_error("cannot start the scanner: %s", strerror((int)-r));
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (lines) {
			int pr = poll(&pfd, 1, held > 0 ? (int)o->hold_ms : -1);

			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				/* the input paused with a partial line: let it out */
				if ((r = scan_stream_flush(st, SCAN_FLUSH_ALL)) < 0 || (r = out_flush(x)))
					break;
				held = 0;
				continue;
			}
		}
		n = read(0, rb, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			cli_error("cannot read stdin: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if ((r = scan_stream_flush(st, SCAN_FLUSH_END)) >= 0)
				r = out_flush(x);
			break;
		}
		if ((r = scan_stream_write(st, rb, (size_t)n)))
			break;
		if (lines) {
			/* more already waiting: read it before deciding what to emit */
			if (poll(&pfd, 1, 0) == 1 && !(pfd.revents & (POLLHUP | POLLERR)))
				continue;
			if ((held = scan_stream_flush(st, SCAN_FLUSH_LINES)) < 0) {
				r = held;
				break;
			}
			if ((r = out_flush(x)))
				break;
		}
	}
	if (r < 0 && !x->werr && r != -EPIPE)
		cli_error("filter failed: %s", strerror((int)-r));
	if (o->stats && st) {
		scan_stream_stats(st, &ss);
		print_stats(x, &ss, now_s() - t0);
	}
out:
	scan_stream_free(st);
	secmem_free(rb);
	free(x->obuf);
	x->obuf = NULL;
	if (x->werr == -EPIPE)
		return 0;
	return r < 0 ? EXIT_USAGE : 0;
}

/* ---- scan ---- */

/* Scan one open file through the stream (no output).  Binary files, with
 * a NUL byte in their first 8 KiB, are skipped unless forced. */
static int scan_fd(struct ctx *x, int fd, unsigned char *rb, int check_binary, int *skipped)
{
	struct scan_stream *st = NULL;
	int first = 1;
	long r;

	*skipped = 0;
	if ((r = scan_stream_new(x->s, NULL, on_scan_finding, x, &st)))
		return (int)r;
	for (;;) {
		ssize_t n = read(fd, rb, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = scan_stream_flush(st, SCAN_FLUSH_END);
			break;
		}
		if (first && check_binary && memchr(rb, 0, (size_t)n < 8192 ? (size_t)n : 8192)) {
			*skipped = 1;
			r = 0;
			break;
		}
		first = 0;
		if ((r = scan_stream_write(st, rb, (size_t)n)))
			break;
	}
	scan_stream_free(st);
	return r < 0 ? (int)r : 0;
}

static void scan_one(struct ctx *x, const char *path, unsigned char *rb, int from_walk)
{
	struct stat st;
	int fd, skipped, r;

	x->path = path;
	if (!strcmp(path, "-")) {
		x->path = x->o->source ? x->o->source : "stdin";
		r = scan_fd(x, 0, rb, 0, &skipped);
		report_count(x->rep, 1);
		if (r) {
			cli_error("cannot scan stdin: %s", strerror(-r));
			x->errors++;
		}
		return;
	}
	if (scan_path_allowed(x->s, path)) {
		report_count(x->rep, 0);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | (from_walk ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (from_walk && (errno == ENOENT || errno == ELOOP))
			return;	/* deleted since git listed it, or a symlink */
		cli_error("cannot open '%s': %s", path, strerror(errno));
		x->errors++;
		return;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || (from_walk && !S_ISREG(st.st_mode))) {
		if (!from_walk)
			cli_error("'%s' is a directory: use --recursive '%s'", path, path);
		x->errors += !from_walk;
		close(fd);
		return;
	}
	r = scan_fd(x, fd, rb, from_walk, &skipped);
	close(fd);
	report_count(x->rep, !skipped);
	if (r) {
		cli_error("cannot scan '%s': %s", path, strerror(-r));
		x->errors++;
	}
}

/* Run a command and collect its standard output (not secret: file names);
 * quiet: its stderr goes to /dev/null. */
static int run_capture(char *const argv[], char **out, size_t *len, int quiet)
{
	posix_spawn_file_actions_t fa;
	int p[2], status, r = 0;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	pid_t pid;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (!buf || pipe2(p, O_CLOEXEC) != 0) {
		free(buf);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r) {
		close(p[0]);
		free(buf);
		return -r;
	}
	for (;;) {
		if (*len + 4096 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(p[0], buf + *len, cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!r && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -ECHILD;
	if (r) {
		free(buf);
		return r;
	}
	buf[*len] = 0;
	*out = buf;
	return 0;
}

static void progress(struct ctx *x, size_t done, size_t total, int final)
{
	static double last;
	double t = now_s();

	if (x->o->quiet || !isatty(2))
		return;
	if (final) {
		fputs("\r\033[K", stderr);
		return;
	}
	if (t - last < 0.1 && done != total)
		return;
	last = t;
	fprintf(stderr, "\r\033[Kscanning %zu/%zu files [%-30.*s]", done, total,
		(int)(total ? 30 * done / total : 30), "==============================");
}

/* The files of DIR that git would look at: tracked and untracked, minus
 * what .gitignore (and .git/info/exclude, core.excludesFile) exclude.
 * Outside a repository, an empty throwaway repository gives git the same
 * rules for the directory's own .gitignore files. */
static int list_dir(const char *dir, char **out, size_t *len)
{
	char *probe[] = { "git", "-C", (char *)dir, "rev-parse", "--is-inside-work-tree", NULL };
	char *ls[] = { "git", "-C", (char *)dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", NULL };
	char tmpl[] = "/tmp/harombe-gitdir.XXXXXX", gitdir[64], worktree[PATH_MAX];
	char *tmp, *init[] = { "git", "init", "-q", "--bare", tmpl, NULL };
	char *ls2[] = { "git", NULL, NULL, "-C", (char *)dir, "ls-files", "-z", "--others", "--exclude-standard", NULL };
	char *junk, *rm[] = { "rm", "-rf", tmpl, NULL };
	size_t jl;
	int r;

	if ((r = run_capture(probe, &junk, &jl, 1)) == 0) {
		free(junk);
		return run_capture(ls, out, len, 0);
	}
	if (r == -ENOENT)
		return r;
	if (!(tmp = mkdtemp(tmpl)))
		return -errno;
	if ((r = run_capture(init, &junk, &jl, 0)) == 0) {
		free(junk);
		if (!realpath(dir, worktree)) {
			r = -errno;
		} else {
			char wt[PATH_MAX + 16];

			snprintf(gitdir, sizeof(gitdir), "--git-dir=%s", tmpl);
			snprintf(wt, sizeof(wt), "--work-tree=%s", worktree);
			ls2[1] = gitdir;
			ls2[2] = wt;
			r = run_capture(ls2, out, len, 0);
		}
	}
	if (run_capture(rm, &junk, &jl, 0) == 0)
		free(junk);
	return r;
}

static int scan_tree(struct ctx *x, const char *dir, unsigned char *rb)
{
	char *list = NULL, path[PATH_MAX];
	size_t len, i, total = 0, done = 0;
	struct stat st;
	int r;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cli_error("--recursive '%s': not a directory", dir);
		return EXIT_USAGE;
	}
	if ((r = list_dir(dir, &list, &len))) {
		if (r == -ENOENT)
			cli_error("scan --recursive needs git to honour .gitignore, and git was not found");
		else
			cli_error("cannot list the files of '%s' with git", dir);
		return EXIT_USAGE;
	}
	for (i = 0; i < len; i++)
		total += list[i] == 0;
	for (i = 0; i < len;) {
		const char *rel = list + i;
		size_t n = strlen(rel);

		i += n + 1;
		if (!n)
			continue;
		if (!strcmp(dir, "."))
			snprintf(path, sizeof(path), "%s", rel);
		else
			snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
		scan_one(x, path, rb, 1);
		progress(x, ++done, total, 0);
	}
	progress(x, done, total, 1);
	free(list);
	return 0;
}

static int report_format(const struct cli *c)
{
	return c->sarif ? REPORT_SARIF : c->json ? REPORT_JSON : REPORT_TEXT;
}

static int do_scan(struct ctx *x, int argc, char **argv)
{
	unsigned char *rb;
	int i, r = 0;

	if (argc == optind && !x->o->n_dirs) {
		cli_error("secrets scan: give FILE..., - for stdin, or --recursive DIR");
		return EXIT_USAGE;
	}
	if (report_new(report_format(x->c), x->s, stdout, isatty(1), &x->rep))
		return EXIT_USAGE;
	if (!(rb = secmem_alloc(READ_CHUNK))) {
		cli_error("cannot allocate the input buffer in locked memory");
		return EXIT_USAGE;
	}
	for (i = optind; i < argc; i++)
		scan_one(x, argv[i], rb, 0);
	for (i = 0; i < (int)x->o->n_dirs && !r; i++)
		r = scan_tree(x, x->o->dirs[i], rb);
	secmem_free(rb);
	if (report_finish(x->rep))
		x->errors++;
	if (r)
		return r;
	if (x->errors)
		return EXIT_USAGE;
	return x->findings ? EXIT_NEGATIVE : 0;
}

/* ---- scan-git ---- */

/* Added lines of one hunk, in locked memory, scanned as one text. */
static int git_hunk_done(struct ctx *x, struct secbuf *acc)
{
	size_t len;
	const unsigned char *d = secbuf_data(acc, &len);
	int r = 0;

	if (len && x->path)
		r = scan_buffer(x->s, d, len, NULL, on_scan_finding, x);
	secbuf_clear(acc);
	return r;
}

static void set_str(char **dst, const unsigned char *p, size_t n)
{
	free(*dst);
	*dst = strndup((const char *)p, n);
}

/* One line of `git log -p -U0`: track commit, file and hunk; collect the
 * added lines of a hunk in acc (locked). */
static int git_line(struct ctx *x, const unsigned char *l, size_t ll, struct secbuf *acc, char **commit,
		    char **path, int *in_hunk)
{
	if (ll > 7 && !memcmp(l, "commit ", 7)) {
		git_hunk_done(x, acc);
		*in_hunk = 0;
		set_str(commit, l + 7, ll - 7);
		x->commit = *commit;
	} else if (ll >= 4 && !memcmp(l, "+++ ", 4)) {
		git_hunk_done(x, acc);
		*in_hunk = 0;
		if (ll > 6 && !memcmp(l + 4, "b/", 2)) {
			set_str(path, l + 6, ll - 6);
		} else if (ll > 7 && !memcmp(l + 4, "\"b/", 3)) {
			set_str(path, l + 7, ll - 8);
		} else {
			free(*path);	/* +++ /dev/null: the file was deleted */
			*path = NULL;
		}
		x->path = *path;
	} else if (ll >= 4 && !memcmp(l, "diff", 4)) {
		git_hunk_done(x, acc);
		*in_hunk = 0;
		free(*path);
		*path = NULL;
		x->path = NULL;
	} else if (ll > 3 && !memcmp(l, "@@ ", 3)) {
		const char *plus = memchr(l, '+', ll);
		unsigned long long first = plus ? strtoull(plus + 1, NULL, 10) : 1;

		git_hunk_done(x, acc);
		*in_hunk = 1;
		x->line_base = first ? first - 1 : 0;
	} else if (*in_hunk && ll >= 1 && l[0] == '+') {
		if (secbuf_append(acc, l + 1, ll - 1) || secbuf_putc(acc, '\n'))
			return -ENOMEM;
	}
	return 0;
}

/* Read git's output from fd, line by line, into locked memory. */
static int git_parse(struct ctx *x, int fd)
{
	struct secbuf *line = secbuf_new(4096), *acc = secbuf_new(4096);
	unsigned char *rb = secmem_alloc(READ_CHUNK);
	char *path = NULL, *commit = NULL;
	int r = 0, in_hunk = 0;

	if (!line || !acc || !rb) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, rb, READ_CHUNK);
		size_t i = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		while (i < (size_t)n) {
			const unsigned char *nl = memchr(rb + i, '\n', (size_t)n - i);
			size_t e = nl ? (size_t)(nl - rb) : (size_t)n, ll;
			const unsigned char *l;

			if ((r = secbuf_append(line, rb + i, e - i)))
				goto out;
			i = e + 1;
			if (!nl)
				break;	/* the rest of this line comes with the next read */
			l = secbuf_data(line, &ll);
			if ((r = git_line(x, l, ll, acc, &commit, &path, &in_hunk)))
				goto out;
			secbuf_clear(line);
		}
		if (n == 0)
			break;
	}
	if (secbuf_len(line)) {
		size_t ll;
		const unsigned char *l = secbuf_data(line, &ll);

		r = git_line(x, l, ll, acc, &commit, &path, &in_hunk);
	}
	if (!r)
		r = git_hunk_done(x, acc);
out:
	x->path = NULL;
	x->commit = NULL;
	x->line_base = 0;
	free(path);
	free(commit);
	secbuf_free(line);
	secbuf_free(acc);
	secmem_free(rb);
	return r;
}

static int do_scan_git(struct ctx *x)
{
	char ncommits[32];
	char *argv[] = { "git", "-C", (char *)(x->o->repo ? x->o->repo : "."), "-c", "core.quotePath=false",
			 "log", "-p", "--no-color", "--no-ext-diff", "--no-textconv", "-U0", "--format=commit %H",
			 ncommits, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status, r, pr;
	pid_t pid;

	snprintf(ncommits, sizeof(ncommits), "-n%lu", x->o->commits ? x->o->commits : 10);
	if (report_new(report_format(x->c), x->s, stdout, isatty(1), &x->rep))
		return EXIT_USAGE;
	if (pipe2(p, O_CLOEXEC) != 0) {
		cli_error("cannot make a pipe: %s", strerror(errno));
		return EXIT_USAGE;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	r = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r) {
		close(p[0]);
		cli_error("cannot run git: %s", strerror(r));
		return EXIT_USAGE;
	}
	pr = git_parse(x, p[0]);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pr) {
		cli_error("cannot scan the output of git log: %s", strerror(pr < 0 ? -pr : pr));
		return EXIT_USAGE;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_error("git log failed in '%s' (is it a git repository?)", x->o->repo ? x->o->repo : ".");
		return EXIT_USAGE;
	}
	if (report_finish(x->rep))
		return EXIT_USAGE;
	return x->findings ? EXIT_NEGATIVE : 0;
}

/* ---- redact ---- */

static int do_redact(struct ctx *x, int argc, char **argv)
{
	struct opts *o = x->o;
	const char *in, *target;
	char tmp[PATH_MAX];
	struct stat ist, ost;
	struct scan_stream *st = NULL;
	unsigned char *rb = NULL;
	int ifd = -1, ofd = -1, to_stdout = 0, made = 0, r = 0;
	long lr = 0;

	if (argc - optind != 1 || (!o->output && !o->in_place) || (o->output && o->in_place)) {
		cli_error("usage: harombe secrets redact FILE (--output OUT | --in-place)");
		return EXIT_USAGE;
	}
	in = argv[optind];
	target = o->in_place ? in : o->output;
	to_stdout = !strcmp(target, "-");
	x->path = in;
	if ((ifd = open(in, O_RDONLY | O_CLOEXEC)) < 0 || fstat(ifd, &ist) != 0 || !S_ISREG(ist.st_mode)) {
		cli_error("cannot read '%s': %s", in, ifd < 0 ? strerror(errno) : "not a regular file");
		r = EXIT_USAGE;
		goto out;
	}
	if (!o->in_place && !to_stdout && stat(target, &ost) == 0 && ost.st_dev == ist.st_dev &&
	    ost.st_ino == ist.st_ino) {
		cli_error("--output '%s' is the input file: use --in-place to change it", target);
		r = EXIT_USAGE;
		goto out;
	}
	if (to_stdout) {
		ofd = 1;
	} else {
		/* a temporary file beside the target, renamed over it when complete */
		const char *slash = strrchr(target, '/');
		int dl = slash ? (int)(slash - target) : 0;

		snprintf(tmp, sizeof(tmp), "%.*s%s.%s.harombe-XXXXXX", dl, target, slash ? "/" : "",
			 slash ? slash + 1 : target);
		if ((ofd = mkostemp(tmp, O_CLOEXEC)) < 0) {
			cli_error("cannot create a temporary file beside '%s': %s", target, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		made = 1;
		if (fchmod(ofd, ist.st_mode & 07777) != 0 ||
		    (o->in_place && geteuid() == 0 && fchown(ofd, ist.st_uid, ist.st_gid) != 0)) {
			cli_error("cannot set the mode of '%s': %s", tmp, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
	}
	x->out_fd = ofd;
	if (!(rb = secmem_alloc(READ_CHUNK)) || !(x->obuf = malloc(READ_CHUNK)) ||
	    scan_stream_new(x->s, on_output, on_filter_finding, x, &st)) {
		cli_error("cannot start the scanner");
		r = EXIT_USAGE;
		goto out;
	}
	for (;;) {
		ssize_t n = read(ifd, rb, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read '%s': %s", in, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		if (n == 0)
			break;
		if ((lr = scan_stream_write(st, rb, (size_t)n)))
			break;
	}
	if (lr || (lr = scan_stream_flush(st, SCAN_FLUSH_END)) < 0 || out_flush(x)) {
		cli_error("cannot write the redacted copy of '%s': %s", in,
			  strerror(x->werr ? -x->werr : (int)-lr));
		r = EXIT_USAGE;
		goto out;
	}
	if (!to_stdout) {
		char dir[PATH_MAX];
		const char *slash = strrchr(target, '/');
		int dfd;

		if (fsync(ofd) != 0 || rename(tmp, target) != 0) {
			cli_error("cannot replace '%s': %s", target, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		made = 0;	/* it is the target now */
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - target) + 1 : 1, slash ? target : ".");
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (!o->quiet)
		fprintf(stderr, "harombe: %s: %zu secret%s redacted%s%s\n", in, x->findings,
			x->findings == 1 ? "" : "s", to_stdout ? "" : ", written to ", to_stdout ? "" : target);
out:
	/* a failure leaves no half-written copy behind */
	if (made)
		unlink(tmp);
	if (ofd > 1)
		close(ofd);
	if (ifd >= 0)
		close(ifd);
	scan_stream_free(st);
	secmem_free(rb);
	free(x->obuf);
	x->obuf = NULL;
	return r;
}

/* ---- rules ---- */

static int do_rules(struct ctx *x)
{
	size_t i, n = scan_rule_count(x->s);
	struct scan_rule_info ri;
	json_object *arr = x->c->json ? json_object_new_array() : NULL;

	for (i = 0; i < n; i++) {
		if (scan_rule_get(x->s, i, &ri))
			continue;
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_string(ri.id));
			json_object_object_add(o, "type", json_object_new_string(ri.type));
			json_object_object_add(o, "confidence", json_object_new_double(ri.confidence));
			json_object_object_add(o, "builtin", json_object_new_boolean(ri.builtin));
			json_object_object_add(o, "description", json_object_new_string(ri.description));
			if (ri.regex)
				json_object_object_add(o, "regex", json_object_new_string(ri.regex));
			json_object_array_add(arr, o);
		} else {
			printf("%-28s %-18s %.2f  %s\n", ri.id, ri.type, ri.confidence, ri.description);
		}
	}
	if (arr) {
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	return 0;
}

int cli_secrets(struct cli *c, int argc, char **argv)
{
	struct opts o = { .so = SCAN_OPTIONS_INIT, .hold_ms = 100, .line_mode = -1 };
	struct ctx x = { .c = c, .o = &o, .out_fd = 1 };
	const char *cmd;
	int r;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	cmd = argv[1];
	if ((r = parse_opts(argc - 1, argv + 1, &o)))
		return r < 0 ? 0 : r;
	if (c->sarif && strcmp(cmd, "scan") && strcmp(cmd, "scan-git")) {
		cli_error("--format sarif is for secrets scan and scan-git");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "filter") && strcmp(cmd, "scan") && strcmp(cmd, "scan-git") && strcmp(cmd, "redact") &&
	    strcmp(cmd, "rules")) {
		cli_error("unknown secrets command '%s' (filter, scan, scan-git, redact, rules)", cmd);
		return EXIT_USAGE;
	}
	if ((r = setup(&x, !strcmp(cmd, "filter") || !strcmp(cmd, "redact"))))
		goto out;
	argc--;
	argv++;
	if (!strcmp(cmd, "filter"))
		r = do_filter(&x);
	else if (!strcmp(cmd, "scan"))
		r = do_scan(&x, argc, argv);
	else if (!strcmp(cmd, "scan-git"))
		r = do_scan_git(&x);
	else if (!strcmp(cmd, "redact"))
		r = do_redact(&x, argc, argv);
	else
		r = do_rules(&x);
out:
	report_free(x.rep);
	audit_close(x.audit);
	scan_free(x.s);
	return r;
}
