#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "lib/secbuf.h"
#include "lib/why.h"
#include "scan/scan.h"
#include "scan/scan-internal.h"
#include "tests/unit/unit.h"

/*
 * The scanner library.  Test secrets are assembled at run time from
 * fragments and a seeded generator: no complete credential is written in
 * this file.
 */

/* ---- helpers ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned int rnd(unsigned int n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng % n);
}

#define B62 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define UPDIG "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define HEXL "0123456789abcdef"

/* prefix + n random characters of alphabet, with upper, lower and digits
 * where the alphabet has them.  Returns a static buffer (one of 8). */
static const char *tok(const char *prefix, size_t n, const char *alphabet)
{
	static char bufs[8][4096];
	static int k;
	char *b = bufs[k++ % 8];
	size_t p = strlen(prefix), i, an = strlen(alphabet);
	int up, lo, dig;

	do {
		up = lo = dig = 0;
		for (i = 0; i < n; i++) {
			char c = alphabet[rnd((unsigned int)an)];

			b[p + i] = c;
			up |= c >= 'A' && c <= 'Z';
			lo |= c >= 'a' && c <= 'z';
			dig |= c >= '0' && c <= '9';
		}
	} while ((strpbrk(alphabet, "ABC") && !up) || (strpbrk(alphabet, "abc") && !lo) ||
		 (strpbrk(alphabet, "012") && !dig));
	memcpy(b, prefix, p);
	b[p + n] = 0;
	return b;
}

struct out {
	char *buf;
	size_t len, cap;
	struct scan_finding f[64];
	char rules[64][48];
	size_t nf;
};

static int on_out(void *arg, const void *p, size_t n)
{
	struct out *o = arg;

	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		ck_assert_ptr_nonnull(o->buf);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = 0;
	return 0;
}

static int on_find(void *arg, const struct scan_finding *f)
{
	struct out *o = arg;

	if (o->nf < 64) {
		o->f[o->nf] = *f;
		snprintf(o->rules[o->nf], sizeof(o->rules[0]), "%s", f->rule);
		o->f[o->nf].rule = o->rules[o->nf];
		o->nf++;
	}
	return 0;
}

