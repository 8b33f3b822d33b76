#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/*
 * Whether a value is a secret, by itself and in a secret's place: the value
 * tests (placeholders, references) that the entropy pass shares, and the
 * veto that the built-in rules' checks (rules.c) apply to a value assigned
 * to a secret's name.
 */

/* ---- value tests ---- */

int scan_count_distinct(const unsigned char *p, size_t n)
{
	unsigned char seen[256] = { 0 };
	int d = 0;

	while (n--)
		if (!seen[*p++]++)
			d++;
	return d;
}

int scan_char_classes(const unsigned char *p, size_t n, int *up, int *lo, int *dig, int *sym)
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

/* w is lower case; the first byte is compared before strncasecmp runs */
int scan_lower_has(const unsigned char *p, size_t n, const char *w)
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
		if (scan_lower_eq(p, n, words[i]))
			return 1;
	if (p[0] == '[' && p[n - 1] == ']')
		return 1;
	if (scan_lower_has(p, n, "redacted") || scan_lower_has(p, n, "placeholder"))
		return 1;
	if (scan_lower_has(p, n, "your") && (scan_lower_has(p, n, "key") || scan_lower_has(p, n, "token") ||
					scan_lower_has(p, n, "secret") || scan_lower_has(p, n, "pass") ||
					scan_lower_has(p, n, "here")))
		return 1;
	/* xxxxxxxx, ********, ........, 00000000 */
	for (i = 0; i < n; i++)
		if (!strchr("xX*.#-_0", p[i]))
			break;
	if (i == n)
		return 1;
	return scan_count_distinct(p, n) <= 2;
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
int scan_value_is_placeholder(const unsigned char *v, size_t n, const struct scan_options *opt, int names)
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
	if (scan_lower_has(v, n, "redacted") || scan_lower_has(v, n, "placeholder"))
		return 1;
	if (v[0] == '<' || (v[0] == '[' && v[n - 1] == ']') || (v[0] == '(' && v[n - 1] == ')'))
		return 1;
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (scan_lower_eq(v, n, words[i]))
			return 1;
	for (i = 0; names && i < ARRAY_SIZE(own); i++)
		if (scan_lower_eq(v, n, own[i]))
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
	if ((scan_lower_has(v, n, "your") || scan_lower_has(v, n, "_here") || scan_lower_has(v, n, "-here")) &&
	    (scan_lower_has(v, n, "key") || scan_lower_has(v, n, "token") || scan_lower_has(v, n, "secret") ||
	     scan_lower_has(v, n, "pass") || scan_lower_has(v, n, "here")))
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
		if (scan_lower_eq(v, n, w[i]))
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
	if (b == '[' && scan_is_quote(c))
		return 1;
	if (b != '(' && b != '[')
		return 0;
	/* obj.method(x), fn(arg), fn(): code; kvxk(_7=... may be a key too,
	 * and is taken for a call only when it reads as a name */
	if (b == '(' && (memchr(v, '.', n) || isalpha(c) || c == ')' || scan_is_quote(c)) && n >= 2)
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
		if (scan_lower_has(v, n, w[i]))
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
		if (scan_lower_eq(v, n, w[i]))
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

