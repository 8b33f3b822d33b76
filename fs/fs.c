#include "lib/compat.h"
#include "fs/fs.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include <sodium.h>

#include "backends/backend.h"
#include "fs/access.h"
#include "inject/render.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/workq.h"

/* Directories change only on reload, which invalidates them explicitly.
 * Files report a per-open size, so their attributes are never cached. */
#define DIR_TIMEOUT 1.0
#define ENTRY_TIMEOUT 1.0
#define FILE_ATTR_TIMEOUT 0.0

enum node_kind { N_ROOT, N_VIEW, N_ENV, N_DOCKER_ENV, N_JSON, N_SECRETS, N_SECRET };

#define NODE_BUCKETS 1024

static const struct {
	const char *name;
	enum node_kind kind;
	enum render_kind render;
} view_files[] = {
	{ "env", N_ENV, RENDER_ENV },
	{ "docker.env", N_DOCKER_ENV, RENDER_DOCKER_ENV },
	{ "env.json", N_JSON, RENDER_JSON },
};

/*
 * A node's inode number is a hash of what it is (kind, container, name):
 * the same number in every harombefs process, across reloads and restarts.
 * A daemon that resumes the kernel connection of one that died (see
 * fs/handover.h) must give the kernel's cached dentries and open files
 * exactly the nodes they had, and a number can never name a different
 * view's file.  The table only grows: it holds names, which are not secret,
 * and config is small.
 */
struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	char *container;	/* NULL for the root */
	char *name;		/* secret name for N_SECRET */
	struct node *hnext;	/* hash chain, by ino */
	struct handle *open;	/* open handles, for per-caller st_size */
};

/*
 * What fi->fh holds: a random token, never a pointer.  After a restart the
 * kernel still sends the tokens the dead daemon gave out; looking them up
 * finds nothing instead of following a stale pointer.  The low bits carry
 * the size of the content the token was created for, so that a file opened
 * before a restart still answers fstat() and reads at its end exactly.
 */
#define FH_SIZE_BITS 21
#define FH_SIZE_MASK ((UINT64_C(1) << FH_SIZE_BITS) - 1)
#define FH_BUCKETS 256

struct fhref {
	uint64_t token;
	struct fhref *tnext;
	int dir;		/* a struct dirlist, else a struct handle */
};

struct handle {
	struct fhref ref;	/* first: the token table links these */
	struct node *node;
	struct secbuf *content;
	size_t size;
	pid_t tid;		/* the thread that opened it */
	struct handle *next, *prev;
};

struct gen {
	unsigned long refs;
	struct harombe_config *cfg;
	struct viewset *views;
	struct backend *be;
	struct audit *audit;
	struct timespec loaded;
};

struct harombefs {
	char *config_path;
	struct fuse_session *se;

	pthread_rwlock_t gen_lock;
	struct gen *cur;

	pthread_rwlock_t node_lock;
	struct node *nodes[NODE_BUCKETS];	/* by ino */

	struct fhref *fhs[FH_BUCKETS];		/* open handles by token; open_lock */

	struct workq *workers;		/* opens that wait on a store; NULL: inline */
	struct invalq *inval;		/* page-cache drops after close */
	pthread_mutex_t open_lock;	/* node->open lists */
	unsigned long handles;		/* open file handles */
};

struct dirlist {
	struct fhref ref;	/* first: the token table links these */
	size_t n;
	struct {
		char *name;
		fuse_ino_t ino;
		mode_t mode;
	} *e;
};

/* ---- generations ---- */

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	backend_close(g->be);
	audit_close(g->audit);
	viewset_free(g->views);
	config_free(g->cfg);
	free(g);
}

static struct gen *gen_get(struct harombefs *h)
{
	struct gen *g;

	pthread_rwlock_rdlock(&h->gen_lock);
	g = h->cur;
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&h->gen_lock);
	return g;
}

static void gen_put(struct gen *g)
{
	if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
		gen_free(g);
}

