#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * The inode table, open handles and their tokens, and configuration
 * generations: the state behind every FUSE operation.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sodium.h>

#include "backends/backend.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/secbuf.h"

const struct fs_view_file fs_view_files[FS_VIEW_FILES] = {
	{ "env", N_ENV, RENDER_ENV },
	{ "docker.env", N_DOCKER_ENV, RENDER_DOCKER_ENV },
	{ "env.json", N_JSON, RENDER_JSON },
};

/* ---- generations ---- */

void gen_free(struct gen *g)
{
	if (!g)
		return;
	backend_close(g->be);
	audit_close(g->audit);
	viewset_free(g->views);
	config_free(g->cfg);
	free(g);
}

struct gen *gen_get(struct harombefs *h)
{
	struct gen *g;

	pthread_rwlock_rdlock(&h->gen_lock);
	g = h->cur;
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&h->gen_lock);
	return g;
}

void gen_put(struct gen *g)
{
	if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
		gen_free(g);
}

int gen_load(const char *path, struct carry *carry, struct gen **out, struct why *why)
{
	struct why ce = WHY_INIT;
	struct gen *g = calloc(1, sizeof(*g));
	struct backend_ctx ctx = { 0 };
	int r;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->refs = 1;
	clock_gettime(CLOCK_REALTIME, &g->loaded);
	if ((r = config_load(path, &g->cfg, &ce)) || (r = viewset_load(g->cfg, &g->views, &ce)))
		goto cfg_fail;
	r = audit_open(g->cfg->fs.audit_log, g->cfg->audit.enabled, g->cfg->audit.events, &g->audit, &ce);
	if (r)
		goto cfg_fail;
	ctx.cfg = g->cfg;
	ctx.audit = g->audit;
	ctx.source = "harombefs";
	ctx.daemon = 1;
	ctx.carry = carry;
	if ((r = backend_open(&ctx, &g->be, &ce)))
		goto cfg_fail;
	if ((r = backend_wrap_cache(&g->be, g->cfg->fs.cache_ttl_ms, g->cfg->fs.stale_if_error_ms))) {
		why_set(why, "out of memory");
		goto fail;
	}
	*out = g;
	return 0;
cfg_fail:
	why_set(why, "%s", ce.msg);
fail:
	gen_free(g);
	return r ? r : -EINVAL;
}

/* ---- nodes ---- */

/* Stable across processes and versions: changing this function, or its
 * key, breaks the resumption of connections made by an older daemon. */
