#include "compat.h"
#include "credshape.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

enum cs { ALNUM, ALNUM_DASH, ALNUM_DOT, UPPER_DIGIT };

static const struct prefix {
	const char *prefix;
	enum cs cs;
	size_t min_tail;
	const char *label;
} prefixes[] = {
	{ "ghp_", ALNUM, 8, "GitHub token" },
	{ "gho_", ALNUM, 8, "GitHub token" },
	{ "ghu_", ALNUM, 8, "GitHub token" },
	{ "ghs_", ALNUM, 8, "GitHub token" },
	{ "ghr_", ALNUM, 8, "GitHub token" },
	{ "github_pat_", ALNUM_DASH, 20, "GitHub token" },
	{ "glpat-", ALNUM_DASH, 16, "GitLab token" },
	{ "xoxb-", ALNUM_DASH, 8, "Slack token" },
	{ "xoxa-", ALNUM_DASH, 8, "Slack token" },
	{ "xoxp-", ALNUM_DASH, 8, "Slack token" },
	{ "xoxr-", ALNUM_DASH, 8, "Slack token" },
	{ "xoxs-", ALNUM_DASH, 8, "Slack token" },
	{ "xoxe-", ALNUM_DASH, 8, "Slack token" },
	{ "sk_live_", ALNUM, 8, "Stripe key" },
	{ "rk_live_", ALNUM, 8, "Stripe key" },
	{ "sk_test_", ALNUM, 8, "Stripe key" },
	{ "rk_test_", ALNUM, 8, "Stripe key" },
	{ "sk-", ALNUM_DASH, 16, "API key" },
	{ "AKIA", UPPER_DIGIT, 16, "AWS access key" },
	{ "ASIA", UPPER_DIGIT, 16, "AWS access key" },
	{ "AIza", ALNUM_DASH, 30, "Google API key" },
	{ "hvs.", ALNUM_DASH, 20, "Vault token" },
	{ "hvb.", ALNUM_DASH, 20, "Vault token" },
	{ "hvr.", ALNUM_DASH, 20, "Vault token" },
	{ "npm_", ALNUM, 30, "npm token" },
	{ "pypi-", ALNUM_DASH, 40, "PyPI token" },
	{ "dckr_pat_", ALNUM_DASH, 16, "Docker token" },
	{ "hf_", ALNUM, 30, "Hugging Face token" },
	{ "SG.", ALNUM_DOT, 20, "SendGrid key" },
	{ "AGE-SECRET-KEY-1", ALNUM, 20, "age secret key" },
	{ "hooks.slack.com/services/", ALNUM_DOT, 8, "Slack webhook URL" },
};

static int in_cs(enum cs cs, unsigned char c)
{
	switch (cs) {
	case ALNUM:
		return isalnum(c);
	case ALNUM_DASH:
		return isalnum(c) || c == '-' || c == '_';
	case ALNUM_DOT:
		return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
	case UPPER_DIGIT:
		return isupper(c) || isdigit(c);
	}
	return 0;
}

static size_t span(const char *s, size_t len, enum cs cs)
{
	size_t i = 0;

	while (i < len && in_cs(cs, (unsigned char)s[i]))
		i++;
	return i;
}

static int has(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

/* eyJ<b64url>.eyJ<b64url>. : a JWT header and payload. */
static int is_jwt_at(const char *s, size_t len)
{
	size_t a, b;

	if (len < 3 || memcmp(s, "eyJ", 3) != 0)
		return 0;
	a = span(s, len, ALNUM_DASH);
	if (a < 10 || a >= len || s[a] != '.')
		return 0;
	if (len - a - 1 < 3 || memcmp(s + a + 1, "eyJ", 3) != 0)
		return 0;
	b = span(s + a + 1, len - a - 1, ALNUM_DASH);
	return b >= 10 && a + 1 + b < len && s[a + 1 + b] == '.';
}

/* scheme://user:password@host, unless the password is a placeholder. */
static int is_url_password(const char *s, size_t len)
{
	const char *p = memmem(s, len, "://", 3);
	const char *end = s + len, *at, *colon;

	if (!p)
		return 0;
	p += 3;
	for (at = p; at < end && *at != '/' && *at != '@' && !isspace((unsigned char)*at); at++)
		;
	if (at >= end || *at != '@')
		return 0;
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon || colon + 1 == at)
		return 0;
	colon++;
	if (*colon == '$' || *colon == '*' || *colon == '<' || *colon == '{')
		return 0;
	return 1;
}

