#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * Directory listings: opendir builds the listing the caller may see (only
 * the views it may read, in the root), readdir serves it, releasedir frees
 * it.  A listing opened before a restart is built again under its token.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/access.h"
#include "inject/view.h"
#include "lib/why.h"

void dirlist_free(struct dirlist *d)
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
	struct why why = WHY_INIT;
	int secret, r = 0;
	size_t i;

	*out = NULL;
	if (!is_dir(n->kind))
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	g = gen_get(h);
	if ((r = node_resolve(g, n, &v, &secret)) != 0)
		goto out;
	fs_caller_of(req, &who);
	/* Inside a view, a listing is a read of its names: the full caller
	 * check, root included. */
	if (v && (r = fs_check_node(req, v, n, &who, &why)) != 0)
		goto out;
	r = dirlist_add(d, ".", n->ino, S_IFDIR);
	if (!r)
		r = dirlist_add(d, "..", FUSE_ROOT_ID, S_IFDIR);
	switch (n->kind) {
	case N_ROOT:
		/* Only the views this caller may read are listed. */
		for (i = 0; !r && i < g->views->n; i++) {
			const struct view *cv = &g->views->views[i];

			if (!(c = node_intern(h, N_VIEW, cv->container, NULL)))
				r = -ENOMEM;
			else if (fs_check_node(req, cv, c, &who, &why) == 0)
				r = dirlist_add(d, cv->container, c->ino, S_IFDIR);
		}
		/* Not self: a listing shows views, and self is found by name
		 * (lookup), as a view's own tools look for it. */
		break;
	case N_VIEW:
		for (i = 0; !r && i < ARRAY_SIZE(fs_view_files); i++) {
			if (!(c = node_intern(h, fs_view_files[i].kind, n->container, NULL)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, fs_view_files[i].name, c->ino, S_IFREG);
		}
		if (!r && !(c = node_intern(h, N_SECRETS, n->container, NULL)))
			r = -ENOMEM;
		else if (!r)
			r = dirlist_add(d, "secrets", c->ino, S_IFDIR);
		if (!r && !(c = node_intern(h, N_GENERATION, n->container, NULL)))
			r = -ENOMEM;
		else if (!r)
			r = dirlist_add(d, "generation", c->ino, S_IFREG);
		for (i = 0; !r && i < v->n_templates; i++) {
			if (!(c = node_intern(h, N_TEMPLATE, n->container, v->templates[i].name)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, v->templates[i].name, c->ino, S_IFREG);
		}
		for (i = 0; !r && i < v->n_files; i++) {
			if (!(c = node_intern(h, N_CERT, n->container, v->files[i].name)))
				r = -ENOMEM;
			else
				r = dirlist_add(d, v->files[i].name, c->ino, S_IFREG);
		}
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

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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