#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/vault-internal.h"
#include "lib/config.h"
#include "tests/unit/unit.h"

START_TEST(test_key_parse)
{
	struct vault_key k;
	struct backend_why why = { "" };

	ck_assert_int_eq(vault_key_parse("github/token", &k, &why), 0);
	ck_assert_str_eq(k.path, "github/token");
	ck_assert_str_eq(k.field, "");
	ck_assert_int_eq(k.version, 0);

	ck_assert_int_eq(vault_key_parse("db/main#password", &k, &why), 0);
	ck_assert_str_eq(k.path, "db/main");
	ck_assert_str_eq(k.field, "password");

	ck_assert_int_eq(vault_key_parse("db/main@3#user", &k, &why), 0);
	ck_assert_str_eq(k.path, "db/main");
	ck_assert_str_eq(k.field, "user");
	ck_assert_int_eq(k.version, 3);

	ck_assert_int_eq(vault_key_parse("a/b?version=12", &k, &why), 0);
	ck_assert_str_eq(k.path, "a/b");
	ck_assert_int_eq(k.version, 12);

	/* '@' not followed by digits only is part of the path */
	ck_assert_int_eq(vault_key_parse("users/me@example.com", &k, &why), 0);
	ck_assert_str_eq(k.path, "users/me@example.com");
	ck_assert_int_eq(k.version, 0);
	/* '#' in a field name is refused by names_check_key before; here the
	 * field is everything after the first '#' */
	ck_assert_int_eq(vault_key_parse("a#b@2", &k, &why), 0);
	ck_assert_str_eq(k.field, "b@2");
	ck_assert_int_eq(k.version, 0);
}
END_TEST

START_TEST(test_key_parse_errors)
{
	struct vault_key k;
	struct backend_why why = { "" };

	ck_assert_int_eq(vault_key_parse("a@0", &k, &why), -BACKEND_EINVAL);
	ck_assert(strstr(why.msg, "versions start at 1"));
	ck_assert_int_eq(vault_key_parse("a?version=x", &k, &why), -BACKEND_EINVAL);
	ck_assert_int_eq(vault_key_parse("a#", &k, &why), -BACKEND_EINVAL);
	ck_assert_int_eq(vault_key_parse("#f", &k, &why), -BACKEND_EINVAL);
	ck_assert_int_eq(vault_key_parse("@2", &k, &why), -BACKEND_EINVAL);
	ck_assert_int_eq(vault_key_parse("dir/", &k, &why), -BACKEND_EINVAL);
}
END_TEST

START_TEST(test_parse_time)
{
	long long t;

	ck_assert_int_eq(vault_parse_time("2018-03-22T02:24:06.945319214Z", &t), 0);
	ck_assert_int_eq(t, 1521685446LL);
	ck_assert_int_eq(vault_parse_time("2018-05-19T11:35:54.466476215-04:00", &t), 0);
	ck_assert_int_eq(t, 1526744154LL);
	ck_assert_int_eq(vault_parse_time("1970-01-01T00:00:00Z", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(vault_parse_time("2018-03-22T02:24:06+01:30", &t), 0);
	ck_assert_int_eq(t, 1521685446LL - 5400);
	ck_assert_int_eq(vault_parse_time("", &t), -EINVAL);
	ck_assert_int_eq(vault_parse_time("2018-03-22", &t), -EINVAL);
	ck_assert_int_eq(vault_parse_time("2018-03-22T02:24:06", &t), -EINVAL);
	ck_assert_int_eq(vault_parse_time("2018-03-22T02:24:06Zjunk", &t), -EINVAL);
	ck_assert_int_eq(vault_parse_time(NULL, &t), -EINVAL);
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		ck_assert_int_eq(vault_parse_bool(yes[i]), 1);
		ck_assert_int_eq(vault_parse_bool(no[i]), 0);
	}
	ck_assert_int_eq(vault_parse_bool("yes"), -EINVAL);
	ck_assert_int_eq(vault_parse_bool("tRUE"), -EINVAL);
	ck_assert_int_eq(vault_parse_bool(""), -EINVAL);
}
END_TEST

START_TEST(test_loopback)
{
	ck_assert(vault_url_is_loopback("http://127.0.0.1:8200"));
	ck_assert(vault_url_is_loopback("http://127.1.2.3"));
	ck_assert(vault_url_is_loopback("http://localhost:8200/"));
	ck_assert(vault_url_is_loopback("http://[::1]:8200"));
	ck_assert(!vault_url_is_loopback("http://10.0.0.1:8200"));
	ck_assert(!vault_url_is_loopback("http://127.example.com"));
	ck_assert(!vault_url_is_loopback("http://vault.company.com:8200"));
}
END_TEST

/* Config mistakes name file, line and column, before any I/O. */
static int open_err(const char *yaml, char *msg, size_t len)
{
	struct cfg_error err = CFG_ERR_INIT;
	struct harombe_config *cfg = NULL;
	struct backend_ctx ctx = { 0 };
	struct backend *be = NULL;
	int r;

	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &cfg, &err), 0);
	ctx.cfg = cfg;
	ctx.source = "test";
	r = backend_open(&ctx, &be, &err);
	snprintf(msg, len, "%s", err.msg);
	backend_close(be);
	config_free(cfg);
	return r;
}

START_TEST(test_config_errors)
{
	char msg[640];

	unsetenv("VAULT_TOKEN");
	setenv("HOME", "/nonexistent", 1);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    kv_version: 3\n", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "t.yaml:5:17: kv_version must be 1, 2 or auto"), "%s", msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    timeout: soon\n", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "t.yaml:5:14: timeout 'soon'"), "%s", msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    vault_url: ftp://x\n", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "must start with https://"), "%s", msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "no Vault token"), "%s", msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    mount_point: a/../b\n", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "is not a mount path"), "%s", msg);
	/* a token file that does not exist yet is fine (a Vault Agent may
	 * write it later) */
	ck_assert_int_eq(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n",
				  msg, sizeof(msg)), 0);
}
END_TEST

static Suite *vault_suite(void)
{
	Suite *s = suite_create("vault");
	TCase *tc = tcase_create("helpers");

	tcase_add_test(tc, test_key_parse);
	tcase_add_test(tc, test_key_parse_errors);
	tcase_add_test(tc, test_parse_time);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_loopback);
	suite_add_tcase(s, tc);
	tc = tcase_create("open");
	tcase_add_test(tc, test_config_errors);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(vault_suite)
