#include "lib/compat.h"
#include "scan/scan.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "scan/scan-internal.h"

/*
 * The engine.  Input goes into a window of locked memory.  Each time the
 * window is processed:
 *
 *   1. one Vectorscan pass over the new bytes finds where rules may match;
 *   2. at each hit, the rule's PCRE2 regex (JIT, bounded) confirms the match
 *      and gives the exact span; a check rejects placeholders and references;
 *   3. known values are looked up, and high-entropy tokens judged;
 *   4. overlapping findings merge into one redaction, so no piece of a
 *      secret is left behind when two rules see it differently;
 *   5. everything up to a commit point is written out redacted.
 *
 * The commit point never splits a match.  While more input may come, the
 * last SCAN_HOLD bytes stay in the window (nothing a rule matches is longer),
 * so a token or a PEM block that straddles two reads is seen whole.  When
 * the input pauses (SCAN_FLUSH_ALL) everything goes out; a token or PEM body
 * cut by the pause is remembered, and its continuation is redacted when it
 * arrives.
 */

enum { F_TOKEN = 1, F_MULTI = 2, F_OPEN = 4, F_SILENT = 8 };
enum cont { CONT_NONE, CONT_TOKEN, CONT_PEM };
enum mode { MODE_FULL, MODE_LINES, MODE_ALL, MODE_END };

struct fnd {
	size_t m0, m1;		/* the whole match: commits never cut it */
	size_t s0, s1;		/* what is redacted */
	double conf;
	const char *rule, *type, *label, *marker;
	unsigned int flags;
};

struct group {
	size_t s0, s1;
	size_t best;		/* index into f */
	int silent;
};

struct scan_stream {
	const struct scan *s;
	scan_output_fn *out;
	scan_finding_fn *found;
	void *arg;
	unsigned char *buf;	/* locked */
	size_t cap, len, ctx;
	size_t checked;		/* LINES: no newline before this, nothing to do */
	uint64_t base;		/* stream offset of buf[ctx] */
	uint64_t line;		/* 1-based line of buf[ctx] */
	uint64_t col;		/* 0-based column of buf[ctx] */
	enum cont cont;
	const char *cont_rule, *cont_type;
	long cont_idx;		/* index of the continuation finding, -1 */
	hs_scratch_t *scratch;
	pcre2_match_data *md, *md_allow;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
	size_t *covered;	/* per rule: end of its last match */
	struct fnd *f;
	size_t nf, capf;
	struct group *g;
	size_t ng, capg;
	size_t *ivl;		/* covered intervals for the entropy pass: pairs */
	size_t nivl, ivl_pos;
	struct scan_stream_stats st;
	uint64_t match_errors;
	int err;
};

/* ---- building ---- */

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
	(void)entropy_expected(16, 64);		/* tables now, not in the first stream */
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

/* ---- streams ---- */

int scan_stream_new(const struct scan *s, scan_output_fn *out, scan_finding_fn *found, void *arg,
		    struct scan_stream **stp)
{
	struct scan_stream *st;
	uint32_t groups = 0, g;
	size_t i;
	int r = -ENOMEM;

	*stp = NULL;
	if (!s->compiled)
		return -EINVAL;
	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	st->s = s;
	st->out = out;
	st->found = found;
	st->arg = arg;
	st->cap = SCAN_WINDOW;
	st->line = 1;
	st->cont_idx = -1;
	for (i = 0; i < s->n_rules; i++) {
		pcre2_pattern_info(s->rules[i].code, PCRE2_INFO_CAPTURECOUNT, &g);
		if (g > groups)
			groups = g;
	}
	/* the window is the only place input is kept: locked, or nothing */
	if (!(st->buf = secmem_alloc(st->cap)))
		goto out;
	st->md = pcre2_match_data_create(groups + 1, NULL);
	st->md_allow = pcre2_match_data_create(1, NULL);
	st->mc = pcre2_match_context_create(NULL);
	st->js = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL);
	st->covered = calloc(s->n_rules + 1, sizeof(*st->covered));
	if (!st->md || !st->md_allow || !st->mc || !st->js || !st->covered ||
	    hs_clone_scratch(s->scratch, &st->scratch) != HS_SUCCESS)
		goto out;
	pcre2_jit_stack_assign(st->mc, NULL, st->js);
	/* Every built-in rule is linear in its window; these stop a custom
	 * rule that backtracks without end. */
	pcre2_set_match_limit(st->mc, 1000000);
	pcre2_set_depth_limit(st->mc, 10000);
	*stp = st;
	st = NULL;
	r = 0;
