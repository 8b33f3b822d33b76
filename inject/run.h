#ifndef RUN_H
#define RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Starting a program with secrets in its environment, and nowhere else.
 *
 * The environment is built as an array whose secret entries ("NAME=value")
 * live in locked memory.  run_spawn() starts the program with
 * posix_spawn(), which shares our memory until the child has called
 * execve(): the kernel copies the strings into the new program, and no
 * forked copy of them ever exists (the locked arena is MADV_WIPEONFORK, so
 * a fork() would hand the child zeros anyway).  The caller frees the
 * environment right after, which wipes it.
 */

struct run_env;

/* A new environment holding a copy of ours, without the variables whose
 * names start with one of drop[] (NULL-ended; may be NULL): the credentials
 * harombe itself reads, such as VAULT_TOKEN.  NULL on ENOMEM. */
struct run_env *run_env_new(const char *const *drop);
/* Set NAME=value, replacing an inherited NAME.  The entry is built in
 * locked memory.  0, -EINVAL (name not a variable name) or -ENOMEM. */
int run_env_set(struct run_env *e, const char *name, const void *value, size_t len);
/* The same for a value that is not secret (ordinary memory). */
int run_env_set_plain(struct run_env *e, const char *name, const char *value);
/* NULL-terminated, valid until the next change or run_env_free(). */
char *const *run_env_envp(const struct run_env *e);
void run_env_free(struct run_env *e);	/* wipes the secret entries; NULL-safe */

/* Signals that run_wait() passes on to the child when some process sends
 * them to us (a terminal's ^C already reaches the child's process group,
 * so that one is not sent twice). */
#define RUN_FORWARDED { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM }

struct run_opts {
	int new_pgroup;		/* the child leads its own process group (hooks) */
	int stdin_null;		/* stdin from /dev/null */
	int forward;		/* forward RUN_FORWARDED signals while waiting */
};

/*
 * Start file (searched in PATH when it has no '/') with argv and envp.
 * While forwarding, the forwarded signals are blocked in the caller from
 * here until run_wait() returns, so none is lost before the child exists.
 * 0 and *pid, or -errno (ENOENT: no such program; EACCES: not executable).
 */
int run_spawn(const char *file, char *const argv[], char *const envp[], const struct run_opts *o,
	      pid_t *pid);

/*
 * Wait for pid.  timeout_ms 0: no limit; else at the deadline the child's
 * process group (or the child) gets SIGTERM, and SIGKILL 5 s later.
 * 0 and *status (as from waitpid), *timed_out set; or -errno.
 */
int run_wait(pid_t pid, const struct run_opts *o, uint64_t timeout_ms, int *status, int *timed_out);

/* The exit status a shell would report: the code, or 128 + signal. */
int run_exit_code(int status);

#endif