static fuse_ino_t node_ino(enum node_kind kind, const char *container, const char *name)
{
	static const unsigned char key[crypto_shorthash_KEYBYTES] = "harombefs inode";
	unsigned char buf[1 + NAMES_CONTAINER_MAX + 1 + NAMES_ENV_MAX + 1], out[crypto_shorthash_BYTES];
	size_t cl = container ? strlen(container) : 0, nl = name ? strlen(name) : 0;
	uint64_t ino;

	if (kind == N_ROOT)
		return FUSE_ROOT_ID;
	if (cl > NAMES_CONTAINER_MAX || nl > NAMES_ENV_MAX)
		return 0;
	buf[0] = (unsigned char)kind;
	memcpy(buf + 1, container ? container : "", cl + 1);
	memcpy(buf + 2 + cl, name ? name : "", nl + 1);
	crypto_shorthash(out, buf, 3 + cl + nl, key);
	memcpy(&ino, out, sizeof(ino));
	/* 0 is invalid and 1 is the root. */
	return ino > FUSE_ROOT_ID ? ino : ino + 2;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static struct node *node_by_ino_locked(struct harombefs *h, fuse_ino_t ino)
{
	struct node *n;

	for (n = h->nodes[ino % NODE_BUCKETS]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

struct node *node_by_ino(struct harombefs *h, fuse_ino_t ino)
{
	struct node *n;

	pthread_rwlock_rdlock(&h->node_lock);
	n = node_by_ino_locked(h, ino);
	pthread_rwlock_unlock(&h->node_lock);
	return n;
}

static int node_is(const struct node *n, enum node_kind kind, const char *container, const char *name)
{
	return n->kind == kind && same(n->container, container) && same(n->name, name);
}

struct node *node_find_locked(struct harombefs *h, enum node_kind kind, const char *container,
				     const char *name)
{
	fuse_ino_t ino = node_ino(kind, container, name);
	struct node *n = ino ? node_by_ino_locked(h, ino) : NULL;

	return n && node_is(n, kind, container, name) ? n : NULL;
}

struct node *node_intern(struct harombefs *h, enum node_kind kind, const char *container,
				const char *name)
{
	fuse_ino_t ino = node_ino(kind, container, name);
	struct node *n, *view = NULL;

	if (!ino)
		return NULL;
	/* Every node of a view points at the view's node, whose struct
	 * tenant its opens count against. */
	if (kind != N_ROOT && kind != N_VIEW && kind != N_SELF &&
	    !(view = node_intern(h, N_VIEW, container, NULL)))
		return NULL;
	pthread_rwlock_rdlock(&h->node_lock);
	n = node_by_ino_locked(h, ino);
	pthread_rwlock_unlock(&h->node_lock);
	if (n)
		goto check;

	pthread_rwlock_wrlock(&h->node_lock);
	n = node_by_ino_locked(h, ino);
	if (n) {
		pthread_rwlock_unlock(&h->node_lock);
		goto check;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		goto out;
	n->ino = ino;
	n->kind = kind;
	n->view = kind == N_VIEW ? n : view;
	n->container = container ? strdup(container) : NULL;
	n->name = name ? strdup(name) : NULL;
	if ((container && !n->container) || (name && !n->name)) {
		free(n->container);
		free(n->name);
		free(n);
		n = NULL;
		goto out;
	}
	n->hnext = h->nodes[ino % NODE_BUCKETS];
	h->nodes[ino % NODE_BUCKETS] = n;
out:
	pthread_rwlock_unlock(&h->node_lock);
	return n;
check:
	if (node_is(n, kind, container, name))
		return n;
	/* Two names with one 64-bit hash: astronomically unlikely, and
	 * refused rather than served as each other. */
	log_err("inode number collision: '%s/%s' and '%s/%s'; rename one of them",
		container ? container : "", name ? name : "", n->container ? n->container : "",
		n->name ? n->name : "");
	return NULL;
}

/* ---- handle tokens (open_lock) ---- */

_Static_assert(FS_VIEW_MAX <= FH_SIZE_MASK, "a token must carry any content size");

struct fhref *fh_find_locked(struct harombefs *h, uint64_t token, int dir)
{
	struct fhref *r;

	for (r = h->fhs[(token >> FH_SIZE_BITS) % FH_BUCKETS]; r; r = r->tnext)
		if (r->token == token)
			return r->dir == dir ? r : NULL;
	return NULL;
}

void fh_link_locked(struct harombefs *h, struct fhref *ref)
{
	struct fhref **b = &h->fhs[(ref->token >> FH_SIZE_BITS) % FH_BUCKETS];

	ref->tnext = *b;
	*b = ref;
}

/* Give ref a new random token that carries size.  0 or -errno. */
/* Random bits for tokens, FH_RANDOM at a time: one getrandom() per
 * FH_RANDOM opens, not one per open.  Tokens only have to be unlike any
 * other daemon's (fs-internal.h); nobody outside the kernel sees them. */
static int fh_random_locked(struct harombefs *h, uint64_t *t)
{
	if (!h->rnd_left) {
		ssize_t n = getrandom(h->rnd, sizeof(h->rnd), 0);

		if (n != (ssize_t)sizeof(h->rnd))
			return n < 0 ? -errno : -EIO;
		h->rnd_left = FH_RANDOM;
	}
	*t = h->rnd[--h->rnd_left];
	return 0;
}

int fh_add_locked(struct harombefs *h, struct fhref *ref, int dir, size_t size)
{
	uint64_t t = 0;
	int r;

	ref->dir = dir;
	do {
		if ((r = fh_random_locked(h, &t)) != 0)
			return r;
		t = (t & ~FH_SIZE_MASK) | ((uint64_t)size & FH_SIZE_MASK);
	} while (!(t >> FH_SIZE_BITS) || fh_find_locked(h, t, 0) || fh_find_locked(h, t, 1));
	ref->token = t;
	fh_link_locked(h, ref);
	return 0;
}

void fh_remove_locked(struct harombefs *h, struct fhref *ref)
{
	struct fhref **p = &h->fhs[(ref->token >> FH_SIZE_BITS) % FH_BUCKETS];

	for (; *p; p = &(*p)->tnext)
		if (*p == ref) {
			*p = ref->tnext;
			return;
		}
}

/* The open file behind fi->fh for inode ino, or NULL when the token is not
 * one of ours: it was given out by a daemon that died before a restart. */
struct handle *handle_get(struct harombefs *h, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct handle *hd;

	pthread_mutex_lock(&h->open_lock);
	hd = (struct handle *)fh_find_locked(h, fi->fh, 0);
	pthread_mutex_unlock(&h->open_lock);
	return hd && hd->node->ino == ino ? hd : NULL;
}

struct dirlist *dirlist_get(struct harombefs *h, const struct fuse_file_info *fi)
{
	struct dirlist *d;

	pthread_mutex_lock(&h->open_lock);
	d = (struct dirlist *)fh_find_locked(h, fi->fh, 1);
	pthread_mutex_unlock(&h->open_lock);
	return d;
}

/* Does n exist in generation g?  Sets *view and *secret (index or -1). */
int node_resolve(const struct gen *g, const struct node *n, const struct view **view, int *secret)
{
	*view = NULL;
	*secret = -1;
	if (n->kind == N_ROOT || n->kind == N_SELF)
		return 0;
	*view = viewset_find(g->views, n->container);
	if (!*view)
		return -ENOENT;
	if (n->kind == N_SECRET) {
		*secret = view_find_secret(*view, n->name);
		return *secret < 0 ? -ENOENT : 0;
	}
	if (n->kind == N_TEMPLATE) {
		*secret = view_find_template(*view, n->name);
		return *secret < 0 ? -ENOENT : 0;
	}
	if (n->kind == N_CERT) {
		*secret = view_find_file(*view, n->name);
		return *secret < 0 ? -ENOENT : 0;
	}
	return 0;
}
/* Unlink an open handle and wipe its content. */
void handle_drop(struct harombefs *h, struct handle *hd)
{
	pthread_mutex_lock(&h->open_lock);
	fh_remove_locked(h, &hd->ref);
	if (hd->prev)
		hd->prev->next = hd->next;
	else
		hd->node->open = hd->next;
	if (hd->next)
		hd->next->prev = hd->prev;
	h->handles--;
	if (hd->ph)
		fuse_pollhandle_destroy(hd->ph);
	hd->ph = NULL;
	hd->node->view->t.handles--;
	hd->node->view->t.locked -= hd->charge;
	pthread_mutex_unlock(&h->open_lock);
	secbuf_free(hd->content);
	free(hd);
}
/* Give every node of generation g its inode now, not on first lookup: a
 * daemon that resumed a connection gets requests for inodes the kernel
 * looked up from its predecessor, and must know them all.  0 or -ENOMEM. */
int node_intern_all(struct harombefs *h, const struct gen *g)
{
	size_t i, k;

	if (!node_intern(h, N_SELF, NULL, FS_SELF_NAME))
		return -ENOMEM;
	for (i = 0; i < g->views->n; i++) {
		const struct view *v = &g->views->views[i];

		if (!node_intern(h, N_VIEW, v->container, NULL) ||
		    !node_intern(h, N_SECRETS, v->container, NULL) ||
		    !node_intern(h, N_GENERATION, v->container, NULL))
			return -ENOMEM;
		for (k = 0; k < v->n_templates; k++)
			if (!node_intern(h, N_TEMPLATE, v->container, v->templates[k].name))
				return -ENOMEM;
		for (k = 0; k < v->n_files; k++)
			if (!node_intern(h, N_CERT, v->container, v->files[k].name))
				return -ENOMEM;
		for (k = 0; k < ARRAY_SIZE(fs_view_files); k++)
			if (!node_intern(h, fs_view_files[k].kind, v->container, NULL))
				return -ENOMEM;
		for (k = 0; k < v->n; k++)
			if (!node_intern(h, N_SECRET, v->container, v->secrets[k].name))
				return -ENOMEM;
	}
	return 0;
}
