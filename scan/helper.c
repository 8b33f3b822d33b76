#include "lib/compat.h"
#include "scan/scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scan/scan-internal.h"

/*
 * A stream's entropy pass on a second thread.
 *
 * The rules (Vectorscan, PCRE2, checks) and the entropy pass (token runs
 * judged by entropy, or decoded and scanned) read the same window and
 * write only their own findings, so with scan_stream_set_threads(st, 2) a
 * helper thread starts on the entropy pass while the caller's thread runs
 * the rules.  The pass is cut into chunks at newlines (no token run crosses
 * one), and whichever thread is free takes the next chunk: the caller's
 * thread joins in when its rules are done, so a helper that the scheduler
 * keeps waiting (a loaded machine) costs at most the chunk it holds, never
 * the whole pass.
 *
 * Serially, a run that overlaps a rule's finding is skipped.  The caller's
 * thread still skips them (the rules are done when it takes a chunk); the
 * helper judges every run, and its findings over a rule's span are dropped
 * at the end: the same findings either way (each finding of the pass spans
 * exactly its run).  The helper works on a shadow of the stream: its own
 * findings, its own allowlist match data, no intervals. */
#define HELPER_CHUNK (32u << 10)
#define HELPER_CHUNKS 64

/*
 * The rules' Vectorscan pass is the longest part of the caller's share, so
 * a window of SCAN_SPLIT_MIN new bytes or more is cut in two at mid: the
 * caller scans [ctx, mid], and the helper, before its chunks, scans the
 * rest from mid - SCAN_HOLD and records the hits that end after mid.  A
 * prefilter matches within its rule's match, and no rule matches more than
 * SCAN_MAX_MATCH < SCAN_HOLD bytes, so every hit that can lead to a finding
 * is seen whole by one of the two scans.  The caller then replays the
 * helper's hits after its own: the rules see the same hits, in the same
 * order (by end), as one pass over the window.  If the helper has not begun
 * its half when the caller needs it (a loaded machine), the caller scans it.
 */
enum vs_state { VS_NONE, VS_POSTED, VS_RUNNING, VS_DONE };

struct scan_helper {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work;		/* a new generation, or quit */
	pthread_cond_t idle;		/* busy went to 0 */
	uint64_t gen;
	int quit;
	/* chunk i is [bounds[i], bounds[i + 1]); the next to take is next */
	size_t bounds[HELPER_CHUNKS + 1], n, next;
	unsigned int busy;		/* chunks the helper is working on */
	struct scan_stream sh;		/* the shadow: buf, len, ctx, s; its own f */
	struct scan_stream msh;		/* the caller's, for chunks it takes before its rules are done */
	size_t minlen;
	int r, mr;
	/* the second half of the Vectorscan pass */
	enum vs_state vs;
	size_t vs_from, vs_mid;
	hs_scratch_t *scratch;
	struct scan_vs_hit *hits;
	size_t nhits, caphits;
	int vs_err;
};

static int on_vs_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		     void *arg)
{
	struct scan_helper *h = arg;
	size_t end = h->vs_from + (size_t)to;

	(void)from;
	(void)flags;
	if (end <= h->vs_mid)
		return 0;
	if (h->nhits == h->caphits) {
		size_t cap = h->caphits ? 2 * h->caphits : 256;
		struct scan_vs_hit *n = realloc(h->hits, cap * sizeof(*n));

		if (!n) {
			h->vs_err = -ENOMEM;
			return 1;
		}
		h->hits = n;
		h->caphits = cap;
	}
	h->hits[h->nhits].id = id;
	h->hits[h->nhits++].end = end;
	return 0;
}

/* The helper's half: its hits in h->hits, or h->vs_err. */
static void vs_half(struct scan_helper *h)
{
	hs_error_t e;

	h->nhits = 0;
	h->vs_err = 0;
	e = hs_scan(h->sh.s->db, (const char *)h->sh.buf + h->vs_from, (unsigned int)(h->sh.len - h->vs_from), 0,
		    h->scratch, on_vs_hit, h);
	if (!h->vs_err && e != HS_SUCCESS)
		h->vs_err = -EIO;
}

