#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * harombefs's fuse_lowlevel_ops table: lookup, getattr, release and statfs
 * here, the rest in dir.c and open.c; and the mount's lifecycle (new,
 * attach, reload, free).  See fs-internal.h for what each file of fs/ does.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "fs/access.h"
#include "inject/render.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/workq.h"

/*
 * What the kernel may keep, and for how long.
 *
 * Entries (names) under the root are never cached: the kernel's dentry
 * cache is shared by all callers, so a name looked up by a view's owner
 * would answer a stranger's stat() without asking us (hidden means
 * hidden).  Every walk therefore sends a LOOKUP per component, with the
 * walker's credentials, and fs_may_see() answers it.  Negative entries
 * are never cached either (lookup replies ENOENT).
 *
 * Attributes are cached (ATTR_TIMEOUT) where every caller may be told the
 * same thing: a directory's owner, group and mode, a file's with the
 * largest size a view can render (FS_VIEW_MAX, an upper bound: reads stop
 * at the content's end, as direct_io lets them).  They reach a caller only
 * after a LOOKUP of the name that hides it, or through a descriptor it
 * already holds or a bind mount whose mount table names the view anyway,
 * so they reveal nothing a walk would not; and they spare the GETATTR that
 * default_permissions would otherwise send for every directory walked and
 * every file opened.  An exact size (the caller's own open file: fstat()
 * after open() must be exact for tail and bash `source`) is one caller's
 * and never cached; an open forgets the cached bound (open.c) so that
 * fstat() asks us, and while the file is open nothing about it is cached
 * (size_for).  A reload forgets what it changed (inval.c).
 * t_tenant_attrcache holds all of this to account.
 */
#define ROOT_TIMEOUT 1.0
#define ATTR_TIMEOUT 1.0
#define ENTRY_TIMEOUT 0.0

/* st_size for a file: the caller's own open handle when it has one (so that
 * fstat() right after open() is exact, as bash `source` and tail need),
 * else the largest size a view can render.  *shared: the size is the bound
 * and nobody holds the file open, so every caller may be told it from the
 * cache.  While someone does, a cached bound could answer its fstat()
 * (the open forgot the bound, but a later walk would cache it again). */
static size_t size_for(struct harombefs *h, struct node *n, pid_t tid, struct fuse_file_info *fi,
		       int *shared)
{
	struct handle *hd;
	size_t size = FS_VIEW_MAX;

	*shared = 0;
	if (fi && fi->fh) {
		hd = handle_get(h, n->ino, fi);
		/* A file opened before a restart: the size it had. */
		return hd ? hd->size : (size_t)(fi->fh & FH_SIZE_MASK);
	}
	pthread_mutex_lock(&h->open_lock);
	*shared = !n->open;
	for (hd = n->open; hd; hd = hd->next) {
		if (hd->tid == tid) {
			size = hd->size;
			break;
		}
	}
	pthread_mutex_unlock(&h->open_lock);
	return size;
}

