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
 *
 * Across a restart on the same connection (fs/handover.h) nothing of this
 * is lost: the counters, and every open file's poll registration and
 * changed flag, are carried to the next daemon (lib/carry.h, section
 * "fs", rewritten whenever they change).  The kernel keeps a poll() that
 * blocked before the restart registered under its own handle (kh), with
 * no request outstanding: only a FUSE_NOTIFY_POLL naming that kh wakes
 * it, so the kh is what is carried.  The files themselves the new daemon
 * knows as ghosts: a token, an inode, a kh, a changed flag.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/access.h"
#include "fs/handover.h"
#include "inject/fetch.h"
#include "inject/template.h"
#include "inject/view.h"
#include "lib/carry.h"
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

#define CARRY_FS "fs"
#define CARRY_FS_VERSION 1

/*
 * The kernel's handle of a poll registration.  libfuse keeps it in its
 * opaque struct fuse_pollhandle, whose first member it has been in every
 * libfuse since 2.8 (lib/fuse_lowlevel.c: { uint64_t kh; struct
 * fuse_session *se; }) and has no accessor for.  THIS READS A PRIVATE
 * STRUCTURE: a libfuse that reorders it breaks the wake-up of poll()s
 * blocked across a restart (nothing else).
 */
static uint64_t ph_kh(const struct fuse_pollhandle *ph)
{
	uint64_t kh;

	memcpy(&kh, ph, sizeof(kh));
	return kh;
}

static void ghost_wake(struct harombefs *h, struct ghost *gh)
{
	if (gh->kh && h->se && handover_notify_poll(fuse_session_fd(h->se), gh->kh) == -ENOENT)
		gh->kh = 0;	/* the kernel forgot it: the file was closed */
}

void notify_carry_save_locked(struct harombefs *h)
{
	struct secbuf *sb;
	struct node *n;
	struct handle *hd;
	struct ghost *gh;
	uint64_t nv = 0, nh = 0;
	size_t b;
	int r;

	if (!h->carry || !h->carry_ticket)
		return;
	for (b = 0; b < NODE_BUCKETS; b++)
		for (n = h->nodes[b]; n; n = n->hnext) {
			nv += n->kind == N_VIEW && (n->changes || n->hook_seen);
			for (hd = n->open; hd; hd = hd->next)
				nh += hd->kh || hd->changed;
		}
	for (gh = h->ghosts; gh; gh = gh->next)
		nh++;
	sb = secbuf_new(256 + nv * 64 + nh * 32);
	r = !sb || carry_w_u64(sb, CARRY_FS_VERSION) || carry_w_u64(sb, nv);
	for (b = 0; b < NODE_BUCKETS && !r; b++)
		for (n = h->nodes[b]; n && !r; n = n->hnext)
			if (n->kind == N_VIEW && (n->changes || n->hook_seen))
				r = carry_w_str(sb, n->container) || carry_w_u64(sb, n->changes) ||
				    carry_w_u64(sb, n->hook_seen);
	r = r || carry_w_u64(sb, nh);
	for (b = 0; b < NODE_BUCKETS && !r; b++)
		for (n = h->nodes[b]; n && !r; n = n->hnext)
			for (hd = n->open; hd && !r; hd = hd->next)
				if (hd->kh || hd->changed)
					r = carry_w_u64(sb, hd->ref.token) || carry_w_u64(sb, n->ino) ||
					    carry_w_u64(sb, hd->kh) || carry_w_u64(sb, (uint64_t)hd->changed);
	for (gh = h->ghosts; gh && !r; gh = gh->next)
		r = carry_w_u64(sb, gh->token) || carry_w_u64(sb, gh->ino) || carry_w_u64(sb, gh->kh) ||
		    carry_w_u64(sb, (uint64_t)gh->changed);
	if (r)
		log_warn("out of locked memory writing the carried change counters: a restart now carries "
			 "older ones");
	else
		carry_put(h->carry, CARRY_FS, h->carry_ticket, secbuf_str(sb), secbuf_len(sb));
	secbuf_free(sb);
}

void notify_carry_save(struct harombefs *h)
{
	if (!h->carry)
		return;
	pthread_rwlock_rdlock(&h->node_lock);
	pthread_mutex_lock(&h->open_lock);
	notify_carry_save_locked(h);
	pthread_mutex_unlock(&h->open_lock);
	pthread_rwlock_unlock(&h->node_lock);
}

