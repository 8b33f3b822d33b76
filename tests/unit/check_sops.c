#include "lib/compat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "backends/backend.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"

/*
 * The SOPS backend against real files written by sops (tests/fixtures/sops,
 * copied from the getsops/sops test data with their published key): every
 * file decrypts to its expected values, every negative file is refused for
 * its own reason, and writes keep the file readable and unchanged values
 * byte for byte.  Each test runs in its own forked process (Check's fork
 * mode), so environment changes stay local to it.
 */

#define FIX "tests/fixtures/sops"
#define KEYS FIX "/keys.txt"
/* A second identity (CCTV K2): not a recipient of the fixtures. */
#define K2 "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG"
#define K2_PUB "age1f3ygt5e2d2h7d6dae2tnwgy4y6f0kwhvpa64cre0k2gprv2r8qnst4j00y"
#define K1_PUB "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"

static char tmpdir[64];
static struct harombe_config *cfg;
static struct backend *be;

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_sops.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* No identity from the machine running the tests. */
	setenv("HOME", tmpdir, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("SOPS_AGE_KEY");
	unsetenv("SOPS_AGE_KEY_FILE");
}

static void teardown(void)
{
	char cmd[128];

	backend_close(be);
	be = NULL;
	config_free(cfg);
	cfg = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int open_sops(const char *file, const char *key_file, struct why *why)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	char text[1024];
	int r;

	snprintf(text, sizeof(text),
		 "security:\n  credentials:\n    provider: sops\n    secrets_file: %s\n%s%s%s",
		 file, key_file ? "    key_file: " : "", key_file ? key_file : "", key_file ? "\n" : "");
	ck_assert_int_eq(config_load_text("test.yaml", text, strlen(text), &cfg, &err), 0);
	ctx.cfg = cfg;
	ctx.source = "check";
	r = backend_open(&ctx, &be, &err);
	if (why)
		*why = err;
	return r;
}

static char *get(const char *key, int *rc, struct why *why)
{
	struct secbuf *sb = NULL;
	char *s = NULL;

	*rc = backend_get(be, key, &sb, why);
	if (!*rc) {
		s = strndup(secbuf_str(sb), secbuf_len(sb));
		secbuf_free(sb);
	}
	return s;
}

static void expect(const char *key, const char *want)
{
	struct why why = WHY_INIT;
	int rc;
	char *v = get(key, &rc, &why);

	ck_assert_msg(rc == 0, "get %s: %s (%s)", key, backend_strerror(rc), why_str(&why));
	ck_assert_msg(!strcmp(v, want), "get %s: value differs", key);
	free(v);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Compare every leaf of the expected JSON with backend_get of its path. */
static int compare_tree(struct json_object *o, char *path, size_t plen)
{
	int n = 0;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			size_t l = (size_t)snprintf(path + plen, 512 - plen, "%s%s", plen ? "/" : "", k);

			n += compare_tree(v, path, plen + l);
		}
		path[plen] = 0;
		return n;
	}
	if (json_object_is_type(o, json_type_array)) {
		size_t i;

		for (i = 0; i < json_object_array_length(o); i++) {
			size_t l = (size_t)snprintf(path + plen, 512 - plen, "/%zu", i);

			n += compare_tree(json_object_array_get_idx(o, i), path, plen + l);
		}
		path[plen] = 0;
		return n;
	}
	{
		struct why why = WHY_INIT;
		int rc;
		char *v = get(path, &rc, &why);

		ck_assert_msg(rc == 0, "get %s: %s (%s)", path, backend_strerror(rc), why_str(&why));
		if (json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int))
			ck_assert_msg(strtod(v, NULL) == json_object_get_double(o), "%s: number differs", path);
		else if (json_object_is_type(o, json_type_boolean))
			ck_assert_str_eq(v, json_object_get_boolean(o) ? "true" : "false");
		else
			ck_assert_msg(!strcmp(v, json_object_get_string(o)), "%s: value differs", path);
		free(v);
		return 1;
	}
}