static int gen_load(const char *path, struct gen **out, char *err, size_t errlen)
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
	r = audit_open(g->cfg->fs.audit_log, g->cfg->audit.enabled, g->cfg->audit.events, &g->audit, err,
		       errlen);
	if (r)
		goto fail;
	ctx.cfg = g->cfg;
	ctx.audit = g->audit;
	ctx.source = "harombefs";
	ctx.daemon = 1;
	if ((r = backend_open(&ctx, &g->be, &ce)))
		goto cfg_fail;
	if ((r = backend_wrap_cache(&g->be, g->cfg->fs.cache_ttl_ms, g->cfg->fs.stale_if_error_ms))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*out = g;
	return 0;
cfg_fail:
	snprintf(err, errlen, "%s", ce.msg);
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

static struct node *node_by_ino(struct harombefs *h, fuse_ino_t ino)
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

static struct node *node_find_locked(struct harombefs *h, enum node_kind kind, const char *container,
				     const char *name)
{
	fuse_ino_t ino = node_ino(kind, container, name);
	struct node *n = ino ? node_by_ino_locked(h, ino) : NULL;

	return n && node_is(n, kind, container, name) ? n : NULL;
}

static struct node *node_intern(struct harombefs *h, enum node_kind kind, const char *container,
				const char *name)
{
	fuse_ino_t ino = node_ino(kind, container, name);
	struct node *n;

	if (!ino)
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

static struct fhref *fh_find_locked(struct harombefs *h, uint64_t token, int dir)
{
	struct fhref *r;

	for (r = h->fhs[(token >> FH_SIZE_BITS) % FH_BUCKETS]; r; r = r->tnext)
		if (r->token == token)
			return r->dir == dir ? r : NULL;
	return NULL;
}

static void fh_link_locked(struct harombefs *h, struct fhref *ref)
{
	struct fhref **b = &h->fhs[(ref->token >> FH_SIZE_BITS) % FH_BUCKETS];

	ref->tnext = *b;
	*b = ref;
}

/* Give ref a new random token that carries size.  0 or -errno. */
static int fh_add_locked(struct harombefs *h, struct fhref *ref, int dir, size_t size)
{
	uint64_t t;

	ref->dir = dir;
	do {
		if (getrandom(&t, sizeof(t), 0) != (ssize_t)sizeof(t))
			return -errno;
		t = (t & ~FH_SIZE_MASK) | ((uint64_t)size & FH_SIZE_MASK);
	} while (!(t >> FH_SIZE_BITS) || fh_find_locked(h, t, 0) || fh_find_locked(h, t, 1));
	ref->token = t;
	fh_link_locked(h, ref);
	return 0;
}

static void fh_remove_locked(struct harombefs *h, struct fhref *ref)
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
static struct handle *handle_get(struct harombefs *h, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct handle *hd;

	pthread_mutex_lock(&h->open_lock);
	hd = (struct handle *)fh_find_locked(h, fi->fh, 0);
	pthread_mutex_unlock(&h->open_lock);
	return hd && hd->node->ino == ino ? hd : NULL;
}

static struct dirlist *dirlist_get(struct harombefs *h, const struct fuse_file_info *fi)
{
	struct dirlist *d;

	pthread_mutex_lock(&h->open_lock);
	d = (struct dirlist *)fh_find_locked(h, fi->fh, 1);
	pthread_mutex_unlock(&h->open_lock);
	return d;
}

static int is_dir(enum node_kind k)
{
	return k == N_ROOT || k == N_VIEW || k == N_SECRETS;
}

/* Does n exist in generation g?  Sets *view and *secret (index or -1). */
static int resolve(const struct gen *g, const struct node *n, const struct view **view, int *secret)
{
	*view = NULL;
	*secret = -1;
	if (n->kind == N_ROOT)
		return 0;
	*view = viewset_find(g->views, n->container);
	if (!*view)
		return -ENOENT;
	if (n->kind == N_SECRET) {
		*secret = view_find_secret(*view, n->name);
		return *secret < 0 ? -ENOENT : 0;
	}
	return 0;
}

/* st_size for a file: the caller's own open handle when it has one (so that
 * fstat() right after open() is exact, as bash `source` needs), else the
 * largest size a view can render. */
static size_t size_for(struct harombefs *h, struct node *n, pid_t tid, struct fuse_file_info *fi)
{
	struct handle *hd;
	size_t size = FS_VIEW_MAX;

	if (fi && fi->fh) {
		hd = handle_get(h, n->ino, fi);
		/* A file opened before a restart: the size it had. */
		return hd ? hd->size : (size_t)(fi->fh & FH_SIZE_MASK);
	}
	pthread_mutex_lock(&h->open_lock);
	for (hd = n->open; hd; hd = hd->next) {
		if (hd->tid == tid) {
			size = hd->size;
			break;
		}
	}
	pthread_mutex_unlock(&h->open_lock);
	return size;
}

static void fill_attr(struct harombefs *h, const struct gen *g, const struct view *v, struct node *n,
		      pid_t tid, struct fuse_file_info *fi, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_atim = st->st_mtim = st->st_ctim = g->loaded;
	st->st_blksize = 4096;
	if (n->kind == N_ROOT) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2 + (nlink_t)g->views->n;
		return;
	}
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	if (is_dir(n->kind)) {
		st->st_mode = S_IFDIR | 0500;
		st->st_nlink = n->kind == N_VIEW ? 3 : 2;
	} else {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = (off_t)size_for(h, n, tid, fi);
	}
}

static struct harombefs *H(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- caller ---- */

static void caller_of(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	c->pid = ctx->pid;
	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->groups = NULL;
	c->ngroups = 0;
}

/* Supplementary groups are read only when a view names a gid the caller
 * does not have as its primary group. */
static int check_caller(fuse_req_t req, const struct view *v, struct caller *c, char *why,
			size_t whylen)
{
	gid_t groups[128];

	if (v->gid_set && c->gid != v->gid && c->uid == v->uid) {
		int n = fuse_req_getgroups(req, (int)ARRAY_SIZE(groups), groups);

		if (n > 0) {
			c->groups = groups;
			c->ngroups = n < (int)ARRAY_SIZE(groups) ? n : (int)ARRAY_SIZE(groups);
		}
	}
	int r = access_check(v, c, why, whylen);

	c->groups = NULL;
	return r;
}

static void audit_event(struct gen *g, enum audit_event ev, const struct view *v, const char *file,
			const char *const *names, const char *const *keys, size_t n, const struct caller *c,
			const char *result, const char *reason, int *audit_rc)
{
	char comm[64];
	struct audit_caller ac = { c->pid, c->uid, c->gid, comm };
	struct audit_record rec = {
		.event = ev,
		.source = "harombefs",
		.container = v ? v->container : NULL,
		.view = file,
		.names = names,
		.n_names = n,
		.keys = keys,
		.n_keys = n,
		.caller = &ac,
		.result = result,
		.reason = reason,
	};
	int r;

	if (!audit_wants(g->audit, ev))
		return;
	access_command_of(c->pid, comm, sizeof(comm));
	r = audit_write(g->audit, &rec);
	if (audit_rc)
		*audit_rc = r;
}

/* ---- operations ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* We serve no READDIRPLUS and want no kernel-side data caching. */
	conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_AUTO_INVAL_DATA);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct harombefs *h = H(req);
	struct node *p = node_by_ino(h, parent), *n = NULL;
	struct gen *g;
	const struct view *v;
	struct fuse_entry_param e;
	int secret, r = -ENOENT;
	size_t i;

	if (!p)
		return (void)fuse_reply_err(req, ENOENT);
	g = gen_get(h);
	if (resolve(g, p, &v, &secret) != 0)
		goto out;
	switch (p->kind) {
	case N_ROOT:
		if (viewset_find(g->views, name))
			n = node_intern(h, N_VIEW, name, NULL);
		break;
	case N_VIEW:
		if (!strcmp(name, "secrets"))
			n = node_intern(h, N_SECRETS, p->container, NULL);
		for (i = 0; i < ARRAY_SIZE(view_files); i++)
			if (!strcmp(name, view_files[i].name))
				n = node_intern(h, view_files[i].kind, p->container, NULL);
		break;
	case N_SECRETS:
		if (view_find_secret(v, name) >= 0)
			n = node_intern(h, N_SECRET, p->container, name);
		break;
	default:
		r = -ENOTDIR;
		goto out;
	}
	if (!n)
		goto out;
	if ((r = resolve(g, n, &v, &secret)) != 0)
		goto out;
	memset(&e, 0, sizeof(e));
	e.ino = n->ino;
	e.generation = 1;
	fill_attr(h, g, v, n, fuse_req_ctx(req)->pid, NULL, &e.attr);
	e.attr_timeout = is_dir(n->kind) ? DIR_TIMEOUT : FILE_ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	gen_put(g);
	fuse_reply_entry(req, &e);
	return;
out:
	gen_put(g);
	fuse_reply_err(req, -r);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct node *n = node_by_ino(h, ino);
	struct gen *g;
	const struct view *v;
	struct stat st;
	int secret;

	if (!n)
		return (void)fuse_reply_err(req, ENOENT);
	g = gen_get(h);
	if (resolve(g, n, &v, &secret) != 0 && !(fi && fi->fh)) {
		gen_put(g);
		return (void)fuse_reply_err(req, ENOENT);
	}
	if (!v) {
		/* An open handle on a view removed by a reload: describe it
		 * from the handle alone. */
		memset(&st, 0, sizeof(st));
		if (n->kind == N_ROOT) {
			fill_attr(h, g, NULL, n, 0, NULL, &st);
		} else {
			st.st_ino = n->ino;
			st.st_mode = S_IFREG | 0400;
			st.st_nlink = 1;
			st.st_size = (off_t)size_for(h, n, 0, fi);
		}
	} else {
		fill_attr(h, g, v, n, fuse_req_ctx(req)->pid, fi, &st);
	}
	gen_put(g);
	fuse_reply_attr(req, &st, is_dir(n->kind) ? DIR_TIMEOUT : FILE_ATTR_TIMEOUT);
}

