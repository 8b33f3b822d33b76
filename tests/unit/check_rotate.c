#include "lib/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject/rotate.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "lib/when.h"
#include "tests/unit/unit.h"

static struct secbuf *v;
static struct harombe_config *cfg;
static struct rotate_config *rc;
static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_rotate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	secbuf_free(v);
	v = NULL;
	rotate_config_free(rc);
	rc = NULL;
	config_free(cfg);
	cfg = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int charset_only(const struct secbuf *sb, size_t from, const char *set)
{
	size_t n, i;
	const unsigned char *d = secbuf_data(sb, &n);

	for (i = from; i < n; i++)
		if (!strchr(set, d[i]))
			return 0;
	return 1;
}

#define URLSAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define HEX "0123456789abcdef"

START_TEST(test_prefix_detection)
{
	static const struct { const char *v; size_t want; } cases[] = {
		{ "sk-abcdefghijklmnop", 3 },		{ "sk_live_abcdefghijklmnop", 8 },
		{ "ghp_ABCDEFGHIJKLMNOP", 4 },		{ "github_pat_11ABCDEFGHIJ", 11 },
		{ "xoxb-1234567890-abcdef", 5 },	{ "sk-proj-abcdefghijkl", 8 },
		{ "glpat-abcdefghijklmnop", 6 },	{ "pypi-AgEIcHlwaS5vcmc", 5 },
		{ "AKIAIOSFODNN7EXAMPLE", 0 },		{ "password123", 0 },
		{ "correct-horse-battery", 0 },		{ "sk-short", 0 },
		{ "a-b-c-d-efghijklmnop", 6 },		{ "", 0 },
		{ "0x-abcdefghijklmnop", 0 },		{ "Sk-abcdefghijklmnop", 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_msg(rotate_prefix_len((const unsigned char *)cases[i].v, strlen(cases[i].v)) ==
				      cases[i].want,
			      "case %zu", i);
}
END_TEST

START_TEST(test_generators)
{
	struct rotate_spec spec = ROTATE_SPEC_INIT;
	struct rotate_result res;
	struct secbuf *w = NULL;
	const unsigned char *d;
	size_t n;

	spec.gen = ROTATE_URLSAFE;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &v, &res), 0);
	ck_assert_uint_eq(secbuf_len(v), ROTATE_LENGTH_DEFAULT);
	ck_assert(charset_only(v, 0, URLSAFE));
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &w, &res), 0);
	ck_assert(!secbuf_equal(v, secbuf_data(w, NULL), secbuf_len(w)));
	secbuf_free(w);
	secbuf_free(v);

	spec.gen = ROTATE_HEX;
	spec.length = 64;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &v, &res), 0);
	ck_assert_uint_eq(secbuf_len(v), 64);
	ck_assert(charset_only(v, 0, HEX));
	secbuf_free(v);

	spec.gen = ROTATE_RANDOM;
	spec.length = 1024;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &v, &res), 0);
	ck_assert(charset_only(v, 0, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*"));
	secbuf_free(v);

	spec.gen = ROTATE_UUID;
	spec.length = 0;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &v, &res), 0);
	d = secbuf_data(v, &n);
	ck_assert_uint_eq(n, 36);
	ck_assert(d[8] == '-' && d[13] == '-' && d[18] == '-' && d[23] == '-');
	ck_assert(d[14] == '4');
	ck_assert(strchr("89ab", d[19]));

	spec.length = 40;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &w, &res), -EINVAL);
	ck_assert_ptr_null(w);
	spec.gen = ROTATE_HEX;
	spec.length = 15;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &w, &res), -EINVAL);
	spec.length = 1025;
	ck_assert_int_eq(rotate_new_value(&spec, NULL, 0, &w, &res), -EINVAL);
}
END_TEST