/* The attributes of n, and how long the kernel may keep them. */
static double fill_attr(struct harombefs *h, const struct gen *g, const struct view *v, struct node *n,
			pid_t tid, struct fuse_file_info *fi, struct stat *st)
{
	int shared;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_atim = st->st_mtim = st->st_ctim = g->loaded;
	st->st_blksize = 4096;
	if (n->kind == N_ROOT) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;	/* not 2 + views: their number is no stranger's business */
		return ROOT_TIMEOUT;
	}
	if (n->kind == N_SELF) {
		/* a link to the caller's own view, as /proc/self */
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = v ? (off_t)strlen(v->container) : 0;
		return 0.0;
	}
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	if (is_dir(n->kind)) {
		st->st_mode = S_IFDIR | fs_node_mode(v, n);
		st->st_nlink = n->kind == N_VIEW ? 3 : 2;
		return ATTR_TIMEOUT;
	}
	st->st_mode = S_IFREG | fs_node_mode(v, n);
	st->st_nlink = 1;
	st->st_size = (off_t)size_for(h, n, tid, fi, &shared);
	return shared ? ATTR_TIMEOUT : 0.0;
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

	fs_count(h, FS_REQ_LOOKUP);
	if (!p)
		return (void)fuse_reply_err(req, ENOENT);
	g = gen_get(h);
	if (node_resolve(g, p, &v, &secret) != 0)
		goto out;
	switch (p->kind) {
	case N_ROOT:
		if (!strcmp(name, FS_SELF_NAME)) {
			int k = self_resolve(req, g, 1);

			if (k < 0) {
				r = k;
				goto out;
			}
			n = node_intern(h, N_SELF, NULL, FS_SELF_NAME);
			memset(&e, 0, sizeof(e));
			if (!n)
				goto out;
			e.ino = n->ino;
			e.generation = 1;
			fill_attr(h, g, &g->views->views[k], n, 0, NULL, &e.attr);
			gen_put(g);
			fuse_reply_entry(req, &e);
			return;
		}
		if (viewset_find(g->views, name))
			n = node_intern(h, N_VIEW, name, NULL);
		break;
	case N_VIEW:
		if (!strcmp(name, "secrets"))
			n = node_intern(h, N_SECRETS, p->container, NULL);
		else if (!strcmp(name, "generation"))
			n = node_intern(h, N_GENERATION, p->container, NULL);
		else if (view_find_template(v, name) >= 0)
			n = node_intern(h, N_TEMPLATE, p->container, name);
		else if (view_find_file(v, name) >= 0)
			n = node_intern(h, N_CERT, p->container, name);
		for (i = 0; i < ARRAY_SIZE(fs_view_files); i++)
			if (!strcmp(name, fs_view_files[i].name))
				n = node_intern(h, fs_view_files[i].kind, p->container, NULL);
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
	if ((r = node_resolve(g, n, &v, &secret)) != 0)
		goto out;
	/* As /proc with hidepid=2: what the caller may not read does not
	 * exist for it, not even as a name. */
	if ((r = fs_may_see(req, g, v, n)) != 0)
		goto out;
	memset(&e, 0, sizeof(e));
	e.ino = n->ino;
	e.generation = 1;
	e.attr_timeout = fill_attr(h, g, v, n, fuse_req_ctx(req)->pid, NULL, &e.attr);
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
	double timeout = 0.0;
	int secret, shared;

	fs_count(h, FS_REQ_GETATTR);
	if (!n)
		return (void)fuse_reply_err(req, ENOENT);
	g = gen_get(h);
	if (node_resolve(g, n, &v, &secret) != 0 && !(fi && fi->fh)) {
		gen_put(g);
		return (void)fuse_reply_err(req, ENOENT);
	}
	if (n->kind == N_SELF) {
		int k = self_resolve(req, g, 1);

		if (k < 0) {
			gen_put(g);
			return (void)fuse_reply_err(req, -k);
		}
		fill_attr(h, g, &g->views->views[k], n, 0, NULL, &st);
	} else if (!v) {
		/* An open handle on a view removed by a reload: describe it
		 * from the handle alone. */
		memset(&st, 0, sizeof(st));
		if (n->kind == N_ROOT) {
			timeout = fill_attr(h, g, NULL, n, 0, NULL, &st);
		} else {
			st.st_ino = n->ino;
			st.st_mode = S_IFREG | 0400;
			st.st_nlink = 1;
			st.st_size = (off_t)size_for(h, n, 0, fi, &shared);
		}
	} else if (!(fi && fi->fh) && fs_may_see(req, g, v, n) != 0) {
		/* (An open file's holder got past open already.) */
		gen_put(g);
		return (void)fuse_reply_err(req, ENOENT);
	} else {
		timeout = fill_attr(h, g, v, n, fuse_req_ctx(req)->pid, fi, &st);
	}
	gen_put(g);
	fuse_reply_attr(req, &st, timeout);
}
static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct harombefs *h = H(req);
	struct handle *hd = handle_get(h, ino, fi);
	int carried = notify_release(h, hd, fi->fh);

	fs_count(h, FS_REQ_RELEASE);
	if (hd)
		handle_drop(h, hd);
	fuse_reply_err(req, 0);
	if (hd)
		inval_later(h, ino);
	if (carried)
		notify_carry_save(h);
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
	.readlink = fs_readlink,
	.poll = fs_poll,
};

