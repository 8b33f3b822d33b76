#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * The open pipeline: check the caller against the view, fetch the view's
 * values through inject/, render them into the handle's locked memory,
 * audit the read, reply.  Also read(), which serves that memory, and
 * re-serves a file opened before a daemon restart.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend.h"
#include "fs/access.h"
#include "inject/fetch.h"
#include "inject/render.h"
#include "inject/template.h"
#include "inject/view.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "lib/workq.h"

/* ---- caller ---- */

void fs_caller_of(fuse_req_t req, struct caller *c)
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
int fs_check_caller(fuse_req_t req, const struct view *v, struct caller *c, struct why *why)
{
	gid_t groups[128];

	if (v->gid_set && c->gid != v->gid && c->uid == v->uid) {
		int n = fuse_req_getgroups(req, (int)ARRAY_SIZE(groups), groups);

		if (n > 0) {
			c->groups = groups;
			c->ngroups = n < (int)ARRAY_SIZE(groups) ? n : (int)ARRAY_SIZE(groups);
		}
	}
	int r = access_check(v, c, why);

	c->groups = NULL;
	return r;
}

unsigned int fs_node_mode(const struct view *v, const struct node *n)
{
	int t;

	switch (n->kind) {
	case N_ROOT:
		return 0555;
	case N_VIEW:
		return view_group_reads(v) ? 0550 : 0500;
	case N_SECRETS:
		return v->mode & 040 ? 0550 : 0500;
	case N_TEMPLATE:
		t = view_find_template(v, n->name);
		return t >= 0 ? v->templates[t].mode : 0400;
	case N_GENERATION:
		return view_group_reads(v) ? 0440 : 0400;
	case N_SELF:
		return 0777;
	default:
		return v->mode ? v->mode : 0400;
	}
}

int fs_check_node(fuse_req_t req, const struct view *v, const struct node *n, struct caller *c,
		  struct why *why)
{
	struct view as_member;
	gid_t groups[128];
	int r = fs_check_caller(req, v, c, why), k;

	if (r == 0 || c->uid == v->uid || !v->gid_set || !(fs_node_mode(v, n) & 040))
		return r;
	/* The file is the group's to read: the same rules with the caller's
	 * uid in the owner's place (the gid, the cgroup, no outside tracer). */
	as_member = *v;
	as_member.uid = c->uid;
	if (c->gid != v->gid && (k = fuse_req_getgroups(req, (int)ARRAY_SIZE(groups), groups)) > 0) {
		c->groups = groups;
		c->ngroups = k < (int)ARRAY_SIZE(groups) ? k : (int)ARRAY_SIZE(groups);
	}
	r = access_check(&as_member, c, why);
	c->groups = NULL;
	c->ngroups = 0;
	return r;
}

/* A record of what the caller of this open asked for (vals: its names and
 * keys, never a value), from harombefs. */
void fs_audit_event(struct gen *g, enum audit_event ev, const struct view *v, const char *file,
		    const struct inject_values *vals, const struct caller *c, const char *result,
		    const char *reason, int *audit_rc)
{
	char comm[64];
	struct audit_caller ac = { c->pid, c->uid, c->gid, comm };
	struct inject_audit ia = {
		.event = ev,
		.source = "harombefs",
		.container = v ? v->container : NULL,
		.view = file,
		.caller = &ac,
	};
	int r;

	if (!audit_wants(g->audit, ev))
		return;
	access_command_of(c->pid, comm, sizeof(comm));
	r = inject_audit(g->audit, &ia, vals, result, reason);
	if (audit_rc)
		*audit_rc = r;
}

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* One record per view and caller uid per FS_QUIET_S for a kind of
 * refusal: the first of a burst, then at most one each FS_QUIET_S with the
 * count of those between, so that a tenant cannot fill the log by repeating
 * itself, nor hide another uid's refusal behind its own.  Past
 * FS_BURST_SLOTS uids refused at once, the others are counted, not
 * recorded.  Returns 1 to record, with *between the ones not recorded. */
int fs_burst_record(struct harombefs *h, struct burst *slots, uid_t uid, unsigned long *between)
{
	time_t now = now_s();
	struct burst *b = NULL, *oldest = &slots[0];
	int i, record = 0;

	pthread_mutex_lock(&h->open_lock);
	for (i = 0; i < FS_BURST_SLOTS && !b; i++) {
		if (slots[i].quiet && slots[i].uid == uid)
			b = &slots[i];
		else if (slots[i].quiet < oldest->quiet)
			oldest = &slots[i];
	}
	if (!b && oldest->quiet <= now) {
		b = oldest;
		b->uid = uid;
		b->quiet = 0;
		b->refused = 0;
	}
	if (!b) {
		oldest->refused++;
	} else if (now >= b->quiet) {
		record = 1;
		*between = b->refused;
		b->refused = 0;
		b->quiet = now + FS_QUIET_S;
	} else {
		b->refused++;
	}
	pthread_mutex_unlock(&h->open_lock);
	return record;
}

