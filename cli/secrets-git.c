/* harombe secrets scan-git: the lines added by the history of HEAD (or a
 * range, --since, --all refs), or by the staged changes (--staged,
 * --pre-commit), read from `git log -p -U0` or `git diff --cached -U0` (a
 * small diff parser) into locked memory. */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/secbuf.h"
#include "scan/report.h"
#include "scan/scan.h"

extern char **environ;

/* The added lines of one hunk: a text of their own, scanned alone. */
struct hunk {
	char *commit;		/* NULL: the staged changes */
	char *path;
	uint64_t line_base;	/* file line of its first line, minus one */
	size_t off, len;	/* in the job's text */
	struct found_batch found;
};

/* Hunks of one or more commits, scanned together by a worker thread and
 * reported in history order by the parsing thread. */
#define JOB_BYTES (64u << 10)
#define JOB_HUNKS 64u
struct git_job {
	struct secbuf *text;	/* locked: the hunks' added lines, end to end */
	struct hunk *h;
	size_t n, cap;
	size_t n_ok;		/* hunks scanned before an error */
	int err;
};

struct git_parse {
	struct ctx *x;
	struct spool *pool;
	struct git_job *job;	/* being filled */
	char *commit, *path;
	int in_hunk;
	uint64_t line_base;
	size_t hunk_off;	/* where the open hunk starts in job->text */
	int err;		/* the first error of a job: the scan stops */
};

static void job_free(struct git_job *j)
{
	size_t i;

	if (!j)
		return;
	for (i = 0; i < j->n; i++) {
		free(j->h[i].commit);
		free(j->h[i].path);
		secrets_found_batch_release(&j->h[i].found);
	}
	free(j->h);
	secbuf_free(j->text);	/* wipes */
	free(j);
}

/* On a worker thread: x is only read. */
static void git_work(void *arg, void *item)
{
	const struct ctx *x = ((const struct git_parse *)arg)->x;
	struct git_job *j = item;
	const unsigned char *d = secbuf_data(j->text, NULL);
	size_t i;
	int r = 0;

	for (i = 0; i < j->n && !r; i++) {
		struct hunk *h = &j->h[i];
		const struct found_input in = { d + h->off, h->len, 0, -1 };

		h->found.line_base = h->line_base;
		r = scan_buffer(x->s, d + h->off, h->len, NULL, secrets_on_scan_finding, &h->found);
		if (!r)
			r = secrets_found_judge(x, h->path, &h->found, &in);
		if (!r)
			j->n_ok++;
	}
	j->err = r;
	secbuf_free(j->text);	/* the added lines are read: wipe them now */
	j->text = NULL;
}

/* On the parsing thread, in history order. */
static void git_done(void *arg, void *item)
{
	struct git_parse *gp = arg;
	struct git_job *j = item;
	size_t i;
	int r = 0;

	for (i = 0; i < j->n_ok && !gp->err && !r; i++)
		r = secrets_found_apply(gp->x, j->h[i].path, j->h[i].commit, &j->h[i].found);
	if (!gp->err)
		gp->err = r ? r : j->err;
	job_free(j);
}

static int job_submit(struct git_parse *gp)
{
	struct git_job *j = gp->job;

	gp->job = NULL;
	if (j && j->n)
		spool_submit(gp->pool, j);
	else
		job_free(j);
	return gp->err;
}

static struct git_job *job_get(struct git_parse *gp)
{
	struct git_job *j = gp->job;

	if (j)
		return j;
	if (!(j = calloc(1, sizeof(*j))) || !(j->text = secbuf_new(64u << 10))) {
		free(j);
		return NULL;
	}
	return gp->job = j;
}

/* The open hunk is complete: record it in the job, and hand the job to
 * the workers when it is full. */
static int git_hunk_done(struct git_parse *gp)
{
	struct git_job *j = gp->job;
	struct hunk *h;
	size_t len;

	if (!gp->in_hunk || !j)
		return gp->err;
	gp->in_hunk = 0;
	len = secbuf_len(j->text) - gp->hunk_off;
	if (!len || !gp->path)
		return gp->err;
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;
		struct hunk *nv = realloc(j->h, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		j->h = nv;
		j->cap = cap;
	}
	h = &j->h[j->n];
	memset(h, 0, sizeof(*h));
	h->off = gp->hunk_off;
	h->len = len;
	h->line_base = gp->line_base;
	if (!(h->path = strdup(gp->path)) || (gp->commit && !(h->commit = strdup(gp->commit)))) {
		free(h->path);
		return -ENOMEM;
	}
	j->n++;
	if (secbuf_len(j->text) >= JOB_BYTES || j->n >= JOB_HUNKS)
		return job_submit(gp);
	return gp->err;
}

static void set_str(char **dst, const unsigned char *p, size_t n)
{
	free(*dst);
	*dst = strndup((const char *)p, n);
}

static void git_progress(struct ctx *x, int final)
{
	static double last;
	double t;

	if (!secrets_progress_ok(x))
		return;
	if (final) {
		if (x->n_commits)
			fputs("\r\033[K", stderr);
		return;
	}
	t = secrets_now_s();
	if (t - last < 0.1)
		return;
	last = t;
	fprintf(stderr, "\r\033[Kscanning history: %zu commit%s", x->n_commits, x->n_commits == 1 ? "" : "s");
}

/* One line of `git log -p -U0`: track commit, file and hunk; collect the
 * added lines of a hunk in the job's text (locked). */