static void *helper_main(void *arg)
{
	struct scan_helper *h = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->quit && h->gen == seen)
			pthread_cond_wait(&h->work, &h->mu);
		if (h->quit)
			break;
		seen = h->gen;
		if (h->vs == VS_POSTED) {
			h->vs = VS_RUNNING;
			pthread_mutex_unlock(&h->mu);
			vs_half(h);
			pthread_mutex_lock(&h->mu);
			h->vs = VS_DONE;
			pthread_cond_broadcast(&h->idle);
		}
		while (h->next < h->n) {
			size_t i = h->next++;
			int r;

			h->busy++;
			pthread_mutex_unlock(&h->mu);
			r = entropy_runs(h->sh.buf, h->bounds[i], h->bounds[i + 1], h->minlen, scan_on_run, &h->sh);
			pthread_mutex_lock(&h->mu);
			if (!r)
				r = h->sh.err;
			if (r && !h->r)
				h->r = r;
			if (!--h->busy)
				pthread_cond_broadcast(&h->idle);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

void scan_helper_free(struct scan_helper *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = 1;
	pthread_cond_broadcast(&h->work);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->idle);
	pcre2_match_data_free(h->sh.md_allow);
	pcre2_match_data_free(h->msh.md_allow);
	hs_free_scratch(h->scratch);
	free(h->hits);
	free(h->sh.f);
	free(h->msh.f);
	free(h);
}

/* The stream's helper, started now if it is not yet; NULL: run serially. */
struct scan_helper *scan_helper_get(struct scan_stream *st)
{
	struct scan_helper *h;

	if (st->helper || st->threads < 2)
		return st->helper;
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->idle, NULL);
	h->sh.s = h->msh.s = st->s;
	if (!(h->sh.md_allow = pcre2_match_data_create(1, NULL)) ||
	    !(h->msh.md_allow = pcre2_match_data_create(1, NULL)) ||
	    hs_clone_scratch(st->s->scratch, &h->scratch) != HS_SUCCESS ||
	    pthread_create(&h->th, NULL, helper_main, h) != 0) {
		pcre2_match_data_free(h->sh.md_allow);
		pcre2_match_data_free(h->msh.md_allow);
		hs_free_scratch(h->scratch);
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->work);
		pthread_cond_destroy(&h->idle);
		free(h);
		st->threads = 1;	/* no second thread to be had: serially from now on */
		return NULL;
	}
	return st->helper = h;
}

/* Cut the window's new bytes into chunks and hand them out, with the
 * second half of the Vectorscan pass when the window is large enough.  The
 * helper is idle here (busy is 0 and vs is not running since the last
 * helper_finish).  Returns mid, or st->len when the caller scans it all. */
size_t scan_helper_post(struct scan_helper *h, const struct scan_stream *st, size_t minlen)
{
	size_t chunk = (st->len - st->ctx) / HELPER_CHUNKS + 1, at = st->ctx, n = 0, mid = st->len;
	const unsigned char *nl;

	if (chunk < HELPER_CHUNK)
		chunk = HELPER_CHUNK;
	pthread_mutex_lock(&h->mu);
	h->bounds[n++] = at;
	while (n < HELPER_CHUNKS && at + chunk < st->len &&
	       (nl = memchr(st->buf + at + chunk, '\n', st->len - at - chunk))) {
		at = (size_t)(nl - st->buf);	/* a newline: no run crosses it */
		h->bounds[n++] = at;
	}
	h->bounds[n] = st->len;
	h->n = n;
	h->next = 0;
	h->sh.buf = st->buf;
	h->sh.len = st->len;
	h->sh.ctx = st->ctx;
	h->sh.nf = 0;
	h->sh.err = 0;
	h->msh.buf = st->buf;
	h->msh.len = st->len;
	h->msh.ctx = st->ctx;
	h->msh.nf = 0;
	h->msh.err = 0;
	h->r = h->mr = 0;
	h->minlen = minlen;
	h->vs = VS_NONE;
	if (st->len - st->ctx >= SCAN_SPLIT_MIN) {
		mid = st->ctx + (st->len - st->ctx) / 2;
		h->vs_mid = mid;
		h->vs_from = mid - SCAN_HOLD;
		h->vs = VS_POSTED;
	}
	h->gen++;
	pthread_cond_broadcast(&h->work);
	pthread_mutex_unlock(&h->mu);
	return mid;
}