static void out_reset(struct out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

static struct scan *make(double min_conf, size_t min_len, int entropy, const char *repl)
{
	struct scan_options so = SCAN_OPTIONS_INIT;
	struct scan *s;
	char err[512];

	so.min_confidence = min_conf;
	so.min_length = min_len;
	so.entropy = entropy;
	if (repl)
		so.replacement = repl;
	ck_assert_msg(scan_new(&so, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(scan_compile(s, err, sizeof(err)) == 0, "%s", err);
	return s;
}

static struct scan *S;

static void setup(void)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(secmem_init(8 << 20, &err), 0);
	S = make(0.7, 16, 1, NULL);
}

static void teardown(void)
{
	scan_free(S);
}

/* Redact text with s; o holds the output and findings. */
static void run(struct scan *s, const char *text, struct out *o)
{
	out_reset(o);
	on_out(o, "", 0);
	ck_assert_int_eq(scan_buffer(s, text, strlen(text), on_out, on_find, o), 0);
}

/* Any 8-byte run of secret still in the output? */
static int survives(const char *out, const char *secret)
{
	size_t n = strlen(secret), i;

	for (i = 0; i + 8 <= n; i++)
		if (memmem(out, strlen(out), secret + i, 8))
			return 1;
	return n < 8 && strstr(out, secret);
}

/* "%s" in fmt is the secret; "%R" in want is where [REDACTED] goes. */
static void expect(const char *fmt, const char *secret, const char *want, const char *rule)
{
	char in[8192], exp[8192];
	struct out o = { 0 };
	const char *p;
	size_t k = 0;

	/* fmt holds one %s: substitute it by hand (no format string from data) */
	{
		const char *m = strstr(fmt, "%s");

		ck_assert_ptr_nonnull(m);
		snprintf(in, sizeof(in), "%.*s%s%s", (int)(m - fmt), fmt, secret, m + 2);
	}
	for (p = want; *p && k < sizeof(exp) - 16; p++) {
		if (p[0] == '%' && p[1] == 'R') {
			k += (size_t)snprintf(exp + k, sizeof(exp) - k, "[REDACTED]");
			p++;
		} else {
			exp[k++] = *p;
		}
	}
	exp[k] = 0;
	run(S, in, &o);
	ck_assert_msg(!strcmp(o.buf, exp), "rule %s: got '%s', want '%s'", rule, o.buf, exp);
	ck_assert_msg(o.nf >= 1, "rule %s: no finding", rule);
	if (rule) {
		size_t i;
		int seen = 0;

		for (i = 0; i < o.nf; i++)
			seen |= !strcmp(o.f[i].rule, rule);
		ck_assert_msg(seen, "rule %s not reported (first: %s)", rule, o.f[0].rule);
	}
	ck_assert(!survives(o.buf, secret));
	out_reset(&o);
}

/* ---- one positive per built-in rule, with the shape of the line kept ---- */

START_TEST(test_rules_tokens)
{
	char sg[128];

	expect("export AWS_ACCESS_KEY_ID=%s", tok("AK" "IA", 16, UPDIG), "export AWS_ACCESS_KEY_ID=%R",
	       "aws_access_key_id");
	expect("aws_secret_access_key = %s", tok("", 40, B62 "+/"), "aws_secret_access_key = %R",
	       "aws_secret_access_key");
	expect("GITHUB_TOKEN=%s", tok("gh" "p_", 36, B62), "GITHUB_TOKEN=%R", "github_token");
	expect("token: %s end", tok("github" "_pat_", 82, B62 "_"), "token: %R end", "github_fine_grained_token");
	expect("GITLAB_TOKEN=%s", tok("gl" "pat-", 20, B62 "-_"), "GITLAB_TOKEN=%R", "gitlab_token");
	expect("SLACK=%s", tok("xo" "xb-123456789012-123456789012-", 24, B62), "SLACK=%R", "slack_token");
	expect("https://hooks.slack.com/services/%s", tok("T0123ABCD/B0123ABCDEF/", 24, B62),
	       "https://hooks.slack.com/services/%R", "slack_webhook");
	expect("STRIPE=%s", tok("sk" "_live_", 24, B62), "STRIPE=%R", "stripe_key");
	expect("whsec=%s", tok("wh" "sec_", 32, B62), "whsec=%R", "stripe_webhook_secret");
	expect("{\"k\": \"%s\"}", tok("sk-" "proj-", 48, B62), "{\"k\": \"%R\"}", "openai_key");
	expect("key %s.", tok("sk-" "ant-api03-", 93, B62), "key %R.", "anthropic_key");
	expect("%s", tok("sk-", 40, B62), "%R", "sk_key");
	expect("maps=%s", tok("AI" "za", 35, B62), "maps=%R", "google_api_key");
	expect("c=%s", tok("GOCS" "PX-", 28, B62), "c=%R", "gcp_oauth_client_secret");
	expect("//registry.npmjs.org/:_authToken=%s", tok("np" "m_", 36, B62),
	       "//registry.npmjs.org/:_authToken=%R", "npm_token");
	expect("TWINE_PASSWORD=%s", tok("py" "pi-AgEIcHlwaS5vcmc", 64, B62), "TWINE_PASSWORD=%R", "pypi_token");
	expect("HF_TOKEN=%s", tok("h" "f_", 34, B62), "HF_TOKEN=%R", "huggingface_token");
	snprintf(sg, sizeof(sg), "%s.%s", tok("S" "G.", 22, B62), tok("", 43, B62));
	expect("SENDGRID=%s", sg, "SENDGRID=%R", "sendgrid_key");
	expect("twilio %s", tok("S" "K", 32, HEXL), "twilio %R", "twilio_api_key");
	expect("VAULT_TOKEN=%s", tok("hv" "s.", 90, B62), "VAULT_TOKEN=%R", "vault_token");
	expect("%s", tok("dop" "_v1_", 64, HEXL), "%R", "digitalocean_token");
	expect("%s", tok("shp" "at_", 32, HEXL), "%R", "shopify_token");
	expect("x %s y", tok("lin" "_api_", 40, B62), "x %R y", "linear_key");
	expect("%s", tok("NRA" "K-", 27, UPDIG), "%R", "newrelic_key");
	expect("t=%s", tok("dckr" "_pat_", 27, B62), "t=%R", "dockerhub_token");
	expect("bot %s", tok("123456789:A" "A", 33, B62), "bot %R", "telegram_bot_token");
}
END_TEST

START_TEST(test_rules_structured)
{
	char pem[4096], body[3000];
	const char *kinds[] = { "", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA " };
	size_t i, k;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		size_t o = 0;

		for (i = 0; i < 12; i++)
			o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\n", tok("", 64, B62 "+/"));
		snprintf(pem, sizeof(pem), "-----BEGIN %sPRIVATE" " KEY-----\n%s-----END %sPRIVATE" " KEY-----",
			 kinds[k], body, kinds[k]);
		/* the whole block is one redaction: nothing of the body stays */
		expect("before\n%s\nafter", pem, "before\n%R\nafter", "private_key");
	}
	snprintf(pem, sizeof(pem), "-----BEGIN PGP PRIVATE" " KEY BLOCK-----\n\n%s\n=AbCd\n-----END PGP PRIVATE"
		 " KEY BLOCK-----", tok("", 64, B62));
	expect("%s", pem, "%R", "private_key");
	/* in JSON, escaped newlines: the string stays valid JSON */
	snprintf(pem, sizeof(pem), "-----BEGIN PRIVATE" " KEY-----\\n%s\\n%s\\n-----END PRIVATE" " KEY-----",
		 tok("", 64, B62), tok("", 40, B62));
	expect("{\"private_key\": \"%s\\n\"}", pem, "{\"private_key\": \"%R\\n\"}", "private_key");
	expect("%s", tok("AGE-SECRET-" "KEY-1", 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"), "%R", "age_secret_key");
	expect("Authorization: Bearer %s", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	       "Authorization: Bearer %R", "jwt");
	expect("AccountName=x;AccountKey=%s==;EndpointSuffix=core.windows.net", tok("", 86, B62 "+/"),
	       "AccountName=x;AccountKey=%R;EndpointSuffix=core.windows.net", "azure_storage_key");
	expect("{\"auths\": {\"r.example.com\": {\"auth\": \"%s\"}}}", "dXNlcjpwYXNzd29yZA==",
	       "{\"auths\": {\"r.example.com\": {\"auth\": \"%R\"}}}", "docker_config_auth");
	expect("Authorization: Basic %s", "dXNlcjpwYXNzd29yZA==", "Authorization: Basic %R", "http_basic_auth");
}
END_TEST

START_TEST(test_rules_assignments)
{
	const char *pw = tok("Sum", 9, B62 "!#");

	expect("password=%s", pw, "password=%R", NULL);
	expect("DB_PASSWORD=%s", pw, "DB_PASSWORD=%R", "password");
	expect("{\"user\": \"a\", \"password\": \"%s\"}", pw, "{\"user\": \"a\", \"password\": \"%R\"}", "password");
	expect("  password: %s\n  port: 5432", pw, "  password: %R\n  port: 5432", "password");
	expect("'passwd' => '%s',", pw, "'passwd' => '%R',", "password");
	expect("<password>%s</password>", pw, "<password>%R</password>", "xml_secret");
	expect("mysql --password=%s db", pw, "mysql --password=%R db", NULL);
	expect("curl -u deploy:%s https://x", pw, "curl -u deploy:%R https://x", "curl_user");
	expect("machine h login me password %s", pw, "machine h login me password %R", "netrc_password");
	expect("the password is %s for prod", "S3cr3t!Pw", "the password is %R for prod", "password_prose");
	expect("API_KEY=%s", tok("", 32, B62), "API_KEY=%R", "api_key");
	expect("x-api-key: %s", tok("", 32, B62), "x-api-key: %R", "api_key_header");
	expect("CLIENT_SECRET='%s'", tok("", 32, B62), "CLIENT_SECRET='%R'", NULL);
	expect("secret=%s", "Zx9!Qw8@Er7#Ty6$Ui5%", "secret=%R", "secret_assignment");
	/* the key found where the separator is: after other assignments in the
	 * same 70 bytes, behind quotes, brackets and blanks, := and => */
	expect("a=1 bb=22 ccc=333 dddd=4444 eeeee=55555 password = %s", pw,
	       "a=1 bb=22 ccc=333 dddd=4444 eeeee=55555 password = %R", "password");
	expect("cfg['db.password'] = '%s'", pw, "cfg['db.password'] = '%R'", "password");
	expect("opts[\"signing_token\"]  :  \"%s\"", tok("", 32, B62), "opts[\"signing_token\"]  :  \"%R\"",
	       "secret_assignment");
	expect("app.auth_token := %s", tok("", 32, B62), "app.auth_token := %R", NULL);
	expect("{ 'passwd' => '%s' }", pw, "{ 'passwd' => '%R' }", "password");
	expect("x=1;y.z-password=%s", pw, "x=1;y.z-password=%R", "password");
	/* URL passwords: only the password goes */
	expect("DATABASE_URL=postgresql://app:%s@db.internal:5432/prod", pw,
	       "DATABASE_URL=postgresql://app:%R@db.internal:5432/prod", "url_credentials");
	expect("mysql://root:%s@mysql.internal:3306/app", "P@ssw0rd123", "mysql://root:%R@mysql.internal:3306/app",
	       "url_credentials");
	expect("git clone https://u:%s@git.example.com/r.git", pw, "git clone https://u:%R@git.example.com/r.git",
	       "url_credentials");
}
END_TEST

/* ---- what must not be flagged ---- */

START_TEST(test_negatives)
{
	static const char *const texts[] = {
		"commit a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"request_id=550e8400-e29b-41d4-a716-446655440000 status=200",
		"\"integrity\": \"sha512-Z3VlcnJhLWVhZ2xlLWZvcmNlLXByZXNzdXJlLW11c3RhcmQtZmlnaHRlci1xdWlsdC1vYnNjdXJl==\"",
		"github.com/pkg/errors v0.9.1 h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=",
		"checksum = \"4b2b4a5e45e7b2b4c2f7f9e8c7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8\"",
		"password: ${DB_PASSWORD}",
		"api_key = os.environ.get(\"API_KEY\")",
		"password = getpass.getpass(\"Password: \")",
		"token = request.headers.get(\"Authorization\")",
		"max_tokens=4096",
		"mask-1234567890abcdef",
		"The password policy requires 12 characters minimum.",
		"gh" "p_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"postgresql://localhost:5432/mydb",
		"https://hooks.slack.com/services/T00/B00/xxxx",
		"password: ENC[AES256_GCM,data:VmvUByTP+TiXkNut,iv:ppF3cBUYWgpa5XxRaoIfsehdWRz3y21AlDIPGZceFBw=,tag:SslXfxGw1ohGFviO5HbTeA==,type:str]",
		"#define sk_SRP_user_pwd_find_ex(sk, ptr) OPENSSL_sk_find_ex(ossl_check_SRP_user_pwd_sk_type(sk), ptr)",
		"GLAPI void APIENTRY glCompressedTexSubImage1D (GLenum target, GLint level);",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgD8bZ3rA0m0l0hB2Zx5kLwVd3gJ8m5r4XyHq3kP8aZ dev@laptop",
		"using llvm::Pass::doFinalization;",
		"PWD=/home/dev/src/harombe",
		"<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
	};
	struct out o = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		run(S, texts[i], &o);
		ck_assert_msg(o.nf == 0, "flagged (%s): %s", o.nf ? o.f[0].rule : "", texts[i]);
		ck_assert_str_eq(o.buf, texts[i]);
	}
	out_reset(&o);
}
END_TEST

/* ---- entropy ---- */

START_TEST(test_entropy)
{
	struct scan *s12 = make(0.7, 12, 1, NULL), *noent = make(0.7, 16, 0, NULL);
	struct out o = { 0 };
	const char *t = tok("", 32, B62);
	char in[256];

	/* random base62 with a key: found, key kept */
	snprintf(in, sizeof(in), "token=%s", t);
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 1);
	ck_assert_str_eq(o.buf, "token=[REDACTED]");
	/* an id word in front refuses a random token (looked up after the
	 * cheap refusals), a secret word nearer to it takes it back */
	snprintf(in, sizeof(in), "\"span\":\"a\",\"trace_id\":\"%s\"", t);
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 0);
	snprintf(in, sizeof(in), "sha256 of the token: %s", t);
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 1);
	snprintf(in, sizeof(in), "\"service\":\"x\",\"digest\":\"sha256:%s\"", tok("", 64, HEXL));
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 0);
	/* --no-entropy: a bare token is left */
	snprintf(in, sizeof(in), "value %s here", t);
	run(noent, in, &o);
	ck_assert_uint_eq(o.nf, 0);
	/* hex is a hash unless a secret-sounding key says otherwise */
	snprintf(in, sizeof(in), "digest %s", tok("", 40, HEXL));
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 0);
	snprintf(in, sizeof(in), "SIGNING_SECRET=%s", tok("", 40, HEXL));
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 1);
	/* min_length can go below 16 (the original's entropy words could not);
	 * key_assignment off, since a value in auth's place is redacted
	 * whatever its length */
	scan_free(s12);
	s12 = make(0.7, 12, 1, NULL);
	{
		struct scan *a16 = NULL, *a12 = NULL;
		char err[256];
		static const char dis[] = "disable: [key_assignment]\n";
		struct scan_options so = SCAN_OPTIONS_INIT;

		ck_assert_int_eq(scan_new(&so, &a16, err, sizeof(err)), 0);
		so.min_length = 12;
		ck_assert_int_eq(scan_new(&so, &a12, err, sizeof(err)), 0);
		ck_assert_int_eq(scan_load_rules_text(a16, "d", dis, strlen(dis), err, sizeof(err)), 0);
		ck_assert_int_eq(scan_load_rules_text(a12, "d", dis, strlen(dis), err, sizeof(err)), 0);
		ck_assert_int_eq(scan_compile(a16, err, sizeof(err)), 0);
		ck_assert_int_eq(scan_compile(a12, err, sizeof(err)), 0);
		scan_free(s12);
		s12 = a12;
		scan_free(noent);
		noent = a16;
	}
	snprintf(in, sizeof(in), "auth: %s", tok("", 13, B62));
	run(S, in, &o);
	run(noent, in, &o);
	ck_assert_uint_eq(o.nf, 0);
	run(s12, in, &o);
	ck_assert_uint_eq(o.nf, 1);
	/* with the rule on, the value in auth's place goes at any length */
	run(S, in, &o);
	ck_assert_uint_eq(o.nf, 1);
	out_reset(&o);
	scan_free(s12);
	scan_free(noent);
}
END_TEST

