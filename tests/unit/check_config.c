#include "lib/compat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject/view.h"
#include "lib/config.h"
#include "tests/unit/unit.h"

#define SEED "tests/fixtures/seed/"

static struct harombe_config *load(const char *text, struct why *err)
{
	struct harombe_config *c = NULL;

	memset(err, 0, sizeof(*err));
	if (config_load_text("t.yaml", text, strlen(text), &c, err) != 0)
		return NULL;
	return c;
}

static void expect_error(const char *text, const char *where, const char *what)
{
	struct why err;
	struct harombe_config *c = load(text, &err);
	struct viewset *vs = NULL;

	if (c) {
		int r = viewset_load(c, &vs, &err);

		viewset_free(vs);
		config_free(c);
		ck_assert_msg(r != 0, "accepted: %s", text);
	}
	ck_assert_msg(strstr(err.msg, where), "'%s' not in '%s'", where, err.msg);
	ck_assert_msg(strstr(err.msg, what), "'%s' not in '%s'", what, err.msg);
}

START_TEST(test_seed_examples_load)
{
	DIR *d = opendir(SEED);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct why err = WHY_INIT;
		struct harombe_config *c = NULL;
		struct viewset *vs = NULL;
		char path[512];

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), SEED "%s", e->d_name);
		ck_assert_msg(config_load(path, &c, &err) == 0, "%s: %s", path, err.msg);
		ck_assert_msg(viewset_load(c, &vs, &err) == 0, "%s: %s", path, err.msg);
		viewset_free(vs);
		config_free(c);
		n++;
	}
	closedir(d);
	ck_assert_int_eq(n, 10);
}
END_TEST

START_TEST(test_seed_bad_example_refused_without_value)
{
	struct why err = WHY_INIT;
	struct harombe_config *c = NULL;

	ck_assert_int_eq(config_load(SEED "bad-environment-token.yaml", &c, &err), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err.msg, "bad-environment-token.yaml:5:23:"));
	ck_assert_ptr_nonnull(strstr(err.msg, "security.containers.browser.environment.GITHUB_TOKEN"));
	ck_assert_ptr_nonnull(strstr(err.msg, "GitHub token"));
	ck_assert_ptr_null(strstr(err.msg, "abcd1234"));
}
END_TEST

START_TEST(test_example1_values)
{
	struct why err = WHY_INIT;
	struct harombe_config *c = NULL;
	struct viewset *vs = NULL;
	const struct view *v;

	ck_assert_int_eq(config_load(SEED "06-example1-vault.yaml", &c, &err), 0);
	ck_assert_str_eq(c->provider, "vault");
	ck_assert_str_eq(cfg_get(c->credentials, "vault_namespace")->text, "engineering");
	ck_assert_int_eq(viewset_load(c, &vs, &err), 0);
	ck_assert_uint_eq(vs->n, 3);
	v = viewset_find(vs, "code_exec");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->n, 3);
	ck_assert_str_eq(v->secrets[0].name, "AWS_ACCESS_KEY_ID");
	ck_assert_str_eq(v->secrets[0].key, "aws/harombe/access-key");
	ck_assert_str_eq(v->secrets[2].name, "DOCKER_REGISTRY_TOKEN");
	ck_assert_uint_eq(v->uid, 0);
	ck_assert_ptr_null(v->cgroup);
	/* defaults */
	ck_assert_str_eq(c->fs.mountpoint, "/run/harombe");
	ck_assert_uint_eq(c->fs.cache_ttl_ms, 0);
	ck_assert_uint_eq(c->fs.locked_memory, 8u << 20);
	ck_assert(c->audit.enabled);
	viewset_free(vs);
	config_free(c);
}
END_TEST

START_TEST(test_design_additions)
{
	static const char text[] =
		"security:\n"
		"  fs:\n"
		"    mountpoint: /run/harombe\n"
		"    cache_ttl: 30s\n"
		"    stale_if_error: 5m\n"
		"    locked_memory: 16MiB\n"
		"    audit_log: /var/log/harombe/audit.jsonl\n"
		"  audit:\n"
		"    log_events: [secret_read, access_denied]\n"
		"  containers:\n"
		"    browser:\n"
		"      uid: 1000\n"
		"      gid: 1000\n"
		"      cgroup: \"/system.slice/docker-*.scope\"\n"
		"      secrets:\n"
		"        GITHUB_TOKEN: github/token\n"
		"        DB: db/creds#password\n";
	struct why err;
	struct harombe_config *c = load(text, &err);
	struct viewset *vs = NULL;
	const struct view *v;

	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_uint_eq(c->fs.cache_ttl_ms, 30000);
	ck_assert_uint_eq(c->fs.stale_if_error_ms, 300000);
	ck_assert_uint_eq(c->fs.locked_memory, 16u << 20);
	ck_assert_uint_eq(c->audit.events, (1u << AUDIT_SECRET_READ) | (1u << AUDIT_ACCESS_DENIED));
	ck_assert_int_eq(viewset_load(c, &vs, &err), 0);
	v = viewset_find(vs, "browser");
	ck_assert_uint_eq(v->uid, 1000);
	ck_assert_uint_eq(v->gid, 1000);
	ck_assert(v->gid_set);
	ck_assert_str_eq(v->cgroup, "/system.slice/docker-*.scope");
	ck_assert_str_eq(v->secrets[1].key, "db/creds#password");
	viewset_free(vs);
	config_free(c);
}
END_TEST

