#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"

/*
 * The built-in rules.  Each has a Vectorscan prefilter ("hs") that finds
 * where the rule might match in one pass over the text, and a PCRE2 regex
 * that confirms it near each prefilter hit and marks the exact span to
 * redact with a group named "secret".  Rules that assign a value to a key
 * (password=..., "api_key": "...") redact only the value, so the shape of
 * the line survives: KEY=[REDACTED], {"k": "[REDACTED]"}.
 *
 * "back" bounds how far before the end of a prefilter hit the match may
 * start.  Every regex is bounded (no unbounded repeat crosses a line,
 * except a PEM body, bounded by SCAN_MAX_MATCH), so work per hit is bounded.
 */

/* Token boundaries. */
#define TB "(?<![A-Za-z0-9_])"
#define TE "(?![A-Za-z0-9_])"
#define TBD "(?<![A-Za-z0-9_\\-])"
#define TED "(?![A-Za-z0-9_\\-])"
/* "key" [:=] value, with the usual spellings: = : := => and quotes. */
#define SEP "[\"']?\\]?[ \\t]{0,8}(?::=|=>|=(?!~)(?!=[\\s=])|:(?!:))[ \\t]{0,8}"
/* secret_key_base, TOKEN_VALUE, client_secret_b64: still the secret */
#define KSUF "(?:[_.\\-](?:base|value|data|b64|base64|hex|str|string|raw|plain|text))?"
#define HSSEP KSUF "[\"']?\\]?[ \\t]*[:=]"
/* A token value, quoted or not; the span excludes the quotes. */
#define TOKC "[A-Za-z0-9_\\-+/=.~]"
#define TOKV                                                                         \
	"(?|\"(?<secret>" TOKC "{8,1024})\"|'(?<secret>" TOKC "{8,1024})'|(?<secret>" \
	TOKC "{8,1024}))(?!" TOKC ")"
/* A secret value: quoted (with backslash escapes; a repeated group is
 * unbounded because PCRE2 would copy it per repeat, but it cannot cross a
 * line) or up to a delimiter.  Checks bound the length. */
#define QUOTED(q) q "(?<secret>(?:[^" q "\\\\\\r\\n]|\\\\.)++)" q
/* unquoted: up to a delimiter; '&' only before a new query parameter */
#define UNQ "(?:[^\\s\"'`,;&<>(){}\\[\\]|\\\\]|&(?![A-Za-z_][A-Za-z0-9_]{0,40}=))"
#define SECV "(?|" QUOTED("\"") "|" QUOTED("'") "|\\{(?<secret>[^}\\s]{1,4096})\\}|(?<secret>[(\\[][^\\s\"'`]{7,4096})|(?<secret>" UNQ "++))"
/* A password value: the same, shorter. */
#define PASSV SECV
/* A key that ends with one of the words, after a key boundary. */
#define KEY(words) "(?<![A-Za-z0-9_.\\-])(?<key>[A-Za-z0-9_.\\-]{0,40}?(?i:" words ")(?i:" KSUF "))"

/* ---- value tests ---- */

static int count_distinct(const unsigned char *p, size_t n)
{
	unsigned char seen[256] = { 0 };
	int d = 0;

	while (n--)
		if (!seen[*p++]++)
			d++;
	return d;
}

static int char_classes(const unsigned char *p, size_t n, int *up, int *lo, int *dig, int *sym)
{
	int u = 0, l = 0, d = 0, s = 0;

	for (; n; n--, p++) {
		if (isupper(*p))
			u = 1;
		else if (islower(*p))
			l = 1;
		else if (isdigit(*p))
			d = 1;
		else
			s = 1;
	}
	if (up)
		*up = u;
	if (lo)
		*lo = l;
	if (dig)
		*dig = d;
	if (sym)
		*sym = s;
	return u + l + d + s;
}

static int lower_eq(const unsigned char *p, size_t n, const char *w)
{
	return strlen(w) == n && !strncasecmp((const char *)p, w, n);
}

/* w is lower case; the first byte is compared before strncasecmp runs */
static int lower_has(const unsigned char *p, size_t n, const char *w)
{
	size_t m = strlen(w), i;
	unsigned char c0 = (unsigned char)w[0];

	for (i = 0; i + m <= n; i++)
		if ((p[i] | 0x20) == (c0 | 0x20) && !strncasecmp((const char *)p + i, w, m))
			return 1;
	return 0;
}

int scan_is_placeholder(const unsigned char *p, size_t n)
{
	static const char *const words[] = {
		"password", "passwd", "secret", "changeme", "change_me", "change-me", "placeholder",
		"redacted", "dummy", "none", "null", "nil", "undefined", "true", "false", "string",
		"str", "required", "optional", "empty", "example", "sample", "mypassword",
		"yourpassword", "pass", "token", "apikey", "api_key", "notset", "unset", "default",
		"hidden", "masked", "todo", "tbd", "fixme", "replace_me", "replaceme", "foobar",
		"<redacted>", "secret123", "password123",
	};
	static const char *const starts[] = { "$", "{{", "${", "<", "%(", "%s", "#{", "!", "enc[",
					      "vault:", "ref+", "@", "process.env", "os.environ",
					      "env(", "env.", "secrets." };
	size_t i;

	if (!n)
		return 1;
	for (i = 0; i < ARRAY_SIZE(starts); i++)
		if (n >= strlen(starts[i]) && !strncasecmp((const char *)p, starts[i], strlen(starts[i])))
			return 1;
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (lower_eq(p, n, words[i]))
			return 1;
	if (p[0] == '[' && p[n - 1] == ']')
		return 1;
	if (lower_has(p, n, "redacted") || lower_has(p, n, "placeholder"))
		return 1;
	if (lower_has(p, n, "your") && (lower_has(p, n, "key") || lower_has(p, n, "token") ||
					lower_has(p, n, "secret") || lower_has(p, n, "pass") ||
					lower_has(p, n, "here")))
		return 1;
	/* xxxxxxxx, ********, ........, 00000000 */
	for (i = 0; i < n; i++)
		if (!strchr("xX*.#-_0", p[i]))
			break;
	if (i == n)
		return 1;
	return count_distinct(p, n) <= 2;
}

/* One part of a name between separators: all one case (find, MAX, d2i,
 * X509), or words that each start with a capital (checkIframeFilter,
 * RSAPublicKey, xmlSAX2GetPublicId) with at most one short one. */
static int name_part(const unsigned char *p, size_t n)
{
	size_t i = 0, words = 0, shorts = 0;
	int up = 0, lo = 0;

	for (i = 0; i < n; i++) {
		up |= !!isupper(p[i]);
		lo |= !!islower(p[i]);
	}
	if (!up || !lo)
		return 1;
	for (i = 0; i < n;) {
		size_t s = i, ups = 0, los = 0;

		while (i < n && isupper(p[i]))
			i++, ups++;
		if (ups > 15)
			return 0;	/* ABCDEFGHIJKLMNOPQRSTUVWXYZab: not a word */
		/* XMLParser: the last capital of a run starts the next word */
		if (ups > 1 && i < n && islower(p[i])) {
			i--;
			ups--;
			if (ups)
				words++;
			s = i;
			i++;
			ups = 1;
		}
		while (i < n && (islower(p[i]) || isdigit(p[i])))
			i++, los++;
		if (i == s)
			i++;
		words++;
		if (los && ups + los <= 2)
			shorts++;
		if (ups + los > 15)
			return 0;	/* ABCDEFGHIJKLMNOPQRSTUVWXYZab: not a word */
	}
	return shorts <= 1 && (shorts == 0 || words >= 2);
}

/* A reference to a value rather than a value: config.api_key, os.environ,
 * API_TOKEN, getSecretKey, ossl_check_PKCS7_SIGNER_INFO_type,
 * test_benign_not_a_real_key. */
int scan_is_reference(const unsigned char *p, size_t n)
{
	size_t i, a, digit_runs = 0;
	int dots = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '.')
			dots++;
		else if (!isalnum(c) && c != '_' && c != '-')
			return 0;
		if (isdigit(c) && (i == 0 || !isdigit(p[i - 1])))
			digit_runs++;
	}
	/* a number or two is part of a name (X509, utf8, Pass1); more, or a
	 * long one, are not */
	if (digit_runs > 2)
		return 0;
	for (i = 0, a = 0; i < n; i++) {
		a = isdigit(p[i]) ? a + 1 : 0;
		if (a >= 5)
			return 0;
	}
	if (dots)
		for (i = 0; i < n; i++)
			if (p[i] == '.' && (i == 0 || i + 1 == n || p[i + 1] == '.' || isdigit(p[i + 1])))
				return 0;
	for (a = i = 0; i <= n; i++) {
		if (i == n || p[i] == '_' || p[i] == '-' || p[i] == '.') {
			if (i > a && !name_part(p + a, i - a))
				return 0;
			a = i + 1;
		}
	}
	return 1;
}

/* ---- checks ---- */

/* KEY_LITERAL: the value cannot be an expression (a header, a URL) */
enum { KEY_STRONG, KEY_WEAK, KEY_LITERAL, KEY_CMDLINE };
static int judge_value(struct rule_hit *h, int kind);
static int value_is_placeholder(const unsigned char *v, size_t n, const struct scan_options *opt, int names);

static int check_token(struct rule_hit *h)
{
	size_t n = h->s1 - h->s0;
	const unsigned char *tail = h->buf + h->s0 + n / 3;

	/* a token prefix followed by 36 x's is documentation */
	return count_distinct(tail, n - n / 3) >= 4;
}

/* Slack tokens carry numeric ids (xoxb-1234-..., xapp-1-A01...); not
 * xapp-sn-watcher, a package */
static int check_slack(struct rule_hit *h)
{
	size_t i;

	for (i = h->s0 + 5; i < h->s1; i++)
		if (isdigit(h->buf[i]))
			return check_token(h);
	return 0;
}

static int check_github(struct rule_hit *h)
{
	if (!check_token(h))
		return 0;
	if (h->s1 - h->s0 < 4 + 36)
		h->conf = 0.85;		/* shorter than GitHub issues them: maybe truncated */
	return 1;
}

static int check_sk(struct rule_hit *h)
{
	const unsigned char *p = h->buf + h->s0 + 3;
	size_t n = h->s1 - h->s0 - 3;
	int dig;

	char_classes(p, n, NULL, NULL, &dig, NULL);
	return dig && count_distinct(p, n) >= 6;
}

static int check_random(struct rule_hit *h)
{
	const unsigned char *p = h->buf + h->s0;
	size_t n = h->s1 - h->s0;
	int up, lo, dig;

	char_classes(p, n, &up, &lo, &dig, NULL);
	return (dig || (up && lo)) && count_distinct(p, n) >= 8 && !scan_is_placeholder(p, n);
}

static int is_quote(unsigned char c)
{
	return c == '"' || c == '\'' || c == '`';
}

/* ---- a value in a secret's place: context decides, shape only vetoes ----
 *
 * A value assigned to a secret's name (password=, "api_key":, -u user:pass,
 * Authorization:) is redacted whatever its entropy or case: in front of a
 * model a missed secret is a leak, an extra [REDACTED] costs a few
 * characters.  Only these veto it: an empty value, a reference ($VAR,
 * ${VAR}, %VAR%, {{ .x }}, os.environ[...], process.env.X, getenv(...),
 * dotted or called expressions), a placeholder (<password>, ***, xxxx,
 * REDACTED; but not a default password such as changeme or admin), a
 * boolean or null, a number that is a length or a port, a path to the file
 * that holds the secret, prose, and a bare identifier that reads as words
 * and as code (password = user_password, token = getToken).  For the weak
 * names (key, auth, command-line options) a bare value that reads as words
 * is vetoed too: key: app is a label, --token TOKEN a help text.
 */
