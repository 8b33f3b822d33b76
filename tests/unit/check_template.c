#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inject/template.h"
#include "inject/view.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static const char *const keys[] = { "db/creds#password", "db/creds#user", "api/token" };
static const char *const names[] = { "DB_PASSWORD", "DB_USER", "API_TOKEN" };
static const struct template_origin src = { "/etc/harombe/t/app.ini.tmpl", 0, 0, "template 'app.ini'" };
static const struct template_origin inl = { "harombe.yaml", 12, 18, "template '.pgpass'" };

static struct template *t;
static struct secbuf *out;

static void teardown(void)
{
	template_free(t);
	t = NULL;
	secbuf_free(out);
	out = NULL;
}

static int parse(const struct template_origin *o, const char *text, struct why *why)
{
	return template_parse(o, text, strlen(text), keys, names, ARRAY_SIZE(keys), &t, why);
}

/* Render t with values for its keys looked up in keys[]/vals[]. */
static int render(const char *const *vals, struct why *why)
{
	struct secbuf *sbs[8] = { 0 };
	size_t i, k;
	int r;

	for (i = 0; i < template_nkeys(t); i++)
		for (k = 0; k < ARRAY_SIZE(keys); k++)
			if (!strcmp(template_keys(t)[i], keys[k]))
				sbs[i] = secbuf_dup(vals[k], strlen(vals[k]));
	r = template_render(t, sbs, 1 << 20, &out, why);
	for (i = 0; i < 8; i++)
		secbuf_free(sbs[i]);
	return r;
}

static const char *esc(enum template_filter f, const char *v, size_t len, int *rc)
{
	struct why why = WHY_INIT;

	secbuf_free(out);
	out = secbuf_new(16);
	*rc = template_escape(f, (const unsigned char *)v, len, out, &why);
	return secbuf_str(out);
}

