#include "lib/compat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject/run.h"
#include "tests/unit/unit.h"

static struct run_env *env;

static void teardown(void)
{
	run_env_free(env);
	env = NULL;
}

static const char *find(const char *name)
{
	char *const *v = run_env_envp(env);
	size_t nl = strlen(name);

	for (; *v; v++)
		if (!strncmp(*v, name, nl) && (*v)[nl] == '=')
			return *v + nl + 1;
	return NULL;
}

START_TEST(test_env_drop_set_replace)
{
	const char *drop[] = { "CHECKRUN_DROP", "VAULT_TOKEN", NULL };

	setenv("CHECKRUN_DROP_ME", "x", 1);
	setenv("CHECKRUN_KEEP", "kept", 1);
	setenv("VAULT_TOKEN", "t", 1);
	env = run_env_new(drop);
	ck_assert_ptr_nonnull(env);
	ck_assert_ptr_null(find("CHECKRUN_DROP_ME"));
	ck_assert_ptr_null(find("VAULT_TOKEN"));
	ck_assert_str_eq(find("CHECKRUN_KEEP"), "kept");
	ck_assert_int_eq(run_env_set(env, "CHECKRUN_KEEP", "new\nvalue", 9), 0);
	ck_assert_str_eq(find("CHECKRUN_KEEP"), "new\nvalue");
	ck_assert_int_eq(run_env_set(env, "S", "", 0), 0);
	ck_assert_str_eq(find("S"), "");
	ck_assert_int_eq(run_env_set_plain(env, "P", "plain"), 0);
	ck_assert_str_eq(find("P"), "plain");
	ck_assert_int_eq(run_env_set(env, "N", "a\0b", 3), -EINVAL);
	ck_assert_int_eq(run_env_set(env, "A=B", "x", 1), -EINVAL);
	ck_assert_int_eq(run_env_set(env, "", "x", 1), -EINVAL);
	/* our own environment is unchanged */
	ck_assert_str_eq(getenv("CHECKRUN_KEEP"), "kept");
	ck_assert_str_eq(getenv("VAULT_TOKEN"), "t");
}
END_TEST

static int run(char *const argv[], int forward)
{
	struct run_opts o = { .forward = forward };
	int status, timed_out;
	pid_t pid;

	ck_assert_int_eq(run_spawn(argv[0], argv, run_env_envp(env), &o, &pid), 0);
	ck_assert_int_eq(run_wait(pid, &o, 0, &status, &timed_out), 0);
	ck_assert(!timed_out);
	return run_exit_code(status);
}

START_TEST(test_child_gets_env_and_exit_status)
{
	char *argv[] = { "sh", "-c", "[ \"$SECRET\" = 'v a l' ] && [ -z \"${DROPPED+x}\" ] && exit 23; exit 1",
			 NULL };
	const char *drop[] = { "DROPPED", NULL };

	setenv("DROPPED", "x", 1);
	env = run_env_new(drop);
	ck_assert_int_eq(run_env_set(env, "SECRET", "v a l", 5), 0);
	ck_assert_int_eq(run(argv, 1), 23);
	ck_assert_ptr_null(getenv("SECRET"));
}
END_TEST

START_TEST(test_missing_program)
{
	char *argv[] = { "harombe-no-such-program", NULL };
	struct run_opts o = { .forward = 1 };
	pid_t pid;
	sigset_t now;

	env = run_env_new(NULL);
	ck_assert_int_eq(run_spawn(argv[0], argv, run_env_envp(env), &o, &pid), -ENOENT);
	/* a failed spawn leaves our signal mask as it was */
	sigprocmask(SIG_SETMASK, NULL, &now);
	ck_assert(!sigismember(&now, SIGTERM));
	ck_assert(!sigismember(&now, SIGCHLD));
}
END_TEST

START_TEST(test_signal_exit_code)
{
	char *argv[] = { "sh", "-c", "kill -KILL $$", NULL };

	env = run_env_new(NULL);
	ck_assert_int_eq(run(argv, 1), 128 + SIGKILL);
}
END_TEST

/* A signal some process sends us reaches the child; we survive it. */
START_TEST(test_signals_forwarded)
{
	char dir[] = "/tmp/check_run.XXXXXX", script[512], ready[256];
	char *argv[] = { "sh", "-c", script, NULL };
	pid_t helper, self = getpid();
	sigset_t now;
	int st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(script, sizeof(script),
		 "trap 'exit 42' TERM; trap 'echo usr1 >> %s/got' USR1; : > %s; "
		 "i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; exit 9",
		 dir, ready);
	env = run_env_new(NULL);
	helper = fork();
	ck_assert_int_ge(helper, 0);
	if (helper == 0) {
		int i;

		for (i = 0; i < 1000 && access(ready, F_OK) != 0; i++)
			usleep(10000);
		kill(self, SIGUSR1);
		usleep(200000);
		kill(self, SIGTERM);
		_exit(0);
	}
	ck_assert_int_eq(run(argv, 1), 42);
	waitpid(helper, &st, 0);
	snprintf(script, sizeof(script), "grep -qx usr1 %s/got", dir);
	ck_assert_int_eq(system(script), 0);
	sigprocmask(SIG_SETMASK, NULL, &now);
	ck_assert(!sigismember(&now, SIGTERM));
	snprintf(script, sizeof(script), "rm -rf %s", dir);
	ck_assert_int_eq(system(script), 0);
}
END_TEST

START_TEST(test_timeout_kills_group)
{
	char *argv[] = { "sh", "-c", "sleep 30 & sleep 30; exit 0", NULL };
	struct run_opts o = { .new_pgroup = 1, .stdin_null = 1 };
	int status, timed_out, i;
	pid_t pid;

	env = run_env_new(NULL);
	ck_assert_int_eq(run_spawn(argv[0], argv, run_env_envp(env), &o, &pid), 0);
	ck_assert_int_eq(run_wait(pid, &o, 100, &status, &timed_out), 0);
	ck_assert(timed_out);
	ck_assert(WIFSIGNALED(status));
	/* the whole group got it: it empties (once init reaps the orphans) */
	for (i = 0; i < 500 && kill(-pid, 0) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(kill(-pid, 0), -1);
}
END_TEST

static Suite *run_suite(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("env");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_env_drop_set_replace);
	suite_add_tcase(s, tc);
	tc = tcase_create("spawn");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_child_gets_env_and_exit_status);
	tcase_add_test(tc, test_missing_program);
	tcase_add_test(tc, test_signal_exit_code);
	tcase_add_test(tc, test_signals_forwarded);
	tcase_add_test(tc, test_timeout_kills_group);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(run_suite)
