#include "lib/compat.h"

#include <errno.h>
#include <string.h>

#include "inject/render.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static struct secbuf *vals[4];

static void teardown(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		secbuf_free(vals[i]);
		vals[i] = NULL;
	}
}

static int render1(enum render_kind kind, const char *name, const char *v, size_t len,
		   struct secbuf **out, struct why *why)
{
	const char *names[1] = { name };

	vals[0] = secbuf_dup(v, len);
	return render_view(kind, 1, names, vals, 1 << 20, out, why);
}

START_TEST(test_env_escapes_only_what_sh_interprets)
{
	struct secbuf *out;
	struct why why = WHY_INIT;
	static const char v[] = "a\"b$(id)`x`\\c\nline2 'q' \xc3\xbc!";

	ck_assert_int_eq(render1(RENDER_ENV, "X", v, strlen(v), &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "X=\"a\\\"b\\$(id)\\`x\\`\\\\c\nline2 'q' \xc3\xbc!\"\n");
	secbuf_free(out);
}
END_TEST

START_TEST(test_env_refuses_nul)
{
	struct secbuf *out;
	struct why why = WHY_INIT;

	ck_assert_int_eq(render1(RENDER_ENV, "X", "a\0b", 3, &out, &why), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(why.msg, "X contains a NUL"));
}
END_TEST

START_TEST(test_env_empty_and_order)
{
	const char *names[3] = { "B", "A", "EMPTY" };
	struct secbuf *out;
	struct why why = WHY_INIT;

	vals[0] = secbuf_dup("2", 1);
	vals[1] = secbuf_dup("1", 1);
	vals[2] = secbuf_new(0);
	ck_assert_int_eq(render_view(RENDER_ENV, 3, names, vals, 1 << 20, &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "B=\"2\"\nA=\"1\"\nEMPTY=\"\"\n");
	secbuf_free(out);
}
END_TEST

START_TEST(test_docker_env_literal)
{
	struct secbuf *out;
	struct why why = WHY_INIT;
	static const char v[] = " \"quoted\" $HOME 'x' =";

	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", v, strlen(v), &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "X= \"quoted\" $HOME 'x' =\n");
	secbuf_free(out);
}
END_TEST

START_TEST(test_docker_env_refusals)
{
	struct secbuf *out;
	struct why why = WHY_INIT;

	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", "a\nb", 3, &out, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "X contains a newline"));
	teardown();
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", "ab\r", 3, &out, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "carriage return"));
	teardown();
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", "a\xff", 2, &out, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "UTF-8"));
	teardown();
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", "a\0", 2, &out, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "NUL"));
	teardown();
	/* a CR inside the value is fine */
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", "a\rb", 3, &out, &why), 0);
	secbuf_free(out);
}
END_TEST

START_TEST(test_docker_env_line_limit)
{
	static char big[70000];
	struct secbuf *out;
	struct why why = WHY_INIT;

	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", big, 65533, &out, &why), 0);	/* X= + 65533 */
	secbuf_free(out);
	teardown();
	ck_assert_int_eq(render1(RENDER_DOCKER_ENV, "X", big, 65534, &out, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "64 KiB"));
}
END_TEST

START_TEST(test_json)
{
	const char *names[2] = { "A", "B" };
	struct secbuf *out;
	struct why why = WHY_INIT;

	vals[0] = secbuf_dup("q\"\\\n\t\x01/\xc3\xbc", 9);
	vals[1] = secbuf_new(0);
	ck_assert_int_eq(render_view(RENDER_JSON, 2, names, vals, 1 << 20, &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "{\n  \"A\": \"q\\\"\\\\\\n\\t\\u0001/\xc3\xbc\",\n  \"B\": \"\"\n}\n");
	secbuf_free(out);
	ck_assert_int_eq(render_view(RENDER_JSON, 0, names, vals, 1 << 20, &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "{}\n");
	secbuf_free(out);
	teardown();
	ck_assert_int_eq(render1(RENDER_JSON, "X", "\xed\xa0\x80", 3, &out, &why), -EINVAL);	/* surrogate */
}
END_TEST

START_TEST(test_raw_and_limit)
{
	struct secbuf *out;
	struct why why = WHY_INIT;
	const char *names[1] = { "X" };

	ck_assert_int_eq(render1(RENDER_RAW, "X", "a\0\n\xff", 4, &out, &why), 0);
	ck_assert(secbuf_equal(out, "a\0\n\xff", 4));
	secbuf_free(out);
	secbuf_free(vals[0]);
	vals[0] = secbuf_dup("12345", 5);
	ck_assert_int_eq(render_view(RENDER_ENV, 1, names, vals, 9, &out, &why), -EFBIG);
	ck_assert_int_eq(render_view(RENDER_ENV, 1, names, vals, 10, &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "X=\"12345\"\n");
	secbuf_free(out);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(render_utf8_valid((const unsigned char *)"", 0));
	ck_assert(render_utf8_valid((const unsigned char *)"\xf0\x9f\x94\x91", 4));
	ck_assert(!render_utf8_valid((const unsigned char *)"\xc0\xaf", 2));	/* overlong */
	ck_assert(!render_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	ck_assert(!render_utf8_valid((const unsigned char *)"\xe2\x82", 2));	/* truncated */
}
END_TEST

static Suite *render_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("formats");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_env_escapes_only_what_sh_interprets);
	tcase_add_test(tc, test_env_refuses_nul);
	tcase_add_test(tc, test_env_empty_and_order);
	tcase_add_test(tc, test_docker_env_literal);
	tcase_add_test(tc, test_docker_env_refusals);
	tcase_add_test(tc, test_docker_env_line_limit);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_raw_and_limit);
	tcase_add_test(tc, test_utf8);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(render_suite)