/* ---- the original's bugs, fixed on purpose (specs/harombe-upstream.md §10) ---- */

START_TEST(test_upstream_fixes)
{
	struct out o = { 0 };
	char in[512];
	const char *t;

	/* 1: PKCS#8 "BEGIN PRIVATE KEY" crashed the original: here, the block goes */
	run(S, "-----BEGIN PRIVATE" " KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE" " KEY-----", &o);
	ck_assert_str_eq(o.buf, "[REDACTED]");
	/* 2: the span is the secret, not the key name */
	run(S, "password=MySecretP@ssw0rd!", &o);
	ck_assert_str_eq(o.buf, "password=[REDACTED]");
	ck_assert_uint_eq(o.f[0].offset, 9);
	ck_assert_uint_eq(o.f[0].length, 17);
	run(S, "DATABASE_URL=postgresql://user:password@localhost:5432/dbname", &o);
	ck_assert_str_eq(o.buf, "DATABASE_URL=postgresql://user:[REDACTED]@localhost:5432/dbname");
	ck_assert_str_eq(o.f[0].type, "database_url");
	/* 3: PEM body and END line go with the BEGIN line */
	run(S, "\n        -----BEGIN RSA PRIVATE" " KEY-----\n        MIIEpAIBAAKCAQEA1234567890\n        -----END RSA PRIVATE"
	    " KEY-----\n        ", &o);
	ck_assert_str_eq(o.buf, "\n        [REDACTED]\n        ");
	/* 4: no tail left: Slack tokens with hyphens, long GitHub tokens */
	run(S, "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", &o);
	ck_assert_str_eq(o.buf, "[REDACTED]");
	run(S, "xoxb-1234567890-1234567890123", &o);
	ck_assert_str_eq(o.buf, "[REDACTED]");
	snprintf(in, sizeof(in), "tok %s end", tok("gh" "p_", 46, B62));
	run(S, in, &o);
	ck_assert_str_eq(o.buf, "tok [REDACTED] end");
	/* 4: "sk-" inside a word is not a prefix */
	run(S, "mask-1234567890abcdef", &o);
	ck_assert_uint_eq(o.nf, 0);
	/* 4: fine-grained GitHub tokens have their own rule */
	run(S, "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV12345", &o);
	ck_assert_str_eq(o.f[0].rule, "github_fine_grained_token");
	ck_assert(o.f[0].confidence >= 0.95);
	/* KEY= kept: OPENAI_API_KEY=[REDACTED], not OPENAI_[REDACTED] */
	run(S, "OPENAI_API_KEY=sk-proj-1234567890abcdefghijklmnopqrstuvwxyz", &o);
	ck_assert_str_eq(o.buf, "OPENAI_API_KEY=[REDACTED]");
	run(S, "token=aB3dF9gH2jK4lM6nP8qR0sT1uV3wX5yZ7", &o);
	ck_assert_str_eq(o.buf, "token=[REDACTED]");
	/* the docs' own example, with the shape they promised */
	run(S, "\nTo authenticate, use:\nAPI_KEY=sk-1234567890abcdef\nGITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ123456\n", &o);
	ck_assert_str_eq(o.buf, "\nTo authenticate, use:\nAPI_KEY=[REDACTED]\nGITHUB_TOKEN=[REDACTED]\n");
	/* 12: overlapping findings merge: the union is redacted, once */
	t = tok("gh" "p_", 36, B62);
	snprintf(in, sizeof(in), "GITHUB_TOKEN=\"%s\"", t);
	run(S, in, &o);
	ck_assert_str_eq(o.buf, "GITHUB_TOKEN=\"[REDACTED]\"");
	ck_assert_uint_eq(o.nf, 1);
	/* 5: a finding carries no value: the marker is the public prefix only */
	ck_assert_str_eq(o.f[0].marker, "gh" "p_");
	out_reset(&o);
}
END_TEST

/* Every strict case of the original's tests: detected / not_detected, and
 * the assertions that pin redaction. */
/* Issue 12: a value in a secret's place is redacted whatever its shape;
 * only references, placeholders, booleans, paths and names veto it. */
