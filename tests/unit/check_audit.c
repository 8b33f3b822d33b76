#include "lib/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "lib/audit.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static char dir[] = "/tmp/harombe-audit-XXXXXX";
static char path[256];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/audit.jsonl", dir);
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static json_object *read_line(int n)
{
	static char line[65536];
	FILE *f = fopen(path, "r");
	int i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i <= n; i++)
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	return json_tokener_parse(line);
}

START_TEST(test_record_fields_and_mode)
{
	struct audit *a;
	struct why err = WHY_INIT;
	const char *names[] = { "GITHUB_TOKEN" }, *keys[] = { "github/token" };
	struct audit_caller who = { 42, 1000, 1000, "bash" };
	struct audit_record rec = {
		.event = AUDIT_SECRET_READ, .source = "harombefs", .container = "browser", .view = "env",
		.names = names, .n_names = 1, .keys = keys, .n_keys = 1, .caller = &who, .result = "ok",
	};
	struct stat st;
	json_object *o, *v;

	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	rec.event = AUDIT_ACCESS_DENIED;
	rec.result = "denied";
	rec.reason = "uid 1001 is not the owner";
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	o = read_line(0);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "event", &v));
	ck_assert_str_eq(json_object_get_string(v), "secret_read");
	ck_assert(json_object_object_get_ex(o, "time", &v));
	ck_assert_int_eq(strlen(json_object_get_string(v)), 24);	/* 2026-11-29T04:51:20.911Z */
	ck_assert(json_object_object_get_ex(o, "keys", &v));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "github/token");
	ck_assert(json_object_object_get_ex(o, "caller", &v));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(v, "uid")), 1000);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "command")), "bash");
	json_object_put(o);
	o = read_line(1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")), "access_denied");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "reason")),
			 "uid 1001 is not the owner");
	json_object_put(o);
}
END_TEST

START_TEST(test_event_filter_and_disabled)
{
	struct audit *a;
	struct why err = WHY_INIT;
	struct audit_record rec = { .event = AUDIT_SECRET_WRITE, .result = "ok" };
	struct stat st;

	ck_assert_int_eq(audit_open(path, 1, 1u << AUDIT_SECRET_READ, &a, &err), 0);
	ck_assert(!audit_wants(a, AUDIT_SECRET_WRITE));
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(audit_open(path, 0, ~0u, &a, &err), 0);
	ck_assert(!audit_wants(a, AUDIT_SECRET_READ));
	audit_close(a);
}
END_TEST

START_TEST(test_existing_loose_file_tightened_and_appended)
{
	struct audit *a;
	struct why err = WHY_INIT;
	struct stat st;
	struct audit_record rec = { .event = AUDIT_SECRET_READ, .result = "ok" };
	int fd;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_eq(write(fd, "{}\n", 3), 3);
	fchmod(fd, 0644);
	close(fd);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	json_object_put(read_line(1));
}
END_TEST

START_TEST(test_unwritable_path_errors)
{
	struct audit *a;
	struct why err = WHY_INIT;

	ck_assert_int_lt(audit_open("/proc/harombe/audit.jsonl", 1, ~0u, &a, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "/proc/harombe"));
}
END_TEST

START_TEST(test_symlink_refused)
{
	struct audit *a;
	struct why err = WHY_INIT;
	char target[300];

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), -ELOOP);
}
END_TEST

START_TEST(test_escaping_and_long_records)
{
	static const char reason[] = "quote \" backslash \\ newline \n ctl \x01 utf8 \xc3\xa9 tab\t";
	const char *names[600];
	struct audit_kv extra[2] = { { "type", "github_token", 0 }, { "confidence", NULL, 0.95 } };
	struct audit_record rec = {
		.event = AUDIT_LEAK_DETECTED, .result = "ok", .reason = reason,
		.names = names, .n_names = 600, .extra = extra, .n_extra = 2,
	};
	struct audit *a;
	struct why err = WHY_INIT;
	json_object *o, *v;
	int i;

	for (i = 0; i < 600; i++)
		names[i] = "SOME_LONGISH_VARIABLE_NAME";
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	o = read_line(0);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "reason")), reason);
	ck_assert(json_object_object_get_ex(o, "names", &v));
	ck_assert_int_eq(json_object_array_length(v), 600);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "type")), "github_token");
	ck_assert(json_object_get_double(json_object_object_get(o, "confidence")) == 0.95);
	json_object_put(o);
}
END_TEST


/* The bytes of line n of the log (NUL-terminated, newline kept). */
static const char *raw_line(int n)
{
	static char line[65536];
	FILE *f = fopen(path, "r");
	int i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i <= n; i++)
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	return line;
}