int fs_may_see(fuse_req_t req, struct gen *g, const struct view *v, const struct node *n)
{
	struct harombefs *h = H(req);
	struct why why = WHY_INIT;
	struct caller who;
	unsigned long between;
	struct node *vn = n->view;

	if (n->kind == N_ROOT || !v)
		return 0;
	fs_caller_of(req, &who);
	if (fs_check_node(req, v, n, &who, &why) == 0)
		return 0;
	/* A bind mount of the view (docker run -v, harombe-bind) is made by
	 * a process that could read harombe.yaml anyway: it may see the
	 * view's directory, and nothing in it. */
	if (n->kind == N_VIEW && access_may_mount(who.pid))
		return 0;
	if (fs_burst_record(h, vn->t.hide, who.uid, &between)) {
		struct inject_values none = INJECT_VALUES_INIT;
		char reason[sizeof(why.msg) + 96], file[300] = "";
		size_t i;

		if (n->kind == N_SECRET)
			snprintf(file, sizeof(file), "secrets/%s", n->name);
		else if (n->kind == N_SECRETS)
			snprintf(file, sizeof(file), "secrets");
		else if (n->kind == N_TEMPLATE || n->kind == N_CERT)
			snprintf(file, sizeof(file), "%s", n->name);
		else if (n->kind == N_GENERATION)
			snprintf(file, sizeof(file), "generation");
		for (i = 0; i < ARRAY_SIZE(fs_view_files); i++)
			if (fs_view_files[i].kind == n->kind)
				snprintf(file, sizeof(file), "%s", fs_view_files[i].name);
		snprintf(reason, sizeof(reason), "hidden: %s (%lu more in the last %d s)", why.msg,
			 between, FS_QUIET_S);
		fs_audit_event(g, AUDIT_ACCESS_DENIED, v, file, &none, &who, "denied", reason, NULL);
		log_info("hid %s/%s from pid %d uid %u: %s", v->container, file, (int)who.pid,
			 (unsigned)who.uid, why.msg);
	}
	return -ENOENT;
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
	const struct template *tmpl;	/* N_TEMPLATE: what renders it */
	const char *const *names, *const *keys;
	size_t cnt;
	/* A read at offset 0 on a file opened before a restart: render it
	 * again, and serve it under the old token if it has the old size. */
	int adopt;
	size_t read_size;
	/* Fetched on the loop thread from memory alone (open_dispatch):
	 * open_serve() takes vals and fetch_rc instead of fetching. */
	int fetched, fetch_rc;
	struct inject_values vals;
	struct open_job *next;	/* its view's queue past its share of workers */
	size_t reserved;	/* locked bytes quota_take() set aside for it */
};

/* ---- quotas ---- */

/* Count one more open against j's view: -EMFILE past its open files,
 * -ENOMEM when its open files already hold its locked bytes, or would with
 * what the last open of this file fetched, which is reserved (*reserved)
 * until the fetch says what it really took. */
static int quota_take(struct open_job *j, size_t *reserved, struct why *why)
{
	struct tenant *t = &j->n->view->t;
	size_t est;
	int r = 0;

	*reserved = 0;
	pthread_mutex_lock(&j->h->open_lock);
	est = j->n->fetch_bytes;
	/* With nothing held, the fetch itself decides: a value that shrank
	 * in the store must not stay refused on an old size. */
	if (!t->locked && est > j->v->max_locked)
		est = j->v->max_locked;
	if (t->handles >= j->v->max_open) {
		r = why_fail(why, -EMFILE, "quota: view '%s' has %lu files open (limits.open_files %lu)",
			     j->v->container, t->handles, j->v->max_open);
	} else if (t->locked >= j->v->max_locked || est > j->v->max_locked - t->locked) {
		r = why_fail(why, -ENOMEM, "quota: view '%s' holds %zu locked bytes, %zu more would pass "
			     "limits.locked_memory %zu", j->v->container, t->locked, est, j->v->max_locked);
	} else {
		t->handles++;
		t->locked += est;
		*reserved = est;
	}
	pthread_mutex_unlock(&j->h->open_lock);
	return r;
}