static int git_line(struct git_parse *gp, const unsigned char *l, size_t ll)
{
	struct git_job *j;
	int r;

	if (ll > 7 && !memcmp(l, "commit ", 7)) {
		if ((r = git_hunk_done(gp)))
			return r;
		set_str(&gp->commit, l + 7, ll - 7);
		if (!gp->commit)
			return -ENOMEM;
		gp->x->n_commits++;
		git_progress(gp->x, 0);
	} else if (ll >= 4 && !memcmp(l, "+++ ", 4)) {
		if ((r = git_hunk_done(gp)))
			return r;
		if (ll > 6 && !memcmp(l + 4, "b/", 2)) {
			set_str(&gp->path, l + 6, ll - 6);
		} else if (ll > 7 && !memcmp(l + 4, "\"b/", 3)) {
			set_str(&gp->path, l + 7, ll - 8);
		} else {
			free(gp->path);	/* +++ /dev/null: the file was deleted */
			gp->path = NULL;
		}
	} else if (ll >= 4 && !memcmp(l, "diff", 4)) {
		if ((r = git_hunk_done(gp)))
			return r;
		free(gp->path);
		gp->path = NULL;
	} else if (ll > 3 && !memcmp(l, "@@ ", 3)) {
		const char *plus = memchr(l, '+', ll);
		unsigned long long first = plus ? strtoull(plus + 1, NULL, 10) : 1;

		if ((r = git_hunk_done(gp)))
			return r;
		if (!(j = job_get(gp)))
			return -ENOMEM;
		gp->in_hunk = 1;
		gp->hunk_off = secbuf_len(j->text);
		gp->line_base = first ? first - 1 : 0;
	} else if (gp->in_hunk && gp->path && ll >= 1 && l[0] == '+') {
		j = gp->job;
		if (secbuf_append(j->text, l + 1, ll - 1) || secbuf_putc(j->text, '\n'))
			return -ENOMEM;
	}
	return 0;
}

/* Read git's output from fd, line by line, into locked memory. */
static int git_parse(struct ctx *x, int fd)
{
	struct git_parse gp = { .x = x };
	struct secbuf *line = secbuf_new(4096);
	unsigned char *rb = secmem_alloc(READ_CHUNK);
	int r = 0;

	if (!line || !rb) {
		r = -ENOMEM;
		goto out;
	}
	/* two jobs per thread: one being scanned, one waiting */
	if ((r = spool_new(x->o->threads, 2 * x->o->threads, git_work, git_done, &gp, &gp.pool)))
		goto out;
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
			if ((r = git_line(&gp, l, ll)))
				goto out;
			secbuf_clear(line);
		}
		if (n == 0)
			break;
	}
	if (secbuf_len(line)) {
		size_t ll;
		const unsigned char *l = secbuf_data(line, &ll);

		r = git_line(&gp, l, ll);
	}
	if (!r && !(r = git_hunk_done(&gp)))
		r = job_submit(&gp);
out:
	spool_free(gp.pool);	/* hands back what is in flight */
	if (!r)
		r = gp.err;
	job_free(gp.job);
	free(gp.path);
	free(gp.commit);
	secbuf_free(line);
	secmem_free(rb);
	return r;
}

int secrets_scan_git(struct ctx *x, int argc, char **argv)
{
	const char *repo = x->o->repo ? x->o->repo : ".";
	char ncommits[32], since[256];
	char *av[32];
	posix_spawn_file_actions_t fa;
	int p[2], status, r, pr, n = 0;
	pid_t pid;

	av[n++] = "git";
	av[n++] = "-C";
	av[n++] = (char *)repo;
	av[n++] = "-c";
	av[n++] = "core.quotePath=false";
	if (x->o->staged) {
		av[n++] = "diff";
		av[n++] = "--cached";
	} else {
		av[n++] = "log";
		av[n++] = "--format=commit %H";
	}
	av[n++] = "-p";
	av[n++] = "--no-color";
	av[n++] = "--no-ext-diff";
	av[n++] = "--no-textconv";
	av[n++] = "-U0";
	if (!x->o->staged) {
		if (x->o->commits) {
			snprintf(ncommits, sizeof(ncommits), "-n%lu", x->o->commits);
			av[n++] = ncommits;
		}
		if (x->o->since) {
			snprintf(since, sizeof(since), "--since=%s", x->o->since);
			av[n++] = since;
		}
		if (x->o->all_refs)
			av[n++] = "--all";
		if (optind < argc) {
			if (argv[optind][0] == '-') {
				cli_error("secrets scan-git: '%s' is not a revision", argv[optind]);
				return EXIT_USAGE;
			}
			av[n++] = argv[optind];
		}
		av[n++] = "--";	/* what follows a revision are paths: none */
	}
	av[n] = NULL;
	if (report_new(secrets_report_format(x->c), x->s, stdout, secrets_color(x, 1), &x->rep))
		return EXIT_USAGE;
	if (pipe2(p, O_CLOEXEC) != 0) {
		cli_error("cannot make a pipe: %s", strerror(errno));
		return EXIT_USAGE;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	r = posix_spawnp(&pid, "git", &fa, NULL, av, environ);
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
	git_progress(x, 1);
	if (pr) {
		cli_error("cannot scan the output of git %s: %s", x->o->staged ? "diff" : "log",
			  strerror(pr < 0 ? -pr : pr));
		return EXIT_USAGE;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_error("secrets scan-git: git %s failed in '%s' (is it a git repository%s?)",
			  x->o->staged ? "diff --cached" : "log", repo, optind < argc ? ", and a revision of it" : "");
		return x->o->exit_on_error;
	}
	if (report_finish(x->rep))
		return x->o->exit_on_error;
	return secrets_exit(x);
}