static void dirlist_free(struct dirlist *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	free(d);
}

static int dirlist_add(struct dirlist *d, const char *name, fuse_ino_t ino, mode_t mode)
{
	void *ne = realloc(d->e, (d->n + 1) * sizeof(*d->e));

	if (!ne)
		return -ENOMEM;
	d->e = ne;
	if (!(d->e[d->n].name = strdup(name)))
		return -ENOMEM;
	d->e[d->n].ino = ino;
	d->e[d->n].mode = mode;
	d->n++;
	return 0;
}

/* The listing of directory n as the caller of req may see it. */
static int dirlist_build(fuse_req_t req, struct harombefs *h, struct node *n, struct dirlist **out)
{
	struct dirlist *d;
	struct node *c;
	struct gen *g;
	const struct view *v;
	struct caller who;
	char why[256];
	int secret, r = 0;
	size_t i;

	*out = NULL;
	if (!is_dir(n->kind))
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	g = gen_get(h);
	if ((r = resolve(g, n, &v, &secret)) != 0)
		goto out;
	caller_of(req, &who);
	r = dirlist_add(d, ".", n->ino, S_IFDIR);
	if (!r)
		r = dirlist_add(d, "..", FUSE_ROOT_ID, S_IFDIR);
	switch (n->kind) {
	case N_ROOT:
		/* Only the views this caller may read are listed. */
		for (i = 0; !r && i < g->views->n; i++) {
			const struct view *cv = &g->views->views[i];

			if (check_caller(req, cv, &who, why, sizeof(why)) != 0)
				continue;
			if (!(c = node_intern(h, N_VIEW, cv->container, NULL)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, cv->container, c->ino, S_IFDIR);
		}
		break;
	case N_VIEW:
		for (i = 0; !r && i < ARRAY_SIZE(view_files); i++) {
			if (!(c = node_intern(h, view_files[i].kind, n->container, NULL)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, view_files[i].name, c->ino, S_IFREG);
		}
		if (!r && !(c = node_intern(h, N_SECRETS, n->container, NULL)))
			r = -ENOMEM;
		else if (!r)
			r = dirlist_add(d, "secrets", c->ino, S_IFDIR);
		break;
	case N_SECRETS:
		for (i = 0; !r && i < v->n; i++) {
			if (!(c = node_intern(h, N_SECRET, n->container, v->secrets[i].name)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, v->secrets[i].name, c->ino, S_IFREG);
		}
		break;
	default:
		r = -ENOTDIR;
	}
out:
	gen_put(g);
	if (r) {
		dirlist_free(d);
		return r;
	}
	*out = d;
	return 0;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct node *n = node_by_ino(h, ino);
	struct dirlist *d;
	int r;

	if (!n)
		return (void)fuse_reply_err(req, ENOENT);
	if ((r = dirlist_build(req, h, n, &d)) != 0)
		return (void)fuse_reply_err(req, -r);
	pthread_mutex_lock(&h->open_lock);
	r = fh_add_locked(h, &d->ref, 1, 0);
	pthread_mutex_unlock(&h->open_lock);
	if (r) {
		dirlist_free(d);
		return (void)fuse_reply_err(req, -r);
	}
	fi->fh = d->ref.token;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_lock(&h->open_lock);
		fh_remove_locked(h, &d->ref);
		pthread_mutex_unlock(&h->open_lock);
		dirlist_free(d);
	}
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct dirlist *d = dirlist_get(h, fi);
	struct node *n;
	char *buf;
	size_t used = 0;
	struct stat st;
	int r;

	if (!d) {
		/* Opened before a restart: list it again, under the old token. */
		if (!(n = node_by_ino(h, ino)))
			return (void)fuse_reply_err(req, ESTALE);
		if ((r = dirlist_build(req, h, n, &d)) != 0)
			return (void)fuse_reply_err(req, -r);
		d->ref.token = fi->fh;
		d->ref.dir = 1;
		pthread_mutex_lock(&h->open_lock);
		fh_link_locked(h, &d->ref);
		pthread_mutex_unlock(&h->open_lock);
	}
	buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	for (; off >= 0 && (size_t)off < d->n; off++) {
		size_t need;

		memset(&st, 0, sizeof(st));
		st.st_ino = d->e[off].ino;
		st.st_mode = d->e[off].mode;
		need = fuse_add_direntry(req, buf + used, size - used, d->e[off].name, &st, off + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct dirlist *d;

	(void)ino;
	pthread_mutex_lock(&h->open_lock);
	d = (struct dirlist *)fh_find_locked(h, fi->fh, 1);
	if (d)
		fh_remove_locked(h, &d->ref);
	pthread_mutex_unlock(&h->open_lock);
	dirlist_free(d);
	fuse_reply_err(req, 0);
}

static int errno_for(int backend_err)
{
	switch (-backend_err) {
	case BACKEND_ENOTFOUND:
		return ENOENT;
	case BACKEND_EDENIED:
		return EACCES;
	case BACKEND_ENOMEM:
		return ENOMEM;
	default:
		return EIO;
	}
}

/* An open that passed the caller checks, waiting to be served. */
struct open_job {
	struct harombefs *h;
	fuse_req_t req;
	struct fuse_file_info fi;
	struct node *n;
	struct gen *g;
	const struct view *v;
	struct caller who;
	char file[300];
	enum render_kind kind;
	const char *const *names, *const *keys;
	size_t cnt;
	/* A read at offset 0 on a file opened before a restart: render it
	 * again, and serve it under the old token if it has the old size. */
	int adopt;
	size_t read_size;
};

/* Unlink an open handle and wipe its content. */
static void handle_drop(struct harombefs *h, struct handle *hd)
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
	pthread_mutex_unlock(&h->open_lock);
	secbuf_free(hd->content);
	free(hd);
}

/* Serve the first read of an adopted handle and keep it under the old
 * token until the kernel releases the file.  Takes hd. */
static void adopt_serve(struct open_job *j, struct handle *hd)
{
	struct harombefs *h = j->h;
	const unsigned char *data;
	size_t len, n;
	int dup;

	hd->ref.token = j->fi.fh;
	hd->ref.dir = 0;
	pthread_mutex_lock(&h->open_lock);
	dup = fh_find_locked(h, hd->ref.token, 0) != NULL;
	if (!dup) {
		fh_link_locked(h, &hd->ref);
		hd->next = j->n->open;
		if (j->n->open)
			j->n->open->prev = hd;
		j->n->open = hd;
		h->handles++;
	}
	pthread_mutex_unlock(&h->open_lock);
	data = secbuf_data(hd->content, &len);
	n = j->read_size < len ? j->read_size : len;
	fuse_reply_buf(j->req, (const char *)data, n);
	if (dup) {
		/* Two reads adopted the same file at once: the first one's
		 * handle stays, this copy goes. */
		secbuf_free(hd->content);
		free(hd);
	}
}

/* Fetch, render, audit and reply: in the FUSE loop when the store answers
 * from memory, else in the open workers, so that a slow store holds one
 * caller and never the loop. */
static void inval_cancel(struct harombefs *h, fuse_ino_t ino);

static void open_serve(void *arg)
{
	struct open_job *j = arg;
	struct harombefs *h = j->h;
	struct handle *hd = NULL;
	struct secbuf **values = NULL, *content = NULL;
	struct why *whys = NULL, rwhy = WHY_INIT;
	int *rcs = NULL, r, audit_rc = 0;
	char why[512] = "";
	size_t i, cnt = j->cnt;

	values = calloc(cnt + 1, sizeof(*values));
	rcs = calloc(cnt + 1, sizeof(*rcs));
	whys = calloc(cnt + 1, sizeof(*whys));
	hd = calloc(1, sizeof(*hd));
	if (!values || !rcs || !whys || !hd) {
		r = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	if ((r = backend_get_many(j->g->be, cnt, j->keys, values, rcs, whys)) != 0) {
		for (i = 0; i < cnt && !rcs[i]; i++)
			;
		snprintf(why, sizeof(why), "%s (%s): %s%s%.400s", j->names[i], j->keys[i],
			 backend_strerror(rcs[i]), whys[i].msg[0] ? ": " : "", whys[i].msg);
		r = -errno_for(rcs[i]);
		goto fail;
	}
	r = render_view(j->kind, cnt, j->names, values, FS_VIEW_MAX, &content, &rwhy);
	if (r) {
		snprintf(why, sizeof(why), "%.511s", rwhy.msg);
		r = r == -ENOMEM ? -ENOMEM : -EIO;
		goto fail;
	}
	for (i = 0; i < cnt; i++) {
		secbuf_free(values[i]);
		values[i] = NULL;
	}

	if (j->adopt && secbuf_len(content) != (size_t)(j->fi.fh & FH_SIZE_MASK)) {
		/* The reader knows the size of the old content (fstat, bash's
		 * source); different content under that size would be torn. */
		r = -ESTALE;
		snprintf(why, sizeof(why), "opened before a daemon restart and changed since");
		goto fail;
	}

	/* Audit before serving: like Vault's audit devices, a read that
	 * cannot be recorded is refused. */
	audit_event(j->g, AUDIT_SECRET_READ, j->v, j->file, j->names, j->keys, cnt, &j->who, "ok", NULL,
		    &audit_rc);
	if (audit_rc) {
		r = -EIO;
		snprintf(why, sizeof(why), "audit log unwritable");
		goto fail_noaudit;
	}

	hd->node = j->n;
	hd->content = content;
	hd->size = secbuf_len(content);
	hd->tid = j->who.pid;
	content = NULL;
	if (j->adopt) {
		adopt_serve(j, hd);
		hd = NULL;
		goto out;
	}
	pthread_mutex_lock(&h->open_lock);
	if ((r = fh_add_locked(h, &hd->ref, 0, hd->size)) != 0) {
		pthread_mutex_unlock(&h->open_lock);
		content = hd->content;
		snprintf(why, sizeof(why), "no random token: %s", strerror(-r));
		goto fail_noaudit;
	}
	hd->next = j->n->open;
	if (j->n->open)
		j->n->open->prev = hd;
	j->n->open = hd;
	h->handles++;
	pthread_mutex_unlock(&h->open_lock);

	j->fi.fh = hd->ref.token;
	j->fi.direct_io = 1;	/* content never enters the page cache */
	j->fi.keep_cache = 0;
	j->fi.noflush = 1;
	inval_cancel(h, j->n->ino);
	if (fuse_reply_open(j->req, &j->fi) != 0) {
		/* The caller was interrupted: no release will come. */
		handle_drop(h, hd);
	}
	hd = NULL;
	goto out;
fail:
	audit_event(j->g, AUDIT_SECRET_READ, j->v, j->file, j->names, j->keys, cnt, &j->who, "error", why,
		    NULL);
fail_noaudit:
	log_info("cannot serve %s/%s to pid %d: %s", j->v->container, j->file, (int)j->who.pid, why);
	fuse_reply_err(j->req, -r);
out:
	for (i = 0; values && i < cnt; i++)
		secbuf_free(values[i]);
	secbuf_free(content);
	free(values);
	free(rcs);
	free(whys);
	free(hd);
	gen_put(j->g);
	free(j);
}

/* Check the caller of req against the file's view, then serve: an open, or
 * with adopt, a first read of a file opened before a restart. */
static void open_begin(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int adopt,
		       size_t read_size)
{
	struct harombefs *h = H(req);
	struct node *n = node_by_ino(h, ino);
	struct open_job *j;
	char why[512] = "";
	int secret, r;
	size_t i;

	if (!n)
		return (void)fuse_reply_err(req, adopt ? ESTALE : ENOENT);
	if (is_dir(n->kind))
		return (void)fuse_reply_err(req, EISDIR);
	if (!adopt && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)))
		return (void)fuse_reply_err(req, EROFS);
	j = calloc(1, sizeof(*j));
	if (!j)
		return (void)fuse_reply_err(req, ENOMEM);
	j->h = h;
	j->req = req;
	j->fi = *fi;
	j->n = n;
	j->adopt = adopt;
	j->read_size = read_size;
	j->g = gen_get(h);
	if ((r = resolve(j->g, n, &j->v, &secret)) != 0) {
		gen_put(j->g);
		free(j);
		return (void)fuse_reply_err(req, adopt ? ESTALE : -r);
	}
	caller_of(req, &j->who);
	j->kind = RENDER_RAW;
	if (n->kind == N_SECRET)
		snprintf(j->file, sizeof(j->file), "secrets/%s", n->name);
	for (i = 0; i < ARRAY_SIZE(view_files); i++)
		if (view_files[i].kind == n->kind) {
			snprintf(j->file, sizeof(j->file), "%s", view_files[i].name);
			j->kind = view_files[i].render;
		}
	j->names = secret >= 0 ? &j->v->names[secret] : j->v->names;
	j->keys = secret >= 0 ? &j->v->keys[secret] : j->v->keys;
	j->cnt = secret >= 0 ? 1 : j->v->n;

	if (check_caller(req, j->v, &j->who, why, sizeof(why)) != 0) {
		audit_event(j->g, AUDIT_ACCESS_DENIED, j->v, j->file, j->names, j->keys, j->cnt, &j->who,
			    "denied", why, NULL);
		log_info("refused %s/%s to pid %d uid %u: %s", j->v->container, j->file, (int)j->who.pid,
			 (unsigned)j->who.uid, why);
		gen_put(j->g);
		free(j);
		return (void)fuse_reply_err(req, EACCES);
	}
	if (!h->workers || (backend_caps(j->g->be) & BACKEND_INSTANT) ||
	    workq_push(h->workers, open_serve, j) != 0)
		open_serve(j);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_begin(req, ino, fi, 0, 0);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *hd = handle_get(H(req), ino, fi);
	size_t len;
	const unsigned char *data;

	if (!hd) {
		/* Opened before a restart.  Its end is known from the token;
		 * the start can be rendered again; a middle cannot be proved
		 * to match what the reader already has. */
		len = (size_t)(fi->fh & FH_SIZE_MASK);
		if (off >= 0 && (size_t)off >= len)
			return (void)fuse_reply_buf(req, NULL, 0);
		if (off != 0)
			return (void)fuse_reply_err(req, ESTALE);
		return open_begin(req, ino, fi, 1, size);
	}
	data = secbuf_data(hd->content, &len);
	if (off < 0 || (size_t)off >= len)
		return (void)fuse_reply_buf(req, NULL, 0);
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	fuse_reply_buf(req, (const char *)data + off, size);
}

/*
 * Page-cache invalidation after close, coalesced.  A MAP_PRIVATE mapping of
 * a direct_io file goes through the page cache, so after the last close we
 * ask the kernel to drop the inode's pages.  Not from the loop thread: the
 * kernel may need the loop to answer a READ (a page fault elsewhere) before
 * it can finish.  One thread takes the inodes closed in the last few
 * milliseconds and drops them together, so a busy mount pays one wakeup per
 * period, not one per close.
 *
 * An open needs no drop of its own: without keep_cache the kernel empties
 * the inode's page cache when it opens a file.  So an open takes its inode
 * off the queue (inval_cancel), and a file opened and closed over and over
 * costs no notification at all; its last close still queues one.
 */
#define INVAL_DELAY_NS 2000000L

struct invalq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	fuse_ino_t *inos;
	size_t n, cap;
	int stop, started;
	int idle;		/* the thread waits for work: signal it */
	pthread_t thread;
};

static void *inval_thread(void *arg)
{
	struct harombefs *h = arg;
	struct invalq *q = h->inval;
	fuse_ino_t batch[256];
	size_t n, i;

	pthread_mutex_lock(&q->lock);
	while (!q->stop || q->n) {
		if (!q->n) {
			q->idle = 1;
			pthread_cond_wait(&q->cond, &q->lock);
			q->idle = 0;
			continue;
		}
		if (!q->stop) {
			struct timespec ts = { 0, INVAL_DELAY_NS };

			pthread_mutex_unlock(&q->lock);
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&q->lock);
		}
		n = q->n < ARRAY_SIZE(batch) ? q->n : ARRAY_SIZE(batch);
		memcpy(batch, q->inos + q->n - n, n * sizeof(*batch));
		q->n -= n;
		pthread_mutex_unlock(&q->lock);
		for (i = 0; i < n; i++)
			fuse_lowlevel_notify_inval_inode(h->se, batch[i], 0, 0);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void inval_later(struct harombefs *h, fuse_ino_t ino)
{
	struct invalq *q = h->inval;
	size_t i;

	if (!q || !q->started)
		return;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n && q->inos[i] != ino; i++)
		;
	if (i == q->n) {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			fuse_ino_t *ni = realloc(q->inos, cap * sizeof(*ni));

			if (ni) {
				q->inos = ni;
				q->cap = cap;
			}
		}
		if (q->n < q->cap) {
			q->inos[q->n++] = ino;
			if (q->idle)
				pthread_cond_signal(&q->cond);
		}
	}
	pthread_mutex_unlock(&q->lock);
}