const struct fuse_lowlevel_ops *fs_operations(void)
{
	return &ops;
}
/* ---- lifecycle ---- */

/* backend_named_fn: does generation arg map a key at path for container
 * scope, under secrets: or as a file of certificates:?  (A carried lease
 * or certificate it no longer names is revoked or dropped.) */
static int gen_names(const char *scope, const char *path, void *arg)
{
	const struct gen *g = arg;
	const struct view *v = viewset_find(g->views, scope);
	size_t i, n = strlen(path);

	for (i = 0; v && i < v->n; i++)
		if (strcspn(v->keys[i], "@#") == n && !strncmp(v->keys[i], path, n))
			return 1;
	for (i = 0; v && i < v->n_files; i++)
		if (strcspn(v->files[i].key, "#") == n && !strncmp(v->files[i].key, path, n))
			return 1;
	return 0;
}

int fs_new(const char *config_path, struct carry *carry, struct harombefs **out, struct why *why)
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
	h->carry = carry;
	root = node_intern(h, N_ROOT, NULL, NULL);
	if (!root || root->ino != FUSE_ROOT_ID) {
		fs_free(h);
		return -ENOMEM;
	}
	if ((r = gen_load(config_path, carry, &h->cur, why)) != 0) {
		fs_free(h);
		return r;
	}
	live_attach(h, h->cur->be);
	if (node_intern_all(h, h->cur) != 0) {
		why_set(why, "out of memory for the inode table");
		fs_free(h);
		return -ENOMEM;
	}
	if (carry) {
		backend_adopt(h->cur->be, gen_names, h->cur);
		notify_carry_load(h);
	}
	*out = h;
	return 0;
}
int fs_attach(struct harombefs *h, struct fuse_session *se, struct workq *workers)
{
	int r;

	h->se = se;
	h->workers = workers;
	/* A view whose store is slow may hold half the workers (at least
	 * one): an open of any other view still finds one free.  Half, not
	 * less, because concurrent opens of one view share their fetches
	 * only while they run at the same time. */
	h->share = (workq_threads(workers) + FS_SHARE_DIV - 1) / FS_SHARE_DIV;
	if ((r = inval_start(h)) != 0)
		return r;
	if ((r = watch_start(h)) != 0) {
		inval_stop(h);
		return r;
	}
	return 0;
}

void fs_detach(struct harombefs *h)
{
	watch_stop(h);
	inval_stop(h);
}

void fs_forget(struct harombefs *h, const char *key)
{
	struct gen *g = gen_get(h);

	/* The current generation only: an older one ends with the opens
	 * that still hold it, and its cache with it. */
	backend_forget(g->be, key);
	gen_put(g);
	notify_changed(h, key);
}

void fs_drop_cache(struct harombefs *h)
{
	struct gen *g = gen_get(h);

	backend_forget(g->be, NULL);
	gen_put(g);
}

