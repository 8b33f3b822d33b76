#include "lib/compat.h"
#include "backends/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend-internal.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * The cache in front of any backend (backend.h, DESIGN.md "Freshness and
 * outages"):
 *
 *  - single flight: a get of a key that is already being fetched waits for
 *    that fetch and shares its result (always on, also with both durations
 *    0: concurrent opens of a key cost one request);
 *  - cache_ttl: a value younger than this is served without a fetch;
 *  - stale_if_error: when a fetch fails because the store is unavailable or
 *    timed out, a value younger than this is served instead.  Not found,
 *    denied and tampered are answers, not outages: they are never papered
 *    over with an old value.
 *
 * Every value (in the table and in a flight) is a secbuf, so it is locked
 * and wiped when dropped.  Entries older than both durations are dropped by
 * a sweep that runs at most once a second, on the next get.  One mutex
 * guards the table; fetches run without it.
 */

#define NBUCKETS 256
#define SWEEP_EVERY_MS 1000u
#define STALE_LOG_EVERY_MS 10000u

struct flight {
	unsigned int refs;		/* the leader and every waiter */
	int done;
	int rc;
	struct secbuf *value;		/* on success, until the last reference goes */
	struct why why;
	int detached;			/* forgotten: do not store the result */
	pthread_cond_t cond;
};

struct entry {
	char *key;
	struct secbuf *value;		/* last good value, NULL = none */
	uint64_t at;			/* when value was fetched */
	uint64_t stale_logged;
	struct flight *flight;		/* fetch in progress, NULL = none */
	struct entry *next;
};

struct cache_backend {
	struct backend base;
	struct backend *inner;
	uint64_t ttl, stale;
	pthread_mutex_t lock;
	struct entry *buckets[NBUCKETS];
	uint64_t last_sweep;
};

enum slot { S_ERR, S_HIT, S_LEAD, S_WAIT };

static struct cache_backend *cache_downcast(struct backend *be)
{
	return (struct cache_backend *)be;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t bucket_of(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % NBUCKETS;
}

static struct entry *find(struct cache_backend *cb, const char *key)
{
	struct entry *e;