/* Charge locked bytes (values being rendered, or the content) to j's view;
 * -ENOMEM when they would pass its limit. */
static int quota_charge(struct open_job *j, size_t charge, struct why *why)
{
	struct tenant *t = &j->n->view->t;
	int r = 0;

	pthread_mutex_lock(&j->h->open_lock);
	if (t->locked + charge > j->v->max_locked)
		r = why_fail(why, -ENOMEM, "quota: view '%s' holds %zu locked bytes, %zu more would pass "
			     "limits.locked_memory %zu", j->v->container, t->locked, charge, j->v->max_locked);
	else
		t->locked += charge;
	pthread_mutex_unlock(&j->h->open_lock);
	return r;
}

static void quota_put_bytes(struct open_job *j, size_t charge)
{
	pthread_mutex_lock(&j->h->open_lock);
	j->n->view->t.locked -= charge;
	pthread_mutex_unlock(&j->h->open_lock);
}

static void quota_put(struct open_job *j, size_t charge)
{
	struct tenant *t = &j->n->view->t;

	pthread_mutex_lock(&j->h->open_lock);
	t->handles--;
	t->locked -= charge;
	pthread_mutex_unlock(&j->h->open_lock);
}

/* A refusal for quota: audited and logged once per burst. */
static void quota_refused(struct open_job *j, const struct why *why)
{
	struct tenant *t = &j->n->view->t;
	struct inject_values asked;
	unsigned long between;
	char reason[sizeof(why->msg) + 96];

	if (!fs_burst_record(j->h, t->quota, j->who.uid, &between))
		return;
	snprintf(reason, sizeof(reason), "%s (%lu more refused in the last %d s)", why->msg, between,
		 FS_QUIET_S);
	inject_values_init(&asked, j->names, j->keys, j->cnt);
	fs_audit_event(j->g, AUDIT_ACCESS_DENIED, j->v, j->file, &asked, &j->who, "denied", reason, NULL);
	log_warn("refused %s/%s to pid %d uid %u: %s", j->v->container, j->file, (int)j->who.pid,
		 (unsigned)j->who.uid, reason);
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
		quota_put(j, hd->charge);
		secbuf_free(hd->content);
		free(hd);
	}
}

/* Fetch, render, audit and reply: in the FUSE loop when the store answers
 * from memory, else in the open workers, so that a slow store holds one
 * caller and never the loop.  j holds one of its view's open files
 * (quota_take); the handle keeps it, a failure gives it back. */