out:
	scan_stream_free(st);
	return r;
}

void scan_stream_free(struct scan_stream *st)
{
	if (!st)
		return;
	if (st->match_errors)
		log_debug("scan: %llu regex matches stopped at their limits",
			  (unsigned long long)st->match_errors);
	secmem_free(st->buf);		/* wipes */
	hs_free_scratch(st->scratch);
	pcre2_match_data_free(st->md);
	pcre2_match_data_free(st->md_allow);
	pcre2_match_context_free(st->mc);
	pcre2_jit_stack_free(st->js);
	free(st->covered);
	free(st->f);
	free(st->g);
	free(st->ivl);
	free(st);
}

void scan_stream_stats(const struct scan_stream *st, struct scan_stream_stats *out)
{
	*out = st->st;
}

static const char *marker_of(const struct rule *r, const unsigned char *p, size_t n)
{
	size_t i, m;

	if (!r->markers)
		return "";
	for (i = 0; r->markers[i]; i++) {
		m = strlen(r->markers[i]);
		if (m <= n && !memcmp(p, r->markers[i], m))
			return r->markers[i];
	}
	return "";
}

static struct fnd *add_fnd(struct scan_stream *st)
{
	if (st->nf == st->capf) {
		size_t cap = st->capf ? st->capf * 2 : 64;
		struct fnd *nf = realloc(st->f, cap * sizeof(*nf));

		if (!nf) {
			st->err = -ENOMEM;
			return NULL;
		}
		st->f = nf;
		st->capf = cap;
	}
	memset(&st->f[st->nf], 0, sizeof(st->f[0]));
	return &st->f[st->nf++];
}

static int unescape_scan(const struct scan *s, const unsigned char *p, size_t n, double *conf,
			 const char **type);

/* A confirmed regex match: check it and keep it. */
static void record(struct scan_stream *st, const struct crule *c, size_t m0, size_t m1, size_t s0,
		   size_t s1, size_t k0, size_t k1)
{
	const struct scan *s = st->s;
	struct rule_hit h = { st->buf, st->len, m0, m1, s0, s1, k0, k1, c->r.confidence, c->r.type, &s->opt,
			      unescape_scan, s };
	struct fnd *f;

	if (s1 < s0 || s0 < st->ctx)
		return;
	/* a check may move the span (curl -u token: redacts the user) */
	if (c->r.check && !c->r.check(&h))
		return;
	s0 = h.s0;
	s1 = h.s1;
	m1 = h.m1 > m1 ? h.m1 : m1;
	if (s1 <= s0 || s0 < st->ctx)
		return;
	if ((c->r.flags & RULE_GENERIC) && s1 - s0 < s->opt.min_length)
		return;
	if (h.conf < s->opt.min_confidence)
		return;
	if (s->n_allow_re && scan_allowed_secret(s, st->buf + s0, s1 - s0, st->md_allow))
		return;
	if (!(f = add_fnd(st)))
		return;
	f->m0 = m0;
	f->m1 = m1;
	f->s0 = s0;
	f->s1 = s1;
	f->conf = h.conf;
	f->rule = c->r.id;
	f->type = h.type;
	f->marker = marker_of(&c->r, st->buf + s0, s1 - s0);
	if (c->r.flags & RULE_TOKEN)
		f->flags |= F_TOKEN;
	if (c->r.flags & RULE_MULTILINE) {
		f->flags |= F_MULTI;
		if (s1 - s0 > 10 && !memcmp(st->buf + s0, "-----BEGIN", 10) &&
		    !memmem(st->buf + s0, s1 - s0, "-----END", 8))
			f->flags |= F_OPEN;
	}
}

static void run_regex(struct scan_stream *st, size_t ri, size_t start, size_t limit)
{
	const struct crule *c = &st->s->rules[ri];
	PCRE2_SIZE *ov;
	int rc;

	pcre2_set_offset_limit(st->mc, limit);
	while (start <= st->len && start <= limit && !st->err) {
		size_t m0, m1, s0, s1, k0 = 0, k1 = 0;

		rc = pcre2_match(c->code, st->buf, st->len, start, 0, st->md, st->mc);
		if (rc < 0) {
			if (rc != PCRE2_ERROR_NOMATCH)
				st->match_errors++;
			return;
		}
		ov = pcre2_get_ovector_pointer(st->md);
		m0 = ov[0];
		m1 = ov[1];
		s0 = m0;
		s1 = m1;
		if (c->g_secret && ov[2 * c->g_secret] != PCRE2_UNSET) {
			s0 = ov[2 * c->g_secret];
			s1 = ov[2 * c->g_secret + 1];
		}
		if (c->g_key && ov[2 * c->g_key] != PCRE2_UNSET) {
			k0 = ov[2 * c->g_key];
			k1 = ov[2 * c->g_key + 1];
		}
		record(st, c, m0, m1, s0, s1, k0, k1);
		if (m1 > st->covered[ri])
			st->covered[ri] = m1;
		start = m1 > m0 ? m1 : m0 + 1;
	}
}