/* names: the thing's own name (password, secret, token) is documentation
 * too; not in a URL, where user:password@ is as often the password */
static int value_is_placeholder(const unsigned char *v, size_t n, const struct scan_options *opt, int names)
{
	static const char *const own[] = { "password", "passwd", "pass", "pwd", "passphrase", "secret", "token",
					   "apikey", "api_key", "key" };
	static const char *const words[] = {
		"none", "null", "nil", "undefined", "true", "false", "yes", "no", "on", "off", "enabled",
		"disabled", "string", "str", "int", "bool", "boolean", "object", "any", "required",
		"optional", "empty", "example", "sample", "placeholder", "dummy", "notset", "not_set",
		"unset", "hidden", "masked", "sensitive", "todo", "tbd", "fixme", "replace_me", "replaceme",
		"default", "redacted", "value", "text", "bytes", "secretstr", "securestring", "n/a", "!0", "!1",
		/* permissions (id-token: write), fetch's credentials modes, metavariables */
		"read", "write", "read-write", "readonly", "include", "omit", "same-origin", "file", "path",
		"filename", "bearer", "basic", "digest", "oauth", "mac",
	};
	const char *rep = opt && opt->replacement ? opt->replacement : "[REDACTED]";
	size_t i, rl = strcspn(rep, "{");

	if (!n)
		return 1;
	/* what harombe wrote: [REDACTED], [REDACTED:password], a custom one */
	if (rl >= 3 && n >= rl && !memcmp(v, rep, rl))
		return 1;
	if (lower_has(v, n, "redacted") || lower_has(v, n, "placeholder"))
		return 1;
	if (v[0] == '<' || (v[0] == '[' && v[n - 1] == ']') || (v[0] == '(' && v[n - 1] == ')'))
		return 1;
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (lower_eq(v, n, words[i]))
			return 1;
	for (i = 0; names && i < ARRAY_SIZE(own); i++)
		if (lower_eq(v, n, own[i]))
			return 1;
	/* :****, (****): masks with punctuation around */
	for (i = 0; i < n && !isalnum(v[i]); i++)
		;
	if (i == n && memchr(v, '*', n))
		return 1;
	/* xxxxxxxx, ********, ........, ####, and UTF-8 bullets, whole */
	for (i = 0; i < n; i++)
		if (!v[i] || (!strchr("xX*.#-_", v[i]) && v[i] != 0xe2 && v[i] != 0x80 && v[i] != 0xa2))
			break;
	if (i == n)
		return 1;
	/* your-api-key, YOUR_TOKEN_HERE, my-secret-here */
	if ((lower_has(v, n, "your") || lower_has(v, n, "_here") || lower_has(v, n, "-here")) &&
	    (lower_has(v, n, "key") || lower_has(v, n, "token") || lower_has(v, n, "secret") ||
	     lower_has(v, n, "pass") || lower_has(v, n, "here")))
		return 1;
	return 0;
}

static int value_is_ref(const unsigned char *v, size_t n)
{
	static const char *const starts[] = {
		"$", "{", "%(", "%s", "#{", "enc[", "vault:", "ref+", "op://", "sops:", "process.env",
		"os.environ", "os.getenv", "getenv(", "env(", "env.", "env[", "secrets.", "!vault", "!ref",
		"!sub", "!getatt", "!secret", "!env", "!!", "lookup(", "var.", "local.", "data.",
		"module.", "sys.argv", "args.", "argv[", "params.", "props.", "this.", "self.",
		"config.", "settings.", "options.", "opts.", "request.", "req.", "context.", "ctx.",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(starts); i++)
		if ((v[0] | 0x20) == (starts[i][0] | 0x20) && n >= strlen(starts[i]) &&
		    !strncasecmp((const char *)v, starts[i], strlen(starts[i])))
			return 1;
	/* `Basic ${auth}`, "x-{{ .token }}": a template */
	for (i = 0; i + 1 < n; i++)
		if ((v[i] == '$' && v[i + 1] == '{') || (v[i] == '{' && v[i + 1] == '{'))
			return 1;
	/* %VAR% (cmd.exe), @VAR@ (autoconf) */
	if (n >= 3 && ((v[0] == '%' && v[n - 1] == '%') || (v[0] == '@' && v[n - 1] == '@')))
		return 1;
	return 0;
}

/* A password people use that reads as a word: a default is still a
 * password (POSTGRES_PASSWORD=changeme). */
static int is_default_password(const unsigned char *v, size_t n)
{
	static const char *const w[] = {
		"changeme", "change_me", "changeit", "admin", "administrator", "root", "toor",
		"password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "secret123",
		"letmein", "qwerty", "qwerty123", "guest", "test", "test123", "welcome", "welcome1",
		"master", "postgres", "mysql", "oracle", "sa", "pass123", "abc123",
		"iloveyou", "monkey", "dragon", "trustno1", "hunter2", "foobar", "mypassword", "s3cr3t",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(w); i++)
		if (lower_eq(v, n, w[i]))
			return 1;
	return 0;
}

static int is_ident(const unsigned char *p, size_t n)
{
	while (n--) {
		if (!isalnum(*p) && *p != '_' && *p != '.' && *p != '$')
			return 0;
		p++;
	}
	return 1;
}

static int wordy_parts(const unsigned char *v, size_t n);

/* a.b.c where every part is a name of words: code, not a token
 * (QkVAXCs.w7Wq is not) */
static int code_dotted(const unsigned char *v, size_t n)
{
	size_t i, a = 0, parts = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && v[i] != '.')
			continue;
		if (i == a || !(isalpha(v[a]) || v[a] == '_') || !wordy_parts(v + a, i - a))
			return 0;
		parts++;
		a = i + 1;
	}
	return parts >= 2;
}

/* The value so far is a name and a call or an index follows it:
 * getToken(), token.replace(/x/), d["Auth"]; not kvxk(_7=vt (a key). */
static int call_or_index(const struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0;
	unsigned char b, c;

	if (h->s1 + 1 >= h->len || !n || !is_ident(v, n))
		return 0;
	b = h->buf[h->s1];
	c = h->buf[h->s1 + 1];
	if (b == '[' && is_quote(c))
		return 1;
	if (b != '(' && b != '[')
		return 0;
	/* obj.method(x), fn(arg), fn(): code; kvxk(_7=... may be a key too,
	 * and is taken for a call only when it reads as a name */
	if (b == '(' && (memchr(v, '.', n) || isalpha(c) || c == ')' || is_quote(c)) && n >= 2)
		return 1;
	return entropy_reads_as_words(v, n) && (wordy_parts(v, n) || n <= 2);
}

/* Most letters of a name are in words of three letters or more, with one
 * shorter word at most (getPassword, dbPass, DB_PASSWORD, userId); random
 * ones are not (NlS84SXAuXisP, HsVT31nGfitYsec). */
static int wordy_parts(const unsigned char *v, size_t n)
{
	size_t i = 0, letters = 0, inwords = 0, shorts = 0;

	while (i < n) {
		size_t s;

		while (i < n && !isalpha(v[i]))
			i++;
		s = i;
		if (i < n && isupper(v[i])) {
			while (i < n && isupper(v[i]))
				i++;
			if (i < n && islower(v[i]) && i - s > 1)
				i--;
			else
				while (i < n && islower(v[i]))
					i++;
		} else {
			while (i < n && islower(v[i]))
				i++;
		}
		letters += i - s;
		if (i - s >= 3)
			inwords += i - s;
		else if (i > s)
			shorts++;
	}
	return letters && inwords * 10 >= letters * 6 && shorts <= 1;
}

/* A word in a bare identifier that makes it code: a variable, a field, an
 * accessor, an environment variable's name. */
static int code_words(const unsigned char *v, size_t n)
{
	static const char *const w[] = {
		"pass", "pwd", "secret", "token", "key", "auth", "cred", "user", "name", "value",
		"conf", "cfg", "env", "setting", "param", "arg", "opt", "self", "this", "input", "var",
		"data", "hash", "field", "get", "new", "old", "default", "login", "account", "client",
		"form", "str", "buf", "ptr", "len", "tmp",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(w); i++)
		if (lower_has(v, n, w[i]))
			return 1;
	return 0;
}

/* await getToken(), new Buffer(), lambda: an expression, not a value */
static int is_keyword(const unsigned char *v, size_t n)
{
	static const char *const w[] = {
		"await", "new", "function", "lambda", "async", "yield", "return", "typeof", "require",
		"import", "from", "static", "const", "let", "var", "self", "this", "super", "cls",
		"not", "and", "or", "if", "else", "fn", "func", "def", "make", "read", "input", "prompt",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(w); i++)
		if (lower_eq(v, n, w[i]))
			return 1;
	return 0;
}

static int memchr_any_digit(const unsigned char *p, size_t n)
{
	while (n--)
		if (isdigit(*p++))
			return 1;
	return 0;
}