static void check_fixture(const char *name, int want_leaves)
{
	char file[256], exp[256], path[512] = "";
	struct json_object *o;

	snprintf(file, sizeof(file), "%s/%s", FIX, name);
	snprintf(exp, sizeof(exp), "%s/expected/%s.decrypted.json", FIX, name);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	o = json_object_from_file(exp);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(compare_tree(o, path, 0), want_leaves);
	json_object_put(o);
}

START_TEST(test_fixture_json)
{
	check_fixture("age-example.json", 12);
	expect("anEmptyValue", "");
	expect("phoneNumbers/1/type", "office");
}
END_TEST

START_TEST(test_fixture_yaml)
{
	/* nested maps, lists, float, bools, multi-line string, comments,
	 * *_unencrypted values (covered by the MAC) */
	check_fixture("age-example.yaml", 16);
	expect("number", "1234568000");
	expect("somebooleans/0", "true");
	expect("app2/db#user", "eve");
}
END_TEST

START_TEST(test_fixture_ini)
{
	check_fixture("age-example.ini", 10);
	expect("not private/notsecret_unencrypted", "hi there!");
}
END_TEST

START_TEST(test_fixture_binary)
{
	char *want = slurp(FIX "/expected/age-example.txt.decrypted");

	ck_assert_int_eq(open_sops(FIX "/age-example.txt", KEYS, NULL), 0);
	expect("data", want);
	free(want);
}
END_TEST

static void expect_refused(const char *name, int want_rc, const char *reason)
{
	struct why why = WHY_INIT;
	char file[256];
	int rc;
	char *v;

	snprintf(file, sizeof(file), "%s/negative/%s", FIX, name);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	v = get("lastName", &rc, &why);
	ck_assert_ptr_null(v);
	ck_assert_msg(rc == -want_rc, "%s: got %s, want %s", name, backend_strerror(rc), backend_strerror(want_rc));
	ck_assert_msg(strstr(why_str(&why), reason) != NULL, "%s: reason '%s' lacks '%s'", name, why_str(&why), reason);
	/* The reason names no value. */
	ck_assert_ptr_null(strstr(why_str(&why), "Smith"));
}

