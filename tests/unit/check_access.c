#include "lib/compat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/access.h"
#include "inject/view.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

START_TEST(test_cgroup_parse_v2)
{
	char buf[256];

	ck_assert_int_eq(access_cgroup_parse("0::/system.slice/docker-ab12.scope\n", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/system.slice/docker-ab12.scope");
}
END_TEST

START_TEST(test_cgroup_parse_hybrid_prefers_v1_when_v2_is_root)
{
	static const char t[] = "12:pids:/docker/x\n1:name=systemd:/system.slice/docker-ab.scope\n0::/\n";
	char buf[256];

	ck_assert_int_eq(access_cgroup_parse(t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/system.slice/docker-ab.scope");
	ck_assert_int_eq(access_cgroup_parse("1:name=systemd:/a\n0::/b\n", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/b");
	ck_assert_int_eq(access_cgroup_parse("4:memory:/x\n1:name=systemd:/user.slice\n", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/user.slice");
	ck_assert_int_eq(access_cgroup_parse("4:memory:/x\n", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(access_cgroup_parse("", buf, sizeof(buf)), -ENOENT);
}
END_TEST

START_TEST(test_cgroup_match)
{
	ck_assert(access_cgroup_match("/system.slice/docker-*.scope", "/system.slice/docker-ab.scope"));
	ck_assert(access_cgroup_match("/system.slice/docker-*.scope", "/system.slice/docker-ab.scope/init"));
	ck_assert(!access_cgroup_match("/system.slice/docker-*.scope", "/system.slice/sshd.service"));
	ck_assert(!access_cgroup_match("/system.slice/docker-*.scope", "/user.slice/docker-ab.scope"));
	/* '*' does not cross '/' */
	ck_assert(!access_cgroup_match("/a/*", "/b/a/x"));
	ck_assert(access_cgroup_match("/", "/anything"));
}
END_TEST

START_TEST(test_cgroup_of_self)
{
	char buf[4096];

	ck_assert_int_eq(access_cgroup_of(getpid(), buf, sizeof(buf)), 0);
	ck_assert_int_eq(buf[0], '/');
	ck_assert_int_lt(access_cgroup_of(0x7ffffff0, buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(test_check_uid_gid)
{
	struct view v = { .container = "b", .uid = 1000, .gid = 1000 };
	struct caller c = { .pid = getpid(), .uid = 1000, .gid = 50 };
	gid_t groups[2] = { 7, 1000 };
	struct why why = WHY_INIT;

	ck_assert_int_eq(access_check(&v, &c, &why), 0);	/* gid not configured */
	v.gid_set = 1;
	ck_assert_int_eq(access_check(&v, &c, &why), -EACCES);
	ck_assert_ptr_nonnull(strstr(why.msg, "gid 50 is not group 1000"));
	c.groups = groups;
	c.ngroups = 2;
	ck_assert_int_eq(access_check(&v, &c, &why), 0);	/* supplementary */
	c.uid = 0;
	ck_assert_int_eq(access_check(&v, &c, &why), -EACCES);	/* root is not the owner */
	ck_assert_ptr_nonnull(strstr(why.msg, "uid 0 is not the owner (uid 1000)"));
}
END_TEST

START_TEST(test_check_cgroup)
{
	char mine[4096], pat[4200];
	struct why why = WHY_INIT;
	struct view v = { .container = "b", .uid = 0 };
	struct caller c = { .pid = getpid(), .uid = 0 };

	ck_assert_int_eq(access_cgroup_of(getpid(), mine, sizeof(mine)), 0);
	snprintf(pat, sizeof(pat), "%s", mine);
	v.cgroup = pat;
	ck_assert_int_eq(access_check(&v, &c, &why), 0);
	v.cgroup = "/no/such/cgroup-*";
	ck_assert_int_eq(access_check(&v, &c, &why), -EACCES);
	ck_assert_ptr_nonnull(strstr(why.msg, "does not match /no/such/cgroup-*"));
	c.pid = 0;	/* not visible from our pid namespace */
	ck_assert_int_eq(access_check(&v, &c, &why), -EACCES);
}
END_TEST

START_TEST(test_status_parse)
{
	pid_t tracer = -1;
	int admin = -1;

	ck_assert_int_eq(access_status_parse("Name:\tx\nTracerPid:\t0\nCapEff:\t0000000000000000\n",
					     &tracer, &admin), 0);
	ck_assert_int_eq(tracer, 0);
	ck_assert_int_eq(admin, 0);
	ck_assert_int_eq(access_status_parse("Name:\tx\nTracerPid:\t4242\nCapEff:\t000001ffffffffff\n",
					     &tracer, &admin), 0);
	ck_assert_int_eq(tracer, 4242);
	ck_assert_int_eq(admin, 1);
	ck_assert_int_eq(access_status_parse("Name:\tx\nCapEff:\t0\n", &tracer, &admin), -EINVAL);
	ck_assert_int_eq(access_status_of(getpid(), &tracer, &admin), 0);
	ck_assert_int_eq(tracer, 0);
}
END_TEST

START_TEST(test_command_of)
{
	char buf[64];

	access_command_of(getpid(), buf, sizeof(buf));
	ck_assert_str_eq(buf, "check_access");
	access_command_of(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
}
END_TEST

/* The descriptors access.c keeps for a caller read the task as it is now,
 * and nothing once it is gone. */
START_TEST(test_command_of_follows_the_task)
{
	char buf[64];
	int go[2], ready[2], i;
	pid_t kid;

	access_command_of(getpid(), buf, sizeof(buf));
	ck_assert_str_eq(buf, "check_access");
	prctl(PR_SET_NAME, "renamed", 0, 0, 0);
	access_command_of(getpid(), buf, sizeof(buf));
	ck_assert_str_eq(buf, "renamed");

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		char c;

		prctl(PR_SET_NAME, "kid-before", 0, 0, 0);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	ck_assert_int_eq(read(ready[0], buf, 1), 1);
	access_command_of(kid, buf, sizeof(buf));
	ck_assert_str_eq(buf, "kid-before");
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	for (i = 0; i < 500; i++) {	/* the exec: up to 5 s */
		struct timespec ts = { 0, 10000000 };

		access_command_of(kid, buf, sizeof(buf));
		if (!strcmp(buf, "sleep"))
			break;
		nanosleep(&ts, NULL);
	}
	ck_assert_str_eq(buf, "sleep");
	kill(kid, SIGKILL);
	ck_assert_int_eq(waitpid(kid, NULL, 0), kid);
	access_command_of(kid, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
	/* a caller in the same slot takes it over; the first reads again */
	access_command_of(getpid() + 32, buf, sizeof(buf));
	access_command_of(getpid(), buf, sizeof(buf));
	ck_assert_str_eq(buf, "renamed");
}
END_TEST

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("caller");

	tcase_add_test(tc, test_cgroup_parse_v2);
	tcase_add_test(tc, test_cgroup_parse_hybrid_prefers_v1_when_v2_is_root);
	tcase_add_test(tc, test_cgroup_match);
	tcase_add_test(tc, test_cgroup_of_self);
	tcase_add_test(tc, test_check_uid_gid);
	tcase_add_test(tc, test_check_cgroup);
	tcase_add_test(tc, test_status_parse);
	tcase_add_test(tc, test_command_of);
	tcase_add_test(tc, test_command_of_follows_the_task);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(access_suite)