/* An open of ino: the kernel drops its page cache itself (no keep_cache). */
static void inval_cancel(struct harombefs *h, fuse_ino_t ino)
{
	struct invalq *q = h->inval;
	size_t i;

	if (!q || !q->started)
		return;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n; i++) {
		if (q->inos[i] == ino) {
			q->inos[i] = q->inos[--q->n];
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct handle *hd = handle_get(h, ino, fi);

	if (hd)
		handle_drop(h, hd);
	fuse_reply_err(req, 0);
	if (hd)
		inval_later(h, ino);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	(void)ino;
	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_namemax = 255;
	st.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.statfs = fs_statfs,
};

const struct fuse_lowlevel_ops *fs_operations(void)
{
	return &ops;
}

/* Give every node of generation g its inode now, not on first lookup: a
 * daemon that resumed a connection gets requests for inodes the kernel
 * looked up from its predecessor, and must know them all.  0 or -ENOMEM. */
static int intern_all(struct harombefs *h, const struct gen *g)
{
	size_t i, k;

	for (i = 0; i < g->views->n; i++) {
		const struct view *v = &g->views->views[i];

		if (!node_intern(h, N_VIEW, v->container, NULL) ||
		    !node_intern(h, N_SECRETS, v->container, NULL))
			return -ENOMEM;
		for (k = 0; k < ARRAY_SIZE(view_files); k++)
			if (!node_intern(h, view_files[k].kind, v->container, NULL))
				return -ENOMEM;
		for (k = 0; k < v->n; k++)
			if (!node_intern(h, N_SECRET, v->container, v->secrets[k].name))
				return -ENOMEM;
	}
	return 0;
}

/* ---- lifecycle ---- */

int fs_new(const char *config_path, struct harombefs **out, char *err, size_t errlen)
{
	struct harombefs *h = calloc(1, sizeof(*h));
	struct node *root;
	int r;

	*out = NULL;
	if (!h || !(h->config_path = strdup(config_path))) {
		free(h);
		return -ENOMEM;
	}
	pthread_rwlock_init(&h->gen_lock, NULL);
	pthread_rwlock_init(&h->node_lock, NULL);
	pthread_mutex_init(&h->open_lock, NULL);
	root = node_intern(h, N_ROOT, NULL, NULL);
	if (!root || root->ino != FUSE_ROOT_ID) {
		fs_free(h);
		return -ENOMEM;
	}
	if ((r = gen_load(config_path, &h->cur, err, errlen)) != 0) {
		fs_free(h);
		return r;
	}
	if (intern_all(h, h->cur) != 0) {
		snprintf(err, errlen, "out of memory for the inode table");
		fs_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

int fs_attach(struct harombefs *h, struct fuse_session *se, struct workq *workers)
{
	sigset_t all, old;
	int r;

	h->se = se;
	h->workers = workers;
	h->inval = calloc(1, sizeof(*h->inval));
	if (!h->inval)
		return -ENOMEM;
	pthread_mutex_init(&h->inval->lock, NULL);
	pthread_cond_init(&h->inval->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&h->inval->thread, NULL, inval_thread, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	h->inval->started = r == 0;
	return r;
}

void fs_detach(struct harombefs *h)
{
	struct invalq *q = h->inval;

	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stop = 1;
		pthread_cond_signal(&q->cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->inos);
	free(q);
	h->inval = NULL;
}

void fs_forget(struct harombefs *h, const char *key)
{
	struct gen *g = gen_get(h);

	/* The current generation only: an older one ends with the opens
	 * that still hold it, and its cache with it. */
	backend_forget(g->be, key);
	gen_put(g);
}

void fs_log_stats(struct harombefs *h)
{
	struct secmem_stats st;
	unsigned long handles;

	secmem_get_stats(&st);
	pthread_mutex_lock(&h->open_lock);
	handles = h->handles;
	pthread_mutex_unlock(&h->open_lock);
	log_info("stats: locked_in_use=%zu locked_blocks=%zu locked_peak=%zu locked_capacity=%zu "
		 "locked_failures=%zu open_handles=%lu dumpable=%d",
		 st.in_use, st.blocks, st.peak, st.capacity, st.failures, handles,
		 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

const char *fs_config_mountpoint(const struct harombefs *h)
{
	return h->cur->cfg->fs.mountpoint;
}

void fs_free(struct harombefs *h)
{
	size_t i;

	if (!h)
		return;
	if (h->cur)
		gen_put(h->cur);
	/* Files still open when the daemon stops (or restarts on SIGQUIT):
	 * their content is wiped here, not left for the exit. */
	for (i = 0; i < FH_BUCKETS; i++) {
		struct fhref *r, *next;

		for (r = h->fhs[i]; r; r = next) {
			next = r->tnext;
			if (r->dir) {
				dirlist_free((struct dirlist *)r);
			} else {
				secbuf_free(((struct handle *)r)->content);
				free(r);
			}
		}
	}
	for (i = 0; i < NODE_BUCKETS; i++) {
		struct node *n, *next;

		for (n = h->nodes[i]; n; n = next) {
			next = n->hnext;
			free(n->container);
			free(n->name);
			free(n);
		}
	}
	free(h->config_path);
	free(h);
}

/* Tell the kernel to forget what changed between two generations. */
static void invalidate(struct harombefs *h, const struct gen *old, const struct gen *new)
{
	struct node *n;
	size_t i, k;
	int pass;

	if (!h->se)
		return;
	for (pass = 0; pass < 2; pass++) {
		const struct viewset *a = pass ? new->views : old->views;
		const struct viewset *b = pass ? old->views : new->views;

		for (i = 0; i < a->n; i++) {
			const struct view *va = &a->views[i], *vb = viewset_find(b, va->container);

			if (vb && view_equal(va, vb))
				continue;
			fuse_lowlevel_notify_inval_entry(h->se, FUSE_ROOT_ID, va->container,
							 strlen(va->container));
			pthread_rwlock_rdlock(&h->node_lock);
			n = node_find_locked(h, N_VIEW, va->container, NULL);
			struct node *sd = node_find_locked(h, N_SECRETS, va->container, NULL);
			pthread_rwlock_unlock(&h->node_lock);
			if (n)
				fuse_lowlevel_notify_inval_inode(h->se, n->ino, -1, 0);
			if (sd) {
				fuse_lowlevel_notify_inval_inode(h->se, sd->ino, -1, 0);
				for (k = 0; k < va->n; k++)
					fuse_lowlevel_notify_inval_entry(h->se, sd->ino, va->secrets[k].name,
									 strlen(va->secrets[k].name));
			}
		}
	}
	fuse_lowlevel_notify_inval_inode(h->se, FUSE_ROOT_ID, -1, 0);
}

int fs_reload(struct harombefs *h)
{
	struct gen *g, *old;
	char err[768];
	int r;

	r = gen_load(h->config_path, &g, err, sizeof(err));
	if (r) {
		log_err("reload of '%s' failed, keeping the running configuration: %s", h->config_path, err);
		return r;
	}
	if (g->cfg->fs.locked_memory != h->cur->cfg->fs.locked_memory)
		log_warn("security.fs.locked_memory changes take effect on restart");
	if (strcmp(g->cfg->fs.mountpoint, h->cur->cfg->fs.mountpoint))
		log_warn("security.fs.mountpoint changes take effect on restart");
	if (intern_all(h, g) != 0) {
		log_err("reload of '%s' failed, keeping the running configuration: out of memory",
			h->config_path);
		gen_put(g);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&h->gen_lock);
	old = h->cur;
	h->cur = g;
	pthread_rwlock_unlock(&h->gen_lock);
	invalidate(h, old, g);
	log_info("reloaded '%s': %zu view%s, provider %s", h->config_path, g->views->n,
		 g->views->n == 1 ? "" : "s", backend_name(g->be));
	gen_put(old);
	return 0;
}
