#include "lib/compat.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/control.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static char dir[64], path[128];
static struct control *ctl;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char seen[8][64];
static int nseen;

static void record(const char *key, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	if (nseen < 8)
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", key ? key : "(all)");
	pthread_mutex_unlock(&lock);
}

static void setup(void)
{
	struct why err = WHY_INIT;

	snprintf(dir, sizeof(dir), "/tmp/check_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mnt.ctl", dir);
	nseen = 0;
	ck_assert_int_eq(control_start(path, record, NULL, &ctl, &err), 0);
}

static void teardown(void)
{
	control_stop(ctl);
	ctl = NULL;
	rmdir(dir);
}

START_TEST(test_path)
{
	char buf[CONTROL_PATH_MAX];

	ck_assert_int_eq(control_path("/run/harombe", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/harombe.ctl");
	ck_assert_int_eq(control_path("/run/harombe//", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/harombe.ctl");
	ck_assert_int_eq(control_path("relative", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(control_path("/", buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_forget_keys_and_all)
{
	const char *keys[] = { "github/token", "db/creds#password" };
	struct stat st;
	struct why why = WHY_INIT;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(control_forget(path, keys, 2, &why), 0);
	ck_assert_int_eq(control_forget(path, NULL, 0, &why), 0);
	ck_assert_int_eq(nseen, 3);
	ck_assert_str_eq(seen[0], "github/token");
	ck_assert_str_eq(seen[1], "db/creds#password");
	ck_assert_str_eq(seen[2], "(all)");
}
END_TEST

START_TEST(test_unknown_request_and_no_daemon)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char reply[128] = "";
	struct why why = WHY_INIT;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ssize_t n;

	memcpy(sa.sun_path, path, strlen(path));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, "reveal x", 8, 0), 8);
	n = recv(fd, reply, sizeof(reply) - 1, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(reply, "error: unknown request (forget KEY, forget-all, leases, ping)");
	close(fd);
	ck_assert_int_eq(nseen, 0);

	control_stop(ctl);
	ctl = NULL;
	ck_assert_int_eq(access(path, F_OK), -1);	/* removed on stop */
	ck_assert_int_eq(control_forget(path, NULL, 0, &why), -ENOENT);
}
END_TEST

static void two_leases(backend_lease_fn *each, void *each_arg, void *arg)
{
	(void)arg;
	each("web", "database/creds/readonly", 42, 3, 1, each_arg);
	each("", "aws/creds/deploy", 7, 0, 12, each_arg);
}

START_TEST(test_leases)
{
	struct why why = WHY_INIT;
	char *text = NULL;

	ck_assert_int_eq(control_leases(path, &text, &why), 0);
	ck_assert_str_eq(text, "");	/* no lease source yet */
	free(text);
	control_set_leases(ctl, two_leases, NULL);
	ck_assert_int_eq(control_leases(path, &text, &why), 0);
	ck_assert_str_eq(text, "web\tdatabase/creds/readonly\t42\t3\t1\n\taws/creds/deploy\t7\t0\t12\n");
	free(text);
	control_stop(ctl);
	ctl = NULL;
	ck_assert_int_eq(control_leases(path, &text, &why), -ENOENT);
	ck_assert_ptr_null(text);
}
END_TEST

/* Past the file mode (opened up here on purpose), the peer's uid decides. */
START_TEST(test_other_uid_refused)
{
	const char *keys[] = { "a/b" };
	pid_t pid;
	int st;

	if (geteuid() != 0)
		ck_abort_msg("this test needs root (it drops to uid 1000)");
	ck_assert_int_eq(chmod(path, 0666), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct why why = WHY_INIT;

		if (setgid(1000) || setuid(1000))
			_exit(10);
		_exit(control_forget(path, keys, 1, &why) == -EACCES ? 0 : 11);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(nseen, 0);
}
END_TEST

START_TEST(test_live_socket_not_replaced)
{
	struct control *second = NULL;
	struct why err = WHY_INIT;

	ck_assert_int_eq(control_start(path, record, NULL, &second, &err), -EALREADY);
	ck_assert_ptr_nonnull(strstr(err.msg, "another harombefs listens on"));
	ck_assert_ptr_null(second);
}
END_TEST

/* A squatter: uid 1000 binds a socket at sq before any daemon and
 * answers "ok" to everything.  Its pid; it ends when killed. */
static pid_t squat(const char *sq, int ready[2], int bind_as_root)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256];
		int fd, c;

		memcpy(sa.sun_path, sq, strlen(sq));
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		/* bind_as_root: the file is root's, but the listener (whose
		 * credentials SO_PEERCRED reports, taken at listen()) is not. */
		if (fd < 0 || (bind_as_root && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) ||
		    setgid(1000) || setuid(1000))
			_exit(10);
		if ((!bind_as_root && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) || listen(fd, 4))
			_exit(11);
		(void)!write(ready[1], "r", 1);
		for (;;) {
			if ((c = accept(fd, NULL, NULL)) < 0)
				continue;
			while (recv(c, buf, sizeof(buf), 0) > 0)
				(void)!send(c, "ok", 2, MSG_NOSIGNAL);
			close(c);
		}
	}
	return pid;
}

START_TEST(test_impostor_detected_and_squatted_path_refused)
{
	const char *keys[] = { "a/b" };
	struct control *mine = NULL;
	struct why why = WHY_INIT;
	char sq[160], r;
	int ready[2], st;
	pid_t pid;

	if (geteuid() != 0)
		ck_abort_msg("this test needs root (the squatter is uid 1000)");
	/* The squatter needs a directory it can write: the test's, opened up. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	snprintf(sq, sizeof(sq), "%s/sq.ctl", dir);
	ck_assert_int_eq(pipe(ready), 0);
	pid = squat(sq, ready, 0);
	ck_assert_int_eq(read(ready[0], &r, 1), 1);
	/* The client believes nothing from it ... */
	ck_assert_int_eq(control_forget(sq, keys, 1, &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why.msg, "belongs to uid 1000"));
	/* ... and a daemon will not start there. */
	ck_assert_int_eq(control_start(sq, record, NULL, &mine, &why), -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(why.msg, "taken by uid 1000"));
	ck_assert_ptr_nonnull(strstr(why.msg, "refusing to start"));
	ck_assert_ptr_null(mine);
	ck_assert_int_eq(nseen, 0);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	unlink(sq);

	/* A socket file of root's with a listener that is not. */
	pid = squat(sq, ready, 1);
	ck_assert_int_eq(read(ready[0], &r, 1), 1);
	ck_assert_int_eq(control_forget(sq, keys, 1, &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why.msg, "runs as uid 1000"));
	ck_assert_ptr_nonnull(strstr(why.msg, "not harombefs"));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	unlink(sq);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("socket");

	tcase_add_test(tc, test_path);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_forget_keys_and_all);
	tcase_add_test(tc, test_unknown_request_and_no_daemon);
	tcase_add_test(tc, test_leases);
	tcase_add_test(tc, test_other_uid_refused);
	tcase_add_test(tc, test_live_socket_not_replaced);
	tcase_add_test(tc, test_impostor_detected_and_squatted_path_refused);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(control_suite)