static void hit(struct scan_stream *st, size_t ri, size_t end)
{
	const struct crule *c = &st->s->rules[ri];
	size_t start;

	if (c->disabled || end <= st->covered[ri])
		return;
	start = end > c->r.back ? end - c->r.back : 0;
	if (start < st->ctx)
		start = st->ctx;
	if (start < st->covered[ri])
		start = st->covered[ri];
	run_regex(st, ri, start, end);
}

/* Vectorscan callbacks: a prefilter of a built-in rule, or a keyword. */
static int on_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		  void *ctx)
{
	struct scan_stream *st = ctx;

	(void)from;
	(void)flags;
	hit(st, id, st->ctx + (size_t)to);
	return st->err ? 1 : 0;
}

static int on_keyword(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		      void *ctx)
{
	struct scan_stream *st = ctx;

	(void)from;
	(void)flags;
	hit(st, st->s->kw_rule[id], st->ctx + (size_t)to);
	return st->err ? 1 : 0;
}

static int on_known(void *arg, size_t s0, size_t s1, const char *label)
{
	struct scan_stream *st = arg;
	struct fnd *f;

	if (s0 < st->ctx)
		return 0;
	if (!(f = add_fnd(st)))
		return st->err;
	f->m0 = f->s0 = s0;
	f->m1 = f->s1 = s1;
	f->conf = 1.0;
	f->rule = "known_value";
	f->type = "known_value";
	f->label = label;
	f->marker = "";
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct fnd *x = a, *y = b;

	if (x->s0 != y->s0)
		return x->s0 < y->s0 ? -1 : 1;
	if (x->s1 != y->s1)
		return x->s1 > y->s1 ? -1 : 1;
	return 0;
}

/* Merged secret spans, for the entropy pass to skip. */
static int build_intervals(struct scan_stream *st)
{
	size_t i, n = 0;

	if (!st->nf) {
		st->nivl = 0;
		return 0;
	}
	qsort(st->f, st->nf, sizeof(*st->f), by_start);
	free(st->ivl);
	if (!(st->ivl = malloc(2 * st->nf * sizeof(*st->ivl))))
		return -ENOMEM;
	for (i = 0; i < st->nf; i++) {
		if (n && st->f[i].s0 <= st->ivl[2 * n - 1]) {
			if (st->f[i].s1 > st->ivl[2 * n - 1])
				st->ivl[2 * n - 1] = st->f[i].s1;
			continue;
		}
		st->ivl[2 * n] = st->f[i].s0;
		st->ivl[2 * n + 1] = st->f[i].s1;
		n++;
	}
	st->nivl = n;
	st->ivl_pos = 0;
	return 0;
}

/* ---- decode before judging ----
 *
 * A token run that is base64 (either alphabet, padded or not) or hex of
 * text is decoded, and the text is scanned with the same rules: a base64
 * blob of "password=..." or of a .env file is redacted whole, as a docker
 * auth field or a kubeconfig client-key-data already were.  Only runs
 * that decode to printable text with a secret-sounding word or a token
 * marker in it are scanned, so binary blobs (images, integrity hashes)
 * cost one failed decode of a few bytes.  The decoded text is on the
 * stack for the duration and wiped. */
#define DECODE_MAX 6144u

/* base64 in base64 is decoded twice at most: each level is a stream */
static _Thread_local int decode_depth;

static int b64v(unsigned char c)
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

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int text_byte(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t';
}

/* Decode p[0, n) into out: the number of bytes, or 0 when it is not the
 * encoding of printable text. */