	for (e = cb->buckets[bucket_of(key)]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static struct entry *find_or_add(struct cache_backend *cb, const char *key)
{
	struct entry *e = find(cb, key);
	size_t b;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	b = bucket_of(key);
	e->next = cb->buckets[b];
	cb->buckets[b] = e;
	return e;
}

static void entry_free(struct entry *e)
{
	secbuf_free(e->value);
	free(e->key);
	free(e);
}

/* A reason's text, not its 2 KiB. */
static void why_copy(struct why *to, const struct why *from)
{
	memcpy(to->msg, from->msg, strnlen(from->msg, sizeof(from->msg) - 1) + 1);
	to->msg[sizeof(to->msg) - 1] = 0;
}

static void flight_put(struct flight *f)
{
	if (--f->refs)
		return;
	secbuf_free(f->value);
	pthread_cond_destroy(&f->cond);
	free(f);
}

/* Drop values too old to serve and entries that hold nothing. */
static void sweep(struct cache_backend *cb, uint64_t now, int force)
{
	uint64_t keep = cb->ttl > cb->stale ? cb->ttl : cb->stale;
	struct entry **pp, *e;
	size_t b;

	if (!force && now - cb->last_sweep < SWEEP_EVERY_MS)
		return;
	cb->last_sweep = now;
	for (b = 0; b < NBUCKETS; b++) {
		for (pp = &cb->buckets[b]; (e = *pp);) {
			if (e->value && now - e->at >= keep) {
				secbuf_free(e->value);
				e->value = NULL;
			}
			if (!e->value && !e->flight) {
				*pp = e->next;
				entry_free(e);
				continue;
			}
			pp = &e->next;
		}
	}
}

/* key without "#field", "@N" or "?version=N": what forget() matches on. */
static char *path_of(const char *key)
{
	char *p = strdup(key), *s;
	size_t i;

	if (!p)
		return NULL;
	if ((s = strchr(p, '#')))
		*s = 0;
	if ((s = strstr(p, "?version=")))
		*s = 0;
	if ((s = strrchr(p, '@')) && s[1]) {
		for (i = 1; s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (!s[i])
			*s = 0;
	}
	return p;
}

static int is_outage(int rc)
{
	return rc == -BACKEND_EUNAVAIL || rc == -BACKEND_ETIMEDOUT;
}

/* The outcome of a finished flight for one caller (lock held). */
static int take_result(struct cache_backend *cb, const char *key, struct flight *f, uint64_t now,
		       struct secbuf **out, struct why *why)
{
	struct entry *e;
	size_t len;

	if (!f->rc) {
		const unsigned char *d;

		if (f->refs == 1) {	/* the last taker gets the flight's own copy */
			*out = f->value;
			f->value = NULL;
			return 0;
		}
		d = secbuf_data(f->value, &len);
		if (!(*out = secbuf_dup(d, len)))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		return 0;
	}
	if (why)
		why_copy(why, &f->why);
	e = is_outage(f->rc) && cb->stale ? find(cb, key) : NULL;
	if (!e || !e->value || now - e->at >= cb->stale)
		return f->rc;
	if (now - e->stale_logged >= STALE_LOG_EVERY_MS || !e->stale_logged) {
		e->stale_logged = now;
		log_info("serving '%s' as fetched %llu s ago (stale_if_error): %s", key,
			 (unsigned long long)((now - e->at) / 1000), f->why.msg);
	}
	{
		const unsigned char *d = secbuf_data(e->value, &len);

		if (!(*out = secbuf_dup(d, len)))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	}
	return 0;
}

static int cache_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
			  int *rcs, struct why *whys)
{
	struct cache_backend *cb = cache_downcast(be);
	enum slot *slot;

	/* A store that answers from memory, with nothing to keep: no fetch
	 * to share and no value to remember, so straight through. */
	if (!cb->ttl && !cb->stale && (backend_caps(cb->inner) & BACKEND_INSTANT)) {
		backend_get_many(cb->inner, n, keys, outs, rcs, whys);
		return 0;
	}
	slot = calloc(n + 1, sizeof(*slot));
	struct flight **fl = calloc(n + 1, sizeof(*fl));
	const char **lkeys = calloc(n + 1, sizeof(*lkeys));
	size_t *lidx = calloc(n + 1, sizeof(*lidx));
	struct secbuf **louts = calloc(n + 1, sizeof(*louts));
	int *lrcs = calloc(n + 1, sizeof(*lrcs));
	/* Not zeroed: a struct why is 2 KiB, and backend_get_many() clears
	 * each reason it hands on; on the open path the zeroing cost more
	 * than the fetch. */
	struct why *lwhys = malloc((n + 1) * sizeof(*lwhys));
	uint64_t now = now_ms();
	size_t i, j, nlead = 0, len;

#define W(i) (whys ? &whys[i] : NULL)
	if (!slot || !fl || !lkeys || !lidx || !louts || !lrcs || !lwhys) {
		for (i = 0; i < n; i++)
			rcs[i] = -BACKEND_ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&cb->lock);
	sweep(cb, now, 0);
	for (i = 0; i < n; i++) {
		struct entry *e = find_or_add(cb, keys[i]);
		struct flight *f;

		if (!e) {
			slot[i] = S_ERR;
			rcs[i] = -BACKEND_ENOMEM;
			continue;
		}
		if (e->value && cb->ttl && now - e->at < cb->ttl) {
			const unsigned char *d = secbuf_data(e->value, &len);

			slot[i] = S_HIT;
			if (!(outs[i] = secbuf_dup(d, len)))
				rcs[i] = -BACKEND_ENOMEM;
			continue;
		}
		if (e->flight) {
			slot[i] = S_WAIT;
			fl[i] = e->flight;
			fl[i]->refs++;
			continue;
		}
		f = malloc(sizeof(*f));
		if (!f) {
			slot[i] = S_ERR;
			rcs[i] = -BACKEND_ENOMEM;
			continue;
		}
		pthread_cond_init(&f->cond, NULL);
		f->refs = 1;
		f->done = f->rc = f->detached = 0;
		f->value = NULL;
		f->why.msg[0] = 0;
		e->flight = f;
		fl[i] = f;
		slot[i] = S_LEAD;
		lkeys[nlead] = keys[i];
		lidx[nlead++] = i;
	}
	pthread_mutex_unlock(&cb->lock);

	if (nlead)
		backend_get_many(cb->inner, nlead, lkeys, louts, lrcs, lwhys);

	pthread_mutex_lock(&cb->lock);
	now = now_ms();
	for (j = 0; j < nlead; j++) {
		struct flight *f = fl[lidx[j]];
		struct entry *e = f->detached ? NULL : find(cb, lkeys[j]);

		f->rc = lrcs[j];
		why_copy(&f->why, &lwhys[j]);
		f->value = louts[j];
		louts[j] = NULL;
		if (e && e->flight == f)
			e->flight = NULL;
		if (e && !f->rc && (cb->ttl || cb->stale)) {
			const unsigned char *d = secbuf_data(f->value, &len);
			struct secbuf *keep = secbuf_dup(d, len);

			if (keep) {	/* no room: keep the older value rather than none */
				secbuf_free(e->value);
				e->value = keep;
				e->at = now;
				e->stale_logged = 0;
			}
		}
		f->done = 1;
		pthread_cond_broadcast(&f->cond);
	}
	for (i = 0; i < n; i++) {
		struct flight *f = fl[i];

		if (slot[i] != S_LEAD && slot[i] != S_WAIT)
			continue;
		while (!f->done)
			pthread_cond_wait(&f->cond, &cb->lock);
		rcs[i] = take_result(cb, keys[i], f, now_ms(), &outs[i], W(i));
		flight_put(f);
	}
	if (!cb->ttl && !cb->stale)
		sweep(cb, now, 1);	/* keep nothing between fetches */
	pthread_mutex_unlock(&cb->lock);
out:
	for (j = 0; louts && j < nlead; j++)
		secbuf_free(louts[j]);
	free(slot);
	free(fl);
	free(lkeys);
	free(lidx);
	free(louts);
	free(lrcs);
	free(lwhys);
	return 0;
#undef W
}

/* Keys whose value is per scope (Vault leases) pass through to the store
 * with their scope, never cached or shared; the rest as cache_get_many(). */
static int cache_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			      struct secbuf **outs, int *rcs, struct why *whys)
{
	struct cache_backend *cb = cache_downcast(be);
	const char **sk = NULL, **ck = NULL;
	struct secbuf **so = NULL, **co = NULL;
	int *sr = NULL, *cr = NULL;
	struct why *sw = NULL, *cw = NULL;
	size_t *si = NULL, *ci = NULL, ns = 0, nc = 0, i;

	for (i = 0; i < n && !backend_scoped(cb->inner, keys[i]); i++)
		;
	if (i == n)
		return cache_get_many(be, n, keys, outs, rcs, whys);
	sk = calloc(n + 1, sizeof(*sk));
	ck = calloc(n + 1, sizeof(*ck));
	so = calloc(n + 1, sizeof(*so));
	co = calloc(n + 1, sizeof(*co));
	sr = calloc(n + 1, sizeof(*sr));
	cr = calloc(n + 1, sizeof(*cr));
	sw = calloc(n + 1, sizeof(*sw));
	cw = calloc(n + 1, sizeof(*cw));
	si = calloc(n + 1, sizeof(*si));
	ci = calloc(n + 1, sizeof(*ci));
	if (!sk || !ck || !so || !co || !sr || !cr || !sw || !cw || !si || !ci) {
		for (i = 0; i < n; i++)
			rcs[i] = -BACKEND_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (backend_scoped(cb->inner, keys[i])) {
			sk[ns] = keys[i];
			si[ns++] = i;
		} else {
			ck[nc] = keys[i];
			ci[nc++] = i;
		}
	}
	backend_get_many_for(cb->inner, scope, ns, sk, so, sr, sw);
	if (nc)
		cache_get_many(be, nc, ck, co, cr, cw);
	for (i = 0; i < ns; i++) {
		outs[si[i]] = so[i];
		rcs[si[i]] = sr[i];
		if (whys)
			whys[si[i]] = sw[i];
	}
	for (i = 0; i < nc; i++) {
		outs[ci[i]] = co[i];
		rcs[ci[i]] = cr[i];
		if (whys)
			whys[ci[i]] = cw[i];
	}
out:
	free(sk);
	free(ck);
	free(so);
	free(co);
	free(sr);
	free(cr);
	free(sw);
	free(cw);
	free(si);
	free(ci);
	return 0;
}

/* From memory alone (backend_try_get_many_for): the values held fresh
 * (younger than cache_ttl) here, the rest (scoped keys, misses, entries
 * past cache_ttl) from what the store itself holds, or would block.  What
 * the store answers this way is not stored: it holds it already.  A key
 * being fetched is not waited for. */
static int cache_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
				  struct secbuf **outs, int *rcs, struct why *whys)
{
	struct cache_backend *cb = cache_downcast(be);
	const char **rk = NULL;
	struct secbuf **ro = NULL;
	int *rr = NULL, r = 0;
	struct why *rw = NULL;
	size_t *ri = NULL, nr = 0, i, len;
	uint64_t now;