START_TEST(test_auto_keeps_shape_and_prefix)
{
	struct rotate_spec spec = ROTATE_SPEC_INIT;
	struct rotate_result res;
	static const char sk[] = "sk-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";	/* 3 + 38 */
	static const char hex[] = "0123456789abcdef0123456789abcdef01234567";	/* 40 */
	static const char uuid[] = "123E4567-E89B-12D3-A456-426614174000";
	const unsigned char *d;
	size_t n;

	ck_assert_int_eq(rotate_new_value(&spec, (const unsigned char *)sk, strlen(sk), &v, &res), 0);
	d = secbuf_data(v, &n);
	ck_assert_uint_eq(n, strlen(sk));
	ck_assert(!memcmp(d, "sk-", 3));
	ck_assert(memcmp(d, sk, n) != 0);
	ck_assert(charset_only(v, 3, URLSAFE));
	ck_assert_int_eq(res.gen, ROTATE_URLSAFE);
	ck_assert_uint_eq(res.prefix_len, 3);
	secbuf_free(v);

	ck_assert_int_eq(rotate_new_value(&spec, (const unsigned char *)hex, 40, &v, &res), 0);
	ck_assert_uint_eq(secbuf_len(v), 40);
	ck_assert(charset_only(v, 0, HEX));
	ck_assert_int_eq(res.gen, ROTATE_HEX);
	secbuf_free(v);

	ck_assert_int_eq(rotate_new_value(&spec, (const unsigned char *)uuid, 36, &v, &res), 0);
	ck_assert_int_eq(res.gen, ROTATE_UUID);
	secbuf_free(v);

	/* short passwords grow to the default length */
	ck_assert_int_eq(rotate_new_value(&spec, (const unsigned char *)"hunter2", 7, &v, &res), 0);
	ck_assert_uint_eq(secbuf_len(v), ROTATE_LENGTH_DEFAULT);
	secbuf_free(v);

	spec.keep_prefix = 0;
	ck_assert_int_eq(rotate_new_value(&spec, (const unsigned char *)sk, strlen(sk), &v, &res), 0);
	ck_assert_uint_eq(res.prefix_len, 0);
	ck_assert(charset_only(v, 0, URLSAFE));
}
END_TEST

START_TEST(test_gen_names)
{
	enum rotate_gen g;

	ck_assert_int_eq(rotate_gen_parse("hex", &g), 0);
	ck_assert_int_eq(g, ROTATE_HEX);
	ck_assert_str_eq(rotate_gen_name(ROTATE_UUID), "uuid");
	ck_assert_int_eq(rotate_gen_parse("base64", &g), -EINVAL);
}
END_TEST

static int load(const char *yaml, struct why *err)
{
	int r = config_load_text("h.yaml", yaml, strlen(yaml), &cfg, err);

	if (r)
		return r;
	return rotate_config_load(cfg, &rc, err);
}

START_TEST(test_config_policies)
{
	struct why err = WHY_INIT;
	const struct rotate_policy *p;

	ck_assert_int_eq(load("security:\n"
			      "  rotation:\n"
			      "    state_file: /var/lib/x/state.json\n"
			      "    hook_timeout: 2m\n"
			      "    generator: hex\n"
			      "    policies:\n"
			      "      - secrets: [github/token, slack/webhook]\n"
			      "        schedule: \"30d\"\n"
			      "      - secrets: db/password\n"
			      "        schedule: 12h\n"
			      "        generator: urlsafe\n"
			      "        length: 48\n"
			      "  containers:\n"
			      "    browser:\n"
			      "      on_rotate: docker restart browser\n"
			      "      secrets: { T: github/token }\n"
			      "    exec:\n"
			      "      on_rotate: [/usr/bin/systemctl, restart, exec]\n"
			      "    off:\n"
			      "      enabled: false\n"
			      "      on_rotate: never\n",
			      &err),
			 0);
	ck_assert(rc->enabled);
	ck_assert_str_eq(rc->state_file, "/var/lib/x/state.json");
	ck_assert_uint_eq(rc->hook_timeout_ms, 120000);
	ck_assert_uint_eq(rc->n, 2);
	p = rotate_policy_for(rc, "slack/webhook");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->schedule_ms, 30ull * 86400000);
	ck_assert_int_eq(p->spec.gen, ROTATE_HEX);
	p = rotate_policy_for(rc, "db/password");
	ck_assert_uint_eq(p->schedule_ms, 12ull * 3600000);
	ck_assert_int_eq(p->spec.gen, ROTATE_URLSAFE);
	ck_assert_uint_eq(p->spec.length, 48);
	ck_assert_ptr_null(rotate_policy_for(rc, "other"));
	ck_assert_uint_eq(rc->nhooks, 2);
	ck_assert_str_eq(rotate_hook_for(rc, "browser")->argv[2], "docker restart browser");
	ck_assert_str_eq(rotate_hook_for(rc, "exec")->argv[0], "/usr/bin/systemctl");
	ck_assert_ptr_null(rotate_hook_for(rc, "off"));
}
END_TEST

START_TEST(test_config_defaults_and_seed)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(load("security: {}\n", &err), 0);
	ck_assert(rc->enabled);
	ck_assert_uint_eq(rc->n, 0);
	ck_assert_str_eq(rc->state_file, ROTATE_STATE_DEFAULT);
	rotate_config_free(rc);
	rc = NULL;
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(config_load("tests/fixtures/seed/09-example5-rotation.yaml", &cfg, &err), 0);
	ck_assert_int_eq(rotate_config_load(cfg, &rc, &err), 0);
	ck_assert_uint_eq(rc->n, 3);
	ck_assert_uint_eq(rotate_policy_for(rc, "database/url")->schedule_ms, 365ull * 86400000);
}
END_TEST