START_TEST(test_negative_fixtures)
{
	expect_refused("reordered-keys.json", BACKEND_ETAMPERED, "MAC mismatch");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	expect_refused("swapped-values.json", BACKEND_ETAMPERED, "does not authenticate");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	expect_refused("changed-lastmodified.json", BACKEND_ETAMPERED, "MAC does not authenticate");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	expect_refused("added-unencrypted-key.json", BACKEND_ETAMPERED, "MAC mismatch");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	expect_refused("only-foreign-recipient.json", BACKEND_EDENIED,
		       "encrypted to age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	expect_refused("age-header-mac-tampered.json", BACKEND_ETAMPERED, "age header MAC");
}
END_TEST

/* sops combines identity sources: each one alone works. */
START_TEST(test_identity_sources)
{
	char kf[128], *keys = slurp(KEYS);
	FILE *f;

	/* SOPS_AGE_KEY: several keys on a line */
	setenv("SOPS_AGE_KEY", K2 " AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6", 1);
	ck_assert_int_eq(open_sops(FIX "/age-example.json", NULL, NULL), 0);
	expect("firstName", "John");
	/* taken out of the environment once read */
	ck_assert_ptr_null(getenv("SOPS_AGE_KEY"));
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	/* ... and still used by a later open in the same process (SIGHUP) */
	ck_assert_int_eq(open_sops(FIX "/age-example.yaml", NULL, NULL), 0);
	expect("myapp1", "t00m4nys3cr3tzupdated");
	free(keys);
	(void)kf;
	(void)f;
}
END_TEST

START_TEST(test_identity_key_file_env_and_default)
{
	char dir[256], kf[1024];
	int rc;
	char *v;

	setenv("SOPS_AGE_KEY_FILE", KEYS, 1);
	ck_assert_int_eq(open_sops(FIX "/age-example.json", NULL, NULL), 0);
	expect("lastName", "Smith");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	unsetenv("SOPS_AGE_KEY_FILE");

	/* nothing: denied, with the recipients listed */
	ck_assert_int_eq(open_sops(FIX "/age-example.json", NULL, NULL), 0);
	v = get("lastName", &rc, NULL);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(rc, -BACKEND_EDENIED);
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;

	/* default file under $XDG_CONFIG_HOME */
	snprintf(dir, sizeof(dir), "%s/xdg/sops/age", tmpdir);
	snprintf(kf, sizeof(kf), "mkdir -p %s && cp %s %s/keys.txt", dir, KEYS, dir);
	ck_assert_int_eq(system(kf), 0);
	snprintf(dir, sizeof(dir), "%s/xdg", tmpdir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	ck_assert_int_eq(open_sops(FIX "/age-example.json", NULL, NULL), 0);
	expect("address/city", "New York");
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	unsetenv("XDG_CONFIG_HOME");

	/* default file under ~/.config */
	snprintf(kf, sizeof(kf), "mkdir -p %s/.config/sops/age && cp %s %s/.config/sops/age/keys.txt",
		 tmpdir, KEYS, tmpdir);
	ck_assert_int_eq(system(kf), 0);
	ck_assert_int_eq(open_sops(FIX "/age-example.json", "~/missing-keys.txt", NULL), 0);
	/* a configured key_file that is missing is an error, not skipped */
	v = get("lastName", &rc, NULL);
	ck_assert_int_eq(rc, -BACKEND_EUNAVAIL);
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	ck_assert_int_eq(open_sops(FIX "/age-example.json", NULL, NULL), 0);
	expect("lastName", "Smith");
}
END_TEST

START_TEST(test_addressing)
{
	struct why why = WHY_INIT;
	char file[256];
	int rc;
	char *v;

	snprintf(file, sizeof(file), "%s/addr.json", tmpdir);
	/* read once per process: set before the first open */
	setenv("SOPS_AGE_KEY", K2, 1);
	ck_assert_int_eq(open_sops(file, NULL, NULL), 0);
	{
		const char *rcpt[] = { K2_PUB };
		struct backend_ctx ctx = { .cfg = cfg };
		struct why w = { "" };

		ck_assert_int_eq(backend_create(&ctx, file, rcpt, 1, &w), 0);
		ck_assert_int_eq(backend_create(&ctx, file, rcpt, 1, &w), -BACKEND_EINVAL);
	}
	backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
	ck_assert_int_eq(open_sops(file, NULL, NULL), 0);
	/* flat keys as in the seed document */
	ck_assert_int_eq(backend_set(be, "github/token", "flat-value", 10, NULL), 0);
	expect("github/token", "flat-value");
	/* a nested map: created flat at the top, then one made by hand below */
	ck_assert_int_eq(backend_set(be, "db#password", "pw", 2, NULL), 0);
	expect("db#password", "pw");
	expect("db/password", "pw");
	v = get("nope/nothing", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "no key"));
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_nested_and_fields)
{
	/* The YAML fixture: app2 -> db -> {user, password} is a map. */
	struct why why = WHY_INIT;
	int rc;
	char *v;

	ck_assert_int_eq(open_sops(FIX "/age-example.yaml", KEYS, NULL), 0);
	expect("app2/db/password", "c4r1b0u");
	expect("app2/db#password", "c4r1b0u");
	v = get("app2/db", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "user, password"));
	free(v);
	v = get("an_array", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "list"));
	expect("an_array/3", "some other value");
	expect("nested_unencrypted/this/is/all", "going to remain in clear text");
	/* "path#": the map at path as one JSON object (comments left out) */
	v = get("app2/db#", &rc, &why);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(!strncmp(v, "{\"user\":\"", 9) && strstr(v, "\",\"password\":\"c4r1b0u\"}") &&
		      strlen(strstr(v, "\",\"password\"")) == strlen("\",\"password\":\"c4r1b0u\"}"), "%s", v);
	free(v);
	expect("nested_unencrypted#", "{\"this\":{\"is\":{\"all\":\"going to remain in clear text\"}}}");
	v = get("an_array#", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "a list, not a map"));
	free(v);
	v = get("app2/db/password#", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_EINVAL);
	ck_assert_ptr_nonnull(strstr(why_str(&why), "a single value, not a map"));
	free(v);
	v = get("app2/nothing#", &rc, &why);
	ck_assert_int_eq(rc, -BACKEND_ENOTFOUND);
	free(v);
}
END_TEST

