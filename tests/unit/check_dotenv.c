#include "lib/compat.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "inject/dotenv.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"

static struct dotenv d = DOTENV_INIT;
static struct dotenv_error err;

static void teardown(void)
{
	dotenv_release(&d);
}

static int parse(const char *text)
{
	return dotenv_parse((const unsigned char *)text, strlen(text), &d, &err);
}

/* Entry i has key k and value v (len bytes). */
static void expect(size_t i, const char *k, const char *v, size_t len)
{
	size_t n;
	const unsigned char *got;

	ck_assert_uint_gt(d.n, i);
	ck_assert_str_eq(d.e[i].key, k);
	got = secbuf_data(d.e[i].value, &n);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(got, v, len) == 0);
}
#define EXPECT(i, k, v) expect(i, k, v, sizeof(v) - 1)

START_TEST(test_plain_lines_comments_export)
{
	ck_assert_int_eq(parse("\xef\xbb\xbf# a comment\n"
			       "\n"
			       "   \t\n"
			       "A=1\n"
			       "export B=two words\n"
			       "  C = spaced  \n"
			       "D=\n"
			       "E=value # inline comment\n"
			       "F=a#b\n"
			       "G=#not a comment\n"
			       "H= # only a comment\n"
			       "export=kept\n"
			       "github/token#field=x\r\n"
			       "I=it's \"fine\"\n"
			       "   # indented comment\n"
			       "J=last"),
			 0);
	ck_assert_uint_eq(d.n, 12);
	EXPECT(0, "A", "1");
	EXPECT(1, "B", "two words");
	EXPECT(2, "C", "spaced");
	EXPECT(3, "D", "");
	EXPECT(4, "E", "value");
	EXPECT(5, "F", "a#b");
	EXPECT(6, "G", "#not a comment");
	EXPECT(7, "H", "");
	EXPECT(8, "export", "kept");
	EXPECT(9, "github/token#field", "x");
	EXPECT(10, "I", "it's \"fine\"");
	EXPECT(11, "J", "last");
	ck_assert_uint_eq(d.e[3].line, 7);
	ck_assert_uint_eq(d.e[11].line, 16);
}
END_TEST

START_TEST(test_single_quotes)
{
	ck_assert_int_eq(parse("A='$HOME \\n \"x\"'\n"
			       "B='it\\'s \\\\ back'   # c\n"
			       "C='multi\nline'\n"
			       "D=''\n"),
			 0);
	EXPECT(0, "A", "$HOME \\n \"x\"");
	EXPECT(1, "B", "it's \\ back");
	EXPECT(2, "C", "multi\nline");
	EXPECT(3, "D", "");
	ck_assert_uint_eq(d.e[3].line, 5);
}
END_TEST

START_TEST(test_double_quotes)
{
	ck_assert_int_eq(parse("A=\"a\\nb\\tc\\\"d\\\\e\\$f\\`g\\'h\"\n"
			       "B=\"C:\\path\\x\"\n"
			       "C=\"literal\nnewline\r\nand CRLF\" # comment\n"
			       "D=\"nul\\0byte\"\n"
			       "E=\"\\a\\b\\f\\v\\r\"\n"
			       "\"quoted key\"=\"v\"\n"),
			 0);
	EXPECT(0, "A", "a\nb\tc\"d\\e$f`g'h");
	EXPECT(1, "B", "C:\\path\\x");
	EXPECT(2, "C", "literal\nnewline\r\nand CRLF");
	expect(3, "D", "nul\0byte", 8);
	EXPECT(4, "E", "\a\b\f\v\r");
	EXPECT(5, "quoted key", "v");
	ck_assert_uint_eq(d.e[5].line, 8);
}
END_TEST

/* Errors give a line and a reason and never any of the input. */
#define bad(t, l, r) bad_(t, sizeof(t) - 1, l, r)
static void bad_(const char *text, size_t tlen, unsigned int line, const char *reason)
{
	ck_assert_int_eq(dotenv_parse((const unsigned char *)text, tlen, &d, &err), -EINVAL);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.e);
	ck_assert_uint_eq(err.line, line);
	ck_assert_msg(strstr(why_str(&err.why), reason) != NULL, "'%s' lacks '%s'", why_str(&err.why), reason);
	ck_assert_ptr_null(strstr(why_str(&err.why), "s3cr3t"));
}

START_TEST(test_errors)
{
	bad("A=1\ns3cr3t\n", 2, "line 2: expected '=' after the key");
	bad("A=1\n\nB=\"s3cr3t\n\nmore\n", 3, "line 3: unterminated double-quoted value");
	bad("A='s3cr3t\n", 1, "line 1: unterminated single-quoted value");
	bad("A=\"s3cr3t\"tail\n", 1, "line 1: unexpected text after the closing quote");
	bad("A=\"x\ny\"s3cr3t\n", 2, "line 2: unexpected text after the closing quote");
	bad("=s3cr3t\n", 1, "line 1: expected KEY=VALUE");
	bad("A=1\nB=2\nA=s3cr3t\n", 3, "line 3: the key is already set on line 1");
	bad("A s3cr3t=1\n", 1, "line 1: expected '=' after the key, found another character");
	bad("A=s3\0cr3t\n", 1, "line 1: a NUL byte");
	bad("A=\"s3\0cr3t\"\n", 1, "line 1: a NUL byte");
	bad("'s3cr3t'=1\n", 1, "line 1: expected KEY=VALUE");
}
END_TEST