START_TEST(test_context_decides)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "password=dbpjgliioqllsrvq", "password=%R" },
		{ "PASSWORD=kehskooivpzouqCw", "PASSWORD=%R" },
		{ "password = open_sesame", "password = %R" },
		{ "access_token: tkn_icornkhnnrtAznyAqvsHvAIA", "access_token: %R" },
		{ "apikey = \"key_leegeptlpkppyzAqvrFwBDBJ\"", "apikey = \"%R\"" },
		{ "curl -u \"d2LkV78zLx!t:\" https://localhost:9200", "curl -u \"%R:\" https://localhost:9200" },
		{ "Authorization: Bearer mF_9.B5f-4.1JqM", "Authorization: Bearer %R" },
		{ "//registry.npmjs.org/:_authToken=npm_xxxxxxxxxxx", "//registry.npmjs.org/:_authToken=%R" },
		{ "BUNDLE_ENTERPRISE__CONTRIBSYS__COM: cafebabe:deadbeef", "BUNDLE_ENTERPRISE__CONTRIBSYS__COM: %R" },
		{ "SECRET_KEY=changeme", "SECRET_KEY=%R" },
		{ "password: admin", "password: %R" },
		{ "CREATE USER app IDENTIFIED BY 'Tr0ub4dor';", "CREATE USER app IDENTIFIED BY '%R';" },
		{ "Proxy-Authorization: Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1", "Proxy-Authorization: Negotiate %R" },
		{ "X-Api-Key: abcd1234efgh", "X-Api-Key: %R" },
		{ "Driver={ODBC};Server=db;Uid=sa;Pwd={s3cr3t;pw};", "Driver={ODBC};Server=db;Uid=sa;Pwd={%R};" },
		{ "machine api.example.com\n  login me\n  password hunter22\n", "machine api.example.com\n  login me\n  password %R\n" },
		{ "mysql -h db -u root -pR3disPass app", "mysql -h db -u root -p%R app" },
		{ "docker login -u ci -p dckrSecret123 registry.example.com", "docker login -u ci -p %R registry.example.com" },
		{ "mkdir -p /tmp/build/out", NULL },
		{ "pin=73519", "pin=73519" },	/* not a secret's name */
		/* vetoes */
		{ "password = user_password", NULL },
		{ "password: ${DB_PASSWORD}", NULL },
		{ "password=%DB_PASSWORD%", NULL },
		{ "password: \"{{ .Values.db.password }}\"", NULL },
		{ "token = getToken()", NULL },
		{ "token = os.environ[\"TOKEN\"]", NULL },
		{ "apiKey: process.env.API_KEY", NULL },
		{ "password: <password>", NULL },
		{ "password: ********", NULL },
		{ "password: xxxx", NULL },
		{ "password: true", NULL },
		{ "password_length: 16", NULL },
		{ "password_file: /run/secrets/db_password", NULL },
		{ "password = /run/secrets/db_password", NULL },
		{ "key: app", NULL },
		{ "--token TOKEN", NULL },
		{ "--password string   Password for the registry", NULL },
		{ "{\"password\": {\"type\": \"string\", \"minLength\": 8}}", NULL },
		{ "{\"password\":{\"type\":\"string\"}}", NULL },
		{ "  password: { type: String, required: true },", NULL },
		{ "  - key: node-role.kubernetes.io/master", NULL },
		{ "\"auth\": {\"type\": \"oauth2\"}", NULL },
		{ "auth: basic", NULL },
		{ "docker login --password-stdin -u ci registry", NULL },
		{ "token: ${{ secrets.GITHUB_TOKEN }}", NULL },
		{ "password = kwargs.get(\"password\")", NULL },
		{ "if (password == null) return;", NULL },
		{ "  -p, --password=PASSWORD  password to use", NULL },
		{ "postgresql://app:[REDACTED]@db/prod", NULL },
		{ "password=[REDACTED] token: [REDACTED]", NULL },
	};
	struct out o = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char want[512];
		const char *r;

		run(S, cases[i].in, &o);
		if (!cases[i].want || !(r = strstr(cases[i].want, "%R"))) {
			ck_assert_msg(o.nf == 0 && !strcmp(o.buf, cases[i].in), "vetoed '%s': got '%s' (%s)",
				      cases[i].in, o.buf, o.nf ? o.f[0].rule : "-");
			continue;
		}
		snprintf(want, sizeof(want), "%.*s[REDACTED]%s", (int)(r - cases[i].want), cases[i].want, r + 2);
		ck_assert_msg(!strcmp(o.buf, want), "'%s': got '%s', want '%s'", cases[i].in, o.buf, want);
	}
	out_reset(&o);
}
END_TEST

/* Issue 12: decode before judging; the whole encoded span goes. */
START_TEST(test_decode)
{
	static const struct { const char *in, *want; } cases[] = {
		/* base64 of "password=hunter2xyz\nuser=bob" */
		{ "data: cGFzc3dvcmQ9aHVudGVyMnh5egp1c2VyPWJvYg==", "data: %R" },
		/* the same, URL alphabet, no padding */
		{ "cfg=cGFzc3dvcmQ9aHVudGVyMnh5egp1c2VyPWJvYg", "cfg=%R" },
		/* hex of "DATABASE_URL=postgres://a:Sup3rS3cret@db/x" */
		{ "blob 44415441424153455f55524c3d706f7374677265733a2f2f613a53757033725333637265744064622f78 end", "blob %R end" },
		{ "GET /cb?q=password%3DS3cr3tPa55 HTTP/1.1", "GET %R HTTP/1.1" },
		{ "{\"raw\": \"\\u0070\\u0061\\u0073\\u0073\\u0077\\u006f\\u0072\\u0064\\u003dS3cr3tXyz\"}",
		  "{\"raw\": \"%R\"}" },
		{ "Content-Transfer-Encoding: quoted-printable\n\nPASSWORD=3DS3cr3tXyz42\n",
		  "Content-Transfer-Encoding: quoted-printable\n\n%R\n" },
		/* text without a secret, an image, an integrity string: untouched */
		{ "note: aGVsbG8gd29ybGQsIG5vdGhpbmcgaGVyZSBhdCBhbGw=", NULL },
		{ "src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\"", NULL },
		{ "GET /search?q=hello%20world%3Dfoo HTTP/1.1", NULL },
	};
	struct out o = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char want[512];
		const char *r;

		run(S, cases[i].in, &o);
		if (!cases[i].want) {
			ck_assert_msg(o.nf == 0 && !strcmp(o.buf, cases[i].in), "'%s': got '%s' (%s)", cases[i].in,
				      o.buf, o.nf ? o.f[0].rule : "-");
			continue;
		}
		r = strstr(cases[i].want, "%R");
		snprintf(want, sizeof(want), "%.*s[REDACTED]%s", (int)(r - cases[i].want), cases[i].want, r + 2);
		ck_assert_msg(!strcmp(o.buf, want), "'%s': got '%s', want '%s'", cases[i].in, o.buf, want);
	}
	out_reset(&o);
}
END_TEST

