#ifndef SCAN_INTERNAL_H
#define SCAN_INTERNAL_H

/* Shared by the scan/ sources only. */

#include "scan/scan.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs.h>

/*
 * Sizes.  A rule may match at most SCAN_MAX_MATCH bytes (a PEM block is the
 * longest).  A stream keeps that much, plus a margin, unemitted until it
 * knows nothing in it continues past the end of the window; it keeps
 * SCAN_CTX emitted bytes in front for look-behind and context.
 */
#define SCAN_MAX_MATCH (64u << 10)
#define SCAN_HOLD (SCAN_MAX_MATCH + 4096u)
#define SCAN_WINDOW (512u << 10)
#define SCAN_WINDOW_2T (2048u << 10)	/* a stream on two threads (scan_stream_widen) */
#define SCAN_CTX 1024u
#define SCAN_ENTROPY_MAX 256u
#define SCAN_MAX_RULES 1024u

/* A match being judged by a rule's check: offsets into buf. */
struct rule_hit {
	const unsigned char *buf;
	size_t len;			/* the whole window */
	size_t m0, m1;			/* the whole match */
	size_t s0, s1;			/* the secret (what is redacted) */
	size_t k0, k1;			/* the key it is assigned to, or k0 == k1 */
	double conf;			/* the rule's confidence; a check may change it */
	const char *type;		/* the rule's type; a check may change it */
	const struct scan_options *opt;
	/* Decode escapes (%3D, \u0070, \x70, =3D) in p[0, n) and scan the
	 * text with every rule: 1 and *conf, *type of the best finding, or 0.
	 * Set by scan.c (rules.c links without it, for hsdb-gen). */
	int (*unescape_scan)(const struct scan *s, const unsigned char *p, size_t n, double *conf,
			     const char **type);
	const struct scan *s;
};

/* 1: keep the match, 0: it is not a secret (placeholder, reference...). */
typedef int rule_check_fn(struct rule_hit *h);

enum rule_flag {
	RULE_TOKEN = 1u << 0,		/* a self-delimiting token: may continue after a pause */
	RULE_GENERIC = 1u << 1,		/* min_length applies to the secret */
	RULE_MULTILINE = 1u << 2,	/* may span lines (PEM blocks) */
	/* KEY(...) SEP ...: its key is the run of key characters just before
	 * the separator its prefilter's match ends on, so the regex starts there */
	RULE_KEYRUN = 1u << 3,
	/* scheme://user:password@: its prefilter's match holds no '/' after
	 * its ://, so the regex starts at most SCHEME_MAX bytes before the last
	 * :// in front of the hit */
	RULE_URL = 1u << 4,
};
#define SCHEME_MAX 21u	/* [A-Za-z][A-Za-z0-9+.-]{1,20} */

struct rule {
	const char *id;
	const char *type;
	const char *desc;
	double confidence;
	const char *hs;			/* Vectorscan prefilter: every match ends within back bytes of its start */
	unsigned int hs_caseless;
	const char *re;			/* PCRE2; group "secret" is the span to redact (else the whole match) */
	unsigned int back;
	const char *const *markers;	/* public format markers, NULL-terminated, or NULL */
	unsigned int flags;
	rule_check_fn *check;
};

/* A rule ready to run. */
struct crule {
	struct rule r;
	pcre2_code *code;		/* a built-in rule's: NULL until scan_rule_ready (atomic) */
	uint32_t g_secret, g_key;	/* capture group numbers, 0 = none */
	int fullscan;			/* no prefilter: PCRE2 runs over every window */
	int builtin;
	int disabled;
	/* custom rules own their strings */
	char *own_id, *own_type, *own_desc, *own_re;
	char **keywords;
	size_t n_keywords;
};

struct known;

