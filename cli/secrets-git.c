/* harombe secrets scan-git: the lines added by the last commits, read
 * from `git log -p -U0` (a small diff parser) into locked memory. */
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

	if (len && x->path)
		r = scan_buffer(x->s, d, len, NULL, secrets_on_scan_finding, x);
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

int secrets_scan_git(struct ctx *x)
{
	char ncommits[32];
	char *argv[] = { "git", "-C", (char *)(x->o->repo ? x->o->repo : "."), "-c", "core.quotePath=false",
			 "log", "-p", "--no-color", "--no-ext-diff", "--no-textconv", "-U0", "--format=commit %H",
			 ncommits, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status, r, pr;
	pid_t pid;

	snprintf(ncommits, sizeof(ncommits), "-n%lu", x->o->commits ? x->o->commits : 10);
	if (report_new(secrets_report_format(x->c), x->s, stdout, isatty(1), &x->rep))
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