/* kind: SCAN_KEY_STRONG, SCAN_KEY_WEAK, SCAN_KEY_LITERAL or SCAN_KEY_CMDLINE.  1: keep, 0: vetoed. */
int scan_judge_value(struct rule_hit *h, int kind)
{
	const unsigned char *v = h->buf + h->s0, *k = h->buf + h->k0;
	size_t n = h->s1 - h->s0, kn = h->k1 - h->k0, i;
	int quoted = h->s0 > 0 && scan_is_quote(h->buf[h->s0 - 1]) && h->s1 < h->len &&
		     h->buf[h->s1] == h->buf[h->s0 - 1];
	int ident = 1, digits = 1, dots = 0, up = 0, lo = 0, camel = 0;

	if (!n || n > 4096 || value_is_ref(v, n) || scan_value_is_placeholder(v, n, h->opt, 1))
		return 0;
	/* no letter or digit at all (an emoji, "...."): not a credential of a
	 * weak name, nor a short one of any */
	for (i = 0; i < n && !isalnum(v[i]); i++)
		;
	if (i == n && (kind == SCAN_KEY_WEAK || n < 6))
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
	if (kind != SCAN_KEY_LITERAL && n <= 3 && !(n == 3 && memchr_any_digit(v, n) && !is_ident(v, n)))
		return 0;
	/* self.token = nextchar, pkcs12._pkey = pykey: an attribute set from a
	 * variable */
	if (!quoted && is_ident(v, n) && kn > 5 &&
	    (!strncmp((const char *)k, "self.", 5) || !strncmp((const char *)k, "this.", 5) ||
	     (kind == SCAN_KEY_WEAK && memchr(k, '.', kn))))
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
	if (!quoted && kind != SCAN_KEY_LITERAL && h->k0 > 0 && scan_is_quote(h->buf[h->k0 - 1]) && h->s1 < h->len &&
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
		if (kn && (scan_lower_has(k, kn, "len") || scan_lower_has(k, kn, "size") || scan_lower_has(k, kn, "port") ||
			   scan_lower_has(k, kn, "count") || scan_lower_has(k, kn, "max") || scan_lower_has(k, kn, "min") ||
			   scan_lower_has(k, kn, "ttl") || scan_lower_has(k, kn, "timeout") || scan_lower_has(k, kn, "expir") ||
			   scan_lower_has(k, kn, "age") || scan_lower_has(k, kn, "bits")))
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
	if (kn && (scan_lower_eq(k, kn, "pwd") || scan_lower_eq(k, kn, "oldpwd")) && (v[0] == '/' || v[0] == '~'))
		return 0;
	if (kn > 4 && !strncasecmp((const char *)k + kn - 4, "pass", 4) && isalpha(k[kn - 5]) &&
	    (islower(k[kn - 5]) == islower(k[kn - 4])))
		return 0;	/* GIT_ASKPASS, bypass, compass; not dbPass */
	/* a path: the file that holds the secret, not the secret */
	if ((v[0] == '/' || (v[0] == '.' && n > 1 && (v[1] == '/' || v[1] == '.')) || v[0] == '~' ||
	     (n > 2 && isalpha(v[0]) && v[1] == ':' && v[2] == '\\') || scan_lower_has(v, n, "file://")) &&
	    entropy_reads_as_words(v, n))
		return 0;
	/* "Password used to generate key": a description, not a passphrase */
	if ((memchr(v, ' ', n) || memchr(v, '\t', n)) &&
	    (scan_lower_has(v, n, "password") || scan_lower_has(v, n, "secret") || scan_lower_has(v, n, " key") ||
	     scan_lower_has(v, n, "token") || scan_lower_has(v, n, "your ") || scan_lower_has(v, n, "\\n") ||
	     scan_lower_has(v, n, " the ") || scan_lower_has(v, n, "enter ") || scan_lower_has(v, n, " to ")))
		return 0;
	/* secret: API_KEY=...: the inner assignment is its own finding */
	if (!quoted && kind != SCAN_KEY_LITERAL) {
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
	if (kind == SCAN_KEY_WEAK && entropy_reads_as_words(v, n) && wordy_parts(v, n))
		return 0;
	/* 'use-credentials', "passwd:dir", INVALID_HEADER_TOKEN: names made of
	 * the secret's own words */
	if (ident && entropy_reads_as_words(v, n) && wordy_parts(v, n) &&
	    (scan_lower_has(v, n, "pass") || scan_lower_has(v, n, "secret") || scan_lower_has(v, n, "token") ||
	     scan_lower_has(v, n, "cred") || scan_lower_has(v, n, "auth") || scan_lower_has(v, n, "key")) &&
	    !memchr_any_digit(v, n))
		return 0;
	/* a bare word of three characters or fewer is a variable (token = k,
	 * { token: otp }, --pass is provided, "key": "v.."), a capitalised one
	 * a class or an enum (token = Error) */
	if ((!quoted || kind == SCAN_KEY_WEAK) && kind != SCAN_KEY_LITERAL && !memchr_any_digit(v, n) && n <= 3)
		return 0;
	if (!quoted && ident && kind != SCAN_KEY_LITERAL && !memchr_any_digit(v, n) && isupper(v[0]) && lo && !camel &&
	    entropy_reads_as_words(v, n) && wordy_parts(v, n))
		return 0;
	if ((quoted && kind != SCAN_KEY_WEAK) || !ident || kind == SCAN_KEY_LITERAL)
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
	if (kind == SCAN_KEY_CMDLINE && lo && memchr_any_digit(v, n))
		return 1;
	if (kind == SCAN_KEY_WEAK || (dots && wordy_parts(v, n)))
		return 0;
	/* followed by an operator (passwd = acct = '', token = a || b) or, after
	 * a colon, by more words ("- password:  The password for the server") */
	if (!quoted && kind != SCAN_KEY_CMDLINE) {
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

int scan_key_kind(const struct rule_hit *h)
{
	const unsigned char *k = h->buf + h->k0;
	size_t kn = h->k1 - h->k0;

	if (!kn)
		return SCAN_KEY_STRONG;
	if (scan_lower_has(k, kn, "pass") || scan_lower_has(k, kn, "pwd") || scan_lower_has(k, kn, "secret") ||
	    scan_lower_has(k, kn, "token") || scan_lower_has(k, kn, "cred") || scan_lower_has(k, kn, "api") ||
	    scan_lower_has(k, kn, "private") || scan_lower_has(k, kn, "access") || scan_lower_has(k, kn, "bearer") ||
	    scan_lower_has(k, kn, "signing") || scan_lower_has(k, kn, "encryption") || scan_lower_has(k, kn, "master") ||
	    scan_lower_has(k, kn, "client") || scan_lower_has(k, kn, "bundle_") || scan_lower_has(k, kn, "_auth"))
		return SCAN_KEY_STRONG;
	return SCAN_KEY_WEAK;
}

/* An unquoted value runs to the delimiter of its syntax, not to the first
 * character the regex stops at: a Django key (eu+w^pll=hb(j)...) in a
 * dotenv file ends at the end of the line.  The delimiter comes from what
 * is in front of the key: ',' ')' '}' ']' in a structure ({k: v, ...},
 * f(k=v)), '&' in a query string (?k=v&...), ';' in a connection string
 * (...;Password=v;...), else whitespace. */
void scan_extend_value(struct rule_hit *h)
{
	const char *stop = " \t\r\n\"'`\\";
	size_t j, b = h->k0 < h->k1 ? h->k0 : h->s0;

	if (h->s0 > 0 && scan_is_quote(h->buf[h->s0 - 1]))
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