static size_t decode_text(const unsigned char *p, size_t n, unsigned char *out, size_t *written)
{
	size_t i, o = 0;
	unsigned int acc = 0;
	int bits = 0, a, b, std = 0, url = 0;

	while (n && p[n - 1] == '=')
		n--;
	/* hex: the first bytes say so, the rest must agree */
	for (i = 0; i < n && i < 16 && hexv(p[i]) >= 0; i++)
		;
	if (i == 16 && !(n & 1)) {
		for (i = 0; i < n && o < DECODE_MAX; i += 2) {
			if ((a = hexv(p[i])) < 0 || (b = hexv(p[i + 1])) < 0)
				break;
			out[o] = (unsigned char)(a << 4 | b);
			*written = ++o;
			if (!text_byte(out[o - 1]))
				return 0;
		}
		if (i >= n)
			return o;
		o = 0;
	}
	for (i = 0; i < n && o < DECODE_MAX; i++) {
		if ((a = b64v(p[i])) < 0)
			return 0;
		std |= p[i] == '+' || p[i] == '/';
		url |= p[i] == '-' || p[i] == '_';
		acc = (acc << 6) | (unsigned int)a;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o] = (unsigned char)(acc >> bits);
			if (++o > *written)
				*written = o;
			if (!text_byte(out[o - 1]))
				return 0;
		}
	}
	/* one alphabet or the other, not both */
	return std && url ? 0 : o;
}

/* Worth scanning: a word or a marker that some rule needs. */
static int decoded_worth(const unsigned char *p, size_t n)
{
	static const char *const w[] = { "pass", "secret", "token", "key", "auth", "pwd", "cred", "://",
					 "bearer", "-----begin", "_pat_", "sk-", "akia", "xox", "ghp_", "gho_",
					 "ghs_", "glpat", "npm_", "hvs.", "eyj" };
	size_t i, k, m;

	for (k = 0; k < ARRAY_SIZE(w); k++) {
		m = strlen(w[k]);
		for (i = 0; i + m <= n; i++)
			if (!strncasecmp((const char *)p + i, w[k], m))
				return 1;
	}
	return 0;
}

struct dec_hit {
	int found;
	double conf;
	const char *rule, *type;
};

static int on_decoded(void *arg, const struct scan_finding *f)
{
	struct dec_hit *d = arg;

	if (!d->found || f->confidence > d->conf) {
		d->found = 1;
		d->conf = f->confidence;
		d->rule = f->rule;
		d->type = f->type;
	}
	return 0;
}

/* Scan decoded text with every rule; 1 when something is found. */
static int scan_decoded(const struct scan *s, const unsigned char *p, size_t n, struct dec_hit *d)
{
	if (n < 8 || decode_depth >= 2 || !decoded_worth(p, n))
		return 0;
	decode_depth++;
	if (scan_buffer(s, p, n, NULL, on_decoded, d) < 0 && !d->found) {
		/* no stream for the decoded text (locked memory is short): text
		 * with a secret word that cannot be checked is redacted */
		d->found = 1;
		d->conf = s->opt.min_confidence > 0.8 ? s->opt.min_confidence : 0.8;
		d->rule = "encoded_secret";
		d->type = "generic_secret";
	}
	decode_depth--;
	return d->found && d->conf >= s->opt.min_confidence;
}