	/* An instant store behind: nothing here can block. */
	if (backend_caps(cb->inner) & BACKEND_INSTANT)
		return cache_get_many_for(be, scope, n, keys, outs, rcs, whys);
	rk = calloc(n + 1, sizeof(*rk));
	ro = calloc(n + 1, sizeof(*ro));
	rr = calloc(n + 1, sizeof(*rr));
	ri = calloc(n + 1, sizeof(*ri));
	/* Not zeroed (2 KiB each): backend_try_get_many_for() clears them. */
	rw = whys ? malloc((n + 1) * sizeof(*rw)) : NULL;
	if (!rk || !ro || !rr || !ri || (whys && !rw)) {
		r = -BACKEND_EWOULDBLOCK;	/* the ordinary fetch says what is wrong */
		goto out;
	}
	now = now_ms();
	pthread_mutex_lock(&cb->lock);
	for (i = 0; i < n; i++) {
		struct entry *e = cb->ttl && !backend_scoped(cb->inner, keys[i]) ? find(cb, keys[i]) : NULL;

		if (e && e->value && now - e->at < cb->ttl) {
			const unsigned char *d = secbuf_data(e->value, &len);

			if (!(outs[i] = secbuf_dup(d, len)))
				rcs[i] = why_fail(whys ? &whys[i] : NULL, -BACKEND_ENOMEM, "locked memory exhausted");
			continue;
		}
		rk[nr] = keys[i];
		ri[nr++] = i;
	}
	pthread_mutex_unlock(&cb->lock);
	if (nr && (r = backend_try_get_many_for(cb->inner, scope, nr, rk, ro, rr, rw)) == -BACKEND_EWOULDBLOCK)
		goto out;
	r = 0;
	/* What the store held is what a fetch would have brought: kept as
	 * one, for cache_ttl and stale_if_error. */
	if (cb->ttl || cb->stale) {
		pthread_mutex_lock(&cb->lock);
		now = now_ms();
		for (i = 0; i < nr; i++) {
			struct entry *e;
			struct secbuf *keep;
			const unsigned char *d;

			if (rr[i] || backend_scoped(cb->inner, rk[i]) || !(e = find_or_add(cb, rk[i])) || e->flight)
				continue;
			d = secbuf_data(ro[i], &len);
			if ((keep = secbuf_dup(d, len))) {
				secbuf_free(e->value);
				e->value = keep;
				e->at = now;
				e->stale_logged = 0;
			}
		}
		pthread_mutex_unlock(&cb->lock);
	}
	for (i = 0; i < nr; i++) {
		outs[ri[i]] = ro[i];
		ro[i] = NULL;
		rcs[ri[i]] = rr[i];
		if (whys)
			why_copy(&whys[ri[i]], &rw[i]);
	}
out:
	for (i = 0; ro && i < nr; i++)
		secbuf_free(ro[i]);
	free(rk);
	free(ro);
	free(rr);
	free(ri);
	free(rw);
	return r;
}

static int cache_scoped(struct backend *be, const char *key)
{
	return backend_scoped(cache_downcast(be)->inner, key);
}

static void cache_adopt(struct backend *be, backend_named_fn *named, void *arg)
{
	backend_adopt(cache_downcast(be)->inner, named, arg);
}

static void cache_leases(struct backend *be, backend_lease_fn *fn, void *arg)
{
	backend_leases(cache_downcast(be)->inner, fn, arg);
}

static void cache_set_hooks(struct backend *be, const struct backend_hooks *hooks)
{
	backend_set_hooks(cache_downcast(be)->inner, hooks);
}

static int cache_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	int rc = 0;

