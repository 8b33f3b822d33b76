/* harombe secrets scan: files, stdin, or the files git would look at in a
 * directory (--recursive), reported as text, JSON or SARIF. */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/secbuf.h"
#include "scan/report.h"
#include "scan/scan.h"

extern char **environ;

/* One input of a scan: what a worker does with it, and what it found,
 * which the submitting thread reports in order (scan_done). */
struct file_job {
	char *path;		/* "-": stdin */
	int from_walk;
	size_t idx, total;	/* --recursive: for the progress line */
	struct found_batch found;
	int counted;		/* -1 not counted, 0 skipped, 1 scanned */
	int errors;
	char msg[PATH_MAX + 160];	/* said when done, or "" */
};

/* Piped stdin cannot be read again for a finding's line (inline allow
 * markers), value (stop words, fingerprints): its last bytes are kept in a
 * window of locked memory, and the job's findings are judged before bytes
 * leave it.  Stdin that is a file read from its start is pread.  The window
 * belongs to the one job that reads stdin, on whichever thread runs it.
 * When the window moves on, the last STDIN_KEEP bytes stay: the stream
 * looks at its input a window at a time (512 KiB, SCAN_WINDOW in
 * scan/scan-internal.h), so up to that much input written to it may still
 * bring findings, and a finding's line starts before it (128 KiB more).
 * Keeping less (half of a 1 MiB window, less a 256 KiB read) left findings
 * unreadable, reported with no marker check and no fingerprint. */
#define STDIN_KEEP (640u << 10)
#define STDIN_WINDOW (2u << 20)

struct window {
	unsigned char *buf;	/* locked; NULL: fd is pread */
	size_t len;
	uint64_t base;		/* input offset of buf[0] */
};

static int window_add(const struct ctx *x, struct file_job *j, struct window *w, const unsigned char *p, size_t n)
{
	if (w->len + n > STDIN_WINDOW) {
		size_t keep = w->len < STDIN_KEEP ? w->len : STDIN_KEEP, drop;
		const struct found_input in = { w->buf, w->len, w->base, -1 };
		int r;

		if (n > STDIN_WINDOW - keep)
			keep = n >= STDIN_WINDOW ? 0 : STDIN_WINDOW - n;
		drop = w->len - keep;
		if ((r = secrets_found_judge(x, j->path, &j->found, &in)))
			return r;
		memmove(w->buf, w->buf + drop, keep);
		explicit_bzero(w->buf + keep, w->len - keep);
		w->len = keep;
		w->base += drop;
	}
	while (n > STDIN_WINDOW) {	/* only the end of a huge chunk fits */
		w->base += n - STDIN_WINDOW;
		p += n - STDIN_WINDOW;
		n = STDIN_WINDOW;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

/* Scan one open file through the stream (no output).  Binary files, with
 * a NUL byte in their first 8 KiB, are skipped unless forced. */
static int scan_fd(const struct ctx *x, struct file_job *j, int fd, int check_binary, int *skipped)
{
	struct scan_stream *st = NULL;
	struct window w = { NULL, 0, 0 };
	struct found_input in;
	struct stat sb;
	unsigned char *rb = secmem_alloc(READ_CHUNK);
	int first = 1;
	long r;

	*skipped = 0;
	if (!rb)
		return -ENOMEM;
	if (fd == 0 && !(fstat(0, &sb) == 0 && S_ISREG(sb.st_mode) && lseek(0, 0, SEEK_CUR) == 0) &&
	    !(w.buf = secmem_alloc(STDIN_WINDOW))) {
		secmem_free(rb);
		return -ENOMEM;
	}
	if ((r = scan_stream_new(x->s, NULL, secrets_on_scan_finding, &j->found, &st))) {
		secmem_free(w.buf);
		secmem_free(rb);
		return (int)r;
	}
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
			j->found.n_pend = 0;
			r = 0;
			break;
		}
		first = 0;
		if (w.buf && (r = window_add(x, j, &w, rb, (size_t)n)))
			break;
		if ((r = scan_stream_write(st, rb, (size_t)n)))
			break;
	}
	scan_stream_free(st);
	secmem_free(rb);
	in = (struct found_input){ w.buf, w.len, w.base, w.buf ? -1 : fd };
	if (r >= 0)
		r = secrets_found_judge(x, j->path, &j->found, &in);
	j->found.n_pend = 0;
	secmem_free(w.buf);	/* wipes */
	return r < 0 ? (int)r : 0;
}