static int unescape_scan(const struct scan *s, const unsigned char *p, size_t n, double *conf, const char **type)
{
	unsigned char out[DECODE_MAX];
	struct dec_hit d = { 0 };
	size_t i = 0, o = 0;
	int a, b, esc = 0, r;

	while (i < n && o < sizeof(out)) {
		if (p[i] == '%' && i + 2 < n && (a = hexv(p[i + 1])) >= 0 && (b = hexv(p[i + 2])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 3;
			esc++;
		} else if (p[i] == '=' && i + 2 < n && (a = hexv(p[i + 1])) >= 0 && (b = hexv(p[i + 2])) >= 0 &&
			   !islower(p[i + 1]) && !islower(p[i + 2])) {
			out[o++] = (unsigned char)(a << 4 | b);	/* quoted-printable */
			i += 3;
			esc++;
		} else if (p[i] == '\\' && i + 5 < n && p[i + 1] == 'u' && p[i + 2] == '0' && p[i + 3] == '0' &&
			   (a = hexv(p[i + 4])) >= 0 && (b = hexv(p[i + 5])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 6;
			esc++;
		} else if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && (a = hexv(p[i + 2])) >= 0 &&
			   (b = hexv(p[i + 3])) >= 0) {
			out[o++] = (unsigned char)(a << 4 | b);
			i += 4;
			esc++;
		} else {
			out[o++] = p[i++];
		}
		if (!text_byte(out[o - 1]))
			break;
	}
	r = esc && i == n && scan_decoded(s, out, o, &d);
	explicit_bzero(out, sizeof(out));
	if (r) {
		*conf = d.conf;
		*type = d.type;
	}
	return r;
}

/* The first character of a base64 quad that encodes a printable byte,
 * and a hex pair that is one. */
static int text_quad(unsigned char c)
{
	return (c >= 'I' && c <= 'Z') || (c >= 'a' && c <= 'f');
}

static int text_hex(const unsigned char *p)
{
	return p[0] >= '2' && p[0] <= '7' && hexv(p[1]) >= 0 && (p[0] != '7' || p[1] != 'f');
}

/* The decoding itself, with its buffer: out of line, so that the runs
 * refused on their first byte do not pay for a 6 KiB stack frame. */
static __attribute__((noinline)) int decode_run(const struct scan *s, const unsigned char *p, size_t n,
						struct dec_hit *d)
{
	unsigned char out[DECODE_MAX];
	size_t len, written = 0;
	int r;

	len = decode_text(p, n, out, &written);
	r = scan_decoded(s, out, len, d);
	explicit_bzero(out, written);
	return r;
}

static int decoded_secret(struct scan_stream *st, size_t start, size_t end)
{
	struct dec_hit d = { 0 };
	struct fnd *f;
	unsigned char c = st->buf[start];

	/* text's first byte is 0x20..0x7e: base64 of it starts with I-Z or
	 * a-f, hex of it with 2-7; most runs stop here */
	if (!((c >= 'I' && c <= 'Z') || (c >= 'a' && c <= 'f') || (c >= '2' && c <= '7')))
		return 0;
	if (end - start < 16 || end - start > DECODE_MAX * 4 / 3 || decode_depth >= 2)
		return 0;
	/* and so do the next two bytes' */
	if (!(text_quad(st->buf[start + 4]) && text_quad(st->buf[start + 8])) &&
	    !(text_hex(st->buf + start) && text_hex(st->buf + start + 2) && text_hex(st->buf + start + 4)))
		return 0;
	if (!decode_run(st->s, st->buf + start, end - start, &d))
		return 0;
	if (st->s->n_allow_re && scan_allowed_secret(st->s, st->buf + start, end - start, st->md_allow))
		return 0;
	if (!(f = add_fnd(st)))
		return st->err;
	f->m0 = f->s0 = start;
	f->m1 = f->s1 = end;
	f->conf = d.conf;
	f->rule = "encoded_secret";
	f->type = d.type;
	f->marker = "";
	f->flags = F_TOKEN;
	return 0;
}

static int on_run(void *arg, size_t start, size_t end)
{
	struct scan_stream *st = arg;
	const struct scan *s = st->s;
	size_t lim = start > 256 ? start - 256 : 0, ls;
	const unsigned char *nl;
	struct fnd *f;
	double conf;

	/* runs come in order: skip intervals that end before this one */
	while (st->ivl_pos < st->nivl && st->ivl[2 * st->ivl_pos + 1] <= start)
		st->ivl_pos++;
	if (st->ivl_pos < st->nivl && st->ivl[2 * st->ivl_pos] < end)
		return 0;
	/* the line in front (its last 256 bytes are plenty) */
	nl = memrchr(st->buf + lim, '\n', start - lim);
	ls = nl ? (size_t)(nl - st->buf) + 1 : lim;
	if (!s->opt.entropy || entropy_judge(st->buf, st->len, start, end, ls, &s->opt, &conf) != 0 ||
	    conf < s->opt.min_confidence)
		return decoded_secret(st, start, end);
	if (s->n_allow_re && scan_allowed_secret(s, st->buf + start, end - start, st->md_allow))
		return 0;
	if (!(f = add_fnd(st)))
		return st->err;
	f->m0 = f->s0 = start;
	f->m1 = f->s1 = end;
	f->conf = conf;
	f->rule = "high_entropy";
	f->type = "generic_secret";
	f->marker = "";
	f->flags = F_TOKEN;
	return 0;
}

static int is_b64(unsigned char c)
{
	return scan_tokchar[c] != 0;
}

/* What continues a token or a PEM block that a pause cut. */
static void continuation(struct scan_stream *st)
{
	size_t p = st->ctx, e = st->ctx;
	struct fnd *f;
	int ended = 0;

	st->cont_idx = -1;
	if (st->cont == CONT_TOKEN) {
		/* to the next delimiter, not only over token characters: a
		 * password cut by a pause (d2LkV78z | Lx!t:) goes on after '!' */
		while (e < st->len && !strchr(" \t\r\n\"'`,;<>", st->buf[e]) && st->buf[e])
			e++;
	} else if (st->cont == CONT_PEM) {
		while (p < st->len) {
			const unsigned char *nl = memchr(st->buf + p, '\n', st->len - p);
			size_t q = nl ? (size_t)(nl - st->buf) : st->len, a = p, b = q, i;
			int body = 1;

			while (a < b && (st->buf[a] == ' ' || st->buf[a] == '\t'))
				a++;
			while (b > a && (st->buf[b - 1] == '\r' || st->buf[b - 1] == ' '))
				b--;
			if (a == b) {
				/* the rest of a cut line, or a blank line (after PGP
				 * headers): body may follow */
				if (!nl)
					break;
				p = q + 1;
				continue;
			}
			if (b - a >= 8 && !memcmp(st->buf + a, "-----END", 8)) {
				e = q;
				ended = 1;
				break;
			}
			for (i = a; i < b && body; i++)
				body = is_b64(st->buf[i]);
			if (!body) {
				/* "Comment: ..." and other PEM headers */
				const unsigned char *colon = memchr(st->buf + a, ':', b - a);

				body = colon && colon > st->buf + a && st->buf[a] >= 'A' && st->buf[a] <= 'Z';
			}
			if (!body)
				break;
			e = q;
			if (!nl)
				break;
			p = q + 1;
		}
	}
	if (e <= st->ctx || !(f = add_fnd(st)))
		return;
	f->m0 = f->s0 = st->ctx;
	f->m1 = f->s1 = e;
	f->conf = 1.0;
	f->rule = st->cont_rule;
	f->type = st->cont_type;
	f->marker = "";
	f->flags = F_SILENT | (st->cont == CONT_TOKEN ? F_TOKEN : F_MULTI | (ended ? 0 : F_OPEN));
	st->cont_idx = (long)(st->nf - 1);
}

static int detect(struct scan_stream *st)
{
	const struct scan *s = st->s;
	size_t i, minlen;
	int r;

	st->nf = 0;
	st->err = 0;
	memset(st->covered, 0, s->n_rules * sizeof(*st->covered));
	if (st->cont != CONT_NONE)
		continuation(st);
	if (st->len > st->ctx) {
		const char *p = (const char *)st->buf + st->ctx;
		unsigned int n = (unsigned int)(st->len - st->ctx);
		hs_error_t e = hs_scan(s->db, p, n, 0, st->scratch, on_hit, st);

		if (e == HS_SUCCESS && s->db_kw)
			e = hs_scan(s->db_kw, p, n, 0, st->scratch, on_keyword, st);
		if (st->err)
			return st->err;
		if (e != HS_SUCCESS)
			return -EIO;
	}
	for (i = 0; i < s->n_fullscan; i++)
		run_regex(st, s->fullscan[i], st->ctx, PCRE2_UNSET);
	if (s->known && (r = known_find(s->known, st->buf, st->ctx, st->len, on_known, st)))
		return r;
	if (st->err)
		return st->err;
	if ((r = build_intervals(st)))
		return r;
	{
		minlen = s->opt.min_length < 12 ? 12 : s->opt.min_length;
		if (minlen > 16)
			minlen = 16;	/* decoding looks at runs of 16 and more */
		if ((r = entropy_runs(st->buf, st->ctx, st->len, minlen, on_run, st)))
			return r;
		if (st->nf)
			qsort(st->f, st->nf, sizeof(*st->f), by_start);
	}
	return st->err;
}

/* At a pause, the last token may be the first part of a secret that the
 * rest of has not arrived: a known prefix (ghp_, sk-ant-) or the value of
 * a secret-sounding key. */
static void partial_tail(struct scan_stream *st)
{
	static const char *const keys[] = { "password", "passwd", "pwd", "secret", "token", "apikey",
					    "api_key", "api-key", "auth", "credential", "private_key", "key",
					    "bearer", "basic", "-u", "--user", "authorization" };
	const struct scan *s = st->s;
	size_t e = st->len, b = e, i, a;
	const char *type = NULL, *marker = "";
	struct fnd *f;

	while (b > st->ctx && scan_tokchar[st->buf[b - 1]] == 1)
		b--;
	if (b == e)
		return;
	for (i = 0; i < st->nf; i++)
		if (st->f[i].s1 >= e && st->f[i].s0 <= b)
			return;
	for (i = 0; i < s->n_prefixes && !type; i++) {
		size_t m = strlen(s->prefixes[i]);

		if (e - b >= m && !memcmp(st->buf + b, s->prefixes[i], m)) {
			type = "partial_token";
			marker = s->prefixes[i];
		}
	}
	if (!type) {
		/* key = "value... : look at the key in front */
		a = b;
		while (a > st->ctx && a + 8 > b && (st->buf[a - 1] == ' ' || st->buf[a - 1] == '"' ||
						   st->buf[a - 1] == '\'' || st->buf[a - 1] == '=' ||
						   st->buf[a - 1] == ':'))
			a--;
		if (a == b || a < st->ctx + 3)
			return;
		for (i = 0; i < ARRAY_SIZE(keys) && !type; i++) {
			size_t m = strlen(keys[i]);

			if (a - st->ctx >= m && !strncasecmp((const char *)st->buf + a - m, keys[i], m))
				type = "partial_secret";
		}
		if (!type)
			return;
	}
	if (!(f = add_fnd(st)))
		return;
	f->m0 = f->s0 = b;
	f->m1 = f->s1 = e;
	f->conf = 0.9;
	f->rule = type;
	f->type = type;
	f->marker = marker;
	f->flags = F_TOKEN;
	qsort(st->f, st->nf, sizeof(*st->f), by_start);
}

static int merge(struct scan_stream *st)
{
	size_t i;

	st->ng = 0;
	if (st->capg < st->nf) {
		struct group *ng = realloc(st->g, st->nf * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		st->g = ng;
		st->capg = st->nf;
	}
	for (i = 0; i < st->nf; i++) {
		const struct fnd *f = &st->f[i];
		struct group *g = st->ng ? &st->g[st->ng - 1] : NULL;

		if (g && f->s0 < g->s1) {
			const struct fnd *b = &st->f[g->best];

			if (f->s1 > g->s1)
				g->s1 = f->s1;
			if (!(f->flags & F_SILENT)) {
				if (g->silent || f->conf > b->conf ||
				    (f->conf == b->conf && f->s1 - f->s0 > b->s1 - b->s0))
					g->best = i;
				g->silent = 0;
			}
			continue;
		}
		st->g[st->ng++] = (struct group){ f->s0, f->s1, i, !!(f->flags & F_SILENT) };
	}
	return 0;
}

static int emit(struct scan_stream *st, const void *p, size_t n)
{
	int r;

	if (!n)
		return 0;
	st->st.bytes_out += n;
	if (st->out && (r = st->out(st->arg, p, n)))
		return r;
	return 0;
}

static int emit_replacement(struct scan_stream *st, const char *type)
{
	const char *rep = st->s->replacement, *t = strstr(rep, "{type}");
	char buf[512];

	if (!t)
		return emit(st, rep, strlen(rep));
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(t - rep), rep, type, t + 6);
	return emit(st, buf, strlen(buf));
}

/* Line and column of buf[to], moving the stream's position there. */
static void advance(struct scan_stream *st, size_t *pos, size_t to)
{
	const unsigned char *p = st->buf + *pos, *end = st->buf + to, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		st->line++;
		st->col = 0;
		p = nl + 1;
	}
	st->col += (uint64_t)(end - p);
	*pos = to;
}