START_TEST(test_upstream_strict)
{
	json_object *doc = json_object_from_file("tests/fixtures/harombe-upstream/cases.json"), *v, *cfg;
	struct scan *cache[4] = { 0 };
	double keys[4][2];
	size_t n, i, nc = 0, checked = 0;
	struct out o = { 0 };

	ck_assert_msg(doc != NULL, "tests/fixtures/harombe-upstream/cases.json is missing");
	n = json_object_array_length(doc);
	for (i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(doc, i);
		const char *id, *expect_, *text;
		double mc = 0.7, ml = 16;
		struct scan *s = NULL;
		size_t k;

		if (!json_object_object_get_ex(it, "component", &v) || strcmp(json_object_get_string(v), "scanner"))
			continue;
		if (!json_object_object_get_ex(it, "assertion_strength", &v) || strcmp(json_object_get_string(v), "strict"))
			continue;
		json_object_object_get_ex(it, "id", &v);
		id = json_object_get_string(v);
		json_object_object_get_ex(it, "expect", &v);
		expect_ = json_object_get_string(v);
		json_object_object_get_ex(it, "input", &v);
		text = json_object_get_string(v);
		if (json_object_object_get_ex(it, "config", &cfg)) {
			if (json_object_object_get_ex(cfg, "min_confidence", &v))
				mc = json_object_get_double(v);
			if (json_object_object_get_ex(cfg, "min_length", &v))
				ml = json_object_get_double(v);
		}
		for (k = 0; k < nc && !s; k++)
			if (keys[k][0] == mc && keys[k][1] == ml)
				s = cache[k];
		if (!s) {
			ck_assert(nc < ARRAY_SIZE(cache));
			s = cache[nc] = make(mc, (size_t)ml, 1, NULL);
			keys[nc][0] = mc;
			keys[nc++][1] = ml;
		}
		run(s, text, &o);
		if (!strcmp(expect_, "detected"))
			ck_assert_msg(o.nf > 0, "%s: expected a finding", id);
		else if (!strcmp(expect_, "not_detected") && !strcmp(id, "scanner-0021"))
			/* "token=short123" with min_length 32: issue 12 reverses it
			 * (a value in a secret's place is redacted at any length;
			 * min_length bounds entropy findings only) */
			ck_assert_msg(o.nf == 1 && !strcmp(o.buf, "token=[REDACTED]"), "%s: %s", id, o.buf);
		else if (!strcmp(expect_, "not_detected") && !strcmp(id, "scanner-0029"))
			/* "# api_key = 'sk-1234567890'  # BAD" in a comment: the
			 * same reversal; the environment lookup above it passes */
			ck_assert_msg(o.nf == 1 && strstr(o.buf, "os.environ.get('API_KEY')") &&
				      strstr(o.buf, "api_key = '[REDACTED]'"), "%s: %s", id, o.buf);
		else if (!strcmp(expect_, "not_detected"))
			ck_assert_msg(o.nf == 0, "%s: expected nothing, found %s", id, o.nf ? o.f[0].rule : "");
		if (!strcmp(id, "scanner-0013"))
			ck_assert(!strstr(o.buf, "gh" "p_ABCDEFabcdef") && strstr(o.buf, "[REDACTED]"));
		if (!strcmp(id, "scanner-0014"))
			ck_assert(!strstr(o.buf, "gh" "p_") && !strstr(o.buf, "AKIAIOSFODNN7EXAMPLE"));
		if (!strcmp(id, "scanner-0028"))
			ck_assert(!strstr(o.buf, "gh" "p_") && strstr(o.buf, "for API access"));
		if (!strcmp(id, "scanner-0011"))
			ck_assert(o.f[0].confidence >= 0.8);
		if (!strcmp(id, "scanner-0012"))
			ck_assert_str_eq(o.buf, "Here is my secret: API_KEY=[REDACTED] and more text");
		checked++;
	}
	ck_assert_uint_ge(checked, 30);
	for (i = 0; i < nc; i++)
		scan_free(cache[i]);
	json_object_put(doc);
	out_reset(&o);
}
END_TEST

/* ---- streams: a secret split across writes is still caught ---- */

static char *stream_split(struct scan *s, const char *text, size_t split, enum scan_flush how, size_t *nf)
{
	struct scan_stream *st;
	struct out o = { 0 };
	size_t n = strlen(text);

	on_out(&o, "", 0);
	ck_assert_int_eq(scan_stream_new(s, on_out, on_find, &o, &st), 0);
	ck_assert_int_eq(scan_stream_write(st, text, split), 0);
	ck_assert_int_ge(scan_stream_flush(st, how), 0);
	ck_assert_int_eq(scan_stream_write(st, text + split, n - split), 0);
	ck_assert_int_ge(scan_stream_flush(st, SCAN_FLUSH_END), 0);
	scan_stream_free(st);
	*nf = o.nf;
	return o.buf;
}

START_TEST(test_stream_every_split)
{
	char text[4096], pem[2048], body[1500];
	const char *gh = tok("gh" "p_", 36, B62);
	size_t i, n, nf, one_nf, o = 0;
	struct out one = { 0 };

	for (i = 0; i < 8; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\n", tok("", 64, B62 "+/"));
	snprintf(pem, sizeof(pem), "-----BEGIN OPENSSH PRIVATE" " KEY-----\n%s-----END OPENSSH PRIVATE" " KEY-----", body);
	snprintf(text, sizeof(text), "line one\nexport GITHUB_TOKEN=%s\n%s\npassword=\"Sum9!x#Q2\"\ndone\n", gh, pem);
	n = strlen(text);
	run(S, text, &one);
	one_nf = one.nf;
	ck_assert_uint_eq(one_nf, 3);
	/* at every split point, with the lines emitted between the writes, the
	 * output is the same as in one piece */
	for (i = 0; i <= n; i++) {
		char *got = stream_split(S, text, i, SCAN_FLUSH_LINES, &nf);

		ck_assert_msg(!strcmp(got, one.buf), "split at %zu differs", i);
		ck_assert_uint_eq(nf, one_nf);
		free(got);
	}
	out_reset(&one);
}
END_TEST

/* A pause in the middle of a token or a PEM block (SCAN_FLUSH_ALL emits
 * what is held): what arrives after the pause is still redacted. */
START_TEST(test_stream_pause)
{
	char text[4096], body[1500], pem[2048];
	const char *gh = tok("gh" "p_", 36, B62);
	size_t i, nf, o = 0;
	char *got;

	snprintf(text, sizeof(text), "x GITHUB_TOKEN=%s y\n", gh);
	for (i = 16; i < strlen(text) - 4; i++) {
		got = stream_split(S, text, i, SCAN_FLUSH_ALL, &nf);
		ck_assert_msg(!survives(got, gh), "token survives a pause at %zu: %s", i, got);
		ck_assert(nf >= 1);
		free(got);
	}
	/* a value in a secret's place, symbols and all, cut anywhere by a
	 * pause: no 8-character run of it goes out */
	{
		static const char *const lines[] = {
			"curl -u \"d2LkV78zLx!t:\" https://localhost:9200\n",
			"Authorization: Bearer mF_9.B5f-4.1JqMxyz\n",
			"PASSWORD=kehskooivpzouqCw!x\n",
		};
		static const char *const secrets[] = { "d2LkV78zLx!t", "mF_9.B5f-4.1JqMxyz", "kehskooivpzouqCw!x" };
		size_t l;

		for (l = 0; l < ARRAY_SIZE(lines); l++) {
			const char *at = strstr(lines[l], secrets[l]);

			for (i = (size_t)(at - lines[l]) + 2; i < (size_t)(at - lines[l]) + strlen(secrets[l]) - 1; i++) {
				got = stream_split(S, lines[l], i, SCAN_FLUSH_ALL, &nf);
				ck_assert_msg(!survives(got, secrets[l]), "'%s' cut at %zu: %s", lines[l], i, got);
				free(got);
			}
		}
	}
	for (i = 0; i < 6; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\n", tok("", 64, B62 "+/"));
	snprintf(pem, sizeof(pem), "-----BEGIN RSA PRIVATE" " KEY-----\n%s-----END RSA PRIVATE" " KEY-----\nafter\n", body);
	for (i = 40; i < strlen(pem) - 10; i += 7) {
		size_t k;

		got = stream_split(S, pem, i, SCAN_FLUSH_ALL, &nf);
		for (k = 0; k + 64 <= strlen(body); k += 65) {
			char line[65];

			memcpy(line, body + k, 64);
			line[64] = 0;
			ck_assert_msg(!survives(got, line), "PEM body survives a pause at %zu", i);
		}
		ck_assert(strstr(got, "after"));
		free(got);
	}
}
END_TEST

/* Lines come out as soon as they are complete; a partial line is held. */
START_TEST(test_stream_lines)
{
	struct scan_stream *st;
	struct out o = { 0 };

	on_out(&o, "", 0);
	ck_assert_int_eq(scan_stream_new(S, on_out, on_find, &o, &st), 0);
	ck_assert_int_eq(scan_stream_write(st, "hello\nwor", 9), 0);
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_LINES), 3);
	ck_assert_str_eq(o.buf, "hello\n");
	ck_assert_int_eq(scan_stream_write(st, "ld\n", 3), 0);
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_LINES), 0);
	ck_assert_str_eq(o.buf, "hello\nworld\n");
	/* an open PEM block is held until its END line */
	ck_assert_int_eq(scan_stream_write(st, "-----BEGIN PRIVATE" " KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", 61), 0);
	ck_assert_int_gt(scan_stream_flush(st, SCAN_FLUSH_LINES), 0);
	ck_assert_str_eq(o.buf, "hello\nworld\n");
	ck_assert_int_eq(scan_stream_write(st, "-----END PRIVATE" " KEY-----\nok\n", 29), 0);
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_LINES), 0);
	ck_assert_str_eq(o.buf, "hello\nworld\n[REDACTED]\nok\n");
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_END), 0);
	scan_stream_free(st);
	out_reset(&o);
}
END_TEST

