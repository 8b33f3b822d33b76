#include "lib/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/trust.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

/* The tests run as root: files are made another uid's with chown. */
static char dir[] = "/tmp/harombe-trust-XXXXXX";
static char file[300];

static void setup(void)
{
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/harombe.yaml", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int check_fd(struct why *why)
{
	int fd = open(file, O_RDONLY), r;

	ck_assert_int_ge(fd, 0);
	r = trust_check_fd(fd, file, "harombe.yaml", why);
	close(fd);
	return r;
}

START_TEST(test_good_file_accepted)
{
	struct why why = WHY_INIT;

	ck_assert_int_eq(check_fd(&why), 0);
	ck_assert_int_eq(trust_check_path(file, "harombe.yaml", &why), 0);
	ck_assert_str_eq(why.msg, "");
}
END_TEST

START_TEST(test_world_writable_file_refused)
{
	struct why why = WHY_INIT;
	char want[1000];

	ck_assert_int_eq(chmod(file, 0666), 0);
	ck_assert_int_eq(check_fd(&why), -EPERM);
	snprintf(want, sizeof(want), "harombe.yaml: refusing '%s': writable by group and others (mode 0666); "
		 "chmod go-w '%s'", file, file);
	ck_assert_str_eq(why.msg, want);
	ck_assert_int_eq(chmod(file, 0620), 0);
	ck_assert_int_eq(trust_check_path(file, "harombe.yaml", &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why.msg, "writable by group (mode 0620); chmod g-w"));
}
END_TEST

START_TEST(test_other_owner_refused)
{
	struct why why = WHY_INIT;

	ck_assert_int_eq(chown(file, 1000, 1000), 0);
	ck_assert_int_eq(check_fd(&why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why.msg, "owned by uid 1000, not root; chown root"));
}
END_TEST

START_TEST(test_directory_above_refused)
{
	struct why why = WHY_INIT;
	char want[1200];

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(check_fd(&why), -EPERM);
	snprintf(want, sizeof(want), "harombe.yaml: refusing '%s': its directory '%s' is writable by group "
		 "and others (mode 0777); chmod go-w '%s'", file, dir, dir);
	ck_assert_str_eq(why.msg, want);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(chown(dir, 1000, 1000), 0);
	ck_assert_int_eq(trust_check_path(file, "harombe.yaml", &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why.msg, "its directory"));
	ck_assert_ptr_nonnull(strstr(why.msg, "is owned by uid 1000"));
}
END_TEST

START_TEST(test_sticky_root_dir_above_accepted)
{
	struct why why = WHY_INIT;
	char sub[400], f2[500];
	struct stat st;
	int fd;

	/* /tmp is 1777 and root's: a file in a 0700 directory below it is fine. */
	ck_assert_int_eq(stat("/tmp", &st), 0);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	snprintf(sub, sizeof(sub), "%s/keys", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(f2, sizeof(f2), "%s/keys.txt", sub);
	fd = open(f2, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(trust_check_path(f2, "age key file", &why), 0);
	/* A sticky directory that is not root's is no shelter. */
	ck_assert_int_eq(chown(dir, 1000, 1000), 0);
	ck_assert_int_eq(trust_check_path(f2, "age key file", &why), -EPERM);
}
END_TEST

START_TEST(test_relative_and_symlinked_paths)
{
	struct why why = WHY_INIT;
	char link[400], cwd[4096];

	/* A symlink is judged where it leads. */
	snprintf(link, sizeof(link), "%s/link.yaml", dir);
	ck_assert_int_eq(symlink(file, link), 0);
	ck_assert_int_eq(trust_check_path(link, "harombe.yaml", &why), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(trust_check_path("harombe.yaml", "harombe.yaml", &why), 0);
	ck_assert_int_eq(chmod(".", 0770), 0);
	ck_assert_int_eq(trust_check_path("harombe.yaml", "harombe.yaml", &why), -EPERM);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(trust_check_path("/nonexistent/x", "harombe.yaml", &why), -ENOENT);
}
END_TEST

static Suite *trust_suite(void)
{
	Suite *s = suite_create("trust");
	TCase *tc = tcase_create("trust_check");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good_file_accepted);
	tcase_add_test(tc, test_world_writable_file_refused);
	tcase_add_test(tc, test_other_owner_refused);
	tcase_add_test(tc, test_directory_above_refused);
	tcase_add_test(tc, test_sticky_root_dir_above_accepted);
	tcase_add_test(tc, test_relative_and_symlinked_paths);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(trust_suite)