struct scan {
	struct scan_options opt;
	char *replacement;
	struct crule *rules;
	size_t n_rules, cap_rules;
	/* Vectorscan: the built-in prefilters (pattern i is rule i), embedded
	 * at build time or compiled; custom keywords in their own database,
	 * where pattern i reports for rule kw_rule[i] */
	hs_database_t *db;
	hs_database_t *db_kw;
	hs_scratch_t *scratch;		/* prototype, cloned per stream */
	unsigned int *kw_rule;
	size_t n_kw;
	int db_embedded;		/* 1 when the build-time database was used */
	size_t *fullscan;		/* rule indexes without a prefilter */
	size_t n_fullscan;
	/* allowlist */
	pcre2_code **allow_re;		/* against the secret */
	size_t n_allow_re;
	pcre2_code **allow_path;
	size_t n_allow_path;
	char **disabled_ids;
	size_t n_disabled;
	struct known *known;
	const char **prefixes;		/* token markers, for partial tokens at a pause */
	size_t n_prefixes;
	uint32_t max_groups;		/* capture groups of the rule that has most */
	pthread_mutex_t lazy_lock;	/* compiling a built-in rule on first use */
	int compiled;
};

/* A stream (scan.c), and the findings in its window. */
enum { F_TOKEN = 1, F_MULTI = 2, F_OPEN = 4, F_SILENT = 8 };
enum cont { CONT_NONE, CONT_TOKEN, CONT_PEM };

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

struct scan_helper;

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
	unsigned int threads;		/* scan_stream_set_threads */
	struct scan_helper *helper;	/* the entropy pass's thread, once started */
};
/* scan.c */
/* A new finding in st->f, zeroed: NULL and st->err set when out of memory. */
struct fnd *scan_add_fnd(struct scan_stream *st);
/* A window of cap bytes for st, its bytes kept; unchanged without the
 * locked memory for it. */
void scan_stream_widen(struct scan_stream *st, size_t cap);

/* hits.c: the rules' pass over the window's new bytes (prefilters, regexes,
 * checks, rules without a prefilter, known values): its findings in st->f,
 * errors in st->err.  With a helper and mid < st->len, the helper scans the
 * prefilters past mid (helper.c). */
void scan_rules_pass(struct scan_stream *st, struct scan_helper *h, size_t mid);

/* helper.c: the entropy pass of a window of SCAN_HELPER_MIN new bytes or
 * more on a second thread (scan_stream_set_threads).  get: the stream's
 * helper, started if need be, or NULL (run serially); post: hand out the
 * window's new bytes; finish (on the caller's thread, once the rules are
 * done, with skip set after an error): take what the helper has not, wait
 * for it, add its findings that no rule's finding overlaps. */
#define SCAN_HELPER_MIN (32u << 10)
/* A window of this many new bytes or more also has the second half of its
 * Vectorscan pass scanned by the helper (helper.c says how): post returns
 * where it begins (mid; st->len: not split), vs_wait gives its hits, or 1
 * when the helper has not begun it and the caller must scan it. */
#define SCAN_SPLIT_MIN (4 * SCAN_HOLD)
#define SCAN_SPLIT_PEEK 16u
struct scan_vs_hit {
	unsigned int id;
	size_t end;
};
struct scan_helper *scan_helper_get(struct scan_stream *st);
size_t scan_helper_post(struct scan_helper *h, const struct scan_stream *st, size_t minlen);
int scan_helper_vs_wait(struct scan_helper *h, const struct scan_vs_hit **hits, size_t *n);
int scan_helper_finish(struct scan_helper *h, struct scan_stream *st, int skip);
void scan_helper_free(struct scan_helper *h);		/* NULL-safe */

/* decode.c */
/* entropy_run_fn for a stream (arg): judge the token run buf[start, end)
 * by entropy, else decode it and scan the text; record what is found. */
int scan_on_run(void *arg, size_t start, size_t end);
/* rule_hit's unescape_scan. */
int scan_unescape_scan(const struct scan *s, const unsigned char *p, size_t n, double *conf,
		       const char **type);

/* rules.c */
extern const struct rule scan_builtin_rules[];
extern const size_t scan_builtin_count;
/* The most capture groups a built-in rule's regex has (hsdb.c). */
extern const uint32_t scan_builtin_groups;
/* A signature of the built-in prefilters and the Vectorscan version. */
uint64_t scan_builtin_sig(void);
/* scan/hsdb.c, generated at build time by scan/tools/hsdb-gen.c */
extern const uint64_t scan_hsdb_sig;
extern const size_t scan_hsdb_len;
extern const unsigned char scan_hsdb[];