/* All ENC[...] strings of a file but the MAC's, one per line. */
static char *enc_values(const char *path)
{
	char *text = slurp(path), *p = text, *out = calloc(1, strlen(text) + 1);

	while ((p = strstr(p, "ENC[AES256_GCM"))) {
		char *e = strchr(p, ']'), *q = p;

		while (q > text && strchr(" \t\"=:", q[-1]))
			q--;
		if (!(q - text >= 3 && !memcmp(q - 3, "mac", 3))) {
			strncat(out, p, (size_t)(e - p) + 1);
			strcat(out, "\n");
		}
		p = e;
	}
	free(text);
	return out;
}

static void roundtrip(const char *fixture, const char *newkey, const char *existing, const char *other,
		      const char *other_value)
{
	char file[256], *before, *after;
	struct stat st;
	const char *ext = strrchr(fixture, '.');
	const char *tricky = "new\nline \"quoted\" $(x) 'q' \\ ü";

	snprintf(file, sizeof(file), "%s/rt%s", tmpdir, ext);
	copy_file(fixture, file);
	chmod(file, 0640);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	before = enc_values(file);
	ck_assert_int_eq(backend_set(be, newkey, tricky, strlen(tricky), NULL), 0);
	expect(newkey, tricky);
	expect(other, other_value);
	after = enc_values(file);
	/* every old value's and comment's ciphertext is still there, byte for byte */
	{
		char *line = before, *nl;

		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			ck_assert_msg(strstr(after, line) != NULL, "a ciphertext changed");
			line = nl + 1;
		}
	}
	ck_assert_uint_gt(strlen(after), strlen(before));
	free(before);
	free(after);
	/* replace an existing value: the file stays readable */
	ck_assert_int_eq(backend_set(be, existing, "replaced", 8, NULL), 0);
	expect(existing, "replaced");
	expect(newkey, tricky);
	/* delete */
	ck_assert_int_eq(backend_delete(be, newkey, NULL), 0);
	{
		int rc;
		char *v = get(newkey, &rc, NULL);

		ck_assert_int_eq(rc, -BACKEND_ENOTFOUND);
		ck_assert_ptr_null(v);
	}
	ck_assert_int_eq(backend_delete(be, newkey, NULL), -BACKEND_ENOTFOUND);
	expect(other, other_value);
	/* the mode survives the atomic replace; no temporary file is left */
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep harombe)\"", tmpdir);
		ck_assert_int_eq(system(cmd), 0);
	}
}

START_TEST(test_roundtrip_json)
{
	roundtrip(FIX "/age-example.json", "slack/webhook", "firstName", "address/city", "New York");
}
END_TEST

START_TEST(test_roundtrip_yaml)
{
	char file[256], *text;

	roundtrip(FIX "/age-example.yaml", "app2/db/host", "myapp1", "this/is/a/nested/value",
		  "with something secret in it");
	/* the encrypted comments survive the rewrite */
	snprintf(file, sizeof(file), "%s/rt.yaml", tmpdir);
	text = slurp(file);
	ck_assert_ptr_nonnull(strstr(text, "#ENC[AES256_GCM,data:j8y0qpn+5Yulrb6qZiHpup4brnbQxxB1smcueQB9VtEZX50rDyockNiU"));
	ck_assert_ptr_nonnull(strstr(text, "type:comment]"));
	free(text);
}
END_TEST

START_TEST(test_roundtrip_ini)
{
	roundtrip(FIX "/age-example.ini", "github/token", "name/firstName", "address/state", "NY");
}
END_TEST

