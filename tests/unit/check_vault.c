#include "lib/compat.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/vault/vault-internal.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"
#include "tests/unit/vaultsrv.h"

START_TEST(test_key_parse)
{
	struct vault_key k;
	struct why why = { "" };

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
	struct why why = { "" };

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

START_TEST(test_is_pki)
{
	ck_assert(vault_is_pki("pki/issue/web?common_name=a.internal#certificate"));
	ck_assert(vault_is_pki("team/pki/issue/web?common_name=a&ttl=60s"));
	ck_assert(vault_is_pki("pki/issuer/default/issue/web?common_name=a#private_key"));
	ck_assert(!vault_is_pki("pki/issue/web"));
	ck_assert(!vault_is_pki("pki/issue/web?version=3"));
	ck_assert(!vault_is_pki("db/main?version=3#password"));
	ck_assert(!vault_is_pki("issue/web?common_name=a"));
	ck_assert(!vault_is_pki("pki/sign/web?common_name=a"));
	ck_assert(!vault_is_pki("?common_name=a"));
}
END_TEST

/* Config mistakes name file, line and column, before any I/O. */
static int open_err(const char *yaml, struct why *err)
{
	struct harombe_config *cfg = NULL;
	struct backend_ctx ctx = { 0 };
	struct backend *be = NULL;
	int r;

	*err = (struct why)WHY_INIT;
	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &cfg, err), 0);
	ctx.cfg = cfg;
	ctx.source = "test";
	r = backend_open(&ctx, &be, err);
	backend_close(be);
	config_free(cfg);
	return r;
}

START_TEST(test_config_errors)
{
	struct why msg;

	unsetenv("VAULT_TOKEN");
	setenv("HOME", "/nonexistent", 1);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    kv_version: 3\n", &msg), 0);
	ck_assert_msg(strstr(msg.msg, "t.yaml:5:17: kv_version must be 1, 2 or auto"), "%s", msg.msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    timeout: soon\n", &msg), 0);
	ck_assert_msg(strstr(msg.msg, "t.yaml:5:14: timeout 'soon'"), "%s", msg.msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    vault_url: ftp://x\n", &msg), 0);
	ck_assert_msg(strstr(msg.msg, "must start with https://"), "%s", msg.msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n", &msg), 0);
	ck_assert_msg(strstr(msg.msg, "no Vault token"), "%s", msg.msg);
	ck_assert_int_ne(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n"
				  "    mount_point: a/../b\n", &msg), 0);
	ck_assert_msg(strstr(msg.msg, "is not a mount path"), "%s", msg.msg);
	/* a token file that does not exist yet is fine (a Vault Agent may
	 * write it later) */
	ck_assert_int_eq(open_err("security:\n  credentials:\n    provider: vault\n    token_file: /x\n",
				  &msg), 0);
}
END_TEST

/* ---- against the Vault API test server (tests/vault/vaultsrv.py) ---- */

static struct harombe_config *scfg;
static struct backend *sbe;

static void server_start(void)
{
	static const char *const kv_mounts[] = { "--kv", "secret=2", "--kv", "kv1=1", NULL };

	vaultsrv_start(kv_mounts);
}

static void open_mount(const char *mount)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	char yaml[512];

	setenv("VAULT_TOKEN", VAULTSRV_ROOT_TOKEN, 1);
	snprintf(yaml, sizeof(yaml), "security:\n  credentials:\n    provider: vault\n    vault_url: %s\n"
				      "    mount_point: %s\n    timeout: 3s\n", vaultsrv_url, mount);
	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &scfg, &err), 0);
	ctx.cfg = scfg;
	ctx.source = "test";
	ck_assert_msg(backend_open(&ctx, &sbe, &err) == 0, "%s", err.msg);
}

static void close_mount(void)
{
	backend_close(sbe);
	config_free(scfg);
	sbe = NULL;
	scfg = NULL;
}

static void put(const char *key, const char *value)
{
	struct why why = { "" };

	ck_assert_msg(backend_set(sbe, key, value, strlen(value), &why) == 0, "set %s: %s", key, why.msg);
}

START_TEST(test_meta)
{
	struct backend_meta m, m1;
	struct why why = { "" };
	time_t before = time(NULL);

	open_mount("secret");
	put("meta/key", "one");
	sleep(1);
	put("meta/key", "two");
	ck_assert_msg(backend_meta(sbe, "meta/key", &m, &why) == 0, "%s", why.msg);
	ck_assert_int_eq(m.version, 2);
	ck_assert(m.created >= before - 1 && m.created <= time(NULL));
	ck_assert(m.updated >= m.created + 1);
	ck_assert_msg(backend_meta(sbe, "meta/key@1", &m1, &why) == 0, "%s", why.msg);
	ck_assert_int_eq(m1.version, 1);
	ck_assert_int_eq(m1.updated, m.created);
	ck_assert_int_eq(backend_meta(sbe, "meta/key@7", &m1, &why), -BACKEND_ENOTFOUND);
	ck_assert_int_eq(backend_meta(sbe, "meta/none", &m1, &why), -BACKEND_ENOTFOUND);
	close_mount();
	open_mount("kv1");
	put("meta/key", "one");
	ck_assert_int_eq(backend_meta(sbe, "meta/key", &m, &why), -BACKEND_ENOTSUP);
	close_mount();
}
END_TEST