START_TEST(test_errors_name_file_line_column)
{
	expect_error("security:\n  fs:\n    cache_ttl: soon\n", "t.yaml:3:16:", "'cache_ttl' must be a duration");
	expect_error("security:\n  fs:\n    locked_memory: 8 MiB\n", "t.yaml:3:20:", "must be a size");
	expect_error("security:\n  fs:\n    locked_memory: 4KiB\n", "t.yaml:3:20:", "at least 64KiB");
	expect_error("security:\n  fs:\n    mountpoint: run/harombe\n", "t.yaml:3:17:", "absolute path");
	expect_error("security:\n  audit:\n    enabled: maybe\n", "t.yaml:3:14:", "true or false");
	expect_error("security:\n  audit:\n    log_events: [secret_reed]\n", "t.yaml:3:18:",
		     "unknown audit event 'secret_reed'");
	expect_error("security: [1, 2]\n", "t.yaml:1:11:", "'security' must be a mapping");
	expect_error("security:\n  fs: {a: 1\n", "t.yaml:", "YAML syntax error");
	expect_error("a: 1\na: 2\n", "t.yaml:2:1:", "duplicate key 'a' (first at line 1)");
	expect_error("- 1\n- 2\n", "t.yaml:1:1:", "top level must be a mapping");
}
END_TEST

START_TEST(test_view_validation)
{
	expect_error("security:\n  containers:\n    ../x:\n      secrets: {}\n", "t.yaml:3:5:",
		     "container name '../x'");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        1BAD: a/b\n", "t.yaml:5:9:",
		     "variable name '1BAD' must start with a letter");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        BAD-NAME: a/b\n", "t.yaml:5:9:",
		     "variable name 'BAD-NAME'");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        A: a/../b\n", "t.yaml:5:12:",
		     "'.' or '..' segment");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        A: a//b\n", "t.yaml:5:12:",
		     "empty segment");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        A: /a\n", "t.yaml:5:12:",
		     "starts with '/'");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        A: a#\n", "t.yaml:5:12:",
		     "'#field'");
	expect_error("security:\n  containers:\n    b:\n      secrets:\n        A: [x]\n", "t.yaml:5:12:",
		     "must map to a vault key");
	expect_error("security:\n  containers:\n    b:\n      uid: nobody-such-user\n", "t.yaml:4:12:",
		     "unknown user 'nobody-such-user'");
	expect_error("security:\n  containers:\n    b:\n      cgroup: docker\n", "t.yaml:4:15:",
		     "must be a path pattern");
	expect_error("security:\n  containers:\n    b:\n      uid: -1\n", "t.yaml:4:12:", "'uid'");
}
END_TEST

