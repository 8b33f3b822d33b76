/* scan/fingerprint.c: fingerprints of findings and the sets of them that
 * baselines and ignore files hold. */
#include "lib/compat.h"

#include <errno.h>
#include <string.h>

#include "scan/fingerprint.h"
#include "tests/unit/unit.h"

/* Made up, in GitHub's shape; split so that no scanner takes the source for a leak. */
static const char tok[] = "gh" "p_0123456789abcdefghijABCDEFGHIJ012345";

START_TEST(test_fingerprint_stable_and_keyed)
{
	char a[FINGERPRINT_MAX], b[FINGERPRINT_MAX], c[FINGERPRINT_MAX], d[FINGERPRINT_MAX], e[FINGERPRINT_MAX];

	ck_assert_int_eq(fingerprint_make("github_token", "a.env", tok, strlen(tok), a), 0);
	ck_assert_int_eq(fingerprint_make("github_token", "a.env", tok, strlen(tok), b), 0);
	ck_assert_str_eq(a, b);
	ck_assert(!strncmp(a, "github_token:a.env:", 19));
	ck_assert_uint_eq(strlen(a), 19 + FINGERPRINT_HASH_HEX);
	ck_assert_ptr_null(strstr(a, "0123456789abcdef"));	/* no piece of the value */
	/* the value, the rule and the path all change it */
	ck_assert_int_eq(fingerprint_make("github_token", "a.env", tok, strlen(tok) - 1, c), 0);
	ck_assert_str_ne(strrchr(a, ':'), strrchr(c, ':'));
	ck_assert_int_eq(fingerprint_make("other", "a.env", tok, strlen(tok), d), 0);
	ck_assert_str_ne(strrchr(a, ':'), strrchr(d, ':'));
	ck_assert_int_eq(fingerprint_make("github_token", "b.env", tok, strlen(tok), e), 0);
	ck_assert_str_ne(strrchr(a, ':'), strrchr(e, ':'));
}
END_TEST

START_TEST(test_fpset_baseline_and_ignore)
{
	static const char base[] = "{\"harombe_baseline\": 1, \"findings\": [{\"fingerprint\": \"r:p:00\"}, "
				   "{\"fingerprint\": \"r:q:11\", \"line\": 3}]}\n\n";
	static const char ign[] = "# comment\n\n  r:x y:22  \r\nr:z:33";
	struct fpset *s = fpset_new();
	char err[256] = "";

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(fpset_load_baseline(s, "b.json", base, strlen(base), err, sizeof(err)), 0);
	ck_assert_int_eq(fpset_load_ignore(s, ign, strlen(ign)), 0);
	ck_assert_uint_eq(fpset_count(s), 4);
	ck_assert(fpset_has(s, "r:p:00") && fpset_has(s, "r:q:11") && fpset_has(s, "r:x y:22") && fpset_has(s, "r:z:33"));
	ck_assert(!fpset_has(s, "r:p:0") && !fpset_has(s, "# comment"));
	ck_assert(!fpset_has(NULL, "r:p:00"));
	ck_assert_int_eq(fpset_load_baseline(s, "bad.json", "[1]", 3, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "bad.json"));
	ck_assert_int_eq(fpset_load_baseline(s, "t.json", "{\"findings\": []} x", 18, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(fpset_load_baseline(s, "f.json", "{\"findings\": [{}]}", 18, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "finding 1"));
	fpset_free(s);
}
END_TEST

static Suite *fingerprint_suite(void)
{
	Suite *s = suite_create("fingerprint");
	TCase *tc = tcase_create("fingerprint_make");

	tcase_add_test(tc, test_fingerprint_stable_and_keyed);
	suite_add_tcase(s, tc);
	tc = tcase_create("fpset");
	tcase_add_test(tc, test_fpset_baseline_and_ignore);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(fingerprint_suite)