static void open_serve(void *arg)
{
	struct open_job *j = arg;
	struct harombefs *h = j->h;
	struct handle *hd = NULL;
	struct inject_values vals = INJECT_VALUES_INIT;
	struct secbuf *content = NULL;
	struct why why = WHY_INIT;
	size_t charge = 0, fetched = 0, i;
	int r, audit_rc = 0;

	inject_values_init(&vals, j->names, j->keys, j->cnt);
	charge = j->reserved;
	hd = calloc(1, sizeof(*hd));
	if (!hd) {
		r = why_fail(&why, -ENOMEM, "out of memory");
		goto fail;
	}
	if (j->n->kind == N_GENERATION) {
		/* A count, not a secret: no fetch, no secret_read record. */
		if (!(content = notify_generation_content(h, j->n->view))) {
			r = why_fail(&why, -ENOMEM, "locked memory exhausted");
			goto fail_noaudit;
		}
		quota_put_bytes(j, charge);
		charge = 0;
		goto charged;
	}
	if (j->fetched) {
		vals = j->vals;
		r = j->fetch_rc;
	} else {
		r = inject_fetch_for(j->g->be, j->v ? j->v->container : NULL, j->names, j->keys, j->cnt, &vals);
	}
	if (r != 0) {
		if (vals.failed == vals.n) {
			r = why_fail(&why, -ENOMEM, "out of memory");
			goto fail;
		}
		why_set(&why, "%s (%s): %s%s%.400s", j->names[vals.failed], j->keys[vals.failed],
			backend_strerror(vals.rc), why_sep(&vals.why), vals.why.msg);
		r = -errno_for(vals.rc);
		goto fail;
	}
	/* The values count against the view while it renders them, and
	 * what this file's last open fetched was set aside before the fetch:
	 * a view with large values cannot fill the arena with opens in
	 * flight. */
	for (i = 0; i < vals.n; i++)
		fetched += secbuf_footprint(vals.values[i]);
	pthread_mutex_lock(&h->open_lock);
	j->n->fetch_bytes = fetched;
	pthread_mutex_unlock(&h->open_lock);
	if (fetched > charge) {
		if ((r = quota_charge(j, fetched - charge, &why)) != 0) {
			quota_refused(j, &why);
			goto fail_quiet;
		}
	} else {
		quota_put_bytes(j, charge - fetched);
	}
	charge = fetched;
	if (j->tmpl)
		r = inject_render_template(&vals, j->tmpl, FS_VIEW_MAX, &content, &why);
	else
		r = inject_render(&vals, j->kind, FS_VIEW_MAX, &content, &why);
	if (r) {
		r = r == -ENOMEM ? -ENOMEM : -EIO;
		goto fail;
	}
	inject_values_wipe(&vals);
	quota_put_bytes(j, charge);
	charge = 0;

charged:
	if (j->adopt && secbuf_len(content) != (size_t)(j->fi.fh & FH_SIZE_MASK)) {
		/* The reader knows the size of the old content (fstat, bash's
		 * source); different content under that size would be torn. */
		r = why_fail(&why, -ESTALE, "opened before a daemon restart and changed since");
		goto fail;
	}
	if ((r = quota_charge(j, secbuf_footprint(content), &why)) != 0) {
		quota_refused(j, &why);
		goto fail_quiet;
	}
	charge = secbuf_footprint(content);

	/* Audit before serving: like Vault's audit devices, a read that
	 * cannot be recorded is refused. */
	if (j->n->kind != N_GENERATION)
		fs_audit_event(j->g, AUDIT_SECRET_READ, j->v, j->file, &vals, &j->who, "ok", NULL, &audit_rc);
	if (audit_rc) {
		r = why_fail(&why, -EIO, "audit log unwritable");
		goto fail_noaudit;
	}

	hd->node = j->n;
	hd->content = content;
	hd->size = secbuf_len(content);
	hd->charge = charge;
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
		why_set(&why, "no random token: %s", strerror(-r));
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
	/* The walk to this open left the size bound in the kernel's attribute
	 * cache (fs.c): forget it, so that fstat() asks for the exact size.
	 * Attributes only (offset -1): no lock the kernel could be holding
	 * while it waits for us. */
	if (h->se)
		fuse_lowlevel_notify_inval_inode(h->se, j->n->ino, -1, 0);
	if (fuse_reply_open(j->req, &j->fi) != 0) {
		/* The caller was interrupted: no release will come. */
		handle_drop(h, hd);
	}
	hd = NULL;
	goto out;
fail:
	fs_audit_event(j->g, AUDIT_SECRET_READ, j->v, j->file, &vals, &j->who, "error", why.msg, NULL);
fail_noaudit:
	log_info("cannot serve %s/%s to pid %d: %s", j->v->container, j->file, (int)j->who.pid, why.msg);
fail_quiet:
	quota_put(j, charge);
	fuse_reply_err(j->req, -r);
out:
	inject_values_release(&vals);
	secbuf_free(content);
	free(hd);
	gen_put(j->g);
	free(j);
}

/* ---- the open workers, shared fairly ---- */

/* A worker serves j, then the opens of the same view that waited for a
 * worker, in order, and gives its place back when none are left. */
static void open_work(void *arg)
{
	struct open_job *j = arg;
	struct harombefs *h = j->h;
	struct tenant *t = &j->n->view->t;

	while (j) {
		open_serve(j);
		pthread_mutex_lock(&h->open_lock);
		j = t->wait_head;
		if (j) {
			t->wait_head = j->next;
			if (!t->wait_head)
				t->wait_tail = NULL;
		} else {
			t->running--;
		}
		pthread_mutex_unlock(&h->open_lock);
	}
}

/* A view holds at most h->share workers: its other opens wait in its own
 * queue, so that opens of a view whose store is slow never stand between
 * another view's open and a free worker. */