static void bad(const char *rotation, const char *want)
{
	struct why err = WHY_INIT;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "security:\n  rotation:\n%s", rotation);
	ck_assert_int_eq(load(yaml, &err), -EINVAL);
	ck_assert_msg(!strcmp(err.msg, want), "got '%s', want '%s'", err.msg, want);
	rotate_config_free(rc);
	rc = NULL;
	config_free(cfg);
	cfg = NULL;
}

START_TEST(test_config_errors)
{
	bad("    policies:\n      - secrets: [a]\n        schedule: 30\n",
	    "h.yaml:5:19: 'schedule' must be a whole number with a unit s, m, h, d or w (such as 30d or 12h), "
	    "not '30'");
	bad("    policies:\n      - secrets: [a]\n        schedule: \"30 days\"\n",
	    "h.yaml:5:19: 'schedule' must be a whole number with a unit s, m, h, d or w (such as 30d or 12h), "
	    "not '30 days'");
	bad("    policies:\n      - secrets: [a]\n        schedule: 500ms\n",
	    "h.yaml:5:19: 'schedule' must be a whole number with a unit s, m, h, d or w (such as 30d or 12h), "
	    "not '500ms'");
	bad("    policies:\n      - secrets: [a]\n        schedule: 0d\n",
	    "h.yaml:5:19: 'schedule' must be longer than 0");
	bad("    policies:\n      - secrets: [a]\n", "h.yaml:4:9: a rotation policy needs a 'schedule' such as \"30d\"");
	bad("    policies:\n      - schedule: 1d\n", "h.yaml:4:9: a rotation policy needs 'secrets', a list of keys");
	bad("    policies:\n      - secrets: [a, /b]\n        schedule: 1d\n",
	    "h.yaml:4:22: secret key '/b' starts with '/'");
	bad("    policies:\n      - secrets: [a, b]\n        schedule: 1d\n      - secrets: [c, a]\n"
	    "        schedule: 2d\n",
	    "h.yaml:6:22: 'a' is already in the rotation policy at line 4");
	bad("    policies: {a: 1}\n", "h.yaml:3:15: 'policies' must be a list of {secrets: [...], schedule: 30d}");
	bad("    generator: base64\n", "h.yaml:3:16: 'generator' must be auto, urlsafe, random, hex or uuid, not 'base64'");
	bad("    length: 8\n", "h.yaml:3:13: 'length' must be between 16 and 1024");
	bad("    state_file: relative.json\n", "h.yaml:3:17: 'state_file' must be an absolute path");
	bad("    hook_timeout: never\n",
	    "h.yaml:3:19: 'hook_timeout' must be a duration such as 30s, 5m, 1h or 30d, not 'never'");
}
END_TEST

START_TEST(test_config_hook_errors)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(load("security:\n  containers:\n    c:\n      on_rotate: {a: b}\n", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "h.yaml:4:18: 'on_rotate' must be a command: a string (run by /bin/sh -c) "
				  "or a list of arguments");
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(load("security:\n  containers:\n    c:\n      on_rotate: [a, '']\n", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "h.yaml:4:22: 'on_rotate' arguments must be non-empty strings");
}
END_TEST

START_TEST(test_key_affects)
{
	ck_assert(rotate_key_affects("github/token", "github/token"));
	ck_assert(rotate_key_affects("db/creds#password", "db/creds"));
	ck_assert(rotate_key_affects("db/creds", "db/creds#password"));
	ck_assert(rotate_key_affects("db/creds#password", "db/creds#password"));
	ck_assert(!rotate_key_affects("db/creds#password", "db/creds#user"));
	ck_assert(!rotate_key_affects("github/token", "github/token2"));
	ck_assert(!rotate_key_affects("github", "github/token"));
}
END_TEST

START_TEST(test_hooks_run)
{
	struct why err = WHY_INIT;
	const char *keys[] = { "a/b", "c" }, *names[] = { "A" }, *drop[] = { "HAROMBE_CHECK_DROP", NULL };
	char yaml[512], out[256] = "";
	int status, timed_out;
	FILE *f;

	setenv("HAROMBE_CHECK_DROP", "must-not-pass", 1);
	snprintf(yaml, sizeof(yaml),
		 "security:\n  containers:\n"
		 "    ok:\n      on_rotate: 'echo \"$HAROMBE_CONTAINER|$HAROMBE_ROTATED_KEYS|"
		 "$HAROMBE_ROTATED_NAMES|${HAROMBE_CHECK_DROP:-none}\" > %s/out; read x || exit 7'\n"
		 "    fail: { on_rotate: [/bin/false] }\n"
		 "    slow: { on_rotate: [/bin/sleep, '30'] }\n"
		 "    missing: { on_rotate: [/nonexistent/hook] }\n",
		 tmpdir);
	ck_assert_int_eq(load(yaml, &err), 0);

	ck_assert_int_eq(rotate_hook_run(rotate_hook_for(rc, "ok"), keys, 2, names, 1, drop, 10000, &status,
					 &timed_out), 0);
	/* stdin is /dev/null: read fails, so the hook exits 7 */
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	ck_assert(!timed_out);
	snprintf(yaml, sizeof(yaml), "%s/out", tmpdir);
	f = fopen(yaml, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, sizeof(out), f));
	fclose(f);
	ck_assert_str_eq(out, "ok|a/b c|A|none\n");

	ck_assert_int_eq(rotate_hook_run(rotate_hook_for(rc, "fail"), keys, 1, names, 1, NULL, 10000, &status,
					 &timed_out), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);

	ck_assert_int_eq(rotate_hook_run(rotate_hook_for(rc, "slow"), keys, 1, names, 1, NULL, 200, &status,
					 &timed_out), 0);
	ck_assert(timed_out);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	ck_assert_int_eq(rotate_hook_run(rotate_hook_for(rc, "missing"), keys, 1, names, 1, NULL, 200, &status,
					 &timed_out), -ENOENT);
	unsetenv("HAROMBE_CHECK_DROP");
}
END_TEST