/* On the caller's thread, after its half: 1 when the helper has not begun
 * the second half (the caller scans it now), else 0 once the helper's hits
 * are in *hits, or the error that stopped it.  While the helper is still
 * on it, the caller takes chunks of the entropy pass, as the helper does
 * them: into a shadow of its own (the rules' findings are not all known
 * yet), filtered at the join like the helper's. */
int scan_helper_vs_wait(struct scan_helper *h, const struct scan_vs_hit **hits, size_t *n)
{
	int r;

	pthread_mutex_lock(&h->mu);
	if (h->vs == VS_POSTED) {
		h->vs = VS_NONE;
		pthread_mutex_unlock(&h->mu);
		return 1;
	}
	while (h->vs == VS_RUNNING && h->next < h->n && !h->mr) {
		size_t c = h->next++;

		pthread_mutex_unlock(&h->mu);
		r = entropy_runs(h->msh.buf, h->bounds[c], h->bounds[c + 1], h->minlen, scan_on_run, &h->msh);
		pthread_mutex_lock(&h->mu);
		h->mr = r ? r : h->msh.err;
	}
	while (h->vs == VS_RUNNING)
		pthread_cond_wait(&h->idle, &h->mu);
	r = h->vs_err;
	*hits = h->hits;
	*n = h->nhits;
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* A shadow's findings that no rule's finding overlaps, into st. */
static int add_unshadowed(struct scan_stream *st, const struct scan_stream *sh)
{
	size_t i, k = 0;
	struct fnd *f;

	for (i = 0; i < sh->nf; i++) {
		const struct fnd *g = &sh->f[i];

		/* the intervals are sorted; the shadow's findings, chunk by chunk */
		if (k && st->ivl[2 * (k - 1) + 1] > g->s0)
			k = 0;
		while (k < st->nivl && st->ivl[2 * k + 1] <= g->s0)
			k++;
		if (k < st->nivl && st->ivl[2 * k] < g->s1)
			continue;
		if (!(f = scan_add_fnd(st)))
			return st->err;
		*f = *g;
	}
	return 0;
}

/* On the caller's thread: take the chunks the helper has not (none when
 * skip, after an error), wait for the ones it holds, then add its findings
 * and the caller's shadow's that no rule's finding overlaps. */
int scan_helper_finish(struct scan_helper *h, struct scan_stream *st, int skip)
{
	int r = 0;

	pthread_mutex_lock(&h->mu);
	while (h->next < h->n) {
		size_t c = h->next++;

		if (skip || r)
			continue;
		pthread_mutex_unlock(&h->mu);
		r = entropy_runs(st->buf, h->bounds[c], h->bounds[c + 1], h->minlen, scan_on_run, st);
		pthread_mutex_lock(&h->mu);
	}
	if (h->vs == VS_POSTED)
		h->vs = VS_NONE;
	while (h->busy || h->vs == VS_RUNNING)
		pthread_cond_wait(&h->idle, &h->mu);
	if (!r)
		r = h->r;
	if (!r)
		r = h->mr;
	pthread_mutex_unlock(&h->mu);
	if (r || skip)
		return r;
	if ((r = add_unshadowed(st, &h->sh)))
		return r;
	return add_unshadowed(st, &h->msh);
}

int scan_stream_set_threads(struct scan_stream *st, unsigned int n)
{
	if (n < 1 || n > 2)
		return -EINVAL;
	st->threads = n;
	if (n == 2)
		scan_stream_widen(st, SCAN_WINDOW_2T);
	return 0;
}