const char *credshape_known(const char *s, size_t len)
{
	size_t i, k;

	if (has(s, len, "-----BEGIN") && has(s, len, "PRIVATE KEY"))
		return "private key";
	if (is_url_password(s, len))
		return "URL with a password";
	for (i = 0; i < len; i++) {
		/* A token starts at the beginning or after a non-word byte. */
		if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
			continue;
		if (s[i] == 'e' && is_jwt_at(s + i, len - i))
			return "JSON Web Token";
		for (k = 0; k < ARRAY_SIZE(prefixes); k++) {
			const struct prefix *p = &prefixes[k];
			size_t pl = strlen(p->prefix);

			if (len - i >= pl + p->min_tail && memcmp(s + i, p->prefix, pl) == 0 &&
			    span(s + i + pl, len - i - pl, p->cs) >= p->min_tail)
				return p->label;
		}
	}
	return NULL;
}

double credshape_entropy(const char *s, size_t len)
{
	size_t count[256] = { 0 };
	double h = 0;
	size_t i;

	if (!len)
		return 0;
	for (i = 0; i < len; i++)
		count[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++) {
		if (count[i]) {
			double p = (double)count[i] / (double)len;

			h -= p * log2(p);
		}
	}
	return h;
}

int credshape_is_reference(const char *s, size_t len)
{
	if (!len)
		return 1;
	if (s[0] == '/' || s[0] == '~' || s[0] == '$' || s[0] == '%')
		return 1;
	if ((len >= 2 && !memcmp(s, "./", 2)) || (len >= 3 && !memcmp(s, "../", 3)))
		return 1;
	if ((len >= 4 && !memcmp(s, "env:", 4)) || (len >= 5 && !memcmp(s, "file:", 5)))
		return 1;
	/* A vault key such as github/api-token: a slash, no scheme, no spaces. */
	if (memchr(s, '/', len) && !memmem(s, len, "://", 3) && !memchr(s, ' ', len))
		return 1;
	return 0;
}

static int ends_with_word(const char *key, const char *word)
{
	size_t kl = strlen(key), wl = strlen(word);

	if (kl < wl || strcasecmp(key + kl - wl, word) != 0)
		return 0;
	/* a whole word: at the start or after a separator */
	return kl == wl || key[kl - wl - 1] == '_' || key[kl - wl - 1] == '-' ||
	       key[kl - wl - 1] == '.' ||
	       (islower((unsigned char)key[kl - wl - 1]) && isupper((unsigned char)word[0]));
}

static int is_scalar_word(const char *s, size_t len)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "null",
					     "none", "changeme-not-set" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (strlen(words[i]) == len && !strncasecmp(s, words[i], len))
			return 1;
	return 0;
}

const char *credshape_value(const char *key, const char *s, size_t len, int in_env)
{
	static const char *const secret_words[] = {
		"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey",
		"access_key", "secret_key", "private_key", "credential", "credentials",
		"secret_id", "client_secret", "auth_token",
	};
	const char *label = credshape_known(s, len);
	size_t i;

	if (label)
		return label;
	if (key && len >= 8 && !is_scalar_word(s, len) && !credshape_is_reference(s, len)) {
		for (i = 0; i < ARRAY_SIZE(secret_words); i++)
			if (ends_with_word(key, secret_words[i]))
				return "value of a credential-named key";
	}
	/* Random-looking mixed-case alphanumerics (base64, API keys).  Hex
	 * alone is not enough: commit ids and checksums are hex and are not
	 * secrets, so lower-case-only (or upper-case-only) strings pass. */
	if (in_env && len >= 20 && !credshape_is_reference(s, len)) {
		int lower = 0, upper = 0, digit = 0, space = 0;

		for (i = 0; i < len; i++) {
			lower |= islower((unsigned char)s[i]) != 0;
			upper |= isupper((unsigned char)s[i]) != 0;
			digit |= isdigit((unsigned char)s[i]) != 0;
			space |= isspace((unsigned char)s[i]) != 0;
		}
		if (lower && upper && digit && !space && credshape_entropy(s, len) >= 3.5)
			return "high-entropy value";
	}
	return NULL;
}
