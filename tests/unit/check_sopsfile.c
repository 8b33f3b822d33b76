#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/sops/sopsfile.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

/*
 * The parsers of `harombe sops` that read what a user (or a repository)
 * hands it: --extract paths and .sops.yaml creation rules, and where
 * .sops.yaml is looked for.  The files themselves are covered by
 * tests/integration/t_cli_sops.sh.
 */

#define R1 "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"
#define R2 "age1f3ygt5e2d2h7d6dae2tnwgy4y6f0kwhvpa64cre0k2gprv2r8qnst4j00y"

START_TEST(test_extract_ok)
{
	struct why why = WHY_INIT;
	struct sopsfile_step *st = NULL;
	size_t n = 0;

	ck_assert_int_eq(sopsfile_extract_parse("[\"a\"]['b c'][12][\"\"]", &st, &n, &why), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(st[0].key, "a");
	ck_assert_str_eq(st[1].key, "b c");
	ck_assert_ptr_null(st[2].key);
	ck_assert_uint_eq(st[2].index, 12);
	ck_assert_str_eq(st[3].key, "");
	ck_assert_uint_eq(st[3].klen, 0);
	sopsfile_extract_free(st, n);
}
END_TEST

START_TEST(test_extract_bad)
{
	static const char *const bad[] = {
		"", "a", "[a]", "[\"a\"", "[\"a]", "[\"a\"]x", "[-1]", "[]", "[1", "[\"a\"]]",
		"[99999999999999999999999999]", ".a.b", "[\"a\"] [\"b\"]",
	};
	char deep[SOPSFILE_EXTRACT_MAX * 3 + 8] = "";
	struct why why = WHY_INIT;
	struct sopsfile_step *st = (void *)1;
	size_t n = 7, i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(sopsfile_extract_parse(bad[i], &st, &n, &why) == -EINVAL, "accepted '%s'", bad[i]);
		ck_assert_ptr_null(st);
		ck_assert_uint_eq(n, 0);
	}
	for (i = 0; i <= SOPSFILE_EXTRACT_MAX; i++)
		strcat(deep, "[0]");
	ck_assert_int_eq(sopsfile_extract_parse(deep, &st, &n, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "steps"));
}
END_TEST

static const char rules_text[] =
	"creation_rules:\n"
	"  - path_regex: k8s/.*\\.yaml$\n"
	"    encrypted_regex: ^(data|stringData)$\n"
	"    age: >-\n"
	"      " R1 ",\n"
	"      " R2 "\n"
	"  - path_regex: \\.json$\n"
	"    key_groups:\n"
	"      - age:\n"
	"          - " R1 "\n"
	"    mac_only_encrypted: true\n"
	"  - path_regex: \\.ini$\n"
	"    kms: arn:aws:kms:us-east-1:1:key/x\n"
	"  - path_regex: \\.env$\n"
	"    key_groups:\n"
	"      - age: [" R1 "]\n"
	"      - age: [" R2 "]\n"
	"  - age: [" R2 "]\n"
	"    unencrypted_suffix: _clear\n";

START_TEST(test_rules_match)
{
	struct why why = WHY_INIT;
	struct sopsfile_rule r;

	ck_assert_int_eq(sopsfile_rules_match(rules_text, strlen(rules_text), "k8s/s.yaml", &r, &why), 0);
	ck_assert_uint_eq(r.nage, 2);
	ck_assert_str_eq(r.age[0], R1);
	ck_assert_str_eq(r.age[1], R2);
	ck_assert_str_eq(r.rule_key, "encrypted_regex");
	ck_assert_str_eq(r.rule_arg, "^(data|stringData)$");
	ck_assert_int_eq(r.mac_only_encrypted, 0);
	ck_assert_int_eq(r.index, 0);
	sopsfile_rule_release(&r);

	ck_assert_int_eq(sopsfile_rules_match(rules_text, strlen(rules_text), "a/b.json", &r, &why), 0);
	ck_assert_uint_eq(r.nage, 1);
	ck_assert_str_eq(r.age[0], R1);
	ck_assert_ptr_null(r.rule_key);
	ck_assert_int_eq(r.mac_only_encrypted, 1);
	sopsfile_rule_release(&r);

	ck_assert_int_eq(sopsfile_rules_match(rules_text, strlen(rules_text), "x.ini", &r, &why), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "kms"));
	ck_assert_int_eq(sopsfile_rules_match(rules_text, strlen(rules_text), "x.env", &r, &why), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "Shamir"));

	/* the last rule has no path_regex: it matches everything else */
	ck_assert_int_eq(sopsfile_rules_match(rules_text, strlen(rules_text), "other.txt", &r, &why), 0);
	ck_assert_uint_eq(r.nage, 1);
	ck_assert_str_eq(r.age[0], R2);
	ck_assert_str_eq(r.rule_key, "unencrypted_suffix");
	ck_assert_int_eq(r.index, 4);
	sopsfile_rule_release(&r);
}
END_TEST

