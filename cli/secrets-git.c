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

/* Added lines of one hunk, in locked memory, scanned as one text. */
static int git_hunk_done(struct ctx *x, struct secbuf *acc)
{
	size_t len;
	const unsigned char *d = secbuf_data(acc, &len);
	int r = 0;

	if (len && x->path) {
		r = scan_buffer(x->s, d, len, NULL, secrets_on_scan_finding, x);
		if (!r)
			r = secrets_found_flush(x, d, len, -1);
		x->n_pend = 0;
	}
	secbuf_clear(acc);
	return r;
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
 * added lines of a hunk in acc (locked). */
static int git_line(struct ctx *x, const unsigned char *l, size_t ll, struct secbuf *acc, char **commit,
		    char **path, int *in_hunk)
{
	int r;

	if (ll > 7 && !memcmp(l, "commit ", 7)) {
		if ((r = git_hunk_done(x, acc)))
			return r;
		*in_hunk = 0;
		set_str(commit, l + 7, ll - 7);
		x->commit = *commit;
		x->n_commits++;
		git_progress(x, 0);
	} else if (ll >= 4 && !memcmp(l, "+++ ", 4)) {
		if ((r = git_hunk_done(x, acc)))
			return r;
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
		if ((r = git_hunk_done(x, acc)))
			return r;
		*in_hunk = 0;
		free(*path);
		*path = NULL;
		x->path = NULL;
	} else if (ll > 3 && !memcmp(l, "@@ ", 3)) {
		const char *plus = memchr(l, '+', ll);
		unsigned long long first = plus ? strtoull(plus + 1, NULL, 10) : 1;

		if ((r = git_hunk_done(x, acc)))
			return r;
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
