#include "lib/compat.h"
#include "scan/scan.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "scan/scan-internal.h"

/*
 * The rules' pass over a stream's window (scan_rules_pass): the Vectorscan
 * prefilters find where a rule may match (the built-in rules' database, the
 * custom rules' keywords), each hit runs its rule's PCRE2 regex over the
 * bytes it may match (from back bytes before the hit, or where the key or
 * the URL's scheme begins), and each match that its check keeps is
 * recorded as a finding; then the rules without a prefilter and the known
 * values.  scan.c judges the token runs and merges what is found.
 */

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

/* A confirmed regex match: check it and keep it. */
static void record(struct scan_stream *st, const struct crule *c, size_t m0, size_t m1, size_t s0,
		   size_t s1, size_t k0, size_t k1)
{
	const struct scan *s = st->s;
	struct rule_hit h = { st->buf, st->len, m0, m1, s0, s1, k0, k1, c->r.confidence, c->r.type, &s->opt,
			      scan_unescape_scan, s };
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
	if (!(f = scan_add_fnd(st)))
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

	if ((rc = scan_rule_ready(st->s, c))) {
		st->err = rc;	/* a rule that cannot run must not let its secret through */
		return;
	}
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

/* A RULE_KEYRUN rule's prefilter ends on the = or : of key["']?]?[ \t]*=:
 * the start of the key, the run of key characters before it (the regex's
 * look-behind allows no other start), or 0 when that is not what is there.
 * Its regex then runs once instead of trying every place in back bytes:
 * source code says token and password often (a third of its CPU time).  A
 * match that starts before the key ends on an earlier separator, whose
 * own hit (Vectorscan reports them in order) found it. */
static size_t key_run_start(const unsigned char *b, size_t end)
{
	size_t i = end - 1;

	if (!end || (b[i] != '=' && b[i] != ':'))
		return 0;
	while (i > 0 && (b[i - 1] == ' ' || b[i - 1] == '\t'))
		i--;
	if (i > 0 && b[i - 1] == ']')
		i--;
	if (i > 0 && (b[i - 1] == '"' || b[i - 1] == '\''))
		i--;
	while (i > 0 && (isalnum(b[i - 1]) || b[i - 1] == '_' || b[i - 1] == '.' || b[i - 1] == '-'))
		i--;
	return i;
}

/* A RULE_URL rule's hit: where the regex may start, from the last :// in
 * buf[from, end) (its prefilter allows no '/' after the ://), or 0.  A
 * match that starts before that scheme holds no '/' either, so it ends
 * before this :// and its own hit found it. */
static size_t url_start(const unsigned char *b, size_t from, size_t end)
{
	const unsigned char *sl = end > from ? memrchr(b + from, '/', end - from) : NULL;
	size_t i;

	if (!sl)
		return 0;
	i = (size_t)(sl - b);
	if (i < from + 2 || b[i - 1] != '/' || b[i - 2] != ':')
		return 0;
	return i - 2 > SCHEME_MAX ? i - 2 - SCHEME_MAX : 0;
}

static void hit(struct scan_stream *st, size_t ri, size_t end)
{
	const struct crule *c = &st->s->rules[ri];
	size_t start;

	if (c->disabled || end <= st->covered[ri])
		return;
	start = end > c->r.back ? end - c->r.back : 0;
	if (c->r.flags & RULE_KEYRUN) {
		size_t k = key_run_start(st->buf, end);

		if (k > start)
			start = k;
	} else if (c->r.flags & RULE_URL) {
		size_t k = url_start(st->buf, start, end);

		if (k > start)
			start = k;
	}
	if (start < st->ctx)
		start = st->ctx;
	if (start < st->covered[ri])
		start = st->covered[ri];
	run_regex(st, ri, start, end);
}

/* A Vectorscan pass over buf[base, ...) that keeps the hits ending in
 * (lo, hi]; Vectorscan reports them by end, so one past hi stops it. */
struct vs_pass {
	struct scan_stream *st;
	size_t base, lo, hi;
};

/* Vectorscan callbacks: a prefilter of a built-in rule, or a keyword. */
static int on_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		  void *ctx)
{
	struct vs_pass *v = ctx;
	size_t end = v->base + (size_t)to;

	(void)from;
	(void)flags;
	if (end > v->hi)
		return 1;
	if (end > v->lo)
		hit(v->st, id, end);
	return v->st->err ? 1 : 0;
}

/* The built-in prefilters over buf[from, to) (to < len: up to a few bytes
 * past hi, so that \b and $ at hi read what follows), hits in (lo, hi]. */
static void vs_scan(struct scan_stream *st, size_t from, size_t to, size_t lo, size_t hi)
{
	struct vs_pass v = { st, from, lo, hi };
	hs_error_t e = hs_scan(st->s->db, (const char *)st->buf + from, (unsigned int)(to - from), 0, st->scratch,
			       on_hit, &v);

	if (!st->err && e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
		st->err = -EIO;
}

/* The rules' prefilters over the window's new bytes: all of them here, or
 * up to mid here and the rest from the helper (helper.c). */
static void prefilter(struct scan_stream *st, struct scan_helper *h, size_t mid)
{
	const struct scan_vs_hit *hits;
	size_t i, n;
	int r;

	if (mid >= st->len) {
		vs_scan(st, st->ctx, st->len, 0, st->len);
		return;
	}
	vs_scan(st, st->ctx, mid + SCAN_SPLIT_PEEK, 0, mid);
	r = scan_helper_vs_wait(h, &hits, &n);
	if (r == 1) {
		if (!st->err)
			vs_scan(st, mid - SCAN_HOLD, st->len, mid, st->len);
		return;
	}
	if (r && !st->err)
		st->err = r;
	for (i = 0; i < n && !st->err; i++)
		hit(st, hits[i].id, hits[i].end);
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
	if (!(f = scan_add_fnd(st)))
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

void scan_rules_pass(struct scan_stream *st, struct scan_helper *h, size_t mid)
{
	const struct scan *s = st->s;
	size_t i;
	int r;

	if (st->len > st->ctx) {
		prefilter(st, h, mid);
		if (!st->err && s->db_kw &&
		    hs_scan(s->db_kw, (const char *)st->buf + st->ctx, (unsigned int)(st->len - st->ctx), 0,
			    st->scratch, on_keyword, st) != HS_SUCCESS && !st->err)
			st->err = -EIO;
	}
	for (i = 0; i < s->n_fullscan && !st->err; i++)
		run_regex(st, s->fullscan[i], st->ctx, PCRE2_UNSET);
	if (!st->err && s->known && (r = known_find(s->known, st->buf, st->ctx, st->len, on_known, st)))
		st->err = r;
}
