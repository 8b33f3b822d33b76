#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "backends/vault/sjson.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static struct json_object *parse_ok(const char *text)
{
	struct json_object *o = NULL;
	struct why msg = WHY_INIT;

	ck_assert_msg(sjson_parse(text, strlen(text), &o, &msg) == 0, "%s", why_str(&msg));
	ck_assert_ptr_nonnull(o);
	return o;
}

START_TEST(test_parse_errors)
{
	struct json_object *o = (void *)1;
	struct why msg = WHY_INIT;

	ck_assert_int_eq(sjson_parse("{\"a\": \"b", 8, &o, &msg), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(why_str(&msg), "truncated JSON");
	ck_assert_int_eq(sjson_parse("{} x", 4, &o, &msg), -EINVAL);
	ck_assert(strstr(why_str(&msg), "trailing") != NULL);
	ck_assert_int_eq(sjson_parse("<html>", 6, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("", 0, &o, &msg), -EINVAL);
	/* Not JSON, though json-c alone takes them: a leading zero, an
	 * exponent without digits, a trailing comma (fuzz_sjson found "04e"
	 * written back as "04", which then read as 4). */
	ck_assert_int_eq(sjson_parse("04", 2, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("04e", 3, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("{\"a\": 1e}", 10, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("[1,]", 4, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("NaN", 3, &o, &msg), -EINVAL);
	ck_assert_int_eq(sjson_parse("{\"a\": [-Infinity]}", 18, &o, &msg), -EINVAL);
	ck_assert_ptr_null(o);
	o = parse_ok("  {\"a\": 1}\n");
	sjson_put(o);
}
END_TEST

/* sjson_put() must leave no value bytes in json-c's objects.  An extra
 * reference keeps the tree alive after sjson_put() so we can look. */
START_TEST(test_put_wipes_values)
{
	static const char doc[] = "{\"data\": {\"short\": \"s3cr3t\", \"long\": "
				  "\"a-much-longer-secret-value-that-json-c-keeps-on-the-heap-0123456789\", "
				  "\"num\": 424242, \"dbl\": 3.14159, \"arr\": [\"in-array-secret\"]}}";
	struct json_object *o = parse_ok(doc), *d, *s, *l, *n, *f, *a;
	const char *sp, *lp;
	size_t slen, llen, i;

	d = sjson_obj(o, "data");
	s = sjson_obj(d, "short");
	l = sjson_obj(d, "long");
	n = sjson_obj(d, "num");
	f = sjson_obj(d, "dbl");
	a = json_object_array_get_idx(sjson_obj(d, "arr"), 0);
	sp = json_object_get_string(s);
	lp = json_object_get_string(l);
	slen = strlen(sp);
	llen = strlen(lp);
	json_object_get(o);
	sjson_put(o);
	for (i = 0; i < slen; i++)
		ck_assert_int_eq(sp[i], 0);
	for (i = 0; i < llen; i++)
		ck_assert_int_eq(lp[i], 0);
	ck_assert_int_eq(json_object_get_string(a)[0], 0);
	ck_assert_int_eq(json_object_get_int64(n), 0);
	ck_assert(json_object_get_double(f) == 0.0);
	ck_assert_ptr_null(json_object_get_userdata(f));
	json_object_put(o);
}
END_TEST

static void roundtrip(const unsigned char *p, size_t n)
{
	struct secbuf *sb = secbuf_new(16);
	struct json_object *o;
	struct why msg = WHY_INIT;

	ck_assert_int_eq(sjson_write_str(sb, p, n), 0);
	ck_assert_int_eq(sjson_parse(secbuf_str(sb), secbuf_len(sb), &o, &msg), 0);
	ck_assert(json_object_is_type(o, json_type_string));
	ck_assert_int_eq(json_object_get_string_len(o), (int)n);
	ck_assert(memcmp(json_object_get_string(o), p, n) == 0);
	sjson_put(o);
	secbuf_free(sb);
}

START_TEST(test_write_str_roundtrip)
{
	unsigned char all[127];
	size_t i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(i + 1);	/* every ASCII byte but NUL */
	roundtrip(all, sizeof(all));
	roundtrip((const unsigned char *)"", 0);
	roundtrip((const unsigned char *)"\"\\\n\r\t\b\f/", 9);
	roundtrip((const unsigned char *)"caf\xc3\xa9 \xe2\x82\xac", 10);
}
END_TEST

START_TEST(test_write_tree)
{
	struct json_object *o = parse_ok("{\"a\": [1, -2, 18446744073709551615, 1.50, true, null, "
					 "{\"b\": \"x\\\"y\"}], \"c\": false}");
	struct secbuf *sb = secbuf_new(16);

	ck_assert_int_eq(sjson_write(sb, o), 0);
	ck_assert_str_eq(secbuf_str(sb),
			 "{\"a\":[1,-2,18446744073709551615,1.50,true,null,{\"b\":\"x\\\"y\"}],\"c\":false}");
	secbuf_free(sb);
	sjson_put(o);
}
END_TEST

START_TEST(test_value_and_accessors)
{
	struct json_object *o = parse_ok("{\"s\": \"text\", \"n\": 7, \"ns\": \"12\", \"b\": true, "
					 "\"o\": {\"k\": [1]}}");
	struct secbuf *v;

	ck_assert_int_eq(sjson_value(sjson_obj(o, "s"), &v), 0);
	ck_assert(secbuf_equal(v, "text", 4));
	secbuf_free(v);
	ck_assert_int_eq(sjson_value(sjson_obj(o, "o"), &v), 0);
	ck_assert_str_eq(secbuf_str(v), "{\"k\":[1]}");
	secbuf_free(v);
	ck_assert_int_eq(sjson_value(sjson_obj(o, "n"), &v), 0);
	ck_assert_str_eq(secbuf_str(v), "7");
	secbuf_free(v);
	ck_assert_str_eq(sjson_str(o, "s"), "text");
	ck_assert_ptr_null(sjson_str(o, "n"));
	ck_assert_int_eq(sjson_int(o, "n", -1), 7);
	ck_assert_int_eq(sjson_int(o, "ns", -1), 12);
	ck_assert_int_eq(sjson_int(o, "s", -1), -1);
	ck_assert_int_eq(sjson_int(o, "missing", -1), -1);
	ck_assert_int_eq(sjson_bool(o, "b", 0), 1);
	ck_assert_int_eq(sjson_bool(o, "n", 5), 5);
	ck_assert_ptr_null(sjson_obj(sjson_obj(o, "s"), "x"));
	sjson_put(o);
}
END_TEST

/* A document much larger than json-c's first scratch buffer parses the
 * same after the priming pass (the scratch buffer is reused, not grown). */
START_TEST(test_large_values)
{
	char *doc = malloc(70000), *p;
	struct json_object *o;
	size_t i;

	ck_assert_ptr_nonnull(doc);
	p = doc + sprintf(doc, "{\"v\": \"");
	for (i = 0; i < 65000; i++)
		*p++ = (char)('a' + i % 26);
	strcpy(p, "\", \"w\": \"short\"}");
	o = parse_ok(doc);
	ck_assert_int_eq(json_object_get_string_len(sjson_obj(o, "v")), 65000);
	ck_assert_str_eq(sjson_str(o, "w"), "short");
	sjson_put(o);
	free(doc);
}
END_TEST

static Suite *sjson_suite(void)
{
	Suite *s = suite_create("sjson");
	TCase *tc = tcase_create("sjson");

	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_put_wipes_values);
	tcase_add_test(tc, test_write_str_roundtrip);
	tcase_add_test(tc, test_write_tree);
	tcase_add_test(tc, test_value_and_accessors);
	tcase_add_test(tc, test_large_values);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sjson_suite)