	cache_get_many_for(be, NULL, 1, &key, out, &rc, why);
	return rc;
}

static void cache_forget(struct backend *be, const char *key)
{
	struct cache_backend *cb = cache_downcast(be);
	char *want = key ? path_of(key) : NULL;
	struct entry **pp, *e;
	size_t b;

	if (key && !want) {	/* out of memory: forgetting too much is safe */
		key = NULL;
	}
	pthread_mutex_lock(&cb->lock);
	for (b = 0; b < NBUCKETS; b++) {
		for (pp = &cb->buckets[b]; (e = *pp);) {
			char *p = key ? path_of(e->key) : NULL;
			int match = !key || !p || !strcmp(p, want);

			free(p);
			if (!match) {
				pp = &e->next;
				continue;
			}
			if (e->flight) {
				e->flight->detached = 1;
				e->flight = NULL;
			}
			*pp = e->next;
			entry_free(e);
		}
	}
	pthread_mutex_unlock(&cb->lock);
	free(want);
	backend_forget(cb->inner, key);
}

static int cache_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		      struct why *why)
{
	return backend_list(cache_downcast(be)->inner, prefix, fn, arg, why);
}

static int cache_set(struct backend *be, const char *key, const void *value, size_t len,
		     struct why *why)
{
	int r = backend_set(cache_downcast(be)->inner, key, value, len, why);