/* On a worker thread: x is only read. */
static void scan_work(void *arg, void *item)
{
	const struct ctx *x = arg;
	struct file_job *j = item;
	struct stat st;
	int fd, skipped, r;

	j->counted = -1;
	if (!strcmp(j->path, "-")) {
		free(j->path);
		j->path = strdup(x->o->source ? x->o->source : "stdin");
		if (!j->path) {
			snprintf(j->msg, sizeof(j->msg), "cannot scan stdin: %s", strerror(ENOMEM));
			j->errors++;
			return;
		}
		r = scan_fd(x, j, 0, 0, &skipped);
		j->counted = 1;
		if (r) {
			snprintf(j->msg, sizeof(j->msg), "cannot scan stdin: %s", strerror(-r));
			j->errors++;
		}
		return;
	}
	if (scan_path_allowed(x->s, j->path)) {
		j->counted = 0;
		return;
	}
	fd = open(j->path, O_RDONLY | O_CLOEXEC | (j->from_walk ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (j->from_walk && (errno == ENOENT || errno == ELOOP))
			return;	/* deleted since git listed it, or a symlink */
		snprintf(j->msg, sizeof(j->msg), "cannot open '%s': %s", j->path, strerror(errno));
		j->errors++;
		return;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || (j->from_walk && !S_ISREG(st.st_mode))) {
		if (!j->from_walk) {
			snprintf(j->msg, sizeof(j->msg), "'%s' is a directory: use --recursive '%s'", j->path, j->path);
			j->errors++;
		}
		close(fd);
		return;
	}
	r = scan_fd(x, j, fd, 1, &skipped);
	close(fd);
	j->counted = !skipped;
	if (skipped && !j->from_walk && !x->o->quiet)
		snprintf(j->msg, sizeof(j->msg), "secrets scan: skipped '%s': a binary file (a NUL byte in its first 8 KiB)",
			 j->path);
	if (r) {
		snprintf(j->msg, sizeof(j->msg), "cannot scan '%s': %s", j->path, strerror(-r));
		j->errors++;
	}
}

static void progress(struct ctx *x, size_t done, size_t total, int final);

/* On the submitting thread, in input order. */
static void scan_done(void *arg, void *item)
{
	struct ctx *x = arg;
	struct file_job *j = item;
	int r;

	if (j->counted >= 0)
		report_count(x->rep, j->counted);
	if ((r = secrets_found_apply(x, j->path, NULL, &j->found))) {
		cli_error("cannot scan '%s': %s", j->path, strerror(-r));
		x->errors++;
	}
	if (j->msg[0])
		cli_error("%s", j->msg);
	x->errors += j->errors;
	if (j->total) {
		progress(x, j->idx, j->total, 0);
		if (j->idx == j->total)
			progress(x, j->idx, j->total, 1);
	}
	secrets_found_batch_release(&j->found);
	free(j->path);
	free(j);
}

static void scan_one(struct ctx *x, struct spool *p, const char *path, int from_walk, size_t idx, size_t total)
{
	struct file_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->path = strdup(path))) {
		free(j);
		spool_wait(p);
		cli_error("cannot scan '%s': %s", path, strerror(ENOMEM));
		x->errors++;
		return;
	}
	j->from_walk = from_walk;
	j->idx = idx;
	j->total = total;
	spool_submit(p, j);
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
	double t = secrets_now_s();

	if (!secrets_progress_ok(x))
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
static int list_dir(const char *dir, int all, char **out, size_t *len)
{
	char *probe[] = { "git", "-C", (char *)dir, "rev-parse", "--is-inside-work-tree", NULL };
	char *ls[] = { "git", "-C", (char *)dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", NULL };
	/* --no-gitignore: every file under dir but what is in .git */
	char *find[] = { "find", (char *)dir, "-path", "*/.git", "-prune", "-o", "-type", "f", "-printf", "%P\\0", NULL };
	char tmpl[] = "/tmp/harombe-gitdir.XXXXXX", gitdir[64], worktree[PATH_MAX];
	char *tmp, *init[] = { "git", "init", "-q", "--bare", tmpl, NULL };
	char *ls2[] = { "git", NULL, NULL, "-C", (char *)dir, "ls-files", "-z", "--others", "--exclude-standard", NULL };
	char *junk, *rm[] = { "rm", "-rf", tmpl, NULL };
	size_t jl;
	int r;

	if (all)
		return run_capture(find, out, len, 0);
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

static int scan_tree(struct ctx *x, struct spool *p, const char *dir)
{
	char *list = NULL, path[PATH_MAX];
	size_t len, i, total = 0, done = 0;
	struct stat st;
	int r;

	spool_wait(p);	/* what went before is said first */
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cli_error("--recursive '%s': not a directory", dir);
		return EXIT_USAGE;
	}
	if ((r = list_dir(dir, x->o->no_gitignore, &list, &len))) {
		if (r == -ENOENT)
			cli_error("scan --recursive needs git to honour .gitignore, and git was not found");
		else
			cli_error("cannot list the files of '%s' with git", dir);
		return EXIT_USAGE;
	}
	for (i = 0; i < len; i++)
		total += list[i] == 0 && i > 0 && list[i - 1] != 0;
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
		scan_one(x, p, path, 1, ++done, total);
	}
	free(list);
	return 0;
}

int secrets_scan(struct ctx *x, int argc, char **argv)
{
	struct spool *p;
	int i, r = 0;

	if (argc == optind && !x->o->n_dirs) {
		cli_error("secrets scan: give FILE..., - for stdin, or --recursive DIR");
		return EXIT_USAGE;
	}
	for (i = optind, r = 0; i < argc; i++)	/* stdin can be read once only */
		if (!strcmp(argv[i], "-") && r++) {
			cli_error("secrets scan: '-' (stdin) is given more than once");
			return EXIT_USAGE;
		}
	r = 0;
	if (report_new(secrets_report_format(x->c), x->s, stdout, secrets_color(x, 1), &x->rep))
		return EXIT_USAGE;
	/* a window of a few files per thread: enough to keep them busy while
	 * a slow file holds up the report, and little memory */
	if ((r = spool_new(x->o->threads, 4 * x->o->threads, scan_work, scan_done, x, &p))) {
		cli_error("cannot start %u threads: %s", x->o->threads, strerror(-r));
		return EXIT_USAGE;
	}
	for (i = optind; i < argc; i++)
		scan_one(x, p, argv[i], 0, 0, 0);
	for (i = 0; i < (int)x->o->n_dirs && !r; i++)
		r = scan_tree(x, p, x->o->dirs[i]);
	spool_free(p);
	if (report_finish(x->rep))
		x->errors++;
	if (r)
		return r;
	return secrets_exit(x);
}