void notify_carry_load(struct harombefs *h)
{
	struct secbuf *sb = carry_take(h->carry, CARRY_FS);
	struct carry_rd rd;
	struct gen *g = gen_get(h);
	uint64_t n, i, views = 0, ghosts = 0;

	h->carry_ticket = carry_claim(h->carry, CARRY_FS);
	carry_rd_init(&rd, sb);
	if (sb && carry_r_u64(&rd) != CARRY_FS_VERSION) {
		log_warn("the carried change counters have another format (an older harombefs?): they "
			 "start again from 0");
		rd.bad = 1;
	}
	n = sb ? carry_r_u64(&rd) : 0;
	for (i = 0; i < n && !rd.bad; i++) {
		const char *c = carry_r_str(&rd);
		unsigned long changes = (unsigned long)carry_r_u64(&rd), seen = (unsigned long)carry_r_u64(&rd);
		struct node *vn;

		if (rd.bad || !viewset_find(g->views, c) || !(vn = node_intern(h, N_VIEW, c, NULL)))
			continue;
		pthread_mutex_lock(&h->open_lock);
		vn->changes = changes;
		vn->hook_seen = seen;
		pthread_mutex_unlock(&h->open_lock);
		views++;
	}
	n = sb ? carry_r_u64(&rd) : 0;
	for (i = 0; i < n && !rd.bad; i++) {
		struct ghost *gh = calloc(1, sizeof(*gh));

		if (!gh)
			break;
		gh->token = carry_r_u64(&rd);
		gh->ino = (fuse_ino_t)carry_r_u64(&rd);
		gh->kh = carry_r_u64(&rd);
		gh->changed = (int)carry_r_u64(&rd);
		if (rd.bad) {
			free(gh);
			break;
		}
		pthread_mutex_lock(&h->open_lock);
		gh->next = h->ghosts;
		h->ghosts = gh;
		pthread_mutex_unlock(&h->open_lock);
		ghosts++;
	}
	gen_put(g);
	if (rd.bad && sb)
		log_warn("the carried change counters are cut short: some start again from 0");
	if (sb)
		log_info("carried over: the change counters of %llu view%s, %llu file%s opened before the restart",
			 (unsigned long long)views, views == 1 ? "" : "s", (unsigned long long)ghosts,
			 ghosts == 1 ? "" : "s");
	secbuf_free(sb);
	notify_carry_save(h);
}

int notify_release(struct harombefs *h, struct handle *hd, uint64_t token)
{
	struct ghost **p, *gh = NULL;
	int carried = 0;

	if (!h->carry)
		return 0;
	pthread_mutex_lock(&h->open_lock);
	if (hd) {
		carried = hd->kh || hd->changed;
	} else {
		for (p = &h->ghosts; *p; p = &(*p)->next)
			if ((*p)->token == token) {
				gh = *p;
				*p = gh->next;
				break;
			}
	}
	pthread_mutex_unlock(&h->open_lock);
	free(gh);
	return carried || gh;
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
	struct ghost *gh;

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
			if ((!n->open && !h->ghosts) || !node_holds(v, n, key))
				continue;
			for (hd = n->open; hd; hd = hd->next) {
				hd->changed = 1;
				if (hd->ph) {
					fuse_lowlevel_notify_poll(hd->ph);
					woken++;
				}
			}
			/* Files opened before a restart. */
			for (gh = h->ghosts; gh; gh = gh->next) {
				if (gh->ino != n->ino)
					continue;
				gh->changed = 1;
				if (gh->kh) {
					ghost_wake(h, gh);
					woken++;
				}
			}
		}
	}
	if (views || woken)
		notify_carry_save_locked(h);
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

/*
 * poll() on a file a previous daemon opened: its ghost answers (made now
 * if nothing was carried for it), and keeps the registration for the next
 * change.  Without a carried state to say it did not change (a predecessor
 * older than carrying), it says readable, as a plain file would.
 */
static void ghost_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct harombefs *h = H(req);
	struct ghost *gh;
	unsigned int revents;
	int save = 0;

	pthread_mutex_lock(&h->open_lock);
	for (gh = h->ghosts; gh; gh = gh->next)
		if (gh->token == fi->fh && gh->ino == ino)
			break;
	if (!gh && (gh = calloc(1, sizeof(*gh)))) {
		gh->token = fi->fh;
		gh->ino = ino;
		gh->changed = !(h->carry && carry_inherited(h->carry));
		gh->next = h->ghosts;
		h->ghosts = gh;
		save = 1;
	}
	if (gh && ph && gh->kh != ph_kh(ph)) {
		gh->kh = ph_kh(ph);
		save = 1;
	}
	revents = !gh ? POLLIN : gh->changed ? POLLIN | POLLPRI : 0;
	pthread_mutex_unlock(&h->open_lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
	if (save)
		notify_carry_save(h);
}

void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct harombefs *h = H(req);
	struct handle *hd = handle_get(h, ino, fi);
	unsigned int revents;
	int save = 0;

	if (!hd)
		return ghost_poll(req, ino, fi, ph);
	pthread_mutex_lock(&h->open_lock);
	if (ph) {
		uint64_t kh = ph_kh(ph);

		if (hd->ph)
			fuse_pollhandle_destroy(hd->ph);
		hd->ph = ph;
		save = hd->kh != kh;
		hd->kh = kh;
	}
	revents = hd->changed ? POLLIN | POLLPRI : 0;
	pthread_mutex_unlock(&h->open_lock);
	fuse_reply_poll(req, revents);
	if (save)
		notify_carry_save(h);
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