/* A secret at every offset across window boundaries of a long stream. */
START_TEST(test_stream_long)
{
	struct scan_stream *st;
	struct out o = { 0 };
	const char *gh = tok("gh" "p_", 36, B62);
	char filler[1000];
	size_t i, total = 0, count = 0;

	memset(filler, 'a', sizeof(filler));
	for (i = 0; i < sizeof(filler); i += 10)
		filler[i] = ' ';
	on_out(&o, "", 0);
	ck_assert_int_eq(scan_stream_new(S, on_out, on_find, &o, &st), 0);
	while (total < (3u << 20)) {
		size_t f = 1 + rnd(sizeof(filler) - 1);

		ck_assert_int_eq(scan_stream_write(st, filler, f), 0);
		ck_assert_int_eq(scan_stream_write(st, " ", 1), 0);
		ck_assert_int_eq(scan_stream_write(st, gh, 40), 0);
		ck_assert_int_eq(scan_stream_write(st, "\n", 1), 0);
		total += f + 42;
		count++;
	}
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_END), 0);
	scan_stream_free(st);
	ck_assert_uint_eq(o.len, total - 40 * count + strlen("[REDACTED]") * count);
	ck_assert(!survives(o.buf, gh));
	out_reset(&o);
}
END_TEST

static void b64(const unsigned char *in, size_t n, char *out, const char *alpha, int pad);

/* Filter text in random pieces with the given threads; the output. */
static char *stream_threads(const char *text, size_t n, unsigned int threads, uint64_t seed,
			    struct scan_stream_stats *ss, int room)
{
	struct scan_stream *st;
	struct out o = { 0 };
	size_t at = 0;

	rng = seed;
	on_out(&o, "", 0);
	ck_assert_int_eq(scan_stream_new(S, on_out, on_find, &o, &st), 0);
	ck_assert_int_eq(scan_stream_set_threads(st, 3), -EINVAL);
	ck_assert_int_eq(scan_stream_set_threads(st, threads), 0);
	while (at < n) {
		size_t k = 1 + rnd(200000);

		if (k > n - at)
			k = n - at;
		if (room) {
			/* scan_stream_room/commit: the same piece, straight in,
			 * as much at a time as fits */
			size_t done = 0;

			while (done < k) {
				unsigned char *w;
				long fit = scan_stream_room(st, &w);
				size_t c = k - done;

				ck_assert_int_gt(fit, 0);
				if (c > (size_t)fit)
					c = (size_t)fit;
				memcpy(w, text + at + done, c);
				ck_assert_int_eq(scan_stream_commit(st, (size_t)fit + 1), -EINVAL);
				ck_assert_int_eq(scan_stream_commit(st, c), 0);
				done += c;
			}
		} else {
			ck_assert_int_eq(scan_stream_write(st, text + at, k), 0);
		}
		at += k;
		if (rnd(4) == 0)
			ck_assert_int_ge(scan_stream_flush(st, rnd(3) ? SCAN_FLUSH_LINES : SCAN_FLUSH_ALL), 0);
	}
	ck_assert_int_ge(scan_stream_flush(st, SCAN_FLUSH_END), 0);
	scan_stream_stats(st, ss);
	scan_stream_free(st);
	return o.buf;
}

/* The entropy pass on a second thread finds what it finds on one: rule
 * findings, high-entropy tokens (beside and inside rule findings), encoded
 * secrets, over windows of every size. */
START_TEST(test_stream_threads)
{
	size_t cap = 6u << 20, n = 0;
	char *text = malloc(cap), enc[512], plain[256];
	char *one, *two;
	struct scan_stream_stats s1, s2;

	ck_assert_ptr_nonnull(text);
	while (n + 1024 < cap) {
		switch (rnd(9)) {
		case 0:
			n += (size_t)snprintf(text + n, cap - n, "export GITHUB_TOKEN=%s\n", tok("gh" "p_", 36, B62));
			break;
		case 1:
			n += (size_t)snprintf(text + n, cap - n, "token: %s %s\n", tok("", 32, B62), tok("", 40, B62));
			break;
		case 2:
			snprintf(plain, sizeof(plain), "pass" "word=%s", tok("", 14, B62));
			b64((const unsigned char *)plain, strlen(plain), enc, B62 "+/", 1);
			n += (size_t)snprintf(text + n, cap - n, "data: %s\n", enc);
			break;
		case 3:
			n += (size_t)snprintf(text + n, cap - n, "commit %s\nid %s\n", tok("", 40, HEXL), tok("", 64, HEXL));
			break;
		case 4:
			n += (size_t)snprintf(text + n, cap - n, "url=https://u:%s@h/x%s\n", tok("", 20, B62), tok("", 30, B62));
			break;
		default:
			n += (size_t)snprintf(text + n, cap - n, "INFO request %u served in %u ms by worker %u\n", rnd(100000),
					      rnd(1000), rnd(64));
			break;
		}
	}
	one = stream_threads(text, n, 1, 42, &s1, 0);
	two = stream_threads(text, n, 2, 42, &s2, 0);
	ck_assert_uint_gt(s1.findings, 1000);
	ck_assert_uint_eq(s1.findings, s2.findings);
	ck_assert_uint_eq(s1.redactions, s2.redactions);
	ck_assert_uint_eq(s1.bytes_out, s2.bytes_out);
	ck_assert(!strcmp(one, two));
	free(two);
	/* the same text read straight into the window, on two threads (a
	 * 2 MiB window, its Vectorscan pass split) and on one */
	two = stream_threads(text, n, 2, 42, &s2, 1);
	ck_assert_uint_eq(s1.findings, s2.findings);
	ck_assert(!strcmp(one, two));
	free(two);
	two = stream_threads(text, n, 1, 42, &s2, 1);
	ck_assert_uint_eq(s1.findings, s2.findings);
	ck_assert(!strcmp(one, two));
	free(one);
	free(two);
	free(text);
}
END_TEST

/* entropy_runs against the plain definition: every maximal run of token
 * characters of minlen or more in [from, to) (with up to two '=' after it),
 * except one that began before from; in order.  The text is made of runs of
 * every length around minlen, so that they start, end and cross the 64-byte
 * blocks the pass reads at every offset. */
struct runs_got {
	size_t n, cap;
	size_t *se;
};

static int on_run_collect(void *arg, size_t start, size_t end)
{
	struct runs_got *g = arg;

	if (g->n + 2 > g->cap) {
		g->cap = g->cap ? 2 * g->cap : 256;
		g->se = realloc(g->se, g->cap * sizeof(*g->se));
		ck_assert_ptr_nonnull(g->se);
	}
	g->se[g->n++] = start;
	g->se[g->n++] = end;
	return 0;
}

static void runs_naive(const unsigned char *b, size_t from, size_t to, size_t minlen, struct runs_got *g)
{
	size_t i = from, j, e;

	if (from > 0 && from < to && scan_tokchar[b[from - 1]] == 1 && scan_tokchar[b[from]] == 1)
		while (i < to && scan_tokchar[b[i]] == 1)
			i++;	/* begun before from */
	while (i < to) {
		if (scan_tokchar[b[i]] != 1) {
			i++;
			continue;
		}
		for (j = i; j < to && scan_tokchar[b[j]] == 1; j++)
			;
		if (j - i >= minlen) {
			for (e = j; e < to && e - j < 2 && b[e] == '='; e++)
				;
			on_run_collect(g, i, e);
		}
		i = j;
	}
}