/* kind: KEY_STRONG, KEY_WEAK, KEY_LITERAL or KEY_CMDLINE.  1: keep, 0: vetoed. */
static int judge_value(struct rule_hit *h, int kind)
{
	const unsigned char *v = h->buf + h->s0, *k = h->buf + h->k0;
	size_t n = h->s1 - h->s0, kn = h->k1 - h->k0, i;
	int quoted = h->s0 > 0 && is_quote(h->buf[h->s0 - 1]) && h->s1 < h->len &&
		     h->buf[h->s1] == h->buf[h->s0 - 1];
	int ident = 1, digits = 1, dots = 0, up = 0, lo = 0, camel = 0;

	if (!n || n > 4096 || value_is_placeholder(v, n, h->opt, 1) || value_is_ref(v, n))
		return 0;
	/* no letter or digit at all (an emoji, "...."): not a credential of a
	 * weak name, nor a short one of any */
	for (i = 0; i < n && !isalnum(v[i]); i++)
		;
	if (i == n && (kind == KEY_WEAK || n < 6))
		return 0;
	/* password={url_enc(v)}: an f-string's expression */
	if (h->s0 > 0 && h->buf[h->s0 - 1] == '{' && h->s1 < h->len && h->buf[h->s1] == '}' && isalpha(v[0])) {
		for (i = 0; i < n && v[i] != '(' && v[i] != '['; i++)
			;
		if (i < n && is_ident(v, i) && wordy_parts(v, i))
			return 0;
	}
	/* :meth:`peek`, :password (a Ruby symbol), f"{password!r}" */
	if (v[0] == ':' || (h->s0 > 0 && h->buf[h->s0 - 1] == '{' && h->s1 < h->len && h->buf[h->s1] == '}' &&
			    (memchr(v, '!', n) || memchr(v, ':', n) || is_ident(v, n)) && entropy_reads_as_words(v, n) &&
			    wordy_parts(v, n) && !memchr_any_digit(v, n) && !is_default_password(v, n)))
		return 0;
	/* three characters or fewer: a variable (token = k), a test value
	 * (password='bar'), not a credential */
	if (kind != KEY_LITERAL && n <= 3 && !(n == 3 && memchr_any_digit(v, n) && !is_ident(v, n)))
		return 0;
	/* self.token = nextchar, pkcs12._pkey = pykey: an attribute set from a
	 * variable */
	if (!quoted && is_ident(v, n) && kn > 5 &&
	    (!strncmp((const char *)k, "self.", 5) || !strncmp((const char *)k, "this.", 5) ||
	     (kind == KEY_WEAK && memchr(k, '.', kn))))
		return 0;
	/* {"type":"string"}: a structure (a JSON schema), not a value */
	if (!quoted && (memmem(v, n, "\":", 2) || memmem(v, n, "':", 2)))
		return 0;
	/* expressions of code, whatever their letters: a dotted name
	 * (ExtendedKeyUsageOID.CLIENT_AUTH, pkgContents.name, cfg.get), a name
	 * that is the key's own tail (self._evp_pkey = evp_pkey), a format
	 * string ('unknown key: %r', "VS%0.f0COMNTOOLS" % v), a colour (#dcdccc) */
	if (!quoted && is_ident(v, n) && code_dotted(v, n))
		return 0;
	if (!quoted && is_ident(v, n) && kn > n && !strncasecmp((const char *)k + kn - n, (const char *)v, n) &&
	    !isalnum(k[kn - n - 1]))
		return 0;
	if (v[0] == '%' && n > 1 && (n <= 3 || v[1] == '('))
		return 0;
	if (v[0] == '#' && (n == 4 || n == 7 || n == 9)) {
		for (i = 1; i < n && isxdigit(v[i]); i++)
			;
		if (i == n)
			return 0;
	}
	if (quoted) {
		size_t j = h->s1 + 1;

		while (j < h->len && (h->buf[j] == ' ' || h->buf[j] == '\t'))
			j++;
		/* 'username:' + 'password'*10, "..." % args, "...".format() */
		if (j < h->len && (h->buf[j] == '%' || (h->buf[j] == '+' && entropy_reads_as_words(v, n)) ||
				   (h->buf[j] == '.' && j + 1 < h->len && isalpha(h->buf[j + 1]))))
			return 0;
	}
	/* "passwd:gecos": one string that holds a name and a word */
	if (!quoted && kind != KEY_LITERAL && h->k0 > 0 && is_quote(h->buf[h->k0 - 1]) && h->s1 < h->len &&
	    h->buf[h->s1] == h->buf[h->k0 - 1] && is_ident(v, n) && entropy_reads_as_words(v, n) &&
	    wordy_parts(v, n) && !memchr_any_digit(v, n))
		return 0;
	/* username, password = split: tuple unpacking */
	if (!quoted && is_ident(v, n) && h->k0 > 0 && entropy_reads_as_words(v, n)) {
		size_t j = h->k0;

		while (j > 0 && h->buf[j - 1] == ' ')
			j--;
		if (j > 0 && h->buf[j - 1] == ',' && memchr(h->buf + h->k1, '=', h->s0 - h->k1))
			return 0;
	}
	/* key==value: a comparison (key==null), unless what follows is long
	 * and no name (a Django key that starts with '=') */
	if (v[0] == '=' && (n < 12 || is_ident(v + 1, n - 1)))
		return 0;
	/* (self.password.encode(...)), [a.b, c], (password, readonly): an
	 * expression or a parameter list in brackets */
	if (!quoted && (v[0] == '(' || v[0] == '[')) {
		if (value_is_ref(v + 1, n - 1))
			return 0;
		for (i = 1; i < n && (isalnum(v[i]) || v[i] == '_'); i++)
			;
		if (i > 1 && (i == n || v[i] == ',' || v[i] == ')' || v[i] == ']') &&
		    entropy_reads_as_words(v + 1, i - 1) && wordy_parts(v + 1, i - 1))
			return 0;
		for (i = 1; i + 1 < n; i++) {
			size_t w = i;

			while (w > 0 && isalpha(v[w - 1]))
				w--;
			if (v[i] == '.' && i - w >= 2 && isalpha(v[i + 1]))
				return 0;	/* self.password */
			if (v[i] == '(' && i - w >= 4 && entropy_reads_as_words(v + w, i - w))
				return 0;	/* encode( */
		}
	}
	for (i = 0; i < n; i++) {
		unsigned char c = v[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			ident = 0;
		if (!isdigit(c) && c != '.')
			digits = 0;
		dots += c == '.' && i && i + 1 < n && isalnum(v[i - 1]) && isalnum(v[i + 1]);
		up |= !!isupper(c);
		lo |= !!islower(c);
		/* getPassword: a capitalised word of three letters or more */
		if (i && i + 2 < n && islower(v[i - 1]) && isupper(c) && islower(v[i + 1]) && islower(v[i + 2]))
			camel = 1;
	}
	/* numbers: a length, a port, a count, a version; a PIN of 4+ digits
	 * or a numeric password in a secret's place stays a secret */
	if (digits) {
		if (n <= 3 || dots)
			return 0;
		if (kn && (lower_has(k, kn, "len") || lower_has(k, kn, "size") || lower_has(k, kn, "port") ||
			   lower_has(k, kn, "count") || lower_has(k, kn, "max") || lower_has(k, kn, "min") ||
			   lower_has(k, kn, "ttl") || lower_has(k, kn, "timeout") || lower_has(k, kn, "expir") ||
			   lower_has(k, kn, "age") || lower_has(k, kn, "bits")))
			return 0;
		return 1;
	}
	/* 0x01: a constant; 0x and 64 hex digits may be a key */
	if (n >= 3 && n <= 18 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		for (i = 2; i < n && isxdigit(v[i]); i++)
			;
		if (i == n)
			return 0;
	}
	/* the shell's working directory; bypass=, compass: "pass" inside a word */
	if (kn && (lower_eq(k, kn, "pwd") || lower_eq(k, kn, "oldpwd")) && (v[0] == '/' || v[0] == '~'))
		return 0;
	if (kn > 4 && !strncasecmp((const char *)k + kn - 4, "pass", 4) && isalpha(k[kn - 5]) &&
	    (islower(k[kn - 5]) == islower(k[kn - 4])))
		return 0;	/* GIT_ASKPASS, bypass, compass; not dbPass */
	/* a path: the file that holds the secret, not the secret */
	if ((v[0] == '/' || (v[0] == '.' && n > 1 && (v[1] == '/' || v[1] == '.')) || v[0] == '~' ||
	     (n > 2 && isalpha(v[0]) && v[1] == ':' && v[2] == '\\') || lower_has(v, n, "file://")) &&
	    entropy_reads_as_words(v, n))
		return 0;
	/* "Password used to generate key": a description, not a passphrase */
	if ((memchr(v, ' ', n) || memchr(v, '\t', n)) &&
	    (lower_has(v, n, "password") || lower_has(v, n, "secret") || lower_has(v, n, " key") ||
	     lower_has(v, n, "token") || lower_has(v, n, "your ") || lower_has(v, n, "\\n") ||
	     lower_has(v, n, " the ") || lower_has(v, n, "enter ") || lower_has(v, n, " to ")))
		return 0;
	/* secret: API_KEY=...: the inner assignment is its own finding */
	if (!quoted && kind != KEY_LITERAL) {
		for (i = 0; i < n && (isalnum(v[i]) || v[i] == '_'); i++)
			;
		if (i >= 2 && i + 1 < n && v[i] == '=' && v[i + 1] != '=' && isalpha(v[0]) &&
		    entropy_reads_as_words(v, i) && wordy_parts(v, i))
			return 0;
	}
	/* a default password is a password, but password=password passes a
	 * variable on */
	if (is_default_password(v, n))
		return !(!quoted && kn >= n && !strncasecmp((const char *)k + kn - n, (const char *)v, n));
	/* key: node-role.kubernetes.io/master, auth: oauth2-proxy: names */
	if (kind == KEY_WEAK && entropy_reads_as_words(v, n) && wordy_parts(v, n))
		return 0;
	/* 'use-credentials', "passwd:dir", INVALID_HEADER_TOKEN: names made of
	 * the secret's own words */
	if (ident && entropy_reads_as_words(v, n) && wordy_parts(v, n) &&
	    (lower_has(v, n, "pass") || lower_has(v, n, "secret") || lower_has(v, n, "token") ||
	     lower_has(v, n, "cred") || lower_has(v, n, "auth") || lower_has(v, n, "key")) &&
	    !memchr_any_digit(v, n))
		return 0;
	/* a bare word of three characters or fewer is a variable (token = k,
	 * { token: otp }, --pass is provided, "key": "v.."), a capitalised one
	 * a class or an enum (token = Error) */
	if ((!quoted || kind == KEY_WEAK) && kind != KEY_LITERAL && !memchr_any_digit(v, n) && n <= 3)
		return 0;
	if (!quoted && ident && kind != KEY_LITERAL && !memchr_any_digit(v, n) && isupper(v[0]) && lo && !camel &&
	    entropy_reads_as_words(v, n) && wordy_parts(v, n))
		return 0;
	if ((quoted && kind != KEY_WEAK) || !ident || kind == KEY_LITERAL)
		return 1;
	if (!quoted && is_keyword(v, n))
		return 0;
	/* a bare identifier: a call, an index (getToken(), d["Auth"],
	 * ed25519.hexToDER(x)) */
	if (!quoted && call_or_index(h))
		return 0;
	/* !0, !1: minified booleans */
	if (n == 2 && v[0] == '!' && isdigit(v[1]))
		return 0;
	/* two runs of digits or more (Sumt220s5PqL), or a long one
	 * (pat_1234567890AbCd): not a name (X509, utf8, Pass1) */
	for (i = 0, digits = 0, dots = 0; i < n; i++) {
		digits += isdigit(v[i]) && (i == 0 || !isdigit(v[i - 1]));
		dots = isdigit(v[i]) ? dots + 1 : 0;
		if (dots >= 5)
			return 1;
	}
	for (i = 1, dots = 0; i + 1 < n; i++)
		dots |= v[i] == '.' && isalnum(v[i - 1]) && isalnum(v[i + 1]);
	if (digits > 1)
		return 1;
	if (!entropy_reads_as_words(v, n))
		return 1;
	/* on a command line a word with a digit is a literal (-pR3disPass),
	 * an ALL_CAPS one a help text's metavariable (--token TOKEN) */
	if (kind == KEY_CMDLINE && lo && memchr_any_digit(v, n))
		return 1;
	if (kind == KEY_WEAK || (dots && wordy_parts(v, n)))
		return 0;
	/* followed by an operator (passwd = acct = '', token = a || b) or, after
	 * a colon, by more words ("- password:  The password for the server") */
	if (!quoted && kind != KEY_CMDLINE) {
		size_t j = h->s1;

		while (j < h->len && (h->buf[j] == ' ' || h->buf[j] == '\t'))
			j++;
		if (j < h->len && h->buf[j] && (strchr("=?+*/>%^", h->buf[j]) ||
				   (j + 1 < h->len && h->buf[j] == '<' && h->buf[j + 1] != '/') ||
				   (j + 1 < h->len && (h->buf[j] == '&' || h->buf[j] == '|') && h->buf[j + 1] == h->buf[j]) ||
				   (j > h->s1 && isalpha(h->buf[j]) && kn && memchr(h->buf + h->k1, ':', h->s0 - h->k1))))
			return 0;
	}
	/* DB_PASSWORD, getPassword, user_password: code; open_sesame, changeme,
	 * admin: a password */
	if ((camel || (up && !lo && (memchr(v, '_', n) || n >= 4) && !memchr_any_digit(v, n)) || code_words(v, n)) &&
	    wordy_parts(v, n))
		return 0;
	return 1;
}

static int key_kind(const struct rule_hit *h)
{
	const unsigned char *k = h->buf + h->k0;
	size_t kn = h->k1 - h->k0;

	if (!kn)
		return KEY_STRONG;
	if (lower_has(k, kn, "pass") || lower_has(k, kn, "pwd") || lower_has(k, kn, "secret") ||
	    lower_has(k, kn, "token") || lower_has(k, kn, "cred") || lower_has(k, kn, "api") ||
	    lower_has(k, kn, "private") || lower_has(k, kn, "access") || lower_has(k, kn, "bearer") ||
	    lower_has(k, kn, "signing") || lower_has(k, kn, "encryption") || lower_has(k, kn, "master") ||
	    lower_has(k, kn, "client") || lower_has(k, kn, "bundle_") || lower_has(k, kn, "_auth"))
		return KEY_STRONG;
	return KEY_WEAK;
}

/* An unquoted value runs to the delimiter of its syntax, not to the first
 * character the regex stops at: a Django key (eu+w^pll=hb(j)...) in a
 * dotenv file ends at the end of the line.  The delimiter comes from what
 * is in front of the key: ',' ')' '}' ']' in a structure ({k: v, ...},
 * f(k=v)), '&' in a query string (?k=v&...), ';' in a connection string
 * (...;Password=v;...), else whitespace. */
static void extend_value(struct rule_hit *h)
{
	const char *stop = " \t\r\n\"'`\\";
	size_t j, b = h->k0 < h->k1 ? h->k0 : h->s0;

	if (h->s0 > 0 && is_quote(h->buf[h->s0 - 1]))
		return;
	if (h->s0 > 0 && (h->buf[h->s0 - 1] == '{' || h->buf[h->s0 - 1] == '('))
		return;		/* ODBC PWD={...} */
	/* a call or an index: getToken(), os.environ["X"] */
	if (call_or_index(h))
		return;
	while (b > 0 && (h->buf[b - 1] == ' ' || h->buf[b - 1] == '\t' || h->buf[b - 1] == ':' ||
			 h->buf[b - 1] == '$' || h->buf[b - 1] == '['))
		b--;
	if (b > 0) {
		unsigned char c = h->buf[b - 1];

		if (c == '{' || c == ',' || c == '(')
			stop = " \t\r\n\"'`\\,;)}]";
		else if (c == '?' || c == '&')
			stop = " \t\r\n\"'`\\&#";
		else if (c == ';')
			stop = " \t\r\n\"'`\\;";
		else if (c == '<' || c == '>')
			return;
	}
	for (j = h->s1; j < h->len && h->buf[j] && !strchr(stop, h->buf[j]) && j - h->s0 < 4096; j++)
		;
	/* a sentence's full stop, a statement's ';' or a closing bracket is
	 * not part of it (false;  2];) */
	while (j > h->s1 && h->buf[j - 1] && strchr(".,;:)]}", h->buf[j - 1]) && (j == h->len || isspace(h->buf[j]) ||
									      strchr(".,;:)]}", h->buf[j])))
		j--;
	if (j > h->s1) {
		h->s1 = j;
		if (h->m1 < j)
			h->m1 = j;
	}
}

static int check_assigned(struct rule_hit *h)
{
	/* urn:ietf:params:oauth:grant-type, /v1/auth: a path, not a key */
	if (h->k0 > 1 && h->k0 < h->k1 && (h->buf[h->k0 - 1] == ':' || h->buf[h->k0 - 1] == '/') &&
	    isalnum(h->buf[h->k0 - 2]) && key_kind(h) == KEY_WEAK)
		return 0;
	/* config[:token] = v, opts["token"] = v; not styles[token] = v */
	if (h->k1 < h->len && (h->buf[h->k1] == ']' || (h->k1 + 1 < h->len && h->buf[h->k1 + 1] == ']')) &&
	    (h->k0 < 2 || !strchr(":\"'", h->buf[h->k0 - 1])))
		return 0;
	extend_value(h);
	return judge_value(h, key_kind(h));
}

/* "  password X" alone on its line, in a .netrc entry: a machine, default
 * or login line comes before it; not a docstring's "password combination." */
static int check_netrc_line(struct rule_hit *h)
{
	size_t a = h->m0 > 512 ? h->m0 - 512 : 0;

	if (!memmem(h->buf + a, h->m0 - a, "machine ", 8) && !memmem(h->buf + a, h->m0 - a, "login ", 6) &&
	    !memmem(h->buf + a, h->m0 - a, "default", 7))
		return 0;
	return judge_value(h, KEY_STRONG);
}

/* host:port:database:user:password, the whole line; not a time
 * (12:30:45:...) or an IPv6 address */
static int check_pgpass(struct rule_hit *h)
{
	const unsigned char *k = h->buf + h->k0;
	size_t kn = h->k1 - h->k0, i, alpha = 0;

	for (i = 0; i < kn && k[i] != ':'; i++)
		alpha += isalpha(k[i]) || k[i] == '*';
	if (!alpha)
		return 0;
	return judge_value(h, KEY_LITERAL);
}

/* IDENTIFIED BY, in a statement about a user, a role or a grant; not
 * "the process identified by pid" */
static int check_sql(struct rule_hit *h)
{
	size_t i = h->m0, lim = h->m0 > 512 ? h->m0 - 512 : 0;

	while (i > lim && h->buf[i - 1] != '\n' && h->buf[i - 1] != ';')
		i--;
	if (!lower_has(h->buf + i, h->m0 - i, "user ") && !lower_has(h->buf + i, h->m0 - i, "role ") &&
	    !lower_has(h->buf + i, h->m0 - i, "login ") && !lower_has(h->buf + i, h->m0 - i, "grant "))
		return 0;
	return judge_value(h, KEY_STRONG);
}

/* curl -u user:password; -u "token:" (an API token as the user, no
 * password): then the user is the secret */
static int check_user_pass(struct rule_hit *h)
{
	if (h->buf[h->m0] == '<' || memchr(h->buf + h->m0, '<', h->s0 - h->m0) ||
	    (h->s1 > h->s0 && h->buf[h->s1 - 1] == '>'))
		return 0;	/* -u <user:password> */
	if (h->s1 == h->s0) {
		size_t a = h->s0 - 1;	/* the colon */

		while (a > h->m0 && !isspace(h->buf[a - 1]) && !is_quote(h->buf[a - 1]) && h->buf[a - 1] != '=')
			a--;
		h->s1 = h->s0 - 1;
		h->s0 = a;
		if (h->s1 - h->s0 < 4)
			return 0;
	}
	return judge_value(h, KEY_CMDLINE);
}

/* Authorization: <scheme> <credentials>, X-Api-Key: <key> */
static int check_header(struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0;

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == ',' || v[n - 1] == ';' ||
		     v[n - 1] == '`'))
		n--;
	h->s1 = h->s0 + n;
	if (n < 4)
		return 0;
	/* "Authorization: Basic " + ..., "Keep Authorization: headers on a
	 * redirect": a scheme alone, or words */
	if (lower_eq(v, n, "basic") || lower_eq(v, n, "bearer") || lower_eq(v, n, "token") ||
	    lower_eq(v, n, "digest") || lower_eq(v, n, "negotiate"))
		return 0;
	if (memchr(v, ' ', n) && !memchr(v, '=', n))
		return 0;
	return judge_value(h, KEY_LITERAL);
}

