#include "lib/compat.h"
#include "scan/scan.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
 *      and gives the exact span; a check rejects placeholders and references
 *      (1 and 2 are hits.c's, shared with helper.c on two threads);
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

enum mode { MODE_FULL, MODE_LINES, MODE_ALL, MODE_END };

/* ---- streams ---- */

/* The regex JIT's stack, one per thread, made on first use and freed when
 * the thread ends: a stream per file made and freed its own, an mmap and a
 * munmap of 1 MiB (and a TLB shootdown on every other CPU) per file.  NULL
 * only when there is no memory for it (PCRE2 then uses 32 KiB of the
 * thread's stack; a match that needs more fails and is counted). */
static pthread_key_t jit_key;
static pthread_once_t jit_once = PTHREAD_ONCE_INIT;
static int jit_key_ok;

static void jit_free(void *js)
{
	pcre2_jit_stack_free(js);
}

static void jit_key_make(void)
{
	jit_key_ok = pthread_key_create(&jit_key, jit_free) == 0;
}

static pcre2_jit_stack *thread_jit_stack(void *unused)
{
	pcre2_jit_stack *js;

	(void)unused;
	pthread_once(&jit_once, jit_key_make);
	if (!jit_key_ok)
		return NULL;
	if ((js = pthread_getspecific(jit_key)))
		return js;
	if ((js = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL)) && pthread_setspecific(jit_key, js) != 0) {
		pcre2_jit_stack_free(js);
		js = NULL;
	}
	return js;
}

/* A stream with a window of cap bytes: SCAN_WINDOW, or less for an input
 * known to be smaller (scan_buffer; the window is wiped when freed, so a
 * small hunk should not pay for 512 KiB). */
static int stream_new(const struct scan *s, scan_output_fn *out, scan_finding_fn *found, void *arg, size_t cap,
		      struct scan_stream **stp)
{
	struct scan_stream *st;
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
	st->cap = cap;
	st->threads = 1;
	st->line = 1;
	st->cont_idx = -1;
	/* the window is the only place input is kept: locked, or nothing */
	if (!(st->buf = secmem_alloc(st->cap)))
		goto out;
	st->md = pcre2_match_data_create(s->max_groups + 1, NULL);
	st->md_allow = pcre2_match_data_create(1, NULL);
	st->mc = pcre2_match_context_create(NULL);
	st->covered = calloc(s->n_rules + 1, sizeof(*st->covered));
	if (!st->md || !st->md_allow || !st->mc || !thread_jit_stack(NULL) || !st->covered ||
	    hs_clone_scratch(s->scratch, &st->scratch) != HS_SUCCESS)
		goto out;
	pcre2_jit_stack_assign(st->mc, thread_jit_stack, NULL);
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

int scan_stream_new(const struct scan *s, scan_output_fn *out, scan_finding_fn *found, void *arg,
		    struct scan_stream **stp)
{
	return stream_new(s, out, found, arg, SCAN_WINDOW, stp);
}

/* Two threads share a window's work, and each window re-reads the
 * SCAN_HOLD bytes held back from the last: a larger one (SCAN_WINDOW_2T)
 * re-reads less and splits better.  Without the locked memory for it, the
 * stream keeps its window. */
void scan_stream_widen(struct scan_stream *st, size_t cap)
{
	unsigned char *nb;

	if (st->cap >= cap || !(nb = secmem_alloc(cap)))
		return;
	memcpy(nb, st->buf, st->len);
	secmem_free(st->buf);	/* wipes */
	st->buf = nb;
	st->cap = cap;
}

void scan_stream_free(struct scan_stream *st)
{
	if (!st)
		return;
	if (st->match_errors)
		log_debug("scan: %llu regex matches stopped at their limits",
			  (unsigned long long)st->match_errors);
	scan_helper_free(st->helper);	/* before the window it reads goes */
	secmem_free(st->buf);		/* wipes */
	hs_free_scratch(st->scratch);
	pcre2_match_data_free(st->md);
	pcre2_match_data_free(st->md_allow);
	pcre2_match_context_free(st->mc);
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

struct fnd *scan_add_fnd(struct scan_stream *st)
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
	if (e <= st->ctx || !(f = scan_add_fnd(st)))
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
	struct scan_helper *h = NULL;
	size_t minlen, mid = st->len;
	int r;

	st->nf = 0;
	st->err = 0;
	memset(st->covered, 0, s->n_rules * sizeof(*st->covered));
	minlen = s->opt.min_length < 12 ? 12 : s->opt.min_length;
	if (minlen > 16)
		minlen = 16;	/* decoding looks at runs of 16 and more */
	if (st->threads > 1 && st->len - st->ctx >= SCAN_HELPER_MIN && (h = scan_helper_get(st)))
		mid = scan_helper_post(h, st, minlen);
	if (st->cont != CONT_NONE)
		continuation(st);
	scan_rules_pass(st, h, mid);
	if (!st->err && (r = build_intervals(st)))
		st->err = r;
	/* the helper reads the window: done with it before any way out */
	r = h ? scan_helper_finish(h, st, st->err != 0) : 0;
	if (st->err)
		return st->err;
	if (r)
		return r;
	if (!h && (r = entropy_runs(st->buf, st->ctx, st->len, minlen, scan_on_run, st)))
		return r;
	if (st->nf)
		qsort(st->f, st->nf, sizeof(*st->f), by_start);
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
	if (!(f = scan_add_fnd(st)))
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

/* The newlines in p[0, n): 16 bytes at a time, not a memchr per line. */
static uint64_t count_newlines(const unsigned char *p, size_t n)
{
	uint64_t c = 0;
	size_t i = 0;

#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();

	/* per byte lane, up to 255 blocks: each match subtracts -1 */
	while (i + 16 <= n) {
		__m128i acc = zero;
		size_t k;

		for (k = 0; k < 255 && i + 16 <= n; k++, i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)),
							      nl));
		acc = _mm_sad_epu8(acc, zero);
		c += (uint64_t)_mm_cvtsi128_si32(acc) + (uint64_t)_mm_extract_epi16(acc, 4);
	}