START_TEST(test_entropy_runs_blocks)
{
	size_t cap = 1u << 20, n = 0, round;
	unsigned char *t = malloc(cap);
	static const char tok[] = "ABCxyz0189+/-_", sep[] = " \n=.:\"=,";

	ck_assert_ptr_nonnull(t);
	while (n + 200 < cap) {
		size_t len = rnd(5) ? 1 + rnd(24) : 1 + rnd(150), k;

		for (k = 0; k < len; k++)
			t[n++] = (unsigned char)tok[rnd(sizeof(tok) - 1)];
		for (k = 1 + rnd(3); k; k--)
			t[n++] = (unsigned char)sep[rnd(sizeof(sep) - 1)];
	}
	for (round = 0; round < 400; round++) {
		size_t from = rnd(4096), to = from + rnd((unsigned int)(n - from)), minlen = 12 + rnd(5), i;
		struct runs_got want = { 0 }, got = { 0 };

		if (round % 4 == 0)
			from = 0;
		runs_naive(t, from, to, minlen, &want);
		ck_assert_int_eq(entropy_runs(t, from, to, minlen, on_run_collect, &got), 0);
		ck_assert_uint_eq(got.n, want.n);
		for (i = 0; i < want.n; i++)
			ck_assert_uint_eq(got.se[i], want.se[i]);
		free(want.se);
		free(got.se);
	}
	free(t);
}
END_TEST

/* A PEM block larger than the window, starting near its beginning: it is
 * emitted window by window, every piece redacted. */
START_TEST(test_stream_huge_match)
{
	size_t n = 0, i, cap = 3 << 20;
	char *in = malloc(cap);
	const char *line = NULL;
	struct out o = { 0 };

	ck_assert_ptr_nonnull(in);
	n += (size_t)snprintf(in + n, cap - n, "before\n-----BEGIN RSA PRIVATE" " KEY-----\n");
	while (n < (2u << 20)) {
		line = tok("", 64, B62 "+/");
		n += (size_t)snprintf(in + n, cap - n, "%s\n", line);
	}
	n += (size_t)snprintf(in + n, cap - n, "-----END RSA PRIVATE" " KEY-----\nafter\n");
	run(S, in, &o);
	ck_assert_msg(!strncmp(o.buf, "before\n[REDACTED]", 17), "got %.60s", o.buf);
	ck_assert(strstr(o.buf, "]\nafter\n"));
	for (i = 0; i < o.len; i++)
		ck_assert(o.buf[i] != '+' && o.buf[i] != '/');	/* no base64 body left */
	ck_assert(!survives(o.buf, line));
	free(in);
	out_reset(&o);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_bad_input)
{
	struct out o = { 0 };
	char *big = malloc(3 << 20);
	const char *gh = tok("gh" "p_", 36, B62);
	unsigned char bin[70000];
	size_t i, n;

	/* NUL bytes and invalid UTF-8 around a secret */
	char in[200];

	n = (size_t)snprintf(in, sizeof(in), "\xff\xfe\xc0\x80 %s \x80", gh);
	in[1] = 0;
	out_reset(&o);
	on_out(&o, "", 0);
	ck_assert_int_eq(scan_buffer(S, in, n, on_out, on_find, &o), 0);
	ck_assert_uint_eq(o.nf, 1);
	ck_assert_uint_eq(o.len, n - 40 + 10);
	ck_assert(!memmem(o.buf, o.len, gh, 40));
	/* binary: random bytes pass through byte for byte, minus findings */
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)rnd(256);
	out_reset(&o);
	on_out(&o, "", 0);
	ck_assert_int_eq(scan_buffer(S, bin, sizeof(bin), on_out, on_find, &o), 0);
	if (!o.nf)
		ck_assert(o.len == sizeof(bin) && !memcmp(o.buf, bin, sizeof(bin)));
	/* one 3 MiB line with a secret in the middle and at a window boundary */
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 3 << 20);
	for (i = 0; i < (3u << 20); i += 7)
		big[i] = '.';
	memcpy(big + (1 << 20), gh, 40);
	memcpy(big + (512 << 10) - 20, gh, 40);
	big[(3 << 20) - 1] = 0;
	run(S, big, &o);
	ck_assert_uint_eq(o.nf, 2);
	ck_assert(!survives(o.buf, gh));
	free(big);
	out_reset(&o);
}
END_TEST

/* ---- known values ---- */

