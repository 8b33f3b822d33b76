#include "lib/compat.h"
#include "inject/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/secbuf.h"

extern char **environ;

struct run_env {
	char **v;		/* NULL-terminated */
	struct secbuf **secret;	/* owner of v[i] when it holds a value */
	char **plain;		/* owner of v[i] when we built it in ordinary memory */
	size_t n, cap;
};

static int env_grow(struct run_env *e)
{
	size_t cap = e->cap ? e->cap * 2 : 64;
	char **v;
	struct secbuf **s;
	char **p;

	if (e->n + 1 < e->cap)
		return 0;
	v = realloc(e->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	e->v = v;
	s = realloc(e->secret, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	e->secret = s;
	p = realloc(e->plain, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->plain = p;
	e->cap = cap;
	return 0;
}

struct run_env *run_env_new(const char *const *drop)
{
	struct run_env *e = calloc(1, sizeof(*e));
	char **p;
	size_t k;

	if (!e || env_grow(e)) {
		run_env_free(e);
		return NULL;
	}
	for (p = environ; p && *p; p++) {
		for (k = 0; drop && drop[k]; k++)
			if (!strncmp(*p, drop[k], strlen(drop[k])))
				break;
		if (drop && drop[k])
			continue;
		if (env_grow(e)) {
			run_env_free(e);
			return NULL;
		}
		e->v[e->n] = *p;	/* borrowed: names and values we were given */
		e->secret[e->n] = NULL;
		e->plain[e->n] = NULL;
		e->n++;
	}
	e->v[e->n] = NULL;
	return e;
}

/* Index of NAME= in e, or e->n. */
static size_t env_find(const struct run_env *e, const char *name)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, nl) && e->v[i][nl] == '=')
			return i;
	return e->n;
}

static int env_put(struct run_env *e, const char *name, char *entry, struct secbuf *sb, char *heap)
{
	size_t i = env_find(e, name);

	if (i == e->n) {
		if (env_grow(e)) {
			secbuf_free(sb);
			free(heap);
			return -ENOMEM;
		}
		e->n++;
		e->v[e->n] = NULL;
	} else {
		secbuf_free(e->secret[i]);
		free(e->plain[i]);
	}
	e->v[i] = entry;
	e->secret[i] = sb;
	e->plain[i] = heap;
	return 0;
}

int run_env_set(struct run_env *e, const char *name, const void *value, size_t len)
{
	size_t nl = strlen(name);
	struct secbuf *sb;

	if (!nl || strchr(name, '=') || (len && memchr(value, 0, len)))
		return -EINVAL;
	if (!(sb = secbuf_new(nl + 1 + len)))
		return -ENOMEM;
	if (secbuf_append(sb, name, nl) || secbuf_putc(sb, '=') || secbuf_append(sb, value, len)) {
		secbuf_free(sb);
		return -ENOMEM;
	}
	return env_put(e, name, (char *)secbuf_str(sb), sb, NULL);
}

int run_env_set_plain(struct run_env *e, const char *name, const char *value)
{
	char *s;

	if (!*name || strchr(name, '='))
		return -EINVAL;
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	return env_put(e, name, s, NULL, s);
}

char *const *run_env_envp(const struct run_env *e)
{
	return e->v;
}

void run_env_free(struct run_env *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++) {
		secbuf_free(e->secret[i]);
		free(e->plain[i]);
	}
	free(e->v);
	free(e->secret);
	free(e->plain);
	free(e);
}

/* ---- spawning and waiting ---- */

static const int forwarded[] = RUN_FORWARDED;
static sigset_t saved_mask;	/* the caller's mask while a child runs: one at a time */

static void wait_set(const struct run_opts *o, sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (i = 0; o->forward && i < ARRAY_SIZE(forwarded); i++)
		sigaddset(set, forwarded[i]);
}

int run_spawn(const char *file, char *const argv[], char *const envp[], const struct run_opts *o,
	      pid_t *pid)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t block, def;
	size_t i;
	int r;

	*pid = -1;
	/* What we printed comes before what the child prints. */
	fflush(NULL);
	wait_set(o, &block);
	sigemptyset(&def);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGPIPE);
	for (i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&def, forwarded[i]);
	if ((r = pthread_sigmask(SIG_BLOCK, &block, &saved_mask)))
		return -r;
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_init(&fa);
	/* The child starts with the caller's own mask and default actions. */
	posix_spawnattr_setsigmask(&attr, &saved_mask);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					       (o->new_pgroup ? POSIX_SPAWN_SETPGROUP : 0));
	if (o->new_pgroup)
		posix_spawnattr_setpgroup(&attr, 0);
	if (o->stdin_null)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	r = strchr(file, '/') ? posix_spawn(pid, file, &fa, &attr, argv, envp)
			      : posix_spawnp(pid, file, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r) {
		pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
		*pid = -1;
		return -r;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int run_wait(pid_t pid, const struct run_opts *o, uint64_t timeout_ms, int *status, int *timed_out)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int64_t deadline = timeout_ms ? now_ms() + (int64_t)timeout_ms : -1;
	pid_t target = o->new_pgroup ? -pid : pid;
	int sfd, r = 0, stage = 0;

	*timed_out = 0;
	wait_set(o, &set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		/* Never leave the child unwaited for (no forwarding, no deadline). */
		pid_t w;

		while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR)
			;
		r = w == pid ? 0 : -errno;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { sfd, POLLIN, 0 };
		pid_t w = waitpid(pid, status, WNOHANG);
		int wait_for = -1;

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0) {
				/* Past the deadline: ask, then insist. */
				*timed_out = 1;
				kill(target, stage ? SIGKILL : SIGTERM);
				deadline = stage ? -1 : now_ms() + 5000;
				stage = 1;
				continue;
			}
			wait_for = left > 60000 ? 60000 : (int)left;
		}
		if (poll(&pfd, 1, wait_for) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			/* ssi_code <= 0: sent by a process (kill, sigqueue, tgkill);
			 * SI_KERNEL: the terminal, which signalled the child too. */
			if (si.ssi_signo != SIGCHLD && o->forward && si.ssi_code <= 0)
				kill(pid, (int)si.ssi_signo);
		}
	}
	/* What is still pending was meant for a child that is gone. */
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	close(sfd);
out:
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	return r;
}

int run_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}
