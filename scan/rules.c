#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

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
 *
 * The rules' checks are here too; the veto of a value in a secret's place,
 * which most of them end with, is in veto.c.
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

/* ---- checks ---- */

static int check_token(struct rule_hit *h)
{
	size_t n = h->s1 - h->s0;
	const unsigned char *tail = h->buf + h->s0 + n / 3;

	/* a token prefix followed by 36 x's is documentation */
	return scan_count_distinct(tail, n - n / 3) >= 4;
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

	scan_char_classes(p, n, NULL, NULL, &dig, NULL);
	return dig && scan_count_distinct(p, n) >= 6;
}

static int check_random(struct rule_hit *h)
{
	const unsigned char *p = h->buf + h->s0;
	size_t n = h->s1 - h->s0;
	int up, lo, dig;

	scan_char_classes(p, n, &up, &lo, &dig, NULL);
	return (dig || (up && lo)) && scan_count_distinct(p, n) >= 8 && !scan_is_placeholder(p, n);
}

static int check_assigned(struct rule_hit *h)
{
	/* urn:ietf:params:oauth:grant-type, /v1/auth: a path, not a key */
	if (h->k0 > 1 && h->k0 < h->k1 && (h->buf[h->k0 - 1] == ':' || h->buf[h->k0 - 1] == '/') &&
	    isalnum(h->buf[h->k0 - 2]) && scan_key_kind(h) == SCAN_KEY_WEAK)
		return 0;
	/* config[:token] = v, opts["token"] = v; not styles[token] = v */
	if (h->k1 < h->len && (h->buf[h->k1] == ']' || (h->k1 + 1 < h->len && h->buf[h->k1 + 1] == ']')) &&
	    (h->k0 < 2 || !strchr(":\"'", h->buf[h->k0 - 1])))
		return 0;
	scan_extend_value(h);
	return scan_judge_value(h, scan_key_kind(h));
}

/* "  password X" alone on its line, in a .netrc entry: a machine, default
 * or login line comes before it; not a docstring's "password combination." */
static int check_netrc_line(struct rule_hit *h)
{
	size_t a = h->m0 > 512 ? h->m0 - 512 : 0;

	if (!memmem(h->buf + a, h->m0 - a, "machine ", 8) && !memmem(h->buf + a, h->m0 - a, "login ", 6) &&
	    !memmem(h->buf + a, h->m0 - a, "default", 7))
		return 0;
	return scan_judge_value(h, SCAN_KEY_STRONG);
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
	return scan_judge_value(h, SCAN_KEY_LITERAL);
}

/* IDENTIFIED BY, in a statement about a user, a role or a grant; not
 * "the process identified by pid" */
static int check_sql(struct rule_hit *h)
{
	size_t i = h->m0, lim = h->m0 > 512 ? h->m0 - 512 : 0;

	while (i > lim && h->buf[i - 1] != '\n' && h->buf[i - 1] != ';')
		i--;
	if (!scan_lower_has(h->buf + i, h->m0 - i, "user ") && !scan_lower_has(h->buf + i, h->m0 - i, "role ") &&
	    !scan_lower_has(h->buf + i, h->m0 - i, "login ") && !scan_lower_has(h->buf + i, h->m0 - i, "grant "))
		return 0;
	return scan_judge_value(h, SCAN_KEY_STRONG);
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

		while (a > h->m0 && !isspace(h->buf[a - 1]) && !scan_is_quote(h->buf[a - 1]) && h->buf[a - 1] != '=')
			a--;
		h->s1 = h->s0 - 1;
		h->s0 = a;
		if (h->s1 - h->s0 < 4)
			return 0;
	}
	return scan_judge_value(h, SCAN_KEY_CMDLINE);
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
	if (scan_lower_eq(v, n, "basic") || scan_lower_eq(v, n, "bearer") || scan_lower_eq(v, n, "token") ||
	    scan_lower_eq(v, n, "digest") || scan_lower_eq(v, n, "negotiate"))
		return 0;
	if (memchr(v, ' ', n) && !memchr(v, '=', n))
		return 0;
	return scan_judge_value(h, SCAN_KEY_LITERAL);
}

/* "the password is S3cr3t!": prose needs a value that does not read as a word. */
static int check_prose_password(struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0;

	return scan_char_classes(v, n, NULL, NULL, NULL, NULL) >= 3 && !scan_is_placeholder(v, n);
}

static int check_value(struct rule_hit *h)
{
	const unsigned char *v = h->buf + h->s0;
	size_t n = h->s1 - h->s0, i;

	if (n > 1024 || scan_is_placeholder(v, n) || scan_is_reference(v, n) || scan_count_distinct(v, n) < 5)
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
	    (scan_count_distinct(v, n) == 1 && strchr("*xX.", v[0])) ||
	    scan_value_is_placeholder(v, n, h->opt, 0))
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
		if (scan_lower_eq(scheme, sn, db[i]) ||
		    (sn > strlen(db[i]) && !strncasecmp((const char *)scheme, db[i], strlen(db[i])) &&
		     scheme[strlen(db[i])] == '+')) {
			h->type = "database_url";
			h->conf = 0.95;
			break;
		}
	}
	return 1;
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
		int v = scan_b64_value(h->buf[h->s0 + i]);

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
	scan_extend_value(h);
	return scan_judge_value(h, SCAN_KEY_CMDLINE);
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
	  "://[^\\s:/@]*:[^\\s/]*@", 0,
	  "(?<![A-Za-z0-9+.\\-])[A-Za-z][A-Za-z0-9+.\\-]{1,20}://[^\\s:/@\"'<>]{0,128}:"
	  "(?<secret>[^\\s/\"'<>]{1,960}?)@(?:[A-Za-z0-9._\\-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?"
	  "(?=[/?#\\s\"'<>,;)\\]]|\\z)",
	  1100, NULL, RULE_URL, check_url },
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
	  KEY("key|auth") SEP SECV, 70, NULL, RULE_KEYRUN, check_assigned },
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
	  KEY("passwor[dt]|passwd|passphrase|pwd|pass") SEP PASSV, 70, NULL, RULE_KEYRUN, check_assigned },
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
	  SEP SECV, 70, NULL, RULE_KEYRUN, check_assigned },
	{ "secret_assignment", "generic_secret", "value assigned to a secret, token or credential name", 0.8,
	  "(?:secret|token|credentials?|private[_.\\-]?key|signing[_.\\-]?key|encryption[_.\\-]?key|"
	  "master[_.\\-]?key|account[_.\\-]?key|bearer)" HSSEP, 1,
	  KEY("secret|token|credentials?|private[_.\\-]?key|signing[_.\\-]?key|encryption[_.\\-]?key|"
	      "master[_.\\-]?key|account[_.\\-]?key|bearer")
	  SEP SECV, 70, NULL, RULE_KEYRUN, check_assigned },
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