static void b64(const unsigned char *in, size_t n, char *out, const char *alpha, int pad)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = alpha[in[i] >> 2];
		out[o++] = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = alpha[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = alpha[in[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = alpha[in[i] >> 2];
		out[o++] = alpha[(in[i] & 3) << 4];
		if (pad)
			out[o++] = '=', out[o++] = '=';
	} else if (n - i == 2) {
		out[o++] = alpha[in[i] >> 2];
		out[o++] = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = alpha[(in[i + 1] & 15) << 2];
		if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
}

START_TEST(test_known)
{
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct scan_options so = SCAN_OPTIONS_INIT;
	const char *value = "hunter2 with spaces & sym>?~";	/* no rule would catch this */
	char err[256], enc[512], in[1024], hex[128];
	struct out o = { 0 };
	struct scan *s;
	size_t i, lead;

	so.entropy = 0;
	ck_assert_int_eq(scan_new(&so, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(scan_add_known(s, value, strlen(value), "DB_PASSWORD", err, sizeof(err)), 0);
	ck_assert_int_eq(scan_add_known(s, "abc", 3, "SHORT", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(scan_compile(s, err, sizeof(err)), 0);
	ck_assert_int_eq(scan_add_known(s, "late-value", 10, "LATE", err, sizeof(err)), -EBUSY);

	snprintf(in, sizeof(in), "echo %s done", value);
	run(s, in, &o);
	ck_assert_str_eq(o.buf, "echo [REDACTED] done");
	ck_assert_str_eq(o.f[0].rule, "known_value");
	ck_assert_str_eq(o.f[0].label, "DB_PASSWORD");
	/* base64, base64url, with and without padding */
	b64((const unsigned char *)value, strlen(value), enc, std, 1);
	snprintf(in, sizeof(in), "data: %s;", enc);
	run(s, in, &o);
	ck_assert_str_eq(o.buf, "data: [REDACTED];");
	b64((const unsigned char *)value, strlen(value), enc, url, 0);
	snprintf(in, sizeof(in), "u=%s&x=1", enc);
	run(s, in, &o);
	ck_assert_str_eq(o.buf, "u=[REDACTED]&x=1");
	/* inside a larger base64 blob, at each alignment: "user:" + value */
	for (lead = 0; lead < 3; lead++) {
		char plain[256];

		snprintf(plain, sizeof(plain), "%.*suser:%s", (int)lead, "xy", value);
		b64((const unsigned char *)plain, strlen(plain), enc, std, 1);
		snprintf(in, sizeof(in), "{\"auth\": \"%s\"}", enc);
		run(s, in, &o);
		ck_assert_msg(o.nf >= 1, "base64 at alignment %zu not found", lead);
		ck_assert_msg(strstr(o.buf, "[REDACTED]") != NULL, "lead %zu", lead);
	}
	/* hex, both cases */
	for (i = 0; i < strlen(value); i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)value[i]);
	snprintf(in, sizeof(in), "hex %s end", hex);
	run(s, in, &o);
	ck_assert_str_eq(o.buf, "hex [REDACTED] end");
	for (i = 0; hex[i]; i++)
		if (hex[i] >= 'a')
			hex[i] = (char)(hex[i] - 32);
	snprintf(in, sizeof(in), "HEX %s", hex);
	run(s, in, &o);
	ck_assert_str_eq(o.buf, "HEX [REDACTED]");
	/* URL-encoded */
	run(s, "GET /login?pw=hunter2%20with%20spaces%20%26%20sym%3E%3F~ HTTP/1.1", &o);
	ck_assert_str_eq(o.buf, "GET /login?pw=[REDACTED] HTTP/1.1");
	run(s, "pw=hunter2+with+spaces+%26+sym%3e%3f~", &o);
	ck_assert_str_eq(o.buf, "pw=[REDACTED]");
	out_reset(&o);
	scan_free(s);
}
END_TEST

/* ---- custom rules and allowlist ---- */

START_TEST(test_rules_file)
{
	static const char yaml[] =
		"rules:\n"
		"  - id: acme_token\n"
		"    description: ACME internal token\n"
		"    regex: 'acme_(?<secret>[a-z0-9]{24})'\n"
		"    type: api_key\n"
		"    confidence: 0.9\n"
		"    keywords: [acme_]\n"
		"  - id: order_code\n"
		"    regex: 'ORDER-([0-9]{6})-X'\n"
		"    secret_group: 1\n"
		"disable: [jwt]\n"
		"allowlist:\n"
		"  regexes: ['^AKIA0000']\n"
		"  paths: ['(^|/)testdata/']\n";
	struct scan_options so = SCAN_OPTIONS_INIT;
	char err[512], in[256];
	struct out o = { 0 };
	struct scan *s, *plain;

	ck_assert_int_eq(scan_new(&so, &s, err, sizeof(err)), 0);
	ck_assert_msg(scan_load_rules_text(s, "rules.yaml", yaml, strlen(yaml), err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(scan_compile(s, err, sizeof(err)), 0);
	snprintf(in, sizeof(in), "tok ACME_%s!", "abcdefghij0123456789wxyz");
	run(s, in, &o);
	/* keywords are case-insensitive, the regex is not */
	ck_assert_uint_eq(o.nf, 0);
	run(s, "tok acme_abcdefghij0123456789wxyz!", &o);
	ck_assert_str_eq(o.buf, "tok acme_[REDACTED]!");
	ck_assert_str_eq(o.f[0].rule, "acme_token");
	ck_assert_str_eq(o.f[0].type, "api_key");
	ck_assert(o.f[0].confidence > 0.89 && o.f[0].confidence < 0.91);
	run(s, "ref ORDER-123456-X", &o);
	ck_assert_str_eq(o.buf, "ref ORDER-[REDACTED]-X");
	/* disabled: jwt (its random parts may still look random to the
	 * entropy check, but the rule is off) */
	run(s, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", &o);
	for (size_t i = 0; i < o.nf; i++)
		ck_assert_str_ne(o.f[i].rule, "jwt");
	/* allowlisted value, allowlisted path */
	run(s, "AKIA0000" "ABCDEFGHIJKL", &o);
	ck_assert_uint_eq(o.nf, 0);
	ck_assert_int_eq(scan_path_allowed(s, "src/testdata/keys.txt"), 1);
	ck_assert_int_eq(scan_path_allowed(s, "src/keys.txt"), 0);
	/* rules belong to their scanner: another one does not see them */
	plain = make(0.7, 16, 1, NULL);
	run(plain, "tok acme_abcdefghij0123456789wxyz!", &o);
	ck_assert_uint_eq(o.nf, 0);
	scan_free(plain);
	scan_free(s);
	out_reset(&o);
}
END_TEST

START_TEST(test_rules_file_errors)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "rules:\n  - id: x\n    regex: '(unclosed'\n", "r.yaml:2:5: rule 'x': regex does not compile" },
		{ "rules:\n  - regex: 'a'\n", "r.yaml:2:5: rule without 'id'" },
		{ "rules:\n  - id: Bad Id\n    regex: 'a'\n", "r.yaml:2:9: rule id 'Bad Id'" },
		{ "rules:\n  - id: x\n    regex: 'a'\n    confidence: 2\n", "r.yaml:4:17: confidence must be" },
		{ "disable: [no_such_rule]\n", "r.yaml:1:11: no rule named 'no_such_rule'" },
		{ "rules: [\n", "r.yaml:2:1: YAML syntax error" },
		{ "allowlist:\n  regexes: ['(']\n", "r.yaml:2:13: allowlist regex does not compile" },
	};
	struct scan_options so = SCAN_OPTIONS_INIT;
	char err[512];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scan *s;

		ck_assert_int_eq(scan_new(&so, &s, err, sizeof(err)), 0);
		err[0] = 0;
		ck_assert_int_ne(scan_load_rules_text(s, "r.yaml", bad[i].yaml, strlen(bad[i].yaml), err, sizeof(err)), 0);
		ck_assert_msg(!strncmp(err, bad[i].want, strlen(bad[i].want)), "got '%s', want '%s...'", err, bad[i].want);
		scan_free(s);
	}
}
END_TEST

/* ---- options ---- */

START_TEST(test_options)
{
	struct scan *typed = make(0.7, 16, 1, "[REDACTED:{type}]"), *strict = make(0.9, 16, 1, NULL);
	struct out o = { 0 };

	run(typed, "password=MySecretP@ssw0rd!", &o);
	ck_assert_str_eq(o.buf, "password=[REDACTED:password]");
	/* confidence: password findings are 0.8 */
	run(strict, "password=MySecretP@ssw0rd!", &o);
	ck_assert_uint_eq(o.nf, 0);
	ck_assert_str_eq(o.buf, "password=MySecretP@ssw0rd!");
	/* line and column */
	run(S, "a\nbb\nccc password=MySecretP@ssw0rd!\n", &o);
	ck_assert_uint_eq(o.f[0].line, 3);
	ck_assert_uint_eq(o.f[0].column, 14);
	ck_assert_uint_eq(o.f[0].offset, 18);
	scan_free(typed);
	scan_free(strict);
	out_reset(&o);
}
END_TEST

/* The window lives in locked memory and does not grow with the input. */
START_TEST(test_stream_memory)
{
	struct secmem_stats before, during;
	struct scan_stream *st;
	char chunk[65536];
	size_t i;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(' ' + rnd(90));
	ck_assert_int_eq(scan_stream_new(S, NULL, NULL, NULL, &st), 0);
	ck_assert_int_eq(scan_stream_write(st, chunk, sizeof(chunk)), 0);
	secmem_get_stats(&before);
	for (i = 0; i < 512; i++)	/* 32 MiB */
		ck_assert_int_eq(scan_stream_write(st, chunk, sizeof(chunk)), 0);
	secmem_get_stats(&during);
	ck_assert_uint_eq(before.in_use, during.in_use);
	ck_assert(secmem_locked());
	ck_assert_int_eq(scan_stream_flush(st, SCAN_FLUSH_END), 0);
	scan_stream_free(st);
}
END_TEST

static Suite *scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rules_tokens);
	tcase_add_test(tc, test_rules_structured);
	tcase_add_test(tc, test_rules_assignments);
	tcase_add_test(tc, test_negatives);
	tcase_add_test(tc, test_entropy);
	tcase_add_test(tc, test_entropy_runs_blocks);
	tcase_add_test(tc, test_upstream_fixes);
	tcase_add_test(tc, test_upstream_strict);
	tcase_add_test(tc, test_context_decides);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stream_every_split);
	tcase_add_test(tc, test_stream_pause);
	tcase_add_test(tc, test_stream_lines);
	tcase_add_test(tc, test_stream_long);
	tcase_add_test(tc, test_stream_threads);
	tcase_add_test(tc, test_stream_huge_match);
	tcase_add_test(tc, test_stream_memory);
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("known_and_rules_file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_known);
	tcase_add_test(tc, test_rules_file);
	tcase_add_test(tc, test_rules_file_errors);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(scan_suite)