START_TEST(test_unchanged_values_keep_ciphertext)
{
	char file[256];
	char *before, *after, *p;

	snprintf(file, sizeof(file), "%s/keep.json", tmpdir);
	copy_file(FIX "/age-example.json", file);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	before = slurp(file);
	ck_assert_int_eq(backend_set(be, "lastName", "Smith", 5, NULL), 0);	/* same value */
	ck_assert_int_eq(backend_set(be, "firstName", "Jane", 4, NULL), 0);	/* new value */
	after = slurp(file);
	/* every value but firstName keeps its exact ENC[...] text */
	ck_assert_ptr_nonnull(strstr(after, "ENC[AES256_GCM,data:yCl85sw=,iv:tOpTIExH/3ECW1a9iyu6M/tQOK+nQegnSQrvC/kDyJU=,tag:Gd9PMhhJeF/fcnC0WR2g1A==,type:str]"));
	ck_assert_ptr_nonnull(strstr(after, "ENC[AES256_GCM,data:51fTIg==,iv:EdUHckdg0hZkee0gQ5A0uNxvM4K0HYuh4Tl/DQo/10k=,tag:cim/THOLAGIeXmBAbvTCnA==,type:float]"));
	ck_assert_ptr_null(strstr(after, "BI/mJA=="));
	/* a new MAC and lastmodified */
	ck_assert_ptr_null(strstr(after, "2022-03-15T22:12:12Z"));
	p = strstr(after, "\"lastmodified\": \"");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[17 + 19], 'Z');
	/* only ciphertext on disk */
	ck_assert_ptr_null(strstr(after, "Jane"));
	expect("firstName", "Jane");
	expect("age", "25.4");
	free(before);
	free(after);
}
END_TEST

START_TEST(test_create_dotenv_and_yaml)
{
	static const char *const exts[] = { "env", "yaml", "json", "ini" };
	size_t i;

	setenv("SOPS_AGE_KEY", K2, 1);
	for (i = 0; i < ARRAY_SIZE(exts); i++) {
		char file[256], *text;
		const char *rcpt[] = { K2_PUB, K1_PUB };
		struct why w = { "" };
		struct backend_ctx ctx = { 0 };
		int rc;

		snprintf(file, sizeof(file), "%s/new.%s", tmpdir, exts[i]);
		ck_assert_int_eq(open_sops(file, NULL, NULL), 0);
		ctx.cfg = cfg;
		ck_assert_msg(backend_create(&ctx, file, rcpt, 2, &w) == 0, "%s", w.msg);
		ck_assert_int_eq(backend_set(be, "api/key", "s3cr3t=\n2", 9, NULL), 0);
		ck_assert_int_eq(backend_set(be, "api/other_unencrypted", "visible", 7, NULL), 0);
		expect("api/key", "s3cr3t=\n2");
		expect("api/other_unencrypted", "visible");
		text = slurp(file);
		ck_assert_ptr_null(strstr(text, "s3cr3t"));
		ck_assert_ptr_nonnull(strstr(text, "visible"));	/* clear by the suffix rule */
		ck_assert_ptr_nonnull(strstr(text, K1_PUB));
		free(text);
		/* the other recipient reads it too */
		backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
		ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
		expect("api/key", "s3cr3t=\n2");
		backend_close(be), be = NULL, config_free(cfg), cfg = NULL;
		(void)rc;
	}
}
END_TEST

/* The file is re-read when it changes; a bad new file is never served,
 * and neither are the old values. */