START_TEST(test_get_many_per_key_results)
{
	const char *keys[] = { "many/a", "many/missing", "many/b#f2", "many/b#nope", "many/a", "bad@0" };
	const char *fields[] = { "f1", "f2" };
	const void *values[] = { "v1", "v2" };
	size_t lens[] = { 2, 2 };
	struct secbuf *outs[6];
	struct why whys[6];
	int rcs[6];

	open_mount("secret");
	put("many/a", "A");
	ck_assert_int_eq(backend_set_fields(sbe, "many/b", 2, fields, values, lens, NULL), 0);
	ck_assert_int_eq(backend_get_many(sbe, 6, keys, outs, rcs, whys), -BACKEND_ENOTFOUND);
	ck_assert_int_eq(rcs[0], 0);
	ck_assert(secbuf_equal(outs[0], "A", 1));
	ck_assert_int_eq(rcs[1], -BACKEND_ENOTFOUND);
	ck_assert_ptr_null(outs[1]);
	ck_assert(strstr(whys[1].msg, "no secret 'many/missing'"));
	ck_assert_int_eq(rcs[2], 0);
	ck_assert(secbuf_equal(outs[2], "v2", 2));
	ck_assert_int_eq(rcs[3], -BACKEND_ENOTFOUND);
	ck_assert(strstr(whys[3].msg, "'f1'") && strstr(whys[3].msg, "'f2'"));
	ck_assert_int_eq(rcs[4], 0);
	ck_assert(secbuf_equal(outs[4], "A", 1));
	ck_assert_int_eq(rcs[5], -BACKEND_EINVAL);
	secbuf_free(outs[0]);
	secbuf_free(outs[2]);
	secbuf_free(outs[4]);
	close_mount();
}
END_TEST

/* "path#": every field as one JSON object (backends/backend.h), KV v2 and v1. */
START_TEST(test_get_whole)
{
	static const char *const mounts[] = { "secret", "kv1" };
	const char *keys[] = { "whole/s#", "whole/s", "whole/missing#", "whole/s#f1" };
	const char *fields[] = { "f1", "f\"2" };
	const void *values[] = { "v1", "a\"b\\c\n\001" };
	size_t lens[] = { 2, 7 }, m;
	static const char want[] = "{\"f1\":\"v1\",\"f\\\"2\":\"a\\\"b\\\\c\\n\\u0001\"}";
	struct secbuf *outs[4];
	struct why whys[4];
	int rcs[4];

	for (m = 0; m < 2; m++) {
		open_mount(mounts[m]);
		ck_assert_int_eq(backend_set_fields(sbe, "whole/s", 2, fields, values, lens, NULL), 0);
		backend_get_many(sbe, 4, keys, outs, rcs, whys);
		ck_assert_int_eq(rcs[0], 0);
		ck_assert_msg(secbuf_equal(outs[0], want, strlen(want)), "%s", secbuf_str(outs[0]));
		ck_assert_int_eq(rcs[1], -BACKEND_EINVAL);
		ck_assert(strstr(whys[1].msg, "several fields"));
		ck_assert_int_eq(rcs[2], -BACKEND_ENOTFOUND);
		ck_assert_int_eq(rcs[3], 0);
		ck_assert(secbuf_equal(outs[3], "v1", 2));
		secbuf_free(outs[0]);
		secbuf_free(outs[3]);
		/* only reads take it */
		ck_assert_int_eq(backend_set(sbe, "whole/s#", "x", 1, NULL), -BACKEND_EINVAL);
		close_mount();
	}
}
END_TEST

static int stop_after_one(const char *key, void *arg)
{
	(*(int *)arg)++;
	(void)key;
	return -BACKEND_EINVAL;	/* in the error set: returned as is */
}

START_TEST(test_list_stops)
{
	int n = 0;

	open_mount("secret");
	put("walk/a", "1");
	put("walk/b", "2");
	ck_assert_int_eq(backend_list(sbe, "walk", stop_after_one, &n, NULL), -BACKEND_EINVAL);
	ck_assert_int_eq(n, 1);
	close_mount();
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
	tcase_add_test(tc, test_is_pki);
	suite_add_tcase(s, tc);
	tc = tcase_create("open");
	tcase_add_test(tc, test_config_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_unchecked_fixture(tc, server_start, vaultsrv_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_get_many_per_key_results);
	tcase_add_test(tc, test_get_whole);
	tcase_add_test(tc, test_list_stops);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(vault_suite)
