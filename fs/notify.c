#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * Change notification and MOUNT/self.  When harombefs learns that a value
 * changed in the store (the control socket's forget, sent by `harombe
 * vault set`, `rotate` and their kin), every view that maps the key counts
 * one change (its read-only `generation` file), and every open file that
 * holds the value reports POLLIN|POLLPRI to poll()/epoll: a program waits
 * for its secrets to change, then opens the file again.  And `self`: a link
 * in the root that leads each caller to the one view it may read, as
 * /proc/self leads each process to its own directory.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fs/access.h"
#include "inject/fetch.h"
#include "inject/template.h"
#include "inject/view.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/why.h"

/* The path of a key: up to its '@version' or '#field'. */
static size_t path_len(const char *key)
{
	return strcspn(key, "@#");
}

static int same_path(const char *a, const char *b)
{
	size_t n = path_len(a);

	return n == path_len(b) && !memcmp(a, b, n);
}

static int any_key(const char *const *keys, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!key || same_path(keys[i], key))
			return 1;
	return 0;
}

/* Does v map key (its secrets or its certificate files)? */
static int view_maps(const struct view *v, const char *key)
{
	size_t i;

	if (any_key(v->keys, v->n, key))
		return 1;
	for (i = 0; i < v->n_files; i++)
		if (!key || same_path(v->files[i].key, key))
			return 1;
	return 0;
}

/* Does node n of view v hold the value of key? */
static int node_holds(const struct view *v, const struct node *n, const char *key)
{
	int i;

	switch (n->kind) {
	case N_GENERATION:
		return view_maps(v, key);
	case N_ENV:
	case N_DOCKER_ENV:
	case N_JSON:
		return any_key(v->keys, v->n, key);
	case N_CERT:
		i = view_find_file(v, n->name);
		return i >= 0 && (!key || same_path(v->files[i].key, key));
	case N_SECRET:
		i = view_find_secret(v, n->name);
		return i >= 0 && any_key(&v->keys[i], 1, key);
	case N_TEMPLATE:
		i = view_find_template(v, n->name);
		return i >= 0 && any_key(template_keys(v->templates[i].tmpl),
					 template_nkeys(v->templates[i].tmpl), key);
	default:
		return 0;
	}
}

void notify_changed(struct harombefs *h, const char *key)
{
	notify_changed_in(h, NULL, key);
}

void notify_changed_in(struct harombefs *h, const char *container, const char *key)
{
	struct gen *g = gen_get(h);
	size_t b, woken = 0, views = 0;
	struct node *n;
	struct handle *hd;

	pthread_rwlock_rdlock(&h->node_lock);
	pthread_mutex_lock(&h->open_lock);
	for (b = 0; b < NODE_BUCKETS; b++) {
		for (n = h->nodes[b]; n; n = n->hnext) {
			const struct view *v;

			if (n->kind == N_ROOT || n->kind == N_SELF || !n->container ||
			    (container && strcmp(container, n->container)) ||
			    !(v = viewset_find(g->views, n->container)))
				continue;
			if (n->kind == N_VIEW && view_maps(v, key)) {
				n->changes++;
				views++;
			}
			if (!n->open || !node_holds(v, n, key))
				continue;
			for (hd = n->open; hd; hd = hd->next) {
				hd->changed = 1;
				if (hd->ph) {
					fuse_lowlevel_notify_poll(hd->ph);
					woken++;
				}
			}
		}
	}
	pthread_mutex_unlock(&h->open_lock);
	pthread_rwlock_unlock(&h->node_lock);
	gen_put(g);
	if (views)
		watch_kick(h);
	if (views)
		log_info("changed: '%s'%s%s in %zu view%s, %zu poll%s woken", key ? key : "(every key)",
			 container ? " of " : "", container ? container : "", views, views == 1 ? "" : "s", woken,
			 woken == 1 ? "" : "s");
}

struct secbuf *notify_generation_content(struct harombefs *h, struct node *view)
{
	char buf[32];
	int len;

	pthread_mutex_lock(&h->open_lock);
	len = snprintf(buf, sizeof(buf), "%lu\n", view->changes);
	pthread_mutex_unlock(&h->open_lock);
	return secbuf_dup(buf, (size_t)len);
}

void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct harombefs *h = H(req);
	struct handle *hd = handle_get(h, ino, fi);
	unsigned int revents;

	if (!hd) {
		/* opened before a restart: say readable, as a plain file would */
		if (ph)
			fuse_pollhandle_destroy(ph);
		return (void)fuse_reply_poll(req, POLLIN);
	}
	pthread_mutex_lock(&h->open_lock);
	if (ph) {
		if (hd->ph)
			fuse_pollhandle_destroy(hd->ph);
		hd->ph = ph;
	}
	revents = hd->changed ? POLLIN | POLLPRI : 0;
	pthread_mutex_unlock(&h->open_lock);
	fuse_reply_poll(req, revents);
}

/* ---- self ---- */

int self_resolve(fuse_req_t req, struct gen *g, int audit)
{
	struct harombefs *h = H(req);
	struct caller who;
	struct why why = WHY_INIT;
	char names[256] = "";
	size_t i, found = 0, at = 0;
	int k = -ENOENT;
	struct node *root;
	unsigned long between;

	fs_caller_of(req, &who);
	for (i = 0; i < g->views->n; i++) {
		const struct view *v = &g->views->views[i];
		struct node *vn = node_intern(h, N_VIEW, v->container, NULL);

		if (!vn || fs_check_node(req, v, vn, &who, &why) != 0)
			continue;
		if (!found++)
			k = (int)i;
		if (at < sizeof(names))
			at += (size_t)snprintf(names + at, sizeof(names) - at, "%s'%s'", at ? ", " : "", v->container);
	}
	if (found == 1)
		return k;
	if (!audit || !(root = node_by_ino(h, FUSE_ROOT_ID)) ||
	    !fs_burst_record(h, root->t.hide, who.uid, &between))
		return -ENOENT;
	{
		struct inject_values none = INJECT_VALUES_INIT;
		char reason[sizeof(names) + 160];

		if (!found)
			snprintf(reason, sizeof(reason), "self: uid %u gid %u may read no view (%lu more in the last "
				 "%d s)", (unsigned)who.uid, (unsigned)who.gid, between, FS_QUIET_S);
		else
			snprintf(reason, sizeof(reason), "self: uid %u may read %zu views (%s), not one (%lu more "
				 "in the last %d s)", (unsigned)who.uid, found, names, between, FS_QUIET_S);
		fs_audit_event(g, AUDIT_ACCESS_DENIED, NULL, FS_SELF_NAME, &none, &who, "denied", reason, NULL);
		log_info("%s, pid %d", reason, (int)who.pid);
	}
	return -ENOENT;
}

void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct harombefs *h = H(req);
	struct node *n = node_by_ino(h, ino);
	struct gen *g;
	char target[NAMES_CONTAINER_MAX + 1];
	int k;

	if (!n || n->kind != N_SELF)
		return (void)fuse_reply_err(req, EINVAL);
	g = gen_get(h);
	k = self_resolve(req, g, 1);
	if (k < 0) {
		gen_put(g);
		return (void)fuse_reply_err(req, -k);
	}
	snprintf(target, sizeof(target), "%s", g->views->views[k].container);
	gen_put(g);
	fuse_reply_readlink(req, target);
}