/* rulefile.c */
int scan_rules_add(struct scan *s, const struct rule *r, int builtin, struct crule **out, char *err,
		   size_t errlen);
/* Compile c (a rule of s) if it is not yet: 0, or -ENOMEM.  Any thread. */
int scan_rule_ready(const struct scan *s, const struct crule *c);
int scan_allowed_secret(const struct scan *s, const unsigned char *p, size_t n,
			pcre2_match_data *md);

/* veto.c */
/* Shared value tests, also used by entropy.c. */
int scan_is_placeholder(const unsigned char *p, size_t n);
int scan_is_reference(const unsigned char *p, size_t n);
/* Value tests the rules' checks share. */
int scan_count_distinct(const unsigned char *p, size_t n);
/* How many of upper, lower, digit, other p has; each pointer may be NULL. */
int scan_char_classes(const unsigned char *p, size_t n, int *up, int *lo, int *dig, int *sym);
/* w is lower case: 1 when p holds it, in any case. */
int scan_lower_has(const unsigned char *p, size_t n, const char *w);
static inline int scan_lower_eq(const unsigned char *p, size_t n, const char *w)
{
	/* the first character before strlen: the veto lists compare every
	 * candidate value with some 150 words (a third of the time on code) */
	if (!n)
		return !*w;
	return (p[0] | 0x20) == ((unsigned char)w[0] | 0x20) && strlen(w) == n &&
	       !strncasecmp((const char *)p, w, n);
}

static inline int scan_is_quote(unsigned char c)
{
	return c == '"' || c == '\'' || c == '`';
}

/* A value in a secret's place.  The kind of key it is assigned to;
 * SCAN_KEY_LITERAL: the value cannot be an expression (a header, a URL) */
enum { SCAN_KEY_STRONG, SCAN_KEY_WEAK, SCAN_KEY_LITERAL, SCAN_KEY_CMDLINE };
/* SCAN_KEY_STRONG or SCAN_KEY_WEAK, by the key h->buf[k0, k1) */
int scan_key_kind(const struct rule_hit *h);
/* Extend an unquoted value h->buf[s0, s1) to the delimiter of its syntax. */
void scan_extend_value(struct rule_hit *h);
/* kind: SCAN_KEY_*.  1: keep, 0: vetoed. */
int scan_judge_value(struct rule_hit *h, int kind);
/* names: the thing's own name (password, secret, token) is a placeholder too */
int scan_value_is_placeholder(const unsigned char *v, size_t n, const struct scan_options *opt, int names);

/* entropy.c */
double entropy_shannon(const unsigned char *p, size_t n);
double entropy_expected(size_t n, unsigned int k);
/* Judge one candidate token buf[start, end) of buf[0, len): 0 and conf set
 * when it looks like a secret, else -1.  buf[line_start, start) is the line
 * in front of it (context). */
int entropy_judge(const unsigned char *buf, size_t len, size_t start, size_t end, size_t line_start,
		  const struct scan_options *opt, double *conf);
/* Call fn for every token run in buf[from, to) at least minlen long. */
typedef int entropy_run_fn(void *arg, size_t start, size_t end);
int entropy_runs(const unsigned char *buf, size_t from, size_t to, size_t minlen, entropy_run_fn *fn,
		 void *arg);
extern const unsigned char scan_tokchar[256];
/* 1 when every word of p reads as code or prose under the letter-pair
 * table (open_sesame, getPassword), 0 when one reads as random letters. */
int entropy_reads_as_words(const unsigned char *p, size_t n);

/* known.c */
int known_add(struct known **k, const void *value, size_t len, const char *label);
int known_compile(struct known *k);
void known_free(struct known *k);
typedef int known_hit_fn(void *arg, size_t start, size_t end, const char *label);
/* Every occurrence of a known value's form in buf[from, to) (a form may
 * begin before 'from' only if it ends after it). */
int known_find(const struct known *k, const unsigned char *buf, size_t from, size_t to,
	       known_hit_fn *fn, void *arg);

/* The value of a base64 digit in either alphabet (standard and URL-safe),
 * or -1. */
static inline int scan_b64_value(unsigned char c)
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

#endif