START_TEST(test_write_format)
{
	struct secbuf *out = secbuf_new(64);

	ck_assert_int_eq(dotenv_write(out, "github/token", (const unsigned char *)"a\"$`\\\n\r\t", 8), 0);
	ck_assert_int_eq(dotenv_write(out, "odd key=", (const unsigned char *)"", 0), 0);
	ck_assert_int_eq(dotenv_write(out, "#x", (const unsigned char *)"\0", 1), 0);
	ck_assert_str_eq(secbuf_str(out), "github/token=\"a\\\"\\$\\`\\\\\\n\\r\t\"\n"
					  "\"odd key=\"=\"\"\n"
					  "\"#x\"=\"\\0\"\n");
	secbuf_free(out);
}
END_TEST

/* What is written reads back byte for byte: hand-picked, then random. */
static const char *const adversarial[] = {
	"", " ", "  leading and trailing  ", "\"", "'", "\\", "\\\\\"", "$HOME ${PATH} $$ $",
	"`id`", "$(id)", "a\nb", "\n", "\r\n", "trailing\r", "#hash", "# x", "a #b", "x=y=z",
	"\xc3\xbc\xe2\x98\x83 \xf0\x9f\x94\x91", "\xff\xfe invalid utf-8", "tab\tin", "\\n", "\\0",
	"export X=1", "'single'", "\"double\"", "\\\n", "end\\",
};

START_TEST(test_round_trip_adversarial)
{
	struct secbuf *out = secbuf_new(64);
	char key[64];
	size_t i, n;
	const unsigned char *text;

	for (i = 0; i < ARRAY_SIZE(adversarial); i++) {
		snprintf(key, sizeof(key), i % 3 ? "k%zu" : i % 2 ? "dir/k%zu#f" : "a key %zu", i);
		ck_assert_int_eq(dotenv_write(out, key, (const unsigned char *)adversarial[i],
					      strlen(adversarial[i])), 0);
	}
	ck_assert_int_eq(dotenv_write(out, "nul", (const unsigned char *)"a\0b\0", 4), 0);
	text = secbuf_data(out, &n);
	ck_assert_int_eq(dotenv_parse(text, n, &d, &err), 0);
	ck_assert_uint_eq(d.n, ARRAY_SIZE(adversarial) + 1);
	for (i = 0; i < ARRAY_SIZE(adversarial); i++) {
		snprintf(key, sizeof(key), i % 3 ? "k%zu" : i % 2 ? "dir/k%zu#f" : "a key %zu", i);
		expect(i, key, adversarial[i], strlen(adversarial[i]));
	}
	expect(i, "nul", "a\0b\0", 4);
	secbuf_free(out);
}
END_TEST

START_TEST(test_round_trip_random)
{
	char key[80];
	size_t round, i, n, len[50];
	struct secbuf *out;
	const unsigned char *text;

	ck_assert_int_ge(sodium_init(), 0);
	for (round = 0; round < 40; round++) {
		unsigned char vals[50][200];

		out = secbuf_new(64);
		for (i = 0; i < 50; i++) {
			size_t k, kl = 1 + randombytes_uniform(30);

			/* keys: printable ASCII and UTF-8, never a control byte */
			for (k = 0; k < kl; k++)
				key[k] = (char)(0x20 + randombytes_uniform(0x5f));
			snprintf(key + kl, sizeof(key) - kl, "%zu", i);
			len[i] = randombytes_uniform(200);
			randombytes_buf(vals[i], len[i]);
			ck_assert_int_eq(dotenv_write(out, key, vals[i], len[i]), 0);
		}
		text = secbuf_data(out, &n);
		ck_assert_int_eq(dotenv_parse(text, n, &d, &err), 0);
		ck_assert_uint_eq(d.n, 50);
		for (i = 0; i < 50; i++) {
			const unsigned char *got = secbuf_data(d.e[i].value, &n);

			ck_assert_uint_eq(n, len[i]);
			ck_assert(memcmp(got, vals[i], n) == 0);
		}
		dotenv_release(&d);
		secbuf_free(out);
		sodium_memzero(vals, sizeof(vals));
	}
}
END_TEST

static Suite *dotenv_suite(void)
{
	Suite *s = suite_create("dotenv");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_plain_lines_comments_export);
	tcase_add_test(tc, test_single_quotes);
	tcase_add_test(tc, test_double_quotes);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_write_format);
	tcase_add_test(tc, test_round_trip_adversarial);
	tcase_add_test(tc, test_round_trip_random);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(dotenv_suite)