START_TEST(test_state_file)
{
	struct rotate_state *st;
	struct why err = WHY_INIT;
	char path[128], text[512];
	int64_t rot, seen, t = 1700000000000;
	struct stat sb;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/sub/rotation.json", tmpdir);
	ck_assert_int_eq(rotate_state_open(path, &st, &err), 0);
	rotate_state_get(st, "a/b", &rot, &seen);
	ck_assert(rot == 0 && seen == 0);
	ck_assert_int_eq(rotate_state_set(st, "a/b", t, 0), 0);
	ck_assert_int_eq(rotate_state_set(st, "c", 0, t + 1000), 0);
	ck_assert_int_eq(rotate_state_save(st, &err), 0);
	rotate_state_close(st);

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	snprintf(text, sizeof(text), "%s/sub", tmpdir);
	ck_assert_int_eq(stat(text, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);

	ck_assert_int_eq(rotate_state_open(path, &st, &err), 0);
	rotate_state_get(st, "a/b", &rot, &seen);
	ck_assert(rot == t && seen == 0);
	rotate_state_get(st, "c", &rot, &seen);
	ck_assert(rot == 0 && seen == t + 1000);
	rotate_state_close(st);

	fd = open(path, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	text[n] = 0;
	ck_assert_ptr_nonnull(strstr(text, "\"rotated\": \"2023-11-14T22:13:20Z\""));

	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "[1", 2), 2);
	close(fd);
	ck_assert_int_eq(rotate_state_open(path, &st, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&err), "is not a JSON object"));
}
END_TEST

START_TEST(test_when)
{
	int64_t ms;
	char buf[64];

	ck_assert_int_eq(when_parse_iso("2024-01-31", &ms), 0);
	ck_assert_int_eq(ms, 1706659200000);
	ck_assert_int_eq(when_parse_iso("2024-01-31T10:00:05.123Z", &ms), 0);
	ck_assert_int_eq(ms, 1706659200000 + 36005123);
	ck_assert_int_eq(when_parse_iso("2024-01-31 12:00:05+02:00", &ms), 0);
	ck_assert_int_eq(ms, 1706659200000 + 36005000);
	ck_assert_int_eq(when_parse_iso("2024-02-31", &ms), -EINVAL);
	ck_assert_int_eq(when_parse_iso("yesterday", &ms), -EINVAL);
	ck_assert_int_eq(when_parse_user("7d", 1000000000000, &ms), 0);
	ck_assert_int_eq(ms, 1000000000000 - 7 * 86400000LL);
	ck_assert_int_eq(when_parse_user("now", 5, &ms), 0);
	ck_assert_int_eq(ms, 5);
	ck_assert_int_eq(when_parse_user("30", 1000000000000, &ms), -EINVAL);
	when_format(1706659200000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2024-01-31T00:00:00Z");
	when_format_span(31 * 86400000LL + 4 * 3600000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "31d 4h");
}
END_TEST

static Suite *rotate_suite(void)
{
	Suite *s = suite_create("rotate");
	TCase *tc = tcase_create("values");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_prefix_detection);
	tcase_add_test(tc, test_generators);
	tcase_add_test(tc, test_auto_keeps_shape_and_prefix);
	tcase_add_test(tc, test_gen_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_policies);
	tcase_add_test(tc, test_config_defaults_and_seed);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_config_hook_errors);
	tcase_add_test(tc, test_key_affects);
	suite_add_tcase(s, tc);
	tc = tcase_create("hooks and state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hooks_run);
	tcase_add_test(tc, test_state_file);
	tcase_add_test(tc, test_when);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(rotate_suite)