START_TEST(test_render_keys_and_filters)
{
	struct why why = WHY_INIT;
	static const char *const vals[] = { "p:w\\d", "app", "t'k" };

	ck_assert_int_eq(parse(&src, "[db]\nuser = {{ secret \"db/creds#user\" }}\n"
			       "pass={{secret \"db/creds#password\"|pgpass}} {{ secret \"api/token\" | sh }}"
			       " {{ \"{{\" }} {{ secret \"db/creds#user\" | base64 | json }}\n", &why), 0);
	ck_assert_uint_eq(template_nkeys(t), 3);
	ck_assert_str_eq(template_keys(t)[0], "db/creds#user");
	ck_assert_str_eq(template_names(t)[0], "DB_USER");
	ck_assert_str_eq(template_names(t)[1], "DB_PASSWORD");
	ck_assert_int_eq(render(vals, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "[db]\nuser = app\npass=p\\:w\\\\d 't'\\''k' {{ \"YXBw\"\n");
}
END_TEST

START_TEST(test_plain_text_and_stray_braces)
{
	struct why why = WHY_INIT;

	ck_assert_int_eq(parse(&src, "a } }} b {", &why), 0);
	ck_assert_uint_eq(template_nkeys(t), 0);
	ck_assert_int_eq(render(NULL, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "a } }} b {");
}
END_TEST

START_TEST(test_errors_name_file_line_col)
{
	struct why why = WHY_INIT;

	ck_assert_int_eq(parse(&src, "x\n  {{ secret \"other/key\" }}\n", &why), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(why.msg, "/etc/harombe/t/app.ini.tmpl:2:13: template 'app.ini': key 'other/key' is "
			 "not one of the container's secrets (add it under 'secrets:')");
	ck_assert_int_eq(parse(&inl, "a:{{ secret \"api/token\" | shell }}", &why), -EINVAL);
	ck_assert_str_eq(why.msg, "harombe.yaml:12:18: template '.pgpass', line 1 column 27 of the text: "
			 "unknown filter 'shell' (known: sh, json, yaml, toml, ini, xml, url, base64, pgpass, "
			 "netrc, dotenv)");
	ck_assert_int_eq(parse(&src, "ok\n{{ secret \"api/token\" ", &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, ":2:1: template 'app.ini': '{{' without its '}}'"));
	ck_assert_int_eq(parse(&src, "{{ env \"HOME\" }}", &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, ":1:4: "));
	ck_assert_ptr_nonnull(strstr(why.msg, "unknown function 'env'"));
	ck_assert_int_eq(parse(&src, "{{ secret \"api/token }}", &why), -EINVAL);
	ck_assert_int_eq(parse(&src, "{{ secret api/token }}", &why), -EINVAL);
	ck_assert_int_eq(parse(&src, "{{ }}", &why), -EINVAL);
	ck_assert_int_eq(parse(&src, "{{ secret \"api/token\" | sh | sh | sh | sh | sh }}", &why), -EINVAL);
	ck_assert_int_eq(parse(&src, "{{ secret \"api/token\" sh }}", &why), -EINVAL);
}
END_TEST

START_TEST(test_credentials_refused)
{
	struct why why = WHY_INIT;

	ck_assert_int_eq(parse(&src, "[a]\ntoken = ghp_abcdefghijklmnopqrstuvwxyz0123456789\n", &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "app.ini.tmpl:2:1: "));
	ck_assert_ptr_nonnull(strstr(why.msg, "GitHub token"));
	ck_assert_int_eq(parse(&src, "[a]\npassword = hunter2hunter2\n", &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "credential-named"));
	ck_assert_int_eq(parse(&src, "url=postgres://app:s3cretpw@db/x\n", &why), -EINVAL);
	/* a reference in a credential's place is what templates are for */
	ck_assert_int_eq(parse(&src, "password = {{ secret \"db/creds#password\" | ini }}\n"
			       "url=postgres://app:{{ secret \"db/creds#password\" | url }}@db/x\n"
			       "password_file = /run/harombe/x\n", &why), 0);
}
END_TEST

START_TEST(test_filter_outputs)
{
	int rc;

	ck_assert_str_eq(esc(TEMPLATE_SH, "a'b $x", 6, &rc), "'a'\\''b $x'");
	ck_assert_int_eq(rc, 0);
	esc(TEMPLATE_SH, "a\0b", 3, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_JSON, "a\"\\\n", 4, &rc), "\"a\\\"\\\\\\n\"");
	esc(TEMPLATE_JSON, "\xff", 1, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_YAML, "a\"\\\n\t\x01\xc2\x85\xe2\x80\xa8\xc3\xa9#: x", 17, &rc),
			 "\"a\\\"\\\\\\n\\t\\x01\\x85\\u2028\xc3\xa9#: x\"");
	ck_assert_str_eq(esc(TEMPLATE_TOML, "a\"\\\n\x7f\xc3\xa9", 7, &rc), "\"a\\\"\\\\\\n\\u007F\xc3\xa9\"");
	ck_assert_str_eq(esc(TEMPLATE_INI, "p%w;#d x", 8, &rc), "p%w;#d x");
	esc(TEMPLATE_INI, " x", 2, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	esc(TEMPLATE_INI, "x\ny", 3, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_XML, "<a&'\">\n", 7, &rc), "&lt;a&amp;&apos;&quot;&gt;&#10;");
	esc(TEMPLATE_XML, "\x01", 1, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_URL, "a b/c~%", 7, &rc), "a%20b%2Fc~%25");
	ck_assert_str_eq(esc(TEMPLATE_BASE64, "ab", 2, &rc), "YWI=");
	ck_assert_str_eq(esc(TEMPLATE_BASE64, "abcd", 4, &rc), "YWJjZA==");
	ck_assert_str_eq(esc(TEMPLATE_PGPASS, "a:b\\c*#", 7, &rc), "a\\:b\\\\c\\*\\#");
	esc(TEMPLATE_PGPASS, "a\nb", 3, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_NETRC, "p\"w#\\", 5, &rc), "p\"w#\\");
	esc(TEMPLATE_NETRC, "a b", 3, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	esc(TEMPLATE_NETRC, "", 0, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(esc(TEMPLATE_DOTENV, "$a\"`\n", 5, &rc), "\"\\$a\\\"\\`\\n\"");
}
END_TEST

START_TEST(test_refusal_names_key_not_value)
{
	struct why why = WHY_INIT;
	static const char *const vals[] = { "x", "line\nbreak", "y" };

	ck_assert_int_eq(parse(&src, "{{ secret \"db/creds#user\" | pgpass }}", &why), 0);
	ck_assert_int_eq(render(vals, &why), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(why.msg, "'db/creds#user': the value holds a NUL, CR or LF byte, which the pgpass "
			 "filter cannot write");
}
END_TEST

START_TEST(test_equal)
{
	struct why why = WHY_INIT;
	struct template *a = NULL;

	ck_assert_int_eq(parse(&src, "x {{ secret \"api/token\" | sh }}", &why), 0);
	a = t;
	t = NULL;
	ck_assert_int_eq(parse(&src, "x {{ secret \"api/token\" | sh }}", &why), 0);
	ck_assert(template_equal(a, t));
	template_free(t);
	ck_assert_int_eq(parse(&src, "x {{ secret \"api/token\" | json }}", &why), 0);
	ck_assert(!template_equal(a, t));
	template_free(a);
}
END_TEST

/* {{ secret "path" | json }}: the whole secret, when its fields are declared
 * but the path itself is not (docs/templates.md "A whole secret"). */
START_TEST(test_whole_secret)
{
	struct why why = WHY_INIT;
	struct secbuf *sbs[4] = { 0 };
	size_t i;

	ck_assert_int_eq(parse(&src, "{{ secret \"db/creds\" | json }} {{ secret \"db/creds#user\" | json }}"
			       " {{ secret \"db/creds\" | json | base64 }}", &why), 0);
	ck_assert_uint_eq(template_nkeys(t), 2);
	/* the backend's whole-secret key (backends/backend.h), named by itself */
	ck_assert_str_eq(template_keys(t)[0], "db/creds#");
	ck_assert_str_eq(template_names(t)[0], "db/creds#");
	ck_assert_str_eq(template_keys(t)[1], "db/creds#user");
	ck_assert_str_eq(template_names(t)[1], "DB_USER");
	/* the value comes as a JSON object: written as it is, not quoted again */
	sbs[0] = secbuf_dup("{\"user\":\"app\",\"password\":\"p\\\"w\"}", 32);
	sbs[1] = secbuf_dup("app", 3);
	ck_assert_int_eq(template_render(t, sbs, 1 << 20, &out, &why), 0);
	ck_assert_str_eq(secbuf_str(out), "{\"user\":\"app\",\"password\":\"p\\\"w\"} \"app\" "
			 "eyJ1c2VyIjoiYXBwIiwicGFzc3dvcmQiOiJwXCJ3In0=");
	for (i = 0; i < 4; i++)
		secbuf_free(sbs[i]);
	teardown();

	/* a declared key keeps its meaning: one value, quoted */
	ck_assert_int_eq(parse(&src, "{{ secret \"api/token\" | json }}", &why), 0);
	ck_assert_str_eq(template_keys(t)[0], "api/token");
	teardown();

	/* a whole secret only as JSON, and only of a declared secret */
	ck_assert_int_eq(parse(&inl, "a\n  {{ secret \"db/creds\" }}", &why), -EINVAL);
	ck_assert_msg(strstr(why.msg, "harombe.yaml:12:18: template '.pgpass', line 2 column 13 of the "
			     "text: key 'db/creds' is not one of the container's secrets; its fields are") != NULL,
		      "%s", why.msg);
	ck_assert_int_eq(parse(&src, "{{ secret \"db/creds\" | sh | json }}", &why), -EINVAL);
	ck_assert_msg(strstr(why.msg, "/etc/harombe/t/app.ini.tmpl:1:11: ") != NULL, "%s", why.msg);
	ck_assert_int_eq(parse(&src, "{{ secret \"db\" | json }}", &why), -EINVAL);
	ck_assert_msg(strstr(why.msg, "key 'db' is not one of the container's secrets (add it") != NULL,
		      "%s", why.msg);
	ck_assert_int_eq(parse(&src, "{{ secret \"other/creds\" | json }}", &why), -EINVAL);
	ck_assert_int_eq(parse(&src, "{{ secret \"db/creds#\" | json }}", &why), -EINVAL);
}
END_TEST

/* viewset_load() of a config text: 0, or the error in why. */
static int load(const char *text, struct viewset **vs, struct why *why)
{
	struct harombe_config *cfg = NULL;
	int r;

	*vs = NULL;
	r = config_load_text("h.yaml", text, strlen(text), &cfg, why);
	if (!r)
		r = viewset_load(cfg, vs, why);
	if (r || !*vs) {
		config_free(cfg);
		return r;
	}
	/* the views keep no pointer into the config */
	config_free(cfg);
	return 0;
}

START_TEST(test_view_templates)
{
	struct viewset *vs, *vs2;
	struct why why = WHY_INIT;
	static const char cfg[] =
		"security:\n"
		"  containers:\n"
		"    app:\n"
		"      uid: 1000\n"
		"      gid: 3000\n"
		"      mode: \"0440\"\n"
		"      watch: 5m\n"
		"      cgroup: /x/*\n"
		"      on_change: { signal: HUP, command: [/bin/true, x], min_interval: 1s }\n"
		"      secrets: { P: \"db/creds#password\" }\n"
		"      templates:\n"
		"        .pgpass: { inline: \"*:*:*:app:{{ secret \\\"db/creds#password\\\" | pgpass }}\" }\n"
		"        shared.ini: { inline: \"p = {{ secret \\\"db/creds#password\\\" | ini }}\", mode: \"0440\" }\n";
	const struct view *v;

	ck_assert_int_eq(load(cfg, &vs, &why), 0);
	v = viewset_find(vs, "app");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->mode, 0440);
	ck_assert_uint_eq(v->watch_ms, 300000);
	ck_assert_uint_eq(v->n_templates, 2);
	ck_assert_int_eq(view_find_template(v, ".pgpass"), 0);
	ck_assert_uint_eq(v->templates[0].mode, 0400);
	ck_assert_uint_eq(v->templates[1].mode, 0440);
	ck_assert_str_eq(template_names(v->templates[0].tmpl)[0], "P");
	ck_assert_ptr_nonnull(v->on_change);
	ck_assert_uint_eq(v->on_change->argc, 2);
	ck_assert_uint_eq(v->on_change->min_interval_ms, 1000);
	ck_assert(view_group_reads(v));
	ck_assert_int_eq(load(cfg, &vs2, &why), 0);
	ck_assert(view_equal(v, viewset_find(vs2, "app")));
	viewset_free(vs2);
	viewset_free(vs);
}
END_TEST

START_TEST(test_view_template_refusals)
{
	struct viewset *vs;
	struct why why = WHY_INIT;
	static const char head[] = "security:\n  containers:\n    app:\n      uid: 1000\n      secrets: { P: a/b }\n";
	static const struct {
		const char *tail, *want;
	} cases[] = {
		{ "      templates: { x: { inline: \"{{ secret \\\"c/d\\\" }}\" } }\n",
		  "h.yaml:6:33: template 'x' of container 'app', line 1 column 11 of the text: key 'c/d'" },
		{ "      templates: { x: { inline: a, source: b } }\n", "needs exactly one of 'source' and 'inline'" },
		{ "      templates: { x: { inline: a, mode: \"0440\" } }\n", "set 'gid' too" },
		{ "      templates: { x: { inline: a, mode: \"0644\" } }\n", "'mode' must be \"0400\" or \"0440\"" },
		{ "      templates: { secrets: { inline: a } }\n", "'secrets' is a file every view has" },
		{ "      templates: { a/b: { inline: a } }\n", "holds '/'" },
		{ "      templates: { x: { source: /nonexistent/t } }\n", "cannot open template '/nonexistent/t'" },
		{ "      on_change: { signal: HUP }\n", "set 'cgroup' too" },
		{ "      on_change: { signal: KILL }\n", "'signal' must be one of" },
		{ "      on_change: { command: [rel, x] }\n", "must be an absolute path" },
		{ "      on_change: {}\n", "needs 'signal' or 'command'" },
		{ "      watch: 10ms\n", "'watch' must be at least 1s" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[1024];

		snprintf(text, sizeof(text), "%s%s", head, cases[i].tail);
		why.msg[0] = 0;
		ck_assert_int_eq(load(text, &vs, &why), -EINVAL);
		if (!strstr(why.msg, cases[i].want))
			ck_abort_msg("case %zu: '%s' not in '%s'", i, cases[i].want, why.msg);
	}
	ck_assert_int_eq(load("security:\n  containers:\n    self:\n      uid: 1\n", &vs, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.msg, "'self' is the mount's link"));
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("template");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_render_keys_and_filters);
	tcase_add_test(tc, test_plain_text_and_stray_braces);
	tcase_add_test(tc, test_errors_name_file_line_col);
	tcase_add_test(tc, test_credentials_refused);
	tcase_add_test(tc, test_filter_outputs);
	tcase_add_test(tc, test_refusal_names_key_not_value);
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_whole_secret);
	tcase_add_test(tc, test_view_templates);
	tcase_add_test(tc, test_view_template_refusals);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(template_suite)