static void open_dispatch(struct open_job *j)
{
	struct harombefs *h = j->h;
	struct tenant *t = &j->n->view->t;
	int run;

	if (!h->workers || (backend_caps(j->g->be) & BACKEND_INSTANT) || j->n->kind == N_GENERATION)
		return open_serve(j);
	/* A store that holds every value in memory now (a fresh cache entry,
	 * a decrypted SOPS file, a live lease) answers here, as an instant
	 * one does: the hand-off to a worker costs more than the open.  A
	 * miss, an entry past cache_ttl or a refresh goes to the workers. */
	j->fetch_rc = inject_try_fetch_for(j->g->be, j->v ? j->v->container : NULL, j->names, j->keys, j->cnt,
					   &j->vals);
	if (j->fetch_rc != -BACKEND_EWOULDBLOCK) {
		j->fetched = 1;
		return open_serve(j);
	}
	inject_values_release(&j->vals);
	fs_count(h, FS_OPEN_TO_WORKERS);
	pthread_mutex_lock(&h->open_lock);
	run = t->running < h->share;
	if (run) {
		t->running++;
	} else {
		j->next = NULL;
		if (t->wait_tail)
			t->wait_tail->next = j;
		else
			t->wait_head = j;
		t->wait_tail = j;
	}
	pthread_mutex_unlock(&h->open_lock);
	if (run && workq_push(h->workers, open_work, j) != 0) {
		pthread_mutex_lock(&h->open_lock);
		t->running--;
		pthread_mutex_unlock(&h->open_lock);
		open_serve(j);
	}
}

/* Check the caller of req against the file's view, then serve: an open, or
 * with adopt, a first read of a file opened before a restart. */
static void open_begin(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int adopt,
		       size_t read_size)
{
	struct harombefs *h = H(req);
	struct node *n = node_by_ino(h, ino);
	struct open_job *j;
	struct why why = WHY_INIT;
	int secret, r;
	size_t i;

	if (!n)
		return (void)fuse_reply_err(req, adopt ? ESTALE : ENOENT);
	if (is_dir(n->kind))
		return (void)fuse_reply_err(req, EISDIR);
	if (n->kind == N_SELF)
		return (void)fuse_reply_err(req, ELOOP);	/* a link: the kernel follows it */
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
	if ((r = node_resolve(j->g, n, &j->v, &secret)) != 0) {
		gen_put(j->g);
		free(j);
		return (void)fuse_reply_err(req, adopt ? ESTALE : -r);
	}
	fs_caller_of(req, &j->who);
	j->kind = RENDER_RAW;
	if (n->kind == N_SECRET)
		snprintf(j->file, sizeof(j->file), "secrets/%s", n->name);
	for (i = 0; i < ARRAY_SIZE(fs_view_files); i++)
		if (fs_view_files[i].kind == n->kind) {
			snprintf(j->file, sizeof(j->file), "%s", fs_view_files[i].name);
			j->kind = fs_view_files[i].render;
		}
	if (n->kind == N_TEMPLATE) {
		j->tmpl = j->v->templates[secret].tmpl;
		snprintf(j->file, sizeof(j->file), "%s", n->name);
		j->names = template_names(j->tmpl);
		j->keys = template_keys(j->tmpl);
		j->cnt = template_nkeys(j->tmpl);
	} else if (n->kind == N_CERT) {
		/* one value as it is: a certificate, its key, its CA chain */
		snprintf(j->file, sizeof(j->file), "%s", n->name);
		j->names = (const char *const *)&j->v->files[secret].name;
		j->keys = (const char *const *)&j->v->files[secret].key;
		j->cnt = 1;
	} else if (n->kind == N_GENERATION) {
		snprintf(j->file, sizeof(j->file), "generation");
		j->names = j->keys = NULL;
		j->cnt = 0;
	} else {
		j->names = secret >= 0 ? &j->v->names[secret] : j->v->names;
		j->keys = secret >= 0 ? &j->v->keys[secret] : j->v->keys;
		j->cnt = secret >= 0 ? 1 : j->v->n;
	}

	if (fs_check_node(req, j->v, n, &j->who, &why) != 0) {
		struct inject_values asked;

		inject_values_init(&asked, j->names, j->keys, j->cnt);
		fs_audit_event(j->g, AUDIT_ACCESS_DENIED, j->v, j->file, &asked, &j->who, "denied", why.msg, NULL);
		log_info("refused %s/%s to pid %d uid %u: %s", j->v->container, j->file, (int)j->who.pid,
			 (unsigned)j->who.uid, why.msg);
		gen_put(j->g);
		free(j);
		return (void)fuse_reply_err(req, EACCES);
	}
	if (j->v->cgroup && !adopt)
		live_seen(h, n->view, j->who.pid);
	if ((r = quota_take(j, &j->reserved, &why)) != 0) {
		quota_refused(j, &why);
		gen_put(j->g);
		free(j);
		return (void)fuse_reply_err(req, -r);
	}
	open_dispatch(j);
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_count(H(req), FS_REQ_OPEN);
	open_begin(req, ino, fi, 0, 0);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *hd = handle_get(H(req), ino, fi);
	size_t len;
	const unsigned char *data;

	fs_count(H(req), FS_REQ_READ);
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
