#include "lib/compat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz-common.h"
#include "tests/unit/unit.h"

/*
 * Replays every input in tests/fuzz/regressions/<target>/ through the
 * fuzz target's body (tests/fuzz/fuzz-common.h), plus every fixture: an
 * input that once crashed a parser must keep passing.
 */

static size_t replay_dir(const char *dir, void (*fn)(const char *, const unsigned char *, size_t))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[1024];
		FILE *f;
		unsigned char *buf;
		long len;

		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (!(f = fopen(path, "rb")))
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = malloc((size_t)len + 1);
		ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		fn(e->d_name, buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void as_json(const char *n, const unsigned char *p, size_t len) { (void)n; fuzz_sops(SOPS_FMT_JSON, p, len); }
static void as_yaml(const char *n, const unsigned char *p, size_t len) { (void)n; fuzz_sops(SOPS_FMT_YAML, p, len); }
static void as_dotenv(const char *n, const unsigned char *p, size_t len) { (void)n; fuzz_sops(SOPS_FMT_DOTENV, p, len); }
static void as_ini(const char *n, const unsigned char *p, size_t len) { (void)n; fuzz_sops(SOPS_FMT_INI, p, len); }
static void as_age(const char *n, const unsigned char *p, size_t len) { (void)n; fuzz_age(p, len); }

static void by_ext(const char *n, const unsigned char *p, size_t len)
{
	const char *dot = strrchr(n, '.');

	if (!dot)
		return;
	if (!strcmp(dot, ".json") || !strcmp(dot, ".txt"))
		as_json(n, p, len);
	else if (!strcmp(dot, ".yaml"))
		as_yaml(n, p, len);
	else if (!strcmp(dot, ".ini"))
		as_ini(n, p, len);
}

START_TEST(test_regressions)
{
	replay_dir("tests/fuzz/regressions/sops_json", as_json);
	replay_dir("tests/fuzz/regressions/sops_yaml", as_yaml);
	replay_dir("tests/fuzz/regressions/sops_dotenv", as_dotenv);
	replay_dir("tests/fuzz/regressions/sops_ini", as_ini);
	replay_dir("tests/fuzz/regressions/age", as_age);
}
END_TEST

START_TEST(test_fixtures_through_fuzz_bodies)
{
	ck_assert_uint_ge(replay_dir("tests/fixtures/sops", by_ext), 5);
	ck_assert_uint_ge(replay_dir("tests/fixtures/sops/negative", by_ext), 6);
	ck_assert_uint_ge(replay_dir("tests/fixtures/age-vectors/testdata", as_age), 140);
}
END_TEST

static Suite *regress_suite(void)
{
	Suite *s = suite_create("fuzz-regressions");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_regressions);
	tcase_add_test(tc, test_fixtures_through_fuzz_bodies);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(regress_suite)