/* "the password is S3cr3t!": prose needs a value that does not read as a word. */
static int check_prose_password(struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0;

	return char_classes(v, n, NULL, NULL, NULL, NULL) >= 3 && !scan_is_placeholder(v, n);
}

static int check_value(struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0, i;

	if (n > 1024 || scan_is_placeholder(v, n) || scan_is_reference(v, n) || count_distinct(v, n) < 5)
		return 0;
	if (h->s1 < h->len && h->buf[h->s1] == '(')
		return 0;	/* a call: get_token() */
	if (memchr(v, ' ', n) || memchr(v, '\t', n))
		return 0;	/* words: "Please provide a token" */
	for (i = 0; i + 1 < n; i++)
		if (v[i] == '=' && v[i + 1] != '=')
			return 0;	/* secret: API_KEY=...: the inner assignment is its own finding */
	for (i = 0; i < n && isdigit(v[i]); i++)
		;
	if (i == n)
		return 0;
	if (v[0] == '/' || (v[0] == '.' && n > 1 && v[1] == '/'))
		return 0;
	return 1;
}

static int check_url(struct rule_hit *h)
{
	static const char *const db[] = {
		"postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redis",
		"rediss", "amqp", "amqps", "mssql", "sqlserver", "oracle", "cockroachdb",
		"clickhouse", "couchdb", "cassandra", "neo4j", "neo4j+s", "memcached", "elasticsearch",
		"jdbc:postgresql", "jdbc:mysql", "db2", "snowflake", "postgresql+psycopg2",
		"mysql+pymysql", "influxdb", "nats", "kafka",
	};
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0, i, sn;
	const unsigned char *scheme = h->buf + h->m0;

	/* ${DB_PASSWORD}, <password>, ****: documentation; but a URL's
	 * "password" may well be the password */
	if (n < 4 || strchr("$<{", v[0]) || (v[0] == '%' && (n < 3 || !isxdigit(v[1]) || !isxdigit(v[2]))) ||
	    (count_distinct(v, n) == 1 && strchr("*xX.", v[0])) ||
	    value_is_placeholder(v, n, h->opt, 0))
		return 0;
	for (i = 0; i < n && isdigit(v[i]); i++)
		;
	if (i == n && n <= 5)
		return 0;	/* host:port@, not a password */
	for (sn = 0; h->m0 + sn < h->s0 && scheme[sn] != ':'; sn++)
		;
	h->type = "url_credentials";
	h->conf = 0.9;
	for (i = 0; i < ARRAY_SIZE(db); i++) {
		if (lower_eq(scheme, sn, db[i]) ||
		    (sn > strlen(db[i]) && !strncasecmp((const char *)scheme, db[i], strlen(db[i])) &&
		     scheme[strlen(db[i])] == '+')) {
			h->type = "database_url";
			h->conf = 0.95;
			break;
		}
	}
	return 1;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* base64 of "-----BEGIN ... PRIVATE KEY-----" (kubeconfig client-key-data) */
static int check_b64_pem(struct rule_hit *h)
{
	unsigned char out[96];
	size_t n = h->s1 - h->s0, i, o = 0;
	unsigned int acc = 0;
	int bits = 0;

	if (n > 128)
		n = 128;
	for (i = 0; i < n && o < sizeof(out); i++) {
		int v = b64val(h->buf[h->s0 + i]);

		if (v < 0)
			break;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	bits = memmem(out, o, "PRIVATE KEY", 11) != NULL;
	/* out holds the start of the key */
	explicit_bzero(out, sizeof(out));
	explicit_bzero(&acc, sizeof(acc));
	return bits;
}

static int line_has_before(const struct rule_hit *h, const char *w)
{
	size_t i = h->m0, lim = h->m0 > 2048 ? h->m0 - 2048 : 0;

	while (i > lim && h->buf[i - 1] != '\n')
		i--;
	return memmem(h->buf + i, h->m0 - i, w, strlen(w)) != NULL;
}

static int check_azure_sas(struct rule_hit *h)
{
	return line_has_before(h, "sv=") || line_has_before(h, "se=");
}

/* --password VALUE, -pVALUE: help texts name the argument (--token TOKEN,
 * --password string): the placeholder and metavariable vetoes catch them. */
static int check_cmdline(struct rule_hit *h)
{
	if (h->buf[h->s0] == '-')
		return 0;
	extend_value(h);
	return judge_value(h, KEY_CMDLINE);
}

/* %3D, \u0070, \x70, =3D: decode the run and scan the text */
static int check_escaped(struct rule_hit *h)
{
	double conf = 0;
	const char *type = NULL;

	if (!h->unescape_scan || !h->unescape_scan(h->s, h->buf + h->s0, h->s1 - h->s0, &conf, &type))
		return 0;
	h->conf = conf;
	h->type = type;
	return 1;
}

/* ---- the table ---- */

static const char *const m_aws[] = { "AKIA", "ASIA", "ABIA", "ACCA", NULL };
static const char *const m_gh[] = { "ghp_", "gho_", "ghu_", "ghs_", "ghr_", NULL };
static const char *const m_ghpat[] = { "github_pat_", NULL };
static const char *const m_gl[] = { "glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "glft-", "glimt-",
				     "gloas-", "glsoat-", "glagent-", "GR1348941", NULL };
static const char *const m_slack[] = { "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xoxo-",
					"xapp-", NULL };
static const char *const m_stripe[] = { "sk_live_", "sk_test_", "rk_live_", "rk_test_", NULL };
static const char *const m_whsec[] = { "whsec_", NULL };
static const char *const m_openai[] = { "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-", "sk-", NULL };
static const char *const m_ant[] = { "sk-ant-", NULL };
static const char *const m_sk[] = { "sk-", NULL };
static const char *const m_jwt[] = { "eyJ", NULL };
static const char *const m_age[] = { "AGE-SECRET-KEY-" "1", NULL };
static const char *const m_aiza[] = { "AIza", NULL };
static const char *const m_gocspx[] = { "GOCSPX-", NULL };
static const char *const m_ya29[] = { "ya29.", NULL };
static const char *const m_npm[] = { "npm_", NULL };
static const char *const m_pypi[] = { "pypi-", NULL };
static const char *const m_hf[] = { "hf_", "api_org_", NULL };
static const char *const m_sg[] = { "SG.", NULL };
static const char *const m_shop[] = { "shpat_", "shpca_", "shppa_", "shpss_", NULL };
static const char *const m_do[] = { "dop_v1_", "doo_v1_", "dor_v1_", NULL };
static const char *const m_vault[] = { "hvs.", "hvb.", "hvr.", NULL };
static const char *const m_sq[] = { "sq0atp-", "sq0csp-", NULL };
static const char *const m_atl[] = { "ATATT3", NULL };
static const char *const m_lin[] = { "lin_api_", NULL };
static const char *const m_pmak[] = { "PMAK-", NULL };
static const char *const m_dapi[] = { "dapi", NULL };
static const char *const m_graf[] = { "glsa_", "glc_", NULL };
static const char *const m_nr[] = { "NRAK-", NULL };
static const char *const m_sentry[] = { "sntrys_", "sntryu_", "sntrya_", NULL };
static const char *const m_dp[] = { "dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit.", NULL };
static const char *const m_pscale[] = { "pscale_tkn_", "pscale_pw_", "pscale_oauth_", NULL };
static const char *const m_sbp[] = { "sbp_", NULL };
static const char *const m_dckr[] = { "dckr_pat_", NULL };
static const char *const m_fly[] = { "fo1_", NULL };
static const char *const m_rubygems[] = { "rubygems_", NULL };
static const char *const m_mailgun[] = { "key-", NULL };
static const char *const m_twilio[] = { "SK", NULL };
static const char *const m_ltai[] = { "LTAI", NULL };

#define SIMPLE(id_, type_, desc_, conf_, hs_, re_, back_, markers_, check_)                 \
	{ id_, type_, desc_, conf_, hs_, 0, re_, back_, markers_, RULE_TOKEN, check_ }

const struct rule scan_builtin_rules[] = {
	/* ---- cloud providers ---- */
	SIMPLE("aws_access_key_id", "aws_key", "AWS access key ID", 0.95, "AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9]",
	       "(?<![A-Za-z0-9])(?<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?![A-Za-z0-9])", 5, m_aws, check_token),
	{ "aws_secret_access_key", "aws_key", "AWS secret access key assigned to an AWS key name", 0.95,
	  "aws|secret_?access_?key", 1,
	  "(?<![A-Za-z0-9])(?<key>(?i:aws[a-z0-9_.\\-]{0,32}?(?:secret|key|token)[a-z0-9_.\\-]{0,32}?|"
	  "secret_?access_?key))" SEP "[\"']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	  18, NULL, 0, check_value },
	{ "aws_session_token", "aws_key", "AWS session token", 0.95,
	  "aws_?session_?token|sessiontoken|x-amz-security-token", 1,
	  "(?<![A-Za-z0-9])(?<key>(?i:aws_?session_?token|session_?token|x-amz-security-token))" SEP
	  "[\"']?(?<secret>[A-Za-z0-9/+=]{100,4096})(?![A-Za-z0-9/+=])",
	  24, NULL, 0, check_value },
	SIMPLE("google_api_key", "google_api_key", "Google API key", 0.95, "AIza",
	       TBD "(?<secret>AIza[0-9A-Za-z_\\-]{35})" TED, 4, m_aiza, check_token),
	SIMPLE("gcp_oauth_client_secret", "gcp_key", "Google OAuth client secret", 0.95, "GOCSPX-", TBD "(?<secret>GOCSPX-[A-Za-z0-9_\\-]{28})" TED, 7,
	       m_gocspx, check_token),
	SIMPLE("gcp_oauth_token", "gcp_key", "Google OAuth access token", 0.9, "ya29\\.", TBD "(?<secret>ya29\\.[A-Za-z0-9_\\-]{30,2048})" TED, 5,
	       m_ya29, check_token),
	{ "gcp_private_key_id", "gcp_key", "GCP service account private_key_id", 0.9,
	  "\"private_key_id\"", 0,
	  "\"private_key_id\"[ \\t]*:[ \\t]*\"(?<secret>[a-f0-9]{40})\"", 16, NULL, 0, NULL },
	{ "azure_storage_key", "azure_key", "Azure storage account key", 0.95,
	  "AccountKey=", 1, "(?i:AccountKey)=(?<secret>[A-Za-z0-9+/]{86}==)", 11, NULL, 0, NULL },
	{ "azure_shared_access_key", "azure_key", "Azure Service Bus / Event Hubs shared access key",
	  0.95, "SharedAccessKey=", 1, "(?i:SharedAccessKey)=(?<secret>[A-Za-z0-9+/]{43}=)", 16, NULL,
	  0, NULL },
	{ "azure_sas_signature", "azure_key", "Azure SAS token signature", 0.9, "[?&]sig=", 0,
	  "[?&]sig=(?<secret>[A-Za-z0-9%+/=]{30,256})(?![A-Za-z0-9%+/=])", 5, NULL, 0, check_azure_sas },
	SIMPLE("azure_ad_client_secret", "azure_key", "Azure AD client secret", 0.9, "[0-9]Q~",
	       "(?<![A-Za-z0-9_~.\\-])(?<secret>[A-Za-z0-9_~.\\-]{3}[0-9]Q~[A-Za-z0-9_~.\\-]{31,34})"
	       "(?![A-Za-z0-9_~.\\-])", 6, NULL, check_token),
	{ "azure_secret", "azure_key", "value assigned to an Azure key, secret, password or token", 0.95,
	  "azure", 1,
	  "(?<![A-Za-z0-9])(?<key>(?i:azure[a-z0-9_.\\-]{0,40}?(?:key|secret|password|token)))" SEP
	  TOKV, 5, NULL, 0, check_assigned },
	SIMPLE("alibaba_access_key_id", "api_key", "Alibaba Cloud AccessKey ID", 0.85, "LTAI", "(?<![A-Za-z0-9])(?<secret>LTAI[A-Za-z0-9]{12,20})(?![A-Za-z0-9])", 4, m_ltai, check_random),
	SIMPLE("digitalocean_token", "api_key", "DigitalOcean token", 0.95, "do[opr]_v1_",
	       TB "(?<secret>do[opr]_v1_[a-f0-9]{64})" TE, 7, m_do, check_token),

	/* ---- source hosting and package registries ---- */
	SIMPLE("github_token", "github_token", "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)", 0.95, "gh[pousr]_", TB "(?<secret>gh[pousr]_[A-Za-z0-9]{20,251})" TE, 4, m_gh,
	       check_github),
	SIMPLE("github_fine_grained_token", "github_token", "GitHub fine-grained personal access token",
	       0.95, "github_pat_", TB "(?<secret>github_pat_[A-Za-z0-9_]{30,244})" TE, 11, m_ghpat, check_token),
	SIMPLE("gitlab_token", "gitlab_token", "GitLab token (glpat-, runner, deploy, CI job...)", 0.95, "gl(?:pat|dt|ptt|rt|cbt|ft|imt|oas|soat|agent)-|GR1348941",
	       TBD "(?<secret>(?:gl(?:pat|dt|ptt|rt|cbt|ft|imt|oas|soat|agent)-|GR1348941)"
	       "[A-Za-z0-9_\\-]{20,250})" TED, 10, m_gl, check_token),
	SIMPLE("npm_token", "npm_token", "npm access token", 0.95, "npm_",
	       TB "(?<secret>npm_[A-Za-z0-9]{36})" TE, 4, m_npm, check_token),
	{ "npmrc_auth", "npm_token", "_authToken / _auth in .npmrc", 0.9, "_auth(?:Token)?[ \\t]*=", 0,
	  "(?<![A-Za-z0-9])(?<key>_auth(?:Token)?)[ \\t]*=[ \\t]*[\"']?(?<secret>[^\\s\"']{1,1024})", 12, NULL, 0,
	  check_assigned },
	SIMPLE("pypi_token", "pypi_token", "PyPI upload token", 0.95, "pypi-AgE",
	       TBD "(?<secret>pypi-AgE[A-Za-z0-9_\\-]{50,1024})" TED, 8, m_pypi, check_token),
	SIMPLE("rubygems_token", "api_key", "RubyGems API key", 0.95, "rubygems_",
	       TB "(?<secret>rubygems_[a-f0-9]{48})" TE, 9, m_rubygems, check_token),
	SIMPLE("dockerhub_token", "api_key", "Docker Hub personal access token", 0.95, "dckr_pat_", TBD "(?<secret>dckr_pat_[A-Za-z0-9_\\-]{27,64})" TED, 9,
	       m_dckr, check_token),
	{ "docker_config_auth", "docker_auth", "\"auth\" in a Docker config.json", 0.9,
	  "\"auth\"[ \\t]*:[ \\t]*\"", 0,
	  "\"auth\"[ \\t]*:[ \\t]*\"(?<secret>[A-Za-z0-9+/]{8,2048}={0,2})\"", 12, NULL, 0, NULL },

	/* ---- chat, mail, payments ---- */
	SIMPLE("slack_token", "slack_token", "Slack token (xoxb-, xoxp-, xapp-...)", 0.95, "xox[abposre]-|xapp-",
	       TB "(?<secret>(?:xox[abposre]|xapp)-[0-9A-Za-z\\-]{10,250})" TED, 5, m_slack, check_slack),
	{ "slack_webhook", "slack_webhook", "Slack incoming webhook URL", 0.95,
	  "hooks\\.slack\\.com/(?:services|workflows|triggers)/", 0,
	  "hooks\\.slack\\.com/(?:services|workflows|triggers)/(?<secret>[A-Za-z0-9_\\-]{6,20}/"
	  "[A-Za-z0-9_\\-]{6,20}/[A-Za-z0-9_\\-]{16,64})(?![A-Za-z0-9_\\-])", 33, NULL, 0, check_token },
	{ "discord_webhook", "discord_webhook", "Discord webhook URL", 0.95,
	  "discord(?:app)?\\.com/api/webhooks/", 1,
	  "(?i:discord(?:app)?\\.com/api/webhooks/)[0-9]{5,30}/(?<secret>[A-Za-z0-9_\\-]{60,80})"
	  "(?![A-Za-z0-9_\\-])", 31, NULL, 0, check_token },
	SIMPLE("telegram_bot_token", "api_key", "Telegram bot token", 0.9, "[0-9]:AA[A-Za-z0-9_\\-]{4}",
	       "(?<![A-Za-z0-9])(?<secret>[0-9]{8,10}:AA[A-Za-z0-9_\\-]{33})" TED, 17, NULL, check_token),
	SIMPLE("stripe_key", "stripe_key", "Stripe secret or restricted key", 0.95, "[rs]k_(?:live|test)_", TB "(?<secret>[rs]k_(?:live|test)_[0-9A-Za-z]{10,247})" TE, 8, m_stripe, check_token),
	SIMPLE("stripe_webhook_secret", "stripe_key", "Stripe webhook signing secret", 0.95, "whsec_", TB "(?<secret>whsec_[A-Za-z0-9+/]{24,256}={0,2})(?![A-Za-z0-9+/=])", 6, m_whsec, check_token),
	SIMPLE("square_token", "api_key", "Square access token or secret", 0.95, "sq0(?:atp|csp)-",
	       TBD "(?<secret>sq0(?:atp|csp)-[0-9A-Za-z_\\-]{22,43})" TED, 7, m_sq, check_token),
	SIMPLE("sendgrid_key", "sendgrid_key", "SendGrid API key", 0.95, "SG\\.[A-Za-z0-9_\\-]{4}",
	       TB "(?<secret>SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43})" TED, 7, m_sg, check_token),
	SIMPLE("mailgun_key", "api_key", "Mailgun API key", 0.85, "key-[0-9a-z]{8}",
	       TBD "(?<secret>key-[0-9a-z]{32})" TED, 12, m_mailgun, check_random),
	SIMPLE("mailchimp_key", "api_key", "Mailchimp API key", 0.85, "-us[0-9]",
	       "(?<![A-Za-z0-9])(?<secret>[0-9a-f]{32}-us[0-9]{1,2})(?![A-Za-z0-9])", 36, NULL, check_token),
	SIMPLE("twilio_api_key", "twilio_key", "Twilio API key SID", 0.85, "SK[0-9a-f]{8}",
	       "(?<![A-Za-z0-9])(?<secret>SK[0-9a-f]{32})(?![A-Za-z0-9])", 10, m_twilio, check_token),
	SIMPLE("shopify_token", "api_key", "Shopify access token or shared secret", 0.95, "shp(?:at|ca|pa|ss)_", TB "(?<secret>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})" TE, 6, m_shop, check_token),

	/* ---- AI and developer services ---- */
	SIMPLE("anthropic_key", "anthropic_key", "Anthropic API key", 0.95,
	       "sk-ant-(?:api|admin|sid|oat)[0-9]{2}-",
	       TBD "(?<secret>sk-ant-(?:api|admin|sid|oat)[0-9]{2}-[A-Za-z0-9_\\-]{8,250})" TED, 15, m_ant,
	       check_token),
	SIMPLE("openai_key", "openai_key", "OpenAI API key", 0.95, "sk-(?:proj|svcacct|admin|None)-|T3BlbkFJ",
	       TBD "(?<secret>sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\\-]{20,250}|"
	       "[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}))" TED, 31, m_openai, check_token),
	SIMPLE("sk_key", "generic_secret", "sk- prefixed secret key (OpenAI-style and others)", 0.85, "sk-", TBD "(?<secret>sk-[A-Za-z0-9_\\-]{16,250})" TED, 3, m_sk,
	       check_sk),
	SIMPLE("huggingface_token", "huggingface_token", "Hugging Face access token", 0.9, "hf_|api_org_",
	       TB "(?<secret>(?:hf_|api_org_)[A-Za-z0-9]{30,40})" TE, 8, m_hf, check_random),
	SIMPLE("vault_token", "vault_token", "HashiCorp Vault token", 0.9, "hv[sbr]\\.",
	       TB "(?<secret>hv[sbr]\\.[A-Za-z0-9_\\-]{24,512})" TED, 4, m_vault, check_random),
	SIMPLE("terraform_cloud_token", "api_key", "Terraform Cloud / Enterprise token", 0.95,
	       "\\.atlasv1\\.", "(?<![A-Za-z0-9])(?<secret>[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_\\-=]{60,100})"
	       "(?![A-Za-z0-9_\\-=])", 23, NULL, check_token),
	SIMPLE("atlassian_token", "api_key", "Atlassian API token", 0.95, "ATATT3",
	       TB "(?<secret>ATATT3[A-Za-z0-9_\\-=]{150,300})(?![A-Za-z0-9_\\-=])", 6, m_atl, check_token),
	SIMPLE("linear_key", "api_key", "Linear API key", 0.95, "lin_api_",
	       TB "(?<secret>lin_api_[A-Za-z0-9]{40})" TE, 8, m_lin, check_token),
	SIMPLE("postman_key", "api_key", "Postman API key", 0.95, "PMAK-",
	       TB "(?<secret>PMAK-[a-f0-9]{24}-[a-f0-9]{34})" TE, 5, m_pmak, check_token),
	SIMPLE("databricks_token", "api_key", "Databricks token", 0.9, "dapi[a-f0-9]{8}",
	       TB "(?<secret>dapi[a-f0-9]{32}(?:-[0-9])?)" TE, 12, m_dapi, check_token),
	SIMPLE("grafana_token", "api_key", "Grafana service account or cloud token", 0.95, "glsa_|glc_",
	       TB "(?<secret>glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})"
	       "(?![A-Za-z0-9+/=_])", 5, m_graf, check_token),
	SIMPLE("newrelic_key", "api_key", "New Relic user API key", 0.95, "NRAK-",
	       TB "(?<secret>NRAK-[A-Z0-9]{27})" TE, 5, m_nr, check_token),
	SIMPLE("sentry_token", "api_key", "Sentry auth token", 0.95, "sntr[ysua]_",
	       TB "(?<secret>sntr[ysua]_[A-Za-z0-9+/=_\\-]{40,400})(?![A-Za-z0-9+/=_\\-])", 7, m_sentry,
	       check_token),
	SIMPLE("doppler_token", "api_key", "Doppler token", 0.95, "dp\\.(?:pt|st|sa|ct|scim|audit)\\.",
	       "(?<![A-Za-z0-9_.])(?<secret>dp\\.(?:pt|st|sa|ct|scim|audit)\\.[A-Za-z0-9]{40,44})" TE, 9,
	       m_dp, check_token),
	SIMPLE("planetscale_token", "api_key", "PlanetScale token or password", 0.95,
	       "pscale_(?:tkn|pw|oauth)_",
	       TB "(?<secret>pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\\-.]{32,64})(?![A-Za-z0-9_\\-.])", 13,
	       m_pscale, check_token),
	SIMPLE("supabase_token", "api_key", "Supabase access token", 0.95, "sbp_[a-f0-9]{16}",
	       TB "(?<secret>sbp_[a-f0-9]{40})" TE, 20, m_sbp, check_token),
	SIMPLE("fly_token", "api_key", "Fly.io token", 0.9, "fo1_",
	       TB "(?<secret>fo1_[A-Za-z0-9_\\-]{43})" TED, 4, m_fly, check_token),

	/* ---- keys and structured tokens ---- */
	{ "private_key", "private_key", "PEM private key block (RSA, EC, DSA, PKCS#8, encrypted, OpenSSH, PGP)",
	  0.95, "-----BEGIN ", 0,
	  "(?<secret>-----BEGIN (?<kind>(?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?<blk> BLOCK|)-----"
	  "(?:[\\s\\S]{0,65000}?-----END \\g{kind}PRIVATE KEY\\g{blk}-----"
	  "|(?:(?:\\r?\\n|\\\\r\\\\n|\\\\n)[ \\t]*(?:[A-Za-z0-9+/=]{1,100}|[A-Za-z][A-Za-z0-9\\-]{0,30}:[^\\r\\n]{0,200}))*))",
	  11, NULL, RULE_MULTILINE, NULL },
	{ "private_key_base64", "private_key", "base64 of a PEM private key (kubeconfig client-key-data)",
	  0.95, "LS0tLS1CRUdJTi", 0,
	  "(?<![A-Za-z0-9+/])(?<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,65000}={0,2})", 14, NULL, RULE_TOKEN,
	  check_b64_pem },
	{ "putty_private_key", "private_key", "PuTTY private key lines", 0.95, "Private-Lines: ", 0,
	  "Private-Lines: [0-9]{1,4}\\r?\\n(?<secret>(?:[A-Za-z0-9+/=]{4,128}(?:\\r?\\n|\\z)){1,400})",
	  15, NULL, RULE_MULTILINE, NULL },
	SIMPLE("age_secret_key", "private_key", "age secret key", 0.95, "AGE-SECRET-KEY-" "1",
	       "(?<secret>AGE-SECRET-KEY-" "1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})(?![A-Za-z0-9])", 16,
	       m_age, NULL),
	SIMPLE("jwt", "jwt_token", "JSON Web Token", 0.95, "eyJ[A-Za-z0-9_\\-]{4,}\\.eyJ",
	       TBD "(?<secret>eyJ[A-Za-z0-9_\\-]{4,8192}\\.eyJ[A-Za-z0-9_\\-]{2,16384}\\.[A-Za-z0-9_\\-]{0,4096})"
	       TED, 8200, m_jwt, NULL),

	/* ---- credentials in URLs, headers and command lines ---- */
	{ "url_credentials", "database_url", "password in a URL (scheme://user:password@host)", 0.95,
	  "://[^\\s:/@]*:[^\\s/@]+@", 0,
	  "(?<![A-Za-z0-9+.\\-])[A-Za-z][A-Za-z0-9+.\\-]{1,20}://[^\\s:/@\"'<>]{0,128}:"
	  "(?<secret>[^\\s/\"'<>]{1,960}?)@(?:[A-Za-z0-9._\\-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?"
	  "(?=[/?#\\s\"'<>,;)\\]]|\\z)",
	  1100, NULL, 0, check_url },
	{ "http_basic_auth", "http_auth", "HTTP Basic credentials in an Authorization header", 0.9,
	  "authorization:[ \\t]*basic[ \\t]+", 1,
	  "(?i:authorization:[ \\t]*basic[ \\t]+)(?<secret>[A-Za-z0-9+/]{8,1024}={0,2})(?![A-Za-z0-9+/=])",
	  30, NULL, 0, check_value },
	{ "bearer_token", "bearer_token", "Bearer token", 0.85, "bearer[ \\t]+[A-Za-z0-9_\\-.~+/]{8}", 1,
	  "(?<![A-Za-z0-9_])(?i:bearer)[ \\t]+(?<secret>[A-Za-z0-9_\\-.~+/]{16,4096}=*)(?![A-Za-z0-9_\\-.~+/=])",
	  30, NULL, RULE_GENERIC, check_random },
	{ "auth_header", "http_auth", "credentials in an Authorization or Proxy-Authorization header, any scheme", 0.85,
	  "authorization[\"']?[ \\t]*[:=]", 1,
	  "(?<![A-Za-z0-9_\\-])(?<key>(?i:(?:proxy-)?authorization))[\"']?[ \\t]*(?::|=>?)[ \\t]*[\"'`]?"
	  "(?:(?i:basic|bearer|token|digest|negotiate|ntlm|hoba|mutual|aws4-hmac-sha256|sso-key|apikey|"
	  "key|otp|dpop|gnap|privatetoken|vapid|scram-sha-256|sharedkey|splunk|ssws|bot|klaviyo-api-key)[ \\t]+)?"
	  "(?<secret>[^\\s\"'][^\\r\\n\"']{0,4095})", 40, NULL, 0, check_header },
	{ "api_key_header", "api_key", "X-Api-Key, X-Auth-Token, Private-Token and other key headers", 0.85,
	  "(?:api-key|apikey|auth-token|access-token|private-token|vault-token|subscription-key|"
	  "x-[a-z0-9\\-]{0,30}-(?:key|token|secret))[ \\t]*:", 1,
	  "(?<![A-Za-z0-9_\\-])(?<key>(?i:(?:x-[a-z0-9\\-]{0,30}-)?(?:api-?key|auth-token|access-token|"
	  "private-token|vault-token|subscription-key)|x-[a-z0-9\\-]{0,30}-(?:key|token|secret)))[ \\t]*:[ \\t]*"
	  "(?<secret>[^\\s\"',;][^\\s\"',;]{0,4095})", 60, NULL, 0, check_header },
	{ "bundler_credentials", "password", "bundler credentials: BUNDLE_HOST__NAME=user:password", 0.9,
	  "BUNDLE_[A-Z0-9_]*__[A-Z0-9_]*" HSSEP, 0,
	  "(?<![A-Za-z0-9_])(?<key>BUNDLE_[A-Z0-9_]{0,100}__[A-Z0-9_]{1,100})" SEP SECV, 230, NULL, 0,
	  check_assigned },
	{ "sql_password", "password", "SQL IDENTIFIED BY / PASSWORD '...'", 0.85,
	  "identified[ \\t]+(?:with[ \\t]+[A-Za-z0-9_]+[ \\t]+)?by[ \\t]+", 1,
	  "(?i:identified[ \\t]+(?:with[ \\t]+[A-Za-z0-9_]{1,40}[ \\t]+)?by)[ \\t]+(?:(?i:password)[ \\t]+)?"
	  "(?|'(?<secret>(?:[^'\\\\\\r\\n]|''|\\\\.)++)'|\"(?<secret>[^\"\\r\\n]++)\"|(?<secret>[^\\s;'\"]++))",
	  90, NULL, 0, check_sql },
	{ "key_assignment", "generic_secret", "a random-looking value assigned to a key or auth name", 0.8,
	  "(?:key|auth)" HSSEP, 1,
	  KEY("key|auth") SEP SECV, 70, NULL, 0, check_assigned },
	{ "netrc_line", "password", "a password line of a multi-line .netrc entry", 0.8,
	  "(?:^|\\n)[ \\t]*(?:password|passwd)[ \\t]+[^\\s]", 1,
	  "(?m:^)[ \\t]*(?<key>(?i:password|passwd))[ \\t]+(?<secret>[^\\s]{1,4096})[ \\t]*(?=\\r?\\n|\\z)", 80, NULL, 0,
	  check_netrc_line },
	{ "pgpass", "password", "password field of a .pgpass line (host:543x|6432|*:database:user:password)", 0.85,
	  ":(?:543[0-9]|6432|\\*):[^:\\s\"',{}]{1,64}:[^:\\s\"',{}]{1,64}:[^\\s]", 0,
	  "(?m:^)(?<key>[A-Za-z0-9.\\-*]{1,253}:(?:[0-9]{1,5}|\\*):[^:\\s]{1,64}:[^:\\s]{1,64}):"
	  "(?<secret>[^\\s]{1,1024})[ \\t]*(?=\\r?\\n|\\z)", 400, NULL, 0, check_pgpass },
	{ "escaped_secret", "generic_secret", "a secret in percent-encoding, \\u or \\x escapes or quoted-printable", 0.8,
	  "%3[AaDd]|=3D|\\\\u00[0-9A-Fa-f]{2}\\\\u00|\\\\x[0-9A-Fa-f]{2}\\\\x", 0,
	  "(?<![^\\s\"'<>`])(?<secret>[^\\s\"'<>`]{0,2048}?(?:%3[AaDd]|=3D|\\\\u00[0-9A-Fa-f]{2}|\\\\x[0-9A-Fa-f]{2})"
	  "[^\\s\"'<>`]{0,4096})", 2060, NULL, 0, check_escaped },
	{ "cmdline_short_password", "password", "-p VALUE / -pVALUE of mysql, sshpass, mongo, docker login...; redis-cli -a", 0.8,
	  "[ \\t]-[pa](?:[ \\t]+)?[^\\s\\-]", 0,
	  "(?<![A-Za-z0-9_\\-])(?<key>(?:mysql[a-z_]*|mariadb[a-z\\-]*|sshpass|mongo(?:sh|dump|restore|import|export)?|"
	  "(?:docker|podman|nerdctl|buildah|skopeo|oc|cf|helm[ \\t]+registry)[ \\t]+login)(?=[ \\t])[^\\n|;&]{0,200}?[ \\t]-p"
	  "|redis-cli(?=[ \\t])[^\\n|;&]{0,200}?[ \\t]-a)(?:[ \\t]+)?"
	  "(?|\"(?<secret>[^\"\\r\\n]{1,1024})\"|'(?<secret>[^'\\r\\n]{1,1024})'|(?<secret>[^\\s\"'`;&|<>-][^\\s\"'`;&|<>]{0,1023}))",
	  260, NULL, 0, check_cmdline },
	{ "curl_user", "password", "user:password given to curl -u / --user (or a token as the user)", 0.8,
	  "(?:-u|--user)(?:[ \\t]+|=)[\"']?[^\\s:\"']+:", 0,
	  "(?<![A-Za-z0-9_\\-])(?:-u|--user)(?:[ \\t]+|=)[\"']?[^\\s:\"']{1,128}:(?<secret>[^\\s\"']{0,4096})",
	  140, NULL, 0, check_user_pass },
	{ "netrc_password", "password", "password in a .netrc entry", 0.85,
	  "login[ \\t]+[^\\s]+[ \\t]+password[ \\t]+", 0,
	  "(?<![A-Za-z0-9])login[ \\t]+[^\\s]{1,128}[ \\t]+password[ \\t]+(?<secret>[^\\s]{1,4096})", 160,
	  NULL, 0, check_assigned },
	{ "cmdline_secret", "password", "--password / --token VALUE on a command line", 0.8,
	  "--?(?:password|passwd|pass|token|secret|api-key|apikey)(?:=|[ \\t]+)", 1,
	  "(?<![A-Za-z0-9_\\-])--?(?<key>(?i:password|passwd|pass|token|secret|api-key|apikey))(?:=|[ \\t]+)"
	  "(?|\"(?<secret>[^\"\\r\\n]{1,4096})\"|'(?<secret>[^'\\r\\n]{1,4096})'|(?<secret>[^\\s\"'`;&|<>]{1,4096}))",
	  20, NULL, 0, check_cmdline },

	/* ---- values assigned to secret-sounding keys ---- */
	{ "password", "password", "password assigned in key=value, JSON, YAML, TOML or code", 0.8,
	  "(?:pass(?:word|wd|phrase)?|pwd)" HSSEP, 1,
	  KEY("passwor[dt]|passwd|passphrase|pwd|pass") SEP PASSV, 70, NULL, 0, check_assigned },
	{ "xml_secret", "password", "password, secret or token element in XML", 0.8,
	  "(?:passw(?:or)?d|passphrase|secret|token|key|credentials?|auth)>", 1,
	  "<(?<key>[A-Za-z0-9_:.\\-]{0,40}?(?i:passw(?:or)?d|passphrase|secret|token|key|credentials?|auth))>"
	  "(?<secret>[^<\\r\\n]{1,4096})</", 52, NULL, 0, check_assigned },
	{ "password_prose", "password", "\"the password is ...\" in prose", 0.8,
	  "pass(?:word|phrase)[ \\t]+(?:is|was)[: \\t]", 1,
	  "(?<![A-Za-z])(?i:pass(?:word|phrase)[ \\t]+(?:is|was))[: \\t]+[\"']?(?<secret>[^\\s\"'`]{6,64}?)"
	  "(?=[\\s\"'`,;)]|[.!?](?:\\s|\\z)|\\z)", 20, NULL, 0, check_prose_password },
	{ "api_key", "api_key", "value assigned to an API key or access token name", 0.8,
	  "(?:api[_.\\-]?key|apikey|access[_.\\-]?token|auth[_.\\-]?token|access[_.\\-]?key|secret[_.\\-]?key)"
	  HSSEP, 1,
	  KEY("api[_.\\-]?key|apikey|access[_.\\-]?token|auth[_.\\-]?token|access[_.\\-]?key|secret[_.\\-]?key")
	  SEP SECV, 70, NULL, 0, check_assigned },
	{ "secret_assignment", "generic_secret", "value assigned to a secret, token or credential name", 0.8,
	  "(?:secret|token|credentials?|private[_.\\-]?key|signing[_.\\-]?key|encryption[_.\\-]?key|"
	  "master[_.\\-]?key|account[_.\\-]?key|bearer)" HSSEP, 1,
	  KEY("secret|token|credentials?|private[_.\\-]?key|signing[_.\\-]?key|encryption[_.\\-]?key|"
	      "master[_.\\-]?key|account[_.\\-]?key|bearer")
	  SEP SECV, 70, NULL, 0, check_assigned },
};

const size_t scan_builtin_count = ARRAY_SIZE(scan_builtin_rules);

uint64_t scan_builtin_sig(void)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	const char *v = hs_version();
	size_t i;

	for (; *v; v++)
		h = (h ^ (unsigned char)*v) * 1099511628211ull;
	for (i = 0; i < scan_builtin_count; i++) {
		for (v = scan_builtin_rules[i].hs; *v; v++)
			h = (h ^ (unsigned char)*v) * 1099511628211ull;
		h = (h ^ (0x100u + scan_builtin_rules[i].hs_caseless)) * 1099511628211ull;
	}
	return h;
}

/* ---- compiling and loading ---- */

static void rule_fail(char *err, size_t errlen, const char *where, const char *id, const char *what,
		      const char *re, int code, size_t off)
{
	PCRE2_UCHAR msg[256];

	pcre2_get_error_message(code, msg, sizeof(msg));
	snprintf(err, errlen, "%srule '%s': %s: %s at offset %zu of /%s/", where ? where : "", id, what,
		 (const char *)msg, off, re);
}

/* Compile r into s->rules.  err gets the reason on failure. */
static int add_rule(struct scan *s, const struct rule *r, int builtin, struct crule **out, char *err,
		    size_t errlen, const char *where)
{
	struct crule *c;
	int ecode, n;
	PCRE2_SIZE eoff;

	if (s->n_rules >= SCAN_MAX_RULES) {
		snprintf(err, errlen, "%stoo many rules (at most %u)", where ? where : "", SCAN_MAX_RULES);
		return -E2BIG;
	}
	if (s->n_rules == s->cap_rules) {
		size_t cap = s->cap_rules ? s->cap_rules * 2 : 64;
		struct crule *nr = realloc(s->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		s->rules = nr;
		s->cap_rules = cap;
	}
	c = &s->rules[s->n_rules];
	memset(c, 0, sizeof(*c));
	c->r = *r;
	c->builtin = builtin;
	c->code = pcre2_compile((PCRE2_SPTR)r->re, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT, &ecode,
				&eoff, NULL);
	if (!c->code) {
		rule_fail(err, errlen, where, r->id, "regex does not compile", r->re, ecode, eoff);
		return -EINVAL;
	}
	/* JIT is an optimisation: without it (no executable memory) the
	 * interpreter gives the same answers. */
	(void)pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);
	n = pcre2_substring_number_from_name(c->code, (PCRE2_SPTR) "secret");
	c->g_secret = n > 0 ? (uint32_t)n : 0;
	n = pcre2_substring_number_from_name(c->code, (PCRE2_SPTR) "key");
	c->g_key = n > 0 ? (uint32_t)n : 0;
	s->n_rules++;
	if (out)
		*out = c;
	return 0;
}

int scan_rules_add(struct scan *s, const struct rule *r, int builtin, struct crule **out, char *err,
		   size_t errlen)
{
	return add_rule(s, r, builtin, out, err, errlen, NULL);
}

int scan_allowed_secret(const struct scan *s, const unsigned char *p, size_t n, pcre2_match_data *md)
{
	size_t i;

	for (i = 0; i < s->n_allow_re; i++)
		if (pcre2_match(s->allow_re[i], p, n, 0, 0, md, NULL) >= 0)
			return 1;
	return 0;
}

int scan_path_allowed(const struct scan *s, const char *path)
{
	pcre2_match_data *md;
	size_t i;
	int hit = 0;

	if (!s->n_allow_path)
		return 0;
	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return 0;
	for (i = 0; i < s->n_allow_path && !hit; i++)
		hit = pcre2_match(s->allow_path[i], (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	return hit;
}

/* ---- the rules file ---- */

static int valid_id(const char *id)
{
	size_t i;

	if (!*id || strlen(id) > 64)
		return 0;
	for (i = 0; id[i]; i++)
		if (!islower((unsigned char)id[i]) && !isdigit((unsigned char)id[i]) && id[i] != '_' &&
		    id[i] != '-')
			return 0;
	return 1;
}

static int compile_list(const struct cfg_node *seq, const char *what, pcre2_code ***out, size_t *n,
			struct why *cerr)
{
	size_t i;

	if (!seq || cfg_is_null(seq))
		return 0;
	if (seq->kind != CFG_SEQ)
		return cfg_fail(cerr, seq, "'%s' must be a list of regular expressions", what), -EINVAL;
	for (i = 0; i < seq->n; i++) {
		const struct cfg_node *it = seq->items[i];
		pcre2_code **arr, *re;
		PCRE2_UCHAR msg[256];
		PCRE2_SIZE eoff;
		int ecode;

		if (it->kind != CFG_SCALAR)
			return cfg_fail(cerr, it, "'%s' entries must be strings", what), -EINVAL;
		re = pcre2_compile((PCRE2_SPTR)it->text, it->text_len, 0, &ecode, &eoff, NULL);
		if (!re) {
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			return cfg_fail(cerr, it, "%s regex does not compile: %s at offset %zu", what,
					(const char *)msg, (size_t)eoff), -EINVAL;
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
		arr = realloc(*out, (*n + 1) * sizeof(*arr));
		if (!arr) {
			pcre2_code_free(re);
			return -ENOMEM;
		}
		arr[(*n)++] = re;
		*out = arr;
	}
	return 0;
}

static int load_rule(struct scan *s, const struct cfg_node *m, struct why *cerr)
{
	static const char *const known[] = { "id", "regex", "type", "description", "confidence",
					     "keywords", "secret_group", NULL };
	const char *id = NULL, *re = NULL, *type = NULL, *desc = NULL;
	const struct cfg_node *kw, *conf, *grp;
	struct rule r = { 0 };
	struct crule *c;
	char where[320], err[512];
	double confidence = 0.8;
	unsigned long group = 0;
	size_t i;
	int rc;

	if (m->kind != CFG_MAP)
		return cfg_fail(cerr, m, "each rule must be a mapping with id and regex"), -EINVAL;
	cfg_warn_unknown(m, "rule", known);
	if (cfg_get_str(m, "id", &id, cerr) || cfg_get_str(m, "regex", &re, cerr) ||
	    cfg_get_str(m, "type", &type, cerr) || cfg_get_str(m, "description", &desc, cerr))
		return -EINVAL;
	if (!id)
		return cfg_fail(cerr, m, "rule without 'id'"), -EINVAL;
	if (!valid_id(id))
		return cfg_fail(cerr, cfg_get(m, "id"), "rule id '%s' must be lower case letters, digits, _ and -",
				id), -EINVAL;
	if (!re || !*re)
		return cfg_fail(cerr, m, "rule '%s' has no 'regex'", id), -EINVAL;
	for (i = 0; i < s->n_rules; i++)
		if (!strcmp(s->rules[i].r.id, id))
			return cfg_fail(cerr, cfg_get(m, "id"), "rule id '%s' is already used", id), -EINVAL;
	if ((conf = cfg_get(m, "confidence")) && !cfg_is_null(conf)) {
		char *end;

		if (conf->kind != CFG_SCALAR)
			return cfg_fail(cerr, conf, "confidence must be a number"), -EINVAL;
		confidence = strtod(conf->text, &end);
		if (end == conf->text || *end || confidence < 0 || confidence > 1)
			return cfg_fail(cerr, conf, "confidence must be a number from 0 to 1, not '%s'",
					conf->text), -EINVAL;
	}
	if ((grp = cfg_get(m, "secret_group")) && cfg_get_uint(m, "secret_group", 100, &group, cerr))
		return -EINVAL;
	r.id = id;
	r.type = type ? type : id;
	r.desc = desc ? desc : "custom rule";
	r.confidence = confidence;
	r.re = re;
	r.back = 0;
	snprintf(where, sizeof(where), "%s:%d:%d: ", m->file, m->line, m->col);
	if ((rc = add_rule(s, &r, 0, &c, err, sizeof(err), where))) {
		snprintf(cerr->msg, sizeof(cerr->msg), "%s", err);
		return rc;
	}
	/* the table's strings belong to the config tree: copy them */
	c->own_id = strdup(id);
	c->own_type = strdup(r.type);
	c->own_desc = strdup(r.desc);
	c->own_re = strdup(re);
	if (!c->own_id || !c->own_type || !c->own_desc || !c->own_re)
		return -ENOMEM;
	c->r.id = c->own_id;
	c->r.type = c->own_type;
	c->r.desc = c->own_desc;
	c->r.re = c->own_re;
	if (group) {
		uint32_t count;

		pcre2_pattern_info(c->code, PCRE2_INFO_CAPTURECOUNT, &count);
		if (group > count)
			return cfg_fail(cerr, grp, "rule '%s': secret_group %lu, but the regex has %u groups", id,
					group, count), -EINVAL;
		c->g_secret = (uint32_t)group;
	}
	kw = cfg_get(m, "keywords");
	if (kw && !cfg_is_null(kw)) {
		if (kw->kind != CFG_SEQ)
			return cfg_fail(cerr, kw, "keywords must be a list of strings"), -EINVAL;
		c->keywords = calloc(kw->n ? kw->n : 1, sizeof(char *));
		if (!c->keywords)
			return -ENOMEM;
		for (i = 0; i < kw->n; i++) {
			if (kw->items[i]->kind != CFG_SCALAR || !kw->items[i]->text_len)
				return cfg_fail(cerr, kw->items[i], "keywords must be non-empty strings"), -EINVAL;
			if (!(c->keywords[i] = strdup(kw->items[i]->text)))
				return -ENOMEM;
			c->n_keywords++;
		}
	}
	c->fullscan = c->n_keywords == 0;
	return 0;
}

static int load_tree(struct scan *s, const struct cfg_node *root, struct why *cerr)
{
	static const char *const known[] = { "rules", "allowlist", "disable", NULL };
	static const char *const aknown[] = { "regexes", "paths", NULL };
	const struct cfg_node *rules, *allow, *dis;
	size_t i, j;
	int r;

	if (root->kind != CFG_MAP)
		return cfg_fail(cerr, root, "a rules file is a mapping (rules:, allowlist:, disable:)"), -EINVAL;
	cfg_warn_unknown(root, "rules file", known);
	rules = cfg_get(root, "rules");
	if (rules && !cfg_is_null(rules)) {
		if (rules->kind != CFG_SEQ)
			return cfg_fail(cerr, rules, "'rules' must be a list"), -EINVAL;
		for (i = 0; i < rules->n; i++)
			if ((r = load_rule(s, rules->items[i], cerr)))
				return r;
	}
	allow = cfg_get(root, "allowlist");
	if (allow && !cfg_is_null(allow)) {
		if (allow->kind != CFG_MAP)
			return cfg_fail(cerr, allow, "'allowlist' must be a mapping (regexes:, paths:)"), -EINVAL;
		cfg_warn_unknown(allow, "allowlist", aknown);
		if ((r = compile_list(cfg_get(allow, "regexes"), "allowlist", &s->allow_re, &s->n_allow_re, cerr)) ||
		    (r = compile_list(cfg_get(allow, "paths"), "path", &s->allow_path, &s->n_allow_path, cerr)))
			return r;
	}
	dis = cfg_get(root, "disable");
	if (dis && !cfg_is_null(dis)) {
		if (dis->kind != CFG_SEQ)
			return cfg_fail(cerr, dis, "'disable' must be a list of rule ids"), -EINVAL;
		for (i = 0; i < dis->n; i++) {
			const struct cfg_node *it = dis->items[i];
			int found = 0;

			if (it->kind != CFG_SCALAR)
				return cfg_fail(cerr, it, "'disable' entries must be rule ids"), -EINVAL;
			for (j = 0; j < s->n_rules; j++) {
				if (!strcmp(s->rules[j].r.id, it->text)) {
					s->rules[j].disabled = 1;
					found = 1;
				}
			}
			if (!found && strcmp(it->text, "high_entropy"))
				return cfg_fail(cerr, it, "no rule named '%s' to disable (harombe secrets rules lists them)",
						it->text), -EINVAL;
			if (!strcmp(it->text, "high_entropy"))
				s->opt.entropy = 0;
		}
	}
	return 0;
}

int scan_load_rules_text(struct scan *s, const char *name, const char *text, size_t len, char *err,
			 size_t errlen)
{
	struct why cerr = WHY_INIT;
	struct cfg_node *root = NULL;
	int r;

	if (s->compiled) {
		snprintf(err, errlen, "%s: rules must be loaded before the scanner is compiled", name);
		return -EBUSY;
	}
	if ((r = cfg_parse(name, text, len, &root, &cerr)) == 0)
		r = load_tree(s, root, &cerr);
	if (r)
		snprintf(err, errlen, "%s", cerr.msg[0] ? cerr.msg : strerror(-r));
	cfg_node_free(root);
	return r;
}

int scan_load_rules(struct scan *s, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open rules file '%s': %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		close(fd);
		snprintf(err, errlen, "rules file '%s' is not a regular file of at most 16 MiB", path);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	text[got] = 0;
	r = scan_load_rules_text(s, path, text, got, err, errlen);
	free(text);
	return r;
}
