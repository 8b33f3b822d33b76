#include "lib/compat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"

static struct harombe_config *cfg;
static struct backend *be;

static void open_with(const char *yaml)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };

	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &cfg, &err), 0);
	ctx.cfg = cfg;
	ck_assert_msg(backend_open(&ctx, &be, &err) == 0, "%s", err.msg);
}

static void setup(void)
{
	setenv("HAROMBE_SECRET_GITHUB_TOKEN", "tok-1", 1);
	setenv("HAROMBE_SECRET_AWS_ACCESS_KEY", "ak-2", 1);
	setenv("HAROMBE_SECRET_DB_URL", "", 1);
	setenv("MYAPP_API_KEY", "k-3", 1);
	setenv("UNRELATED", "stays", 1);
	open_with("security:\n  credentials:\n    provider: env\n");
}

static void teardown(void)
{
	backend_close(be);
	config_free(cfg);
	be = NULL;
	cfg = NULL;
}

static void expect_value(const char *key, const char *want)
{
	struct secbuf *sb = NULL;
	struct why why = { "" };

	ck_assert_msg(backend_get(be, key, &sb, &why) == 0, "%s: %s", key, why.msg);
	ck_assert(secbuf_equal(sb, want, strlen(want)));
	secbuf_free(sb);
}

START_TEST(test_mapping)
{
	expect_value("github/token", "tok-1");
	expect_value("GITHUB/TOKEN", "tok-1");
	expect_value("aws/access-key", "ak-2");	/* '-' maps to '_' (the Python code did not) */
	expect_value("aws.access.key", "ak-2");
	expect_value("db/url", "");
}
END_TEST

START_TEST(test_missing_is_enoent)
{
	struct secbuf *sb = (void *)1;
	struct why why = { "" };

	ck_assert_int_eq(backend_get(be, "nope/none", &sb, &why), -ENOENT);
	ck_assert_ptr_null(sb);
	ck_assert_ptr_nonnull(strstr(why.msg, "HAROMBE_SECRET_NOPE_NONE"));
}
END_TEST

START_TEST(test_bad_keys)
{
	struct secbuf *sb;
	struct why why = { "" };

	ck_assert_int_eq(backend_get(be, "a#field", &sb, &why), -EINVAL);
	/* a whole secret ("path#", backend.h): the env backend has single values only */
	ck_assert_int_eq(backend_get(be, "github/token#", &sb, &why), -BACKEND_ENOTSUP);
	ck_assert_ptr_nonnull(strstr(why.msg, "single values: 'github/token'"));
	ck_assert_int_eq(backend_get(be, "a b", &sb, &why), -EINVAL);
}
END_TEST

START_TEST(test_environ_scrubbed)
{
	extern char **environ;
	size_t i;

	ck_assert_ptr_null(getenv("HAROMBE_SECRET_GITHUB_TOKEN"));
	for (i = 0; environ[i]; i++)
		ck_assert_ptr_null(strstr(environ[i], "tok-1"));
	ck_assert_str_eq(getenv("UNRELATED"), "stays");
	ck_assert_str_eq(getenv("MYAPP_API_KEY"), "k-3");
	/* a second backend (a reload) still sees the values */
	teardown();
	open_with("security:\n  credentials:\n    provider: env\n");
	expect_value("github/token", "tok-1");
}
END_TEST

START_TEST(test_custom_prefix)
{
	teardown();
	open_with("security:\n  credentials:\n    provider: env\n    secret_prefix: MYAPP_\n");
	expect_value("api/key", "k-3");
	ck_assert_ptr_null(getenv("MYAPP_API_KEY"));
}
END_TEST

static int collect(const char *key, void *arg)
{
	char *buf = arg;

	strcat(buf, key);
	strcat(buf, ";");
	return 0;
}

START_TEST(test_list_set_delete)
{
	char keys[512] = "";
	struct why why = { "" };

	ck_assert_int_eq(backend_list(be, "", collect, keys, &why), 0);
	ck_assert_ptr_nonnull(strstr(keys, "github/token;"));
	ck_assert_ptr_nonnull(strstr(keys, "aws/access/key;"));
	keys[0] = 0;
	ck_assert_int_eq(backend_list(be, "github/", collect, keys, &why), 0);
	ck_assert_str_eq(keys, "github/token;");
	ck_assert_int_eq(backend_set(be, "new/key", "v", 1, &why), 0);
	expect_value("new/key", "v");
	ck_assert_int_eq(backend_delete(be, "new/key", &why), 0);
	ck_assert_int_eq(backend_delete(be, "new/key", &why), -ENOENT);
	ck_assert(!(backend_caps(be) & BACKEND_PERSISTENT));
}
END_TEST

static int stop_at_first(const char *key, void *arg)
{
	(void)key;
	(*(int *)arg)++;
	return 4242;
}

START_TEST(test_list_callback_result_passes_through)
{
	struct why why = { "" };
	int calls = 0;

	ck_assert_int_eq(backend_list(be, "", stop_at_first, &calls, &why), 4242);
	ck_assert_int_eq(calls, 1);
}
END_TEST

START_TEST(test_get_many)
{
	const char *keys[3] = { "github/token", "nope", "db/url" };
	struct secbuf *outs[3];
	int rcs[3];

	ck_assert_int_eq(backend_get_many(be, 3, keys, outs, rcs, NULL), -ENOENT);
	ck_assert_int_eq(rcs[0], 0);
	ck_assert_int_eq(rcs[1], -ENOENT);
	ck_assert_int_eq(rcs[2], 0);
	ck_assert(secbuf_equal(outs[0], "tok-1", 5));
	ck_assert_ptr_null(outs[1]);
	secbuf_free(outs[0]);
	secbuf_free(outs[2]);
}
END_TEST

START_TEST(test_unknown_provider)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	struct harombe_config *c;
	struct backend *b;
	static const char y[] = "security:\n  credentials:\n    provider: vaulty\n";

	ck_assert_int_eq(config_load_text("t.yaml", y, strlen(y), &c, &err), 0);
	ctx.cfg = c;
	ck_assert_int_eq(backend_open(&ctx, &b, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "t.yaml:3:15: unknown provider 'vaulty' (known: 'env'"));
	config_free(c);
}
END_TEST

START_TEST(test_bad_prefix)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	struct harombe_config *c;
	struct backend *b;
	static const char y[] = "security:\n  credentials:\n    provider: env\n    secret_prefix: A-B\n";

	ck_assert_int_eq(config_load_text("t.yaml", y, strlen(y), &c, &err), 0);
	ctx.cfg = c;
	ck_assert_int_eq(backend_open(&ctx, &b, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "t.yaml:4:20:"));
	config_free(c);
}
END_TEST

START_TEST(test_strerror)
{
	ck_assert_str_eq(backend_strerror(-ENOENT), "not found");
	ck_assert_str_eq(backend_strerror(-EHOSTDOWN), "unavailable");
	ck_assert_str_eq(backend_strerror(-EBADMSG), "tampered");
}
END_TEST

static Suite *env_suite(void)
{
	Suite *s = suite_create("backend_env");
	TCase *tc = tcase_create("env");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mapping);
	tcase_add_test(tc, test_missing_is_enoent);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_environ_scrubbed);
	tcase_add_test(tc, test_custom_prefix);
	tcase_add_test(tc, test_list_set_delete);
	tcase_add_test(tc, test_get_many);
	tcase_add_test(tc, test_list_callback_result_passes_through);
	tcase_add_test(tc, test_unknown_provider);
	tcase_add_test(tc, test_bad_prefix);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(env_suite)