START_TEST(test_hostile_command_is_utf8_and_escaped)
{
	/* A name set with prctl(PR_SET_NAME): invalid UTF-8, ESC, newline,
	 * DEL, a C1 CSI (valid UTF-8 U+009B) and a truncated sequence. */
	static const char comm[] = "x\xff\xfe\x1b[31m\n\x7f\xc2\x9b\xe2\x80\xa8ok\xc3\xa9\xe2\x82";
	struct audit_caller who = { 7, 1000, 1000, comm };
	struct audit_record rec = { .event = AUDIT_SECRET_READ, .caller = &who, .result = "ok" };
	struct audit *a;
	struct why err = WHY_INIT;
	const char *l;
	json_object *o, *c;
	size_t i;

	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	l = raw_line(0);
	for (i = 0; l[i]; i++) {
		unsigned char b = (unsigned char)l[i];

		ck_assert_msg(b >= 0x20 || (b == '\n' && !l[i + 1]), "raw control byte 0x%02x at %zu", b, i);
		ck_assert_msg(b != 0x7f, "raw DEL");
	}
	ck_assert_ptr_null(strstr(l, "\xc2\x9b"));
	ck_assert_ptr_nonnull(strstr(l, "\"command\":\"x\\ufffd\\ufffd\\u001b[31m\\n\\u007f\\u009b\\u2028ok\xc3\xa9\\ufffd\\ufffd\""));
	o = json_tokener_parse(l);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "caller", &c));
	json_object_put(o);
}
END_TEST

START_TEST(test_partial_line_closed_at_open)
{
	struct audit_record rec = { .event = AUDIT_SECRET_READ, .result = "ok" };
	struct audit *a;
	struct why err = WHY_INIT;
	json_object *o;
	int fd;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, "{\"time\":\"2024-01-01T00:00:00Z\",\"ev", 34), 34);
	close(fd);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	ck_assert_ptr_null(json_tokener_parse(raw_line(0)));
	o = read_line(1);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
}
END_TEST

START_TEST(test_untrusted_directories_refused)
{
	struct audit *a;
	struct why err = WHY_INIT;
	char sub[128], real[128];

	mkdir(dir, 0700);
	/* a directory someone else owns */
	snprintf(sub, sizeof(sub), "%s/theirs", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(chown(sub, 1000, 1000), 0);
	snprintf(path, sizeof(path), "%s/audit.jsonl", sub);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "owned by uid 1000"));
	/* a directory others may write, even sticky */
	ck_assert_int_eq(chown(sub, 0, 0), 0);
	ck_assert_int_eq(chmod(sub, 01777), 0);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "writable by group and others"));
	/* a symlink on the way */
	snprintf(real, sizeof(real), "%s/real", dir);
	ck_assert_int_eq(mkdir(real, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/link", dir);
	ck_assert_int_eq(symlink(real, sub), 0);
	snprintf(path, sizeof(path), "%s/audit.jsonl", sub);
	ck_assert_int_lt(audit_open(path, 1, ~0u, &a, &err), 0);	/* ENOTDIR or ELOOP */
	ck_assert_ptr_nonnull(strstr(err.msg, "symlink"));
	/* a log file someone else may write */
	snprintf(path, sizeof(path), "%s/audit.jsonl", real);
	ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(chmod(path, 0622), 0);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), -EPERM);
}
END_TEST

START_TEST(test_denials_rate_limited_per_uid)
{
	struct audit_caller t1 = { 10, 1000, 1000, "probe" }, t2 = { 11, 1001, 1001, "other" };
	struct audit_record rec = { .event = AUDIT_ACCESS_DENIED, .caller = &t1, .result = "denied" };
	struct audit *a;
	struct why err = WHY_INIT;
	json_object *o, *v;
	int i, lines = 0;
	char line[4096];
	FILE *f;

	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(audit_write(a, &rec), 0);
	rec.caller = &t2;
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	/* 10 of uid 1000, 1 of uid 1001, and the summary written at close */
	ck_assert_int_eq(lines, AUDIT_DENY_BURST + 2);
	o = read_line(AUDIT_DENY_BURST);
	ck_assert(json_object_object_get_ex(o, "caller", &v));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(v, "uid")), 1001);
	json_object_put(o);
	o = read_line(AUDIT_DENY_BURST + 1);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "suppressed")), 500 - AUDIT_DENY_BURST);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "uid")), 1000);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")), "access_denied");
	json_object_put(o);
}
END_TEST

/* A write cut short (RLIMIT_FSIZE stands in for a full disk: write()
 * stores what fits and returns the count) leaves no part of the line. */
START_TEST(test_short_write_rolled_back)
{
	struct audit_caller who = { 7, 1000, 1000, "reader" };
	struct audit_record rec = { .event = AUDIT_SECRET_READ, .caller = &who, .result = "ok" };
	struct rlimit rl;
	struct audit *a;
	struct why err = WHY_INIT;
	struct stat st;
	off_t first;

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(audit_open(path, 1, ~0u, &a, &err), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	first = st.st_size;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = (rlim_t)first + 40;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(audit_write(a, &rec), -ENOSPC);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, first);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(audit_write(a, &rec), 0);
	audit_close(a);
	json_object_put(read_line(1));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 2 * first);
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("jsonl");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_record_fields_and_mode);
	tcase_add_test(tc, test_event_filter_and_disabled);
	tcase_add_test(tc, test_existing_loose_file_tightened_and_appended);
	tcase_add_test(tc, test_unwritable_path_errors);
	tcase_add_test(tc, test_symlink_refused);
	tcase_add_test(tc, test_escaping_and_long_records);
	tcase_add_test(tc, test_hostile_command_is_utf8_and_escaped);
	tcase_add_test(tc, test_partial_line_closed_at_open);
	tcase_add_test(tc, test_untrusted_directories_refused);
	tcase_add_test(tc, test_denials_rate_limited_per_uid);
	tcase_add_test(tc, test_short_write_rolled_back);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(audit_suite)