START_TEST(test_reload_on_change)
{
	char file[256], other[256];
	int rc;
	char *v;

	snprintf(file, sizeof(file), "%s/live.json", tmpdir);
	snprintf(other, sizeof(other), "%s/other.json", tmpdir);
	copy_file(FIX "/age-example.json", file);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	expect("firstName", "John");
	/* an edit by another writer (atomic replace: new inode) */
	copy_file(FIX "/age-example.json", other);
	{
		struct backend *b2 = NULL;
		struct harombe_config *c2 = cfg;
		struct backend *b1 = be;

		cfg = NULL;
		be = NULL;
		ck_assert_int_eq(open_sops(other, KEYS, NULL), 0);
		ck_assert_int_eq(backend_set(be, "firstName", "Eve", 3, NULL), 0);
		b2 = be;
		backend_close(b2);
		config_free(cfg);
		cfg = c2;
		be = b1;
	}
	ck_assert_int_eq(rename(other, file), 0);
	expect("firstName", "Eve");
	/* tampered in place: refused, old values gone */
	copy_file(FIX "/negative/reordered-keys.json", file);
	v = get("lastName", &rc, NULL);
	ck_assert_int_eq(rc, -BACKEND_ETAMPERED);
	ck_assert_ptr_null(v);
	v = get("lastName", &rc, NULL);
	ck_assert_int_eq(rc, -BACKEND_ETAMPERED);
	/* fixed again */
	copy_file(FIX "/age-example.json", file);
	expect("firstName", "John");
	unlink(file);
	v = get("firstName", &rc, NULL);
	ck_assert_int_eq(rc, -BACKEND_EUNAVAIL);
	ck_assert_ptr_null(v);
}
END_TEST

/* From memory alone: nothing before the file is decrypted, the values
 * once it is, nothing again once it changes on disk (a re-read is I/O and
 * decryption), and a missing key is an answer. */
START_TEST(test_try_from_memory)
{
	static const char *const keys[] = { "firstName", "nosuchkey" };
	struct secbuf *outs[2];
	char file[256], other[256];
	int rcs[2];

	snprintf(file, sizeof(file), "%s/try.json", tmpdir);
	copy_file(FIX "/age-example.json", file);
	ck_assert_int_eq(open_sops(file, KEYS, NULL), 0);
	ck_assert_int_eq(backend_try_get_many_for(be, NULL, 1, keys, outs, rcs, NULL), -BACKEND_EWOULDBLOCK);
	ck_assert_ptr_null(outs[0]);
	expect("firstName", "John");
	ck_assert_int_eq(backend_try_get_many_for(be, NULL, 1, keys, outs, rcs, NULL), 0);
	ck_assert(secbuf_equal(outs[0], "John", 4));
	secbuf_free(outs[0]);
	ck_assert_int_eq(backend_try_get_many_for(be, NULL, 2, keys, outs, rcs, NULL), -BACKEND_ENOTFOUND);
	ck_assert_int_eq(rcs[0], 0);
	ck_assert_int_eq(rcs[1], -BACKEND_ENOTFOUND);
	secbuf_free(outs[0]);
	ck_assert_ptr_null(outs[1]);
	/* changed on disk (a new inode): the try leaves the re-read to a get */
	snprintf(other, sizeof(other), "%s/try2.json", tmpdir);
	copy_file(FIX "/age-example.json", other);
	ck_assert_int_eq(rename(other, file), 0);
	ck_assert_int_eq(backend_try_get_many_for(be, NULL, 1, keys, outs, rcs, NULL), -BACKEND_EWOULDBLOCK);
	ck_assert_ptr_null(outs[0]);
	expect("firstName", "John");
	ck_assert_int_eq(backend_try_get_many_for(be, NULL, 1, keys, outs, rcs, NULL), 0);
	secbuf_free(outs[0]);
}
END_TEST

/* Maps of 16+ keys are looked up through a hash index. */
START_TEST(test_large_map_lookup)
{
	char file[256], key[64], val[64];
	int i, rc;
	char *v;

	setenv("SOPS_AGE_KEY", K2, 1);
	snprintf(file, sizeof(file), "%s/big.yaml", tmpdir);
	ck_assert_int_eq(open_sops(file, NULL, NULL), 0);
	{
		const char *rcpt[] = { K2_PUB };
		struct backend_ctx ctx = { .cfg = cfg };

		ck_assert_int_eq(backend_create(&ctx, file, rcpt, 1, NULL), 0);
	}
	ck_assert_int_eq(backend_set(be, "db/host", "h", 1, NULL), 0);
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		ck_assert_int_eq(backend_set(be, key, val, strlen(val), NULL), 0);
		snprintf(key, sizeof(key), "db/f%02d", i);
		ck_assert_int_eq(backend_set(be, key, val, strlen(val), NULL), 0);
	}
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		expect(key, val);
		snprintf(key, sizeof(key), "db/f%02d", i);
		expect(key, val);
		snprintf(key, sizeof(key), "db#f%02d", i);
		expect(key, val);
	}
	expect("db/host", "h");
	v = get("k40", &rc, NULL);
	ck_assert_int_eq(rc, -BACKEND_ENOTFOUND);
	ck_assert_ptr_null(v);
}
END_TEST