START_TEST(test_rules_bad)
{
	static const char *const bad[] = {
		"creation_rules: {a: b}\n",
		"creation_rules:\n  - 7\n",
		"creation_rules:\n  - path_regex: '('\n    age: x\n",
		"creation_rules:\n  - age: {a: b}\n",
		"creation_rules:\n  - key_groups: 3\n",
		"creation_rules:\n  - encrypted_regex: a\n    unencrypted_regex: b\n",
		"a: [unclosed\n",
		"- a\n- b\n",
		"sops: {}\n",
	};
	struct why why = WHY_INIT;
	struct sopsfile_rule r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = sopsfile_rules_match(bad[i], strlen(bad[i]), "f.yaml", &r, &why);

		ck_assert_msg(rc == -EINVAL || rc == -ENOENT, "rule text %zu: %d", i, rc);
		ck_assert_ptr_null(r.age);
		ck_assert_ptr_null(r.rule_arg);
	}
	ck_assert_int_eq(sopsfile_rules_match("x: 1\n", 5, "f", &r, &why), -ENOENT);
	ck_assert_int_eq(sopsfile_rules_match("creation_rules:\n  - path_regex: nomatch\n    age: " R1 "\n",
					      strlen("creation_rules:\n  - path_regex: nomatch\n    age: " R1 "\n"),
					      "f", &r, &why), -ENOENT);
	ck_assert_int_eq(sopsfile_rules_match("a\0b", 3, "f", &r, &why), -EINVAL);
}
END_TEST

START_TEST(test_find_config)
{
	char dir[] = "/tmp/harombe-sopsfile-XXXXXX", p[256], *got;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	ck_assert_int_eq(system(strcat(strcpy((char[300]){ 0 }, "mkdir -p "), p)), 0);
	snprintf(p, sizeof(p), "%s/a/.sops.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fclose(f);
	snprintf(p, sizeof(p), "%s/a/b/c/file.yaml", dir);
	got = sopsfile_find_config(p);	/* the file need not exist */
	ck_assert_ptr_nonnull(got);
	snprintf(p, sizeof(p), "%s/a/.sops.yaml", dir);
	ck_assert_str_eq(got, p);
	free(got);
	snprintf(p, sizeof(p), "%s/a/b", dir);
	got = sopsfile_find_config(p);	/* a directory's own parent chain */
	ck_assert_ptr_nonnull(got);
	free(got);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	ck_assert_int_eq(system(p), 0);
}
END_TEST

START_TEST(test_type)
{
	int fmt = -1;

	ck_assert_int_eq(sopsfile_type(NULL, "x.yml", &fmt), 0);
	ck_assert_int_eq(sopsfile_type("yaml", "x.json", &fmt), 0);
	ck_assert_int_eq(sopsfile_type("env", "x", &fmt), 0);
	ck_assert_int_eq(sopsfile_type("toml", "x", &fmt), -EINVAL);
}
END_TEST

static Suite *sopsfile_suite(void)
{
	Suite *s = suite_create("sopsfile");
	TCase *tc = tcase_create("extract");

	tcase_add_test(tc, test_extract_ok);
	tcase_add_test(tc, test_extract_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, test_rules_match);
	tcase_add_test(tc, test_rules_bad);
	tcase_add_test(tc, test_find_config);
	tcase_add_test(tc, test_type);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sopsfile_suite)