START_TEST(test_limits)
{
	struct why err;
	struct harombe_config *c;
	struct viewset *vs = NULL;
	const struct view *v;

	c = load("security:\n  fs:\n    locked_memory: 4MiB\n  containers:\n    a: {}\n"
		 "    b:\n      limits: { open_files: 7, locked_memory: 64KiB }\n"
		 "    c:\n      limits: { open_files: 9 }\n", &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_uint_eq(c->fs.limits.open_files, HAROMBE_DEFAULT_OPEN_FILES);
	ck_assert_uint_eq(c->fs.limits.locked_memory, (4u << 20) / 4);
	ck_assert_int_eq(viewset_load(c, &vs, &err), 0);
	v = viewset_find(vs, "a");
	ck_assert_uint_eq(v->max_open, 1024);
	ck_assert_uint_eq(v->max_locked, 1u << 20);
	v = viewset_find(vs, "b");
	ck_assert_uint_eq(v->max_open, 7);
	ck_assert_uint_eq(v->max_locked, 64u << 10);
	v = viewset_find(vs, "c");
	ck_assert_uint_eq(v->max_open, 9);
	ck_assert_uint_eq(v->max_locked, 1u << 20);	/* the default stays */
	viewset_free(vs);
	config_free(c);

	/* security.fs.limits are every view's defaults */
	c = load("security:\n  fs:\n    limits: { open_files: 5, locked_memory: 1MiB }\n  containers:\n    a: {}\n",
		 &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_int_eq(viewset_load(c, &vs, &err), 0);
	ck_assert_uint_eq(viewset_find(vs, "a")->max_open, 5);
	ck_assert_uint_eq(viewset_find(vs, "a")->max_locked, 1u << 20);
	viewset_free(vs);
	config_free(c);

	expect_error("security:\n  containers:\n    b:\n      limits: { open_files: 0 }\n", "t.yaml:4:29:",
		     "'open_files' must be at least 1");
	expect_error("security:\n  containers:\n    b:\n      limits: { open_files: lots }\n", "t.yaml:4:29:",
		     "'open_files' must be a whole number");
	expect_error("security:\n  containers:\n    b:\n      limits: { locked_memory: 1KiB }\n", "t.yaml:4:32:",
		     "at least 4KiB");
	expect_error("security:\n  containers:\n    b:\n      limits: { locked_memory: 9MiB }\n", "t.yaml:4:32:",
		     "exceeds security.fs.locked_memory");
	expect_error("security:\n  containers:\n    b:\n      limits: 5\n", "t.yaml:4:15:",
		     "'limits' must be a mapping");
	expect_error("security:\n  fs:\n    limits: { locked_memory: 9MiB }\n", "t.yaml:3:30:",
		     "exceeds security.fs.locked_memory");
}
END_TEST

START_TEST(test_credentials_refused_anywhere)
{
	/* built from pieces so that this source holds no complete token */
	char text[512];
	struct why err;
	struct harombe_config *c;

	snprintf(text, sizeof(text), "security:\n  credentials:\n    provider: vault\n    vault_token: %s%s\n",
		 "hvs.", "CAESIJ2UhIXGQabcdefghijklmnopq");
	c = load(text, &err);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err.msg, "t.yaml:4:18: security.credentials.vault_token"));
	ck_assert_ptr_nonnull(strstr(err.msg, "Vault token"));
	ck_assert_ptr_null(strstr(err.msg, "CAESIJ"));

	expect_error("security:\n  containers:\n    b:\n      environment:\n        DB_PASSWORD: hunter2hunter2\n",
		     "t.yaml:5:22:", "credential-named key");
	expect_error("security:\n  containers:\n    b:\n      environment:\n        FOO: q8Zr2LmT0vXk9PbW3sYhN5aJc7EgUdRf\n",
		     "t.yaml:5:14:", "high-entropy value");
	expect_error("security:\n  notifications:\n    webhook: https://user:pa55word@hooks.example.com/x\n",
		     "t.yaml:3:14:", "URL with a password");
	expect_error("llm:\n  key: \"-----BEGIN PRIVATE KEY-----\\nMII\"\n", "t.yaml:2:8:", "private key");
}
END_TEST