#endif
	for (; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Line and column of buf[to], moving the stream's position there. */
static void advance(struct scan_stream *st, size_t *pos, size_t to)
{
	const unsigned char *p = st->buf + *pos, *nl;
	size_t n = to - *pos;
	uint64_t lines = count_newlines(p, n);

	if (lines) {
		nl = memrchr(p, '\n', n);
		st->line += lines;
		st->col = (uint64_t)(p + n - (nl + 1));
	} else {
		st->col += n;
	}
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
		unsigned char *w;
		size_t k;

		if ((r = scan_stream_room(st, &w)) < 0)
			return (int)r;
		k = len < (size_t)r ? len : (size_t)r;
		memcpy(w, p, k);
		st->len += k;
		st->st.bytes_in += k;
		p += k;
		len -= k;
	}
	return 0;
}

long scan_stream_room(struct scan_stream *st, unsigned char **p)
{
	long r;

	if (st->len == st->cap && (r = process(st, MODE_FULL)) < 0)
		return r;
	if (st->len == st->cap)
		return -EIO;	/* cannot happen: a full process always commits */
	*p = st->buf + st->len;
	return (long)(st->cap - st->len);
}

int scan_stream_commit(struct scan_stream *st, size_t n)
{
	if (n > st->cap - st->len)
		return -EINVAL;
	st->len += n;
	st->st.bytes_in += n;
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

	size_t cap = len + 1 < SCAN_WINDOW ? (len + 4096) & ~(size_t)4095 : SCAN_WINDOW;

	if ((r = stream_new(s, out, found, arg, cap, &st)))
		return (int)r;
	r = scan_stream_write(st, data, len);
	if (!r)
		r = scan_stream_flush(st, SCAN_FLUSH_END);
	scan_stream_free(st);
	return r < 0 ? (int)r : 0;
}
