#include "lib/compat.h"

#include <stdio.h>
#include <string.h>

#include "lib/credshape.h"
#include "lib/names.h"
#include "tests/unit/unit.h"

START_TEST(test_container_names)
{
	char long_name[80];

	ck_assert_ptr_null(names_check_container("browser"));
	ck_assert_ptr_null(names_check_container("code_exec"));
	ck_assert_ptr_null(names_check_container("web-search.v2"));
	ck_assert_ptr_nonnull(names_check_container(""));
	ck_assert_ptr_nonnull(names_check_container("."));
	ck_assert_ptr_nonnull(names_check_container(".."));
	ck_assert_ptr_nonnull(names_check_container("a/b"));
	ck_assert_ptr_nonnull(names_check_container("-x"));
	ck_assert_ptr_nonnull(names_check_container("a b"));
	memset(long_name, 'a', 65);
	long_name[65] = 0;
	ck_assert_ptr_nonnull(names_check_container(long_name));
}
END_TEST

START_TEST(test_env_names)
{
	ck_assert_ptr_null(names_check_env("GITHUB_TOKEN"));
	ck_assert_ptr_null(names_check_env("_x1"));
	ck_assert_ptr_nonnull(names_check_env("1X"));
	ck_assert_ptr_nonnull(names_check_env("A-B"));
	ck_assert_ptr_nonnull(names_check_env("A.B"));
	ck_assert_ptr_nonnull(names_check_env(""));
	ck_assert_ptr_nonnull(names_check_env("A=B"));
}
END_TEST

START_TEST(test_keys)
{
	ck_assert_ptr_null(names_check_key("github/token"));
	ck_assert_ptr_null(names_check_key("aws/harombe/access-key"));
	ck_assert_ptr_null(names_check_key("db/creds#password"));
	ck_assert_ptr_null(names_check_key("token"));
	ck_assert_ptr_null(names_check_key("a.b/c..d"));
	ck_assert_ptr_nonnull(names_check_key(""));
	ck_assert_ptr_nonnull(names_check_key("a//b"));
	ck_assert_ptr_nonnull(names_check_key("a/../b"));
	ck_assert_ptr_nonnull(names_check_key(".."));
	ck_assert_ptr_nonnull(names_check_key("./a"));
	ck_assert_ptr_nonnull(names_check_key("/a"));
	ck_assert_ptr_nonnull(names_check_key("a/"));
	ck_assert_ptr_nonnull(names_check_key("a#"));
	ck_assert_ptr_nonnull(names_check_key("#f"));
	ck_assert_ptr_nonnull(names_check_key("a#b#c"));
	ck_assert_ptr_nonnull(names_check_key("a\nb"));
}
END_TEST

/* Tokens are assembled at run time so that this file holds none. */
static const char *shape(const char *a, const char *b)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", a, b);
	return credshape_known(buf, strlen(buf));
}

START_TEST(test_known_shapes)
{
	ck_assert_str_eq(shape("ghp_", "aBcDeFgHiJkLmNoPqRsTuVwXyZ123456"), "GitHub token");
	ck_assert_str_eq(shape("xoxb-", "123456789012-abcdefgh"), "Slack token");
	ck_assert_str_eq(shape("AKIA", "IOSFODNN7EXAMPLE"), "AWS access key");
	ck_assert_str_eq(shape("sk_live_", "abcdefgh1234"), "Stripe key");
	ck_assert_str_eq(shape("sk-", "proj-abcdefghijklmnop"), "API key");
	ck_assert_str_eq(shape("postgresql://user:", "pass@localhost:5432/db"), "URL with a password");
	ck_assert_str_eq(shape("eyJhbGciOiJIUzI1NiJ9.", "eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"), "JSON Web Token");
	ck_assert_str_eq(shape("-----BEGIN OPENSSH ", "PRIVATE KEY-----"), "private key");
	ck_assert_ptr_null(shape("github/", "token"));
	ck_assert_ptr_null(shape("https://vault.company.com", ":8200"));
	ck_assert_ptr_null(shape("postgresql://user:", "${PASSWORD}@db/x"));
	ck_assert_ptr_null(shape("task", "_ghp_x"));		/* too short, not at a boundary */
	ck_assert_ptr_null(shape("harombe/", "browser:latest"));
	ck_assert_ptr_null(shape("security@", "company.com"));
}
END_TEST

START_TEST(test_value_context)
{
	ck_assert_ptr_nonnull(credshape_value("password", "correcthorse", 12, 0));
	ck_assert_ptr_nonnull(credshape_value("DB_PASSWORD", "correcthorse", 12, 1));
	ck_assert_ptr_null(credshape_value("password", "short", 5, 0));
	ck_assert_ptr_null(credshape_value("vault_token", "~/.vault-token", 14, 0));
	ck_assert_ptr_null(credshape_value("secret_prefix", "HAROMBE_SECRET_", 15, 0));
	ck_assert_ptr_null(credshape_value("auto_renew", "true", 4, 0));
	ck_assert_ptr_null(credshape_value("token", "true", 4, 0));
	ck_assert_ptr_nonnull(credshape_value("FOO", "q8Zr2LmT0vXk9PbW3sYhN5aJc7EgUdRf", 32, 1));
	ck_assert_ptr_null(credshape_value("FOO", "q8Zr2LmT0vXk9PbW3sYhN5aJc7EgUdRf", 32, 0));
	ck_assert_ptr_null(credshape_value("SHA", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", 40, 1));
	ck_assert_ptr_null(credshape_value("ID", "123e4567-e89b-12d3-a456-426614174000", 36, 1));
}
END_TEST

START_TEST(test_entropy)
{
	ck_assert(credshape_entropy("aaaa", 4) == 0.0);
	ck_assert(credshape_entropy("abcd", 4) == 2.0);
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("check");

	tcase_add_test(tc, test_container_names);
	tcase_add_test(tc, test_env_names);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_known_shapes);
	tcase_add_test(tc, test_value_context);
	tcase_add_test(tc, test_entropy);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(names_suite)