START_TEST(test_references_accepted)
{
	static const char text[] =
		"security:\n"
		"  credentials:\n"
		"    provider: vault\n"
		"    vault_token: ~/.vault-token\n"
		"    secret_prefix: HAROMBE_SECRET_\n"
		"    token_file: /run/secrets/vault-token\n"
		"  containers:\n"
		"    b:\n"
		"      environment:\n"
		"        LOG_LEVEL: debug\n"
		"        COMMIT: 0123abcd\n"
		"        GIT_SHA: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\n"
		"        PASSWORD_FILE: /run/secrets/db\n"
		"      secrets:\n"
		"        DB_PASSWORD: dbpassword\n"
		"        GITHUB_TOKEN: github/token\n";
	struct why err;
	struct harombe_config *c;

	/* Paths, prefixes, references and hex ids are not credentials. */
	c = load(text, &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	config_free(c);
}
END_TEST

START_TEST(test_durations_and_sizes)
{
	uint64_t ms;
	size_t sz;

	ck_assert_int_eq(cfg_parse_duration_ms("0", &ms), 0);
	ck_assert_uint_eq(ms, 0);
	ck_assert_int_eq(cfg_parse_duration_ms("90", &ms), 0);
	ck_assert_uint_eq(ms, 90000);
	ck_assert_int_eq(cfg_parse_duration_ms("250ms", &ms), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(cfg_parse_duration_ms("30d", &ms), 0);
	ck_assert_uint_eq(ms, 30ull * 86400000);
	ck_assert_int_eq(cfg_parse_duration_ms("2w", &ms), 0);
	ck_assert_int_eq(cfg_parse_duration_ms("-1s", &ms), -EINVAL);
	ck_assert_int_eq(cfg_parse_duration_ms("1y", &ms), -EINVAL);
	ck_assert_int_eq(cfg_parse_duration_ms("", &ms), -EINVAL);
	ck_assert_int_eq(cfg_parse_duration_ms("99999999999999999999s", &ms), -EINVAL);
	ck_assert_int_eq(cfg_parse_size("8MiB", &sz), 0);
	ck_assert_uint_eq(sz, 8u << 20);
	ck_assert_int_eq(cfg_parse_size("8M", &sz), 0);
	ck_assert_uint_eq(sz, 8u << 20);
	ck_assert_int_eq(cfg_parse_size("8MB", &sz), 0);
	ck_assert_uint_eq(sz, 8000000);
	ck_assert_int_eq(cfg_parse_size("65536", &sz), 0);
	ck_assert_int_eq(cfg_parse_size("8 MiB", &sz), -EINVAL);
	ck_assert_int_eq(cfg_parse_size("1TiB", &sz), -EINVAL);
}
END_TEST

START_TEST(test_aliases_bounded)
{
	/* a billion laughs must not explode */
	static const char text[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	struct why err;

	ck_assert_ptr_null(load(text, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "too deeply"));
}
END_TEST

START_TEST(test_missing_file)
{
	struct why err = WHY_INIT;
	struct harombe_config *c;

	ck_assert_int_eq(config_load("/nonexistent/harombe.yaml", &c, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open config '/nonexistent/harombe.yaml'"));
}
END_TEST

/* certificates: three files of the view, each one key of one request with
 * its values %-encoded; mistakes name the place. */
START_TEST(test_certificates)
{
	struct why err;
	struct harombe_config *c;
	struct viewset *vs = NULL;
	const struct view *v;

	c = load("security:\n  containers:\n    web:\n      certificates:\n        tls:\n"
		 "          role: web\n          common_name: \"*.svc.internal\"\n"
		 "          alt_names: [a.internal, \"ops@x.internal\"]\n          ip_sans: 10.0.0.7\n"
		 "          ttl: 2h\n        mtls:\n          mount: team/pki\n          role: client\n"
		 "          common_name: web\n          ca_file: client-ca.crt\n", &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_msg(viewset_load(c, &vs, &err) == 0, "%s", err.msg);
	v = viewset_find(vs, "web");
	ck_assert_uint_eq(v->n_files, 6);
	ck_assert_uint_eq(v->n, 0);
	ck_assert_str_eq(v->files[0].name, "tls.crt");
	ck_assert_str_eq(v->files[0].key, "pki/issue/web?common_name=%2A.svc.internal"
			 "&alt_names=a.internal,ops%40x.internal&ip_sans=10.0.0.7&ttl=7200s#certificate");
	ck_assert_str_eq(v->files[1].name, "tls.key");
	ck_assert_str_eq(strchr(v->files[1].key, '#'), "#private_key");
	ck_assert_str_eq(v->files[2].name, "ca.crt");
	ck_assert_str_eq(strchr(v->files[2].key, '#'), "#ca_chain");
	ck_assert_str_eq(v->files[3].name, "mtls.crt");
	ck_assert_str_eq(v->files[3].key, "team/pki/issue/client?common_name=web#certificate");
	ck_assert_str_eq(v->files[5].name, "client-ca.crt");
	ck_assert_int_eq(view_find_file(v, "mtls.key"), 4);
	ck_assert_int_eq(view_find_file(v, "env"), -1);
	viewset_free(vs);
	config_free(c);

	expect_error("security:\n  containers:\n    w:\n      certificates:\n        tls: {common_name: x}\n",
		     "t.yaml:5:", "certificate 'tls' needs 'role'");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        tls: {role: r}\n",
		     "t.yaml:5:", "certificate 'tls' needs 'common_name'");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        tls: {role: r, common_name: x, "
		     "ttl: soon}\n", "t.yaml:5:", "'ttl' must be a duration");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        tls: {role: r, common_name: x, "
		     "mount: /pki}\n", "t.yaml:5:", "'mount' must be the PKI mount's path");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        a: {role: r, common_name: x}\n"
		     "        b: {role: r, common_name: y}\n", "t.yaml:", "'ca.crt' is already a certificate file");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        env: {role: r, common_name: x, "
		     "cert_file: env}\n", "t.yaml:5:", "'env' is a file every view has");
	expect_error("security:\n  containers:\n    w:\n      certificates:\n        tls: {role: r, common_name: x, "
		     "alt_names: [\"a,b\"]}\n", "t.yaml:5:", "without ','");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, test_seed_examples_load);
	tcase_add_test(tc, test_seed_bad_example_refused_without_value);
	tcase_add_test(tc, test_example1_values);
	tcase_add_test(tc, test_design_additions);
	tcase_add_test(tc, test_errors_name_file_line_column);
	tcase_add_test(tc, test_view_validation);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_credentials_refused_anywhere);
	tcase_add_test(tc, test_references_accepted);
	tcase_add_test(tc, test_durations_and_sizes);
	tcase_add_test(tc, test_aliases_bounded);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_certificates);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(config_suite)