/* encrypted_regex (unanchored, per path component: "app/secret" is one
 * flat key): only keys matching it are encrypted; the MAC still
 * covers everything. */
START_TEST(test_rule_encrypted_regex)
{
	char file[256], cmd[600], *text;
	const char *rcpt[] = { K2_PUB };

	setenv("SOPS_AGE_KEY", K2, 1);
	snprintf(file, sizeof(file), "%s/rules.json", tmpdir);
	ck_assert_int_eq(open_sops(file, NULL, NULL), 0);
	{
		struct backend_ctx ctx = { .cfg = cfg };

		ck_assert_int_eq(backend_create(&ctx, file, rcpt, 1, NULL), 0);
	}
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; f=sys.argv[1]; d=json.load(open(f)); "
		 "del d[\"sops\"][\"unencrypted_suffix\"]; d[\"sops\"][\"encrypted_regex\"]=\"secret|^data\"; "
		 "json.dump(d, open(f, \"w\"))' %s", file);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(backend_set(be, "app/secret", "hidden-1", 8, NULL), 0);
	ck_assert_int_eq(backend_set(be, "data#token", "hidden-2", 8, NULL), 0);
	ck_assert_int_eq(backend_set(be, "app/name", "shown-3", 7, NULL), 0);
	text = slurp(file);
	ck_assert_ptr_null(strstr(text, "hidden"));
	ck_assert_ptr_nonnull(strstr(text, "shown-3"));
	free(text);
	expect("app/secret", "hidden-1");
	expect("data/token", "hidden-2");
	expect("app/name", "shown-3");
}
END_TEST

START_TEST(test_list)
{
	ck_assert_int_eq(open_sops(FIX "/age-example.json", KEYS, NULL), 0);
	{
		struct backend_meta m;

		ck_assert_int_eq(backend_meta(be, "firstName", &m, NULL), 0);
		ck_assert_int_eq(m.updated, 1647382332);	/* 2022-03-15T22:12:12Z */
	}
}
END_TEST

START_TEST(test_bad_config)
{
	struct why err = WHY_INIT;

	ck_assert_int_ne(open_sops("", NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(why_str(&err), "secrets_file"));
}
END_TEST

static Suite *sops_suite(void)
{
	Suite *s = suite_create("sops");
	TCase *tc = tcase_create("fixtures");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fixture_json);
	tcase_add_test(tc, test_fixture_yaml);
	tcase_add_test(tc, test_fixture_ini);
	tcase_add_test(tc, test_fixture_binary);
	tcase_add_test(tc, test_negative_fixtures);
	suite_add_tcase(s, tc);
	tc = tcase_create("identities");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_identity_sources);
	tcase_add_test(tc, test_identity_key_file_env_and_default);
	suite_add_tcase(s, tc);
	tc = tcase_create("addressing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_addressing);
	tcase_add_test(tc, test_nested_and_fields);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_large_map_lookup);
	tcase_add_test(tc, test_rule_encrypted_regex);
	tcase_add_test(tc, test_bad_config);
	suite_add_tcase(s, tc);
	tc = tcase_create("writing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_roundtrip_json);
	tcase_add_test(tc, test_roundtrip_yaml);
	tcase_add_test(tc, test_roundtrip_ini);
	tcase_add_test(tc, test_unchanged_values_keep_ciphertext);
	tcase_add_test(tc, test_create_dotenv_and_yaml);
	tcase_add_test(tc, test_reload_on_change);
	tcase_add_test(tc, test_try_from_memory);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sops_suite)