static size_t last_eol(const struct scan_stream *st, size_t from, size_t to)
{
	size_t i = to;

	while (i > from) {
		unsigned char c = st->buf[i - 1];

		if (c == '\n' || c == '\r')
			return i;
		i--;
	}
	return from;
}

static long process(struct scan_stream *st, enum mode mode)
{
	size_t P, i, pos, keep, newlen, at;
	int r, changed, forced = 0;

	if (mode == MODE_LINES) {
		if (st->len == st->ctx)
			return 0;
		if (!memchr(st->buf + st->checked, '\n', st->len - st->checked) &&
		    !memchr(st->buf + st->checked, '\r', st->len - st->checked))
			return (long)(st->len - st->ctx);
	}
	if ((r = detect(st)))
		return r;
	if (mode == MODE_ALL)
		partial_tail(st);
	if (mode == MODE_ALL || mode == MODE_END) {
		P = st->len;
	} else if (mode == MODE_LINES) {
		P = last_eol(st, st->ctx, st->len);
	} else {
		size_t lim = st->len > SCAN_HOLD ? st->len - SCAN_HOLD : st->ctx;

		if (lim < st->ctx)
			lim = st->ctx;
		P = last_eol(st, st->ctx, lim);
		if (P == st->ctx) {
			/* one huge line: cut between tokens */
			P = lim;
			for (i = 0; i < SCAN_ENTROPY_MAX + 64 && P > st->ctx && scan_tokchar[st->buf[P - 1]] &&
			     scan_tokchar[st->buf[P]]; i++)
				P--;
		}
	}
	if (mode == MODE_LINES || mode == MODE_FULL) {
		do {
			changed = 0;
			for (i = 0; i < st->nf; i++) {
				const struct fnd *f = &st->f[i];

				if (f->m0 < P && P < f->m1) {
					P = f->m0;
					changed = 1;
				}
				/* a PEM block not closed yet: wait for its end */
				if (mode == MODE_LINES && (f->flags & F_OPEN) && f->m0 < P && f->m1 + 2 >= P) {
					P = f->m0;
					changed = 1;
				}
			}
		} while (changed);
		if (P <= st->ctx && mode == MODE_LINES) {
			st->checked = st->len;
			return (long)(st->len - st->ctx);
		}
		/* The window is full and one match fills it (what would go out
		 * frees no room): emit all, and remember what is open. */
		if (mode == MODE_FULL && (P <= st->ctx || st->len - P + (P < SCAN_CTX ? P : SCAN_CTX) >= st->cap)) {
			P = st->len;
			forced = 1;
		}
	}
	if ((r = merge(st)))
		return r;

	/* out with it */
	pos = st->ctx;
	at = st->ctx;
	for (i = 0; i < st->ng && st->g[i].s0 < P; i++) {
		const struct group *g = &st->g[i];
		const struct fnd *b = &st->f[g->best];

		if ((r = emit(st, st->buf + pos, g->s0 - pos)) || (r = emit_replacement(st, b->type)))
			return r;
		pos = g->s1;
		st->st.redactions++;
		if (!g->silent) {
			struct scan_finding sf = { b->rule, b->type, b->label, g->s0 == b->s0 ? b->marker : "",
						   b->conf, 0, g->s1 - g->s0, 0, 0 };

			advance(st, &at, g->s0);
			sf.offset = st->base + (g->s0 - st->ctx);
			sf.line = st->line;
			sf.column = st->col + 1;
			st->st.findings++;
			if (st->found && (r = st->found(st->arg, &sf)))
				return r;
		}
	}
	if ((r = emit(st, st->buf + pos, P - pos)))
		return r;
	advance(st, &at, P);

	/* what a pause cut stays redacted when the rest arrives */
	if (mode == MODE_ALL || forced) {
		st->cont = CONT_NONE;
		for (i = 0; i < st->nf; i++) {
			const struct fnd *f = &st->f[i];

			if ((f->flags & F_OPEN) && f->m1 + 2 >= st->len) {
				st->cont = CONT_PEM;
				st->cont_rule = f->rule;
				st->cont_type = f->type;
			} else if (f->s1 == st->len) {
				/* a value that ends where the input paused may go on */
				st->cont = CONT_TOKEN;
				st->cont_rule = f->rule;
				st->cont_type = f->type;
			}
		}
	} else if (mode == MODE_END) {
		st->cont = CONT_NONE;
	} else if (st->cont_idx >= 0 && st->f[st->cont_idx].s1 <= P) {
		st->cont = CONT_NONE;
	} else if (st->cont_idx < 0) {
		st->cont = CONT_NONE;
	}

	/* keep a little of what went out, for look-behind */
	st->base += P - st->ctx;
	keep = P < SCAN_CTX ? P : SCAN_CTX;
	newlen = st->len - P + keep;
	memmove(st->buf, st->buf + P - keep, newlen);
	sodium_memzero(st->buf + newlen, st->len - newlen);
	st->len = newlen;
	st->ctx = keep;
	st->checked = keep;
	return (long)(st->len - st->ctx);
}

