#include "lib/compat.h"
#include "scan/scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/secbuf.h"
#include "lib/why.h"
#include "scan/scan-internal.h"

/*
 * Building a scanner: scan_new with the built-in rules, known values, the
 * Vectorscan prefilter databases (embedded at build time or compiled) and
 * scan_compile, scan_free, and what the rules are (scan_rule_get).
 */

static int fail(char *err, size_t errlen, int r, const char *fmt, ...) PRINTF_LIKE(4, 5);
static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

int scan_new(const struct scan_options *opts, struct scan **out, char *err, size_t errlen)
{
	static const struct scan_options def = SCAN_OPTIONS_INIT;
	struct scan *s;
	struct why why = WHY_INIT;
	size_t i;
	int r;

	*out = NULL;
	if (!opts)
		opts = &def;
	if (!(opts->min_confidence >= 0 && opts->min_confidence <= 1))
		return fail(err, errlen, -EINVAL, "min_confidence must be between 0 and 1");
	if (hs_valid_platform() != HS_SUCCESS)
		return fail(err, errlen, -ENOTSUP, "Vectorscan does not support this CPU");
	if (opts->locked_memory) {
		r = secmem_init(opts->locked_memory, &why);
		if (r && r != -EBUSY)
			return fail(err, errlen, r, "%s", why.msg);
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->opt = *opts;
	pthread_mutex_init(&s->lazy_lock, NULL);
	s->max_groups = scan_builtin_groups;
	s->replacement = strdup(opts->replacement ? opts->replacement : "[REDACTED]");
	if (!s->replacement) {
		free(s);
		return -ENOMEM;
	}
	s->opt.replacement = s->replacement;
	for (i = 0; i < scan_builtin_count; i++) {
		if ((r = scan_rules_add(s, &scan_builtin_rules[i], 1, NULL, err, errlen))) {
			scan_free(s);
			return r;
		}
	}
	*out = s;
	return 0;
}

int scan_add_known(struct scan *s, const void *value, size_t len, const char *label, char *err,
		   size_t errlen)
{
	int r;

	if (s->compiled)
		return fail(err, errlen, -EBUSY, "known values must be added before the scanner is compiled");
	if (len < SCAN_KNOWN_MIN)
		return fail(err, errlen, -EINVAL, "known value '%s' is shorter than %d bytes: too short to match safely",
			    label ? label : "?", SCAN_KNOWN_MIN);
	if (len > SCAN_KNOWN_MAX)
		return fail(err, errlen, -EINVAL, "known value '%s' is longer than %d bytes", label ? label : "?",
			    SCAN_KNOWN_MAX);
	r = known_add(&s->known, value, len, label);
	if (r)
		return fail(err, errlen, r, "cannot keep known value '%s' in locked memory: %s",
			    label ? label : "?", strerror(-r));
	return 0;
}

/* Vectorscan takes regexes: a keyword becomes one, byte by byte. */
static char *hs_escape(const char *kw)
{
	size_t n = strlen(kw), i, o = 0;
	char *e = malloc(4 * n + 1);

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kw[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			e[o++] = (char)c;
		else
			o += (size_t)sprintf(e + o, "\\x%02x", c);
	}
	e[o] = 0;
	return e;
}

static int add_prefix(struct scan *s, const char *p)
{
	static const char *const skip[] = { "SK", "key-", "dapi", "eyJ", "LTAI", "sk-" };
	const char **np;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(skip); i++)
		if (!strcmp(p, skip[i]))
			return 0;
	for (i = 0; i < s->n_prefixes; i++)
		if (!strcmp(s->prefixes[i], p))
			return 0;
	np = realloc(s->prefixes, (s->n_prefixes + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	np[s->n_prefixes++] = p;
	s->prefixes = np;
	return 0;
}

/* The built-in prefilters: from the build, when it matches this library
 * and CPU, else compiled now. */
static int builtin_db(struct scan *s, char *err, size_t errlen)
{
	const char **expr;
	unsigned int *flags, *ids;
	hs_compile_error_t *cerr = NULL;
	size_t i;
	int r = 0;

	if (scan_hsdb_sig == scan_builtin_sig() &&
	    hs_deserialize_database((const char *)scan_hsdb, scan_hsdb_len, &s->db) == HS_SUCCESS) {
		s->db_embedded = 1;
		return 0;
	}
	s->db = NULL;
	expr = calloc(scan_builtin_count, sizeof(*expr));
	flags = calloc(scan_builtin_count, sizeof(*flags));
	ids = calloc(scan_builtin_count, sizeof(*ids));
	if (!expr || !flags || !ids) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < scan_builtin_count; i++) {
		expr[i] = scan_builtin_rules[i].hs;
		flags[i] = scan_builtin_rules[i].hs_caseless ? HS_FLAG_CASELESS : 0;
		ids[i] = (unsigned int)i;
	}
	if (hs_compile_multi(expr, flags, ids, (unsigned int)scan_builtin_count, HS_MODE_BLOCK, NULL, &s->db,
			     &cerr) != HS_SUCCESS) {
		r = fail(err, errlen, -EINVAL, "built-in prefilter %d does not compile: %s",
			 cerr ? cerr->expression : -1, cerr ? cerr->message : "?");
		hs_free_compile_error(cerr);
	}
out:
	free(expr);
	free(flags);
	free(ids);
	return r;
}

/* Custom rules' keywords, as literals (case-insensitive). */
static int keyword_db(struct scan *s, char *err, size_t errlen)
{
	const char **expr = NULL;
	unsigned int *flags = NULL, *ids = NULL;
	char **owned = NULL;
	size_t cap = 0, n = 0, i, j;
	hs_compile_error_t *cerr = NULL;
	int r = 0;

	for (i = scan_builtin_count; i < s->n_rules; i++)
		cap += s->rules[i].disabled ? 0 : s->rules[i].n_keywords;
	if (!cap)
		return 0;
	expr = calloc(cap, sizeof(*expr));
	flags = calloc(cap, sizeof(*flags));
	ids = calloc(cap, sizeof(*ids));
	owned = calloc(cap, sizeof(*owned));
	s->kw_rule = calloc(cap, sizeof(*s->kw_rule));
	if (!expr || !flags || !ids || !owned || !s->kw_rule) {
		r = -ENOMEM;
		goto out;
	}
	for (i = scan_builtin_count; i < s->n_rules; i++) {
		struct crule *c = &s->rules[i];

		if (c->disabled)
			continue;
		c->r.back = 1024;
		for (j = 0; j < c->n_keywords; j++) {
			if (!(owned[n] = hs_escape(c->keywords[j]))) {
				r = -ENOMEM;
				goto out;
			}
			expr[n] = owned[n];
			flags[n] = HS_FLAG_CASELESS;
			ids[n] = (unsigned int)n;
			s->kw_rule[n++] = (unsigned int)i;
		}
	}
	s->n_kw = n;
	if (hs_compile_multi(expr, flags, ids, (unsigned int)n, HS_MODE_BLOCK, NULL, &s->db_kw, &cerr) !=
	    HS_SUCCESS) {
		int e = cerr && cerr->expression >= 0 ? cerr->expression : -1;

		r = fail(err, errlen, -EINVAL, "rule '%s': keyword does not compile: %s",
			 e >= 0 ? s->rules[s->kw_rule[e]].r.id : "?", cerr ? cerr->message : "?");
		hs_free_compile_error(cerr);
	}
out:
	for (i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(expr);
	free(flags);
	free(ids);
	return r;
}

int scan_compile(struct scan *s, char *err, size_t errlen)
{
	size_t i, j;
	int r;

	if (s->compiled)
		return 0;
	if (!(s->fullscan = calloc(s->n_rules + 1, sizeof(*s->fullscan))))
		return -ENOMEM;
	for (i = 0; i < s->n_rules; i++) {
		struct crule *c = &s->rules[i];

		if (c->disabled)
			continue;
		if (!c->builtin && !c->n_keywords)
			s->fullscan[s->n_fullscan++] = i;
		if (c->code) {
			uint32_t g = 0;

			pcre2_pattern_info(c->code, PCRE2_INFO_CAPTURECOUNT, &g);
			if (g > s->max_groups)
				s->max_groups = g;
		}
		if (c->r.markers && (c->r.flags & RULE_TOKEN))
			for (j = 0; c->r.markers[j]; j++)
				if ((r = add_prefix(s, c->r.markers[j])))
					return r;
	}
	if ((r = builtin_db(s, err, errlen)) || (r = keyword_db(s, err, errlen)))
		return r;
	if (hs_alloc_scratch(s->db, &s->scratch) != HS_SUCCESS ||
	    (s->db_kw && hs_alloc_scratch(s->db_kw, &s->scratch) != HS_SUCCESS))
		return fail(err, errlen, -ENOMEM, "cannot allocate Vectorscan scratch space");
	if ((r = known_compile(s->known)))
		return fail(err, errlen, r, "cannot index known values in locked memory: %s", strerror(-r));
	(void)entropy_expected(16, 64);		/* the character tables now, not in the first stream */
	s->compiled = 1;
	return 0;
}

void scan_free(struct scan *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n_rules; i++) {
		struct crule *c = &s->rules[i];

		pcre2_code_free(c->code);
		free(c->own_id);
		free(c->own_type);
		free(c->own_desc);
		free(c->own_re);
		for (j = 0; j < c->n_keywords; j++)
			free(c->keywords[j]);
		free(c->keywords);
	}
	free(s->rules);
	hs_free_database(s->db);
	hs_free_database(s->db_kw);
	hs_free_scratch(s->scratch);
	free(s->kw_rule);
	free(s->fullscan);
	for (i = 0; i < s->n_allow_re; i++)
		pcre2_code_free(s->allow_re[i]);
	free(s->allow_re);
	for (i = 0; i < s->n_allow_path; i++)
		pcre2_code_free(s->allow_path[i]);
	free(s->allow_path);
	known_free(s->known);
	free(s->prefixes);
	free(s->replacement);
	pthread_mutex_destroy(&s->lazy_lock);
	free(s);
}

size_t scan_rule_count(const struct scan *s)
{
	return s->n_rules + 3;
}

int scan_rule_get(const struct scan *s, size_t i, struct scan_rule_info *out)
{
	if (i < s->n_rules) {
		const struct crule *c = &s->rules[i];

		*out = (struct scan_rule_info){ c->r.id, c->r.type, c->r.desc, c->r.confidence, c->builtin, c->r.re };
		return 0;
	}
	if (i == s->n_rules) {
		*out = (struct scan_rule_info){ "high_entropy", "generic_secret",
						"random-looking token, judged by entropy for its alphabet and context",
						0.7, 1, NULL };
		return 0;
	}
	if (i == s->n_rules + 1) {
		*out = (struct scan_rule_info){ "known_value", "known_value",
						"a known secret value or its base64, hex or URL encoding", 1.0, 1, NULL };
		return 0;
	}
	if (i == s->n_rules + 2) {
		*out = (struct scan_rule_info){ "encoded_secret", "generic_secret",
						"base64 or hex of text in which a rule finds a secret (the type is that rule's)",
						0.8, 1, NULL };
		return 0;
	}
	return -ENOENT;
}