void fs_leases(struct harombefs *h, backend_lease_fn *fn, void *arg)
{
	struct gen *g = gen_get(h);

	backend_leases(g->be, fn, arg);
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
		 "locked_failures=%zu open_handles=%lu dumpable=%d req_lookup=%lu req_getattr=%lu "
		 "req_open=%lu req_read=%lu req_release=%lu open_to_workers=%lu",
		 st.in_use, st.blocks, st.peak, st.capacity, st.failures, handles,
		 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), __atomic_load_n(&h->reqs[FS_REQ_LOOKUP], __ATOMIC_RELAXED),
		 __atomic_load_n(&h->reqs[FS_REQ_GETATTR], __ATOMIC_RELAXED),
		 __atomic_load_n(&h->reqs[FS_REQ_OPEN], __ATOMIC_RELAXED),
		 __atomic_load_n(&h->reqs[FS_REQ_READ], __ATOMIC_RELAXED),
		 __atomic_load_n(&h->reqs[FS_REQ_RELEASE], __ATOMIC_RELAXED),
		 __atomic_load_n(&h->reqs[FS_OPEN_TO_WORKERS], __ATOMIC_RELAXED));
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
				if (((struct handle *)r)->ph)
					fuse_pollhandle_destroy(((struct handle *)r)->ph);
				secbuf_free(((struct handle *)r)->content);
				free(r);
			}
		}
	}
	for (i = 0; i < NODE_BUCKETS; i++) {
		struct node *n, *next;

		for (n = h->nodes[i]; n; n = next) {
			next = n->hnext;
			live_free(n);
			free(n->container);
			free(n->name);
			free(n);
		}
	}
	while (h->ghosts) {
		struct ghost *gh = h->ghosts;

		h->ghosts = gh->next;
		free(gh);
	}
	free(h->config_path);
	free(h);
}
/* A file that parses to no views, or that keeps none of the running ones,
 * is far more likely an empty, truncated or mangled file (an editor's
 * half-written save, a full disk) than an intent to stop serving every
 * container: it is refused.  A restart loads it if it is meant. */
static int reload_refused(const struct gen *old, const struct gen *new, struct why *why)
{
	size_t i, kept = 0;

	if (!old->views->n)
		return 0;
	if (!new->views->n) {
		why_set(why, "it has no views (empty or truncated?) where %zu are served; restart "
			 "harombefs to load it anyway", old->views->n);
		return -EINVAL;
	}
	for (i = 0; i < old->views->n; i++)
		kept += viewset_find(new->views, old->views->views[i].container) != NULL;
	if (!kept) {
		why_set(why, "it would drop every view served now ('%s' and %zu more) and add %zu "
			 "new ones; restart harombefs to load it anyway", old->views->views[0].container,
			 old->views->n - 1, new->views->n);
		return -EINVAL;
	}
	return 0;
}

int fs_reload(struct harombefs *h)
{
	struct gen *g, *old;
	struct why err = WHY_INIT;
	int r;

	r = gen_load(h->config_path, h->carry, &g, &err);
	if (r) {
		log_err("reload of '%s' failed, keeping the running configuration: %s", h->config_path, err.msg);
		return r;
	}
	live_attach(h, g->be);
	if ((r = reload_refused(h->cur, g, &err)) != 0) {
		log_err("reload of '%s' refused, keeping the running configuration: %s", h->config_path, err.msg);
		gen_put(g);
		return r;
	}
	if (g->cfg->fs.locked_memory != h->cur->cfg->fs.locked_memory)
		log_warn("security.fs.locked_memory changes take effect on restart");
	if (strcmp(g->cfg->fs.mountpoint, h->cur->cfg->fs.mountpoint))
		log_warn("security.fs.mountpoint changes take effect on restart");
	if (node_intern_all(h, g) != 0) {
		log_err("reload of '%s' failed, keeping the running configuration: out of memory",
			h->config_path);
		gen_put(g);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&h->gen_lock);
	old = h->cur;
	h->cur = g;
	pthread_rwlock_unlock(&h->gen_lock);
	if (h->carry) {
		/* The new generation's leases are the carried ones now; the old
		 * one's end with it, as they did before carrying existed. */
		backend_adopt(g->be, gen_names, g);
		notify_carry_save(h);
	}
	inval_reload(h, old, g);
	log_info("reloaded '%s': %zu view%s, provider %s", h->config_path, g->views->n,
		 g->views->n == 1 ? "" : "s", backend_name(g->be));
	gen_put(old);
	return 0;
}