	cache_forget(be, key);
	return r;
}

static int cache_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
			    const void *const *values, const size_t *lens, struct why *why)
{
	int r = backend_set_fields(cache_downcast(be)->inner, key, n, fields, values, lens, why);

	cache_forget(be, key);
	return r;
}

static int cache_del(struct backend *be, const char *key, struct why *why)
{
	int r = backend_delete(cache_downcast(be)->inner, key, why);

	cache_forget(be, key);
	return r;
}

static int cache_purge(struct backend *be, const char *key, struct why *why)
{
	int r = backend_purge(cache_downcast(be)->inner, key, why);

	cache_forget(be, key);
	return r;
}

static int cache_meta(struct backend *be, const char *key, struct backend_meta *out,
		      struct why *why)
{
	return backend_meta(cache_downcast(be)->inner, key, out, why);
}

static int cache_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		      struct why *err)
{
	(void)ctx;
	(void)opts;
	(void)err;
	*out = NULL;
	return -BACKEND_ENOTSUP;	/* made by cache_wrap(), never by name */
}

static void cache_close(struct backend *be)
{
	struct cache_backend *cb = cache_downcast(be);
	struct entry *e, *nx;
	size_t b;

	for (b = 0; b < NBUCKETS; b++)
		for (e = cb->buckets[b]; e; e = nx) {
			nx = e->next;
			entry_free(e);
		}
	backend_close(cb->inner);
	pthread_mutex_destroy(&cb->lock);
	free(cb);
}

const struct backend_ops backend_cache = {
	.name = "cache",
	.open = cache_open,
	.close = cache_close,
	.get = cache_get,
	.get_many = cache_get_many,
	.list = cache_list,
	.set = cache_set,
	.del = cache_del,
	.meta = cache_meta,
	.set_fields = cache_set_fields,
	.purge = cache_purge,
	.forget = cache_forget,
	.get_many_for = cache_get_many_for,
	.try_get_many_for = cache_try_get_many_for,
	.scoped = cache_scoped,
	.adopt = cache_adopt,
	.leases = cache_leases,
	.set_hooks = cache_set_hooks,
};

int cache_wrap(struct backend *inner, uint64_t ttl_ms, uint64_t stale_ms, struct backend **out)
{
	struct cache_backend *cb = calloc(1, sizeof(*cb));

	*out = NULL;
	if (!cb)
		return -ENOMEM;
	cb->base.ops = &backend_cache;
	cb->inner = inner;
	cb->ttl = ttl_ms;
	cb->stale = stale_ms;
	pthread_mutex_init(&cb->lock, NULL);
	*out = &cb->base;
	return 0;
}

struct backend *cache_inner(struct backend *be)
{
	return cache_downcast(be)->inner;
}