int scan_stream_write(struct scan_stream *st, const void *data, size_t len)
{
	const unsigned char *p = data;
	long r;

	while (len) {
		size_t room, k;

		if (st->len == st->cap && (r = process(st, MODE_FULL)) < 0)
			return (int)r;
		if (st->len == st->cap)
			return -EIO;	/* cannot happen: a full process always commits */
		room = st->cap - st->len;
		k = len < room ? len : room;
		memcpy(st->buf + st->len, p, k);
		st->len += k;
		st->st.bytes_in += k;
		p += k;
		len -= k;
	}
	return 0;
}

long scan_stream_flush(struct scan_stream *st, enum scan_flush how)
{
	switch (how) {
	case SCAN_FLUSH_LINES:
		return process(st, MODE_LINES);
	case SCAN_FLUSH_ALL:
		return process(st, MODE_ALL);
	case SCAN_FLUSH_END:
		return process(st, MODE_END);
	}
	return -EINVAL;
}

int scan_buffer(const struct scan *s, const void *data, size_t len, scan_output_fn *out,
		scan_finding_fn *found, void *arg)
{
	struct scan_stream *st;
	long r;

	if ((r = scan_stream_new(s, out, found, arg, &st)))
		return (int)r;
	r = scan_stream_write(st, data, len);
	if (!r)
		r = scan_stream_flush(st, SCAN_FLUSH_END);
	scan_stream_free(st);
	return r < 0 ? (int)r : 0;
}
