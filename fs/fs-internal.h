#ifndef FS_INTERNAL_H
#define FS_INTERNAL_H

/*
 * What the files of fs/ share, and nothing outside fs/ includes: the
 * inode table, open handles and their tokens, configuration generations,
 * and the functions each file offers the others.
 *
 *   fs.c     the fuse_lowlevel_ops table: lookup, getattr, release,
 *            statfs; mount lifecycle and reload
 *   nodes.c  generations, inodes, handle tokens
 *   dir.c    directory listings (opendir, readdir, releasedir)
 *   open.c   the open pipeline: caller check, fetch through inject/,
 *            render, audit, reply (open, read)
 *   inval.c  telling the kernel to forget: page cache after close, and
 *            what a reload changed
 *   notify.c change notification: generations of views, poll() on open
 *            files, the generation file; MOUNT/self
 *   watch.c  changes nobody tells harombefs about: a SOPS file edited
 *            underneath, Vault secrets of containers with `watch:`
 *   onchange.c  on_change: a signal to a view's cgroup, or a command
 *   live.c   whether a container is alive (open files, its readers'
 *            cgroups), for the store's per-container values (hooks)
 */

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fs/fs.h"
#include "inject/render.h"
#include "lib/config.h"

struct backend;
struct caller;
struct open_job;
struct view;
struct why;

/* Append only: a node's inode number hashes its kind's value. */
enum node_kind {
	N_ROOT, N_VIEW, N_ENV, N_DOCKER_ENV, N_JSON, N_SECRETS, N_SECRET,
	N_TEMPLATE,		/* name: the template's file name */
	N_GENERATION,		/* the view's change counter */
	N_SELF,			/* MOUNT/self: a link to the caller's one view */
	N_CERT,			/* name: a certificate's file (certificates:) */
};

/* The root's link to the caller's own view. */
#define FS_SELF_NAME "self"

#define NODE_BUCKETS 1024
/* Cgroups remembered per view for its liveness (live.c). */
#define FS_SEEN_CGROUPS 8

struct fs_view_file {
	const char *name;
	enum node_kind kind;
	enum render_kind render;
};

/* env, docker.env, env.json: the files of every view but secrets/ */
#define FS_VIEW_FILES 3
extern const struct fs_view_file fs_view_files[FS_VIEW_FILES];

/*
 * A node's inode number is a hash of what it is (kind, container, name):
 * the same number in every harombefs process, across reloads and restarts.
 * A daemon that resumes the kernel connection of one that died (see
 * fs/handover.h) must give the kernel's cached dentries and open files
 * exactly the nodes they had, and a number can never name a different
 * view's file.  The table only grows: it holds names, which are not secret,
 * and config is small.
 */
/*
 * What one view's opens hold and wait for, against its limits (the view's
 * max_open and max_locked) and its share of the open workers.  Kept on the
 * view's node, not the view, so that it outlives reloads with the handles
 * it counts.  open_lock.
 */
/* Refusals of one kind for one caller uid: recorded once per FS_QUIET_S. */
struct burst {
	uid_t uid;
	time_t quiet;			/* no record before (monotonic s) */
	unsigned long refused;		/* refusals since the last record */
};
#define FS_BURST_SLOTS 4

struct tenant {
	unsigned long handles;		/* open files, and opens in flight */
	size_t locked;			/* arena bytes its open files hold */
	unsigned int running;		/* its opens in the workers */
	struct open_job *wait_head, *wait_tail;	/* its opens past its share */
	struct burst quota[FS_BURST_SLOTS];	/* quota refusals, by uid */
	struct burst hide[FS_BURST_SLOTS];	/* hidden lookups, by uid */
};

struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	char *container;	/* NULL for the root */
	char *name;		/* secret name for N_SECRET */
	struct node *hnext;	/* hash chain, by ino */
	struct handle *open;	/* open handles, for per-caller st_size */
	struct node *view;	/* the N_VIEW node of its container (itself for a
				 * view), NULL for the root */
	size_t fetch_bytes;	/* what its last open fetched (open_lock): reserved
				 * against its view's locked bytes before a fetch */
	unsigned long changes;	/* N_VIEW: values of the view changed so far (open_lock) */
	unsigned long hook_seen;	/* N_VIEW: changes its on_change last ran for (open_lock) */
	uint64_t hook_last_ms;	/* N_VIEW: when it last ran (monotonic ms; 0: never) */
	char *seen_cg[FS_SEEN_CGROUPS];	/* N_VIEW with a cgroup rule: its readers' cgroups (live.c; open_lock) */
	unsigned int seen_next;	/* the slot the next one replaces when all are taken */
	struct tenant t;	/* N_VIEW only */
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
#define FH_RANDOM 32

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
	size_t charge;		/* what it counts against its view's locked bytes */
	pid_t tid;		/* the thread that opened it */
	struct handle *next, *prev;
	struct fuse_pollhandle *ph;	/* a poll() waiting for a change, or NULL */
	uint64_t kh;		/* the kernel's handle of that poll (0: none yet) */
	int changed;		/* a value it holds changed since the open */
};

/*
 * A file a previous daemon opened, as far as change notification goes:
 * its token (fi->fh), inode, the kernel's poll handle and whether a value
 * it holds changed.  Carried across restarts (notify.c), so that a poll()
 * blocked across one is woken by a change after it.  open_lock.
 */
struct ghost {
	struct ghost *next;
	uint64_t token;
	fuse_ino_t ino;
	uint64_t kh;		/* 0: no poll registered */
	int changed;
};

struct gen {
	unsigned long refs;
	struct harombe_config *cfg;
	struct viewset *views;
	struct backend *be;
	struct audit *audit;
	struct timespec loaded;
};

/* Requests served, by kind: the stats line (SIGUSR1) reports them, so a
 * benchmark or a test can see what each open costs in round trips; and the
 * opens handed to the open workers (the rest were served on the loop
 * thread, from memory). */
enum fs_req {
	FS_REQ_LOOKUP, FS_REQ_GETATTR, FS_REQ_OPEN, FS_REQ_READ, FS_REQ_RELEASE, FS_OPEN_TO_WORKERS, FS_REQ_N
};

struct harombefs {
	char *config_path;
	unsigned long reqs[FS_REQ_N];	/* atomic, relaxed: fs_count() */
	struct fuse_session *se;

	pthread_rwlock_t gen_lock;
	struct gen *cur;

	pthread_rwlock_t node_lock;
	struct node *nodes[NODE_BUCKETS];	/* by ino */

	struct fhref *fhs[FH_BUCKETS];		/* open handles by token; open_lock */
	uint64_t rnd[FH_RANDOM];	/* random bits for tokens; open_lock */
	unsigned int rnd_left;		/* of them not used yet */

	struct workq *workers;		/* opens that wait on a store; NULL: inline */
	unsigned int share;		/* workers one view may hold at once */
	struct invalq *inval;		/* page-cache drops after close */
	struct watcher *watch;		/* SOPS file and Vault watch: changes (watch.c) */
	pthread_mutex_t open_lock;	/* node->open lists */
	unsigned long handles;		/* open file handles */

	struct carry *carry;		/* passed on to the next daemon (lib/carry.h), or NULL */
	unsigned long carry_ticket;
	struct ghost *ghosts;		/* handles of previous daemons; open_lock */
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

static inline int is_dir(enum node_kind k)
{
	return k == N_ROOT || k == N_VIEW || k == N_SECRETS;
}

static inline struct harombefs *H(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline void fs_count(struct harombefs *h, enum fs_req r)
{
	__atomic_fetch_add(&h->reqs[r], 1, __ATOMIC_RELAXED);
}

/* ---- nodes.c ---- */

/* A generation: get holds it (a reference), put lets it go. */
struct gen *gen_get(struct harombefs *h);
void gen_put(struct gen *g);
void gen_free(struct gen *g);
/* Load config, views, audit sink and backend (which gets carry, NULL-safe).
 * 0 or -errno with err. */
struct carry;
int gen_load(const char *path, struct carry *carry, struct gen **out, struct why *why);
struct node *node_by_ino(struct harombefs *h, fuse_ino_t ino);
/* node_lock held. */
struct node *node_find_locked(struct harombefs *h, enum node_kind kind, const char *container,
			      const char *name);
/* The node for (kind, container, name), made on first use; NULL on ENOMEM
 * or an inode number collision. */
struct node *node_intern(struct harombefs *h, enum node_kind kind, const char *container,
			 const char *name);
/* Does n exist in generation g?  Sets *view and *secret (index or -1; for
 * N_TEMPLATE the template's index). */
int node_resolve(const struct gen *g, const struct node *n, const struct view **view, int *secret);
/* Every node of generation g, now.  0 or -ENOMEM. */
int node_intern_all(struct harombefs *h, const struct gen *g);
/* Handle tokens; open_lock held. */
struct fhref *fh_find_locked(struct harombefs *h, uint64_t token, int dir);
void fh_link_locked(struct harombefs *h, struct fhref *ref);
int fh_add_locked(struct harombefs *h, struct fhref *ref, int dir, size_t size);
void fh_remove_locked(struct harombefs *h, struct fhref *ref);
struct handle *handle_get(struct harombefs *h, fuse_ino_t ino, const struct fuse_file_info *fi);
/* Unlink an open handle and wipe its content. */
void handle_drop(struct harombefs *h, struct handle *hd);
struct dirlist *dirlist_get(struct harombefs *h, const struct fuse_file_info *fi);

/* ---- dir.c ---- */

void dirlist_free(struct dirlist *d);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* ---- open.c ---- */

void fs_caller_of(fuse_req_t req, struct caller *c);
/* 0, or -EACCES with why: access_check() with the caller's groups. */
int fs_check_caller(fuse_req_t req, const struct view *v, struct caller *c, struct why *why);
/* May the caller of req learn that node n of view v exists (lookup,
 * getattr)?  Those who may read the view; for the view's own directory
 * also those who may bind-mount it (access_may_mount).  A refusal is
 * audited, once per view per FS_QUIET_S.  0 or -ENOENT. */
int fs_may_see(fuse_req_t req, struct gen *g, const struct view *v, const struct node *n);
/* The permission bits of n (of view v): 0400/0500, or 0440/0550 where the
 * view shares the file with its group. */
unsigned int fs_node_mode(const struct view *v, const struct node *n);
/* fs_check_caller(), and for a file (or directory) whose mode lets the
 * view's group read it, also a caller of another uid that holds the view's
 * gid and meets its cgroup rule.  0 or -EACCES with why. */
int fs_check_node(fuse_req_t req, const struct view *v, const struct node *n, struct caller *c,
		  struct why *why);
/* Audit one event of harombefs about file of view v (vals: names and keys,
 * never a value); *audit_rc, when given, gets audit_write()'s result. */
struct inject_values;
void fs_audit_event(struct gen *g, enum audit_event ev, const struct view *v, const char *file,
		    const struct inject_values *vals, const struct caller *c, const char *result,
		    const char *reason, int *audit_rc);
/* One record per caller uid per FS_QUIET_S in slots: 1 to record now, with
 * *between the refusals not recorded since. */
int fs_burst_record(struct harombefs *h, struct burst *slots, uid_t uid, unsigned long *between);
/* A view may hold 1/FS_SHARE_DIV of the open workers (rounded up). */
#define FS_SHARE_DIV 2
/* Seconds between two records of one view's refusals of one kind. */
#define FS_QUIET_S 10
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);

/* ---- notify.c ---- */

/* A value under key's path changed in the store (NULL: any value): count a
 * change on every view that maps it, and wake the poll() of every open file
 * that holds it. */
void notify_changed(struct harombefs *h, const char *key);
/* The same for one container's views only (a value minted per container:
 * a lease, a certificate).  container NULL: every view. */
void notify_changed_in(struct harombefs *h, const char *container, const char *key);
/* The content of a view's generation file ("N\n"), in locked memory. */
struct secbuf *notify_generation_content(struct harombefs *h, struct node *view);
void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
/* What a restart passes on (change counters, poll registrations): take
 * the predecessor's at start, and rewrite it.  notify_carry_save_locked()
 * wants node_lock (read) and open_lock held. */
void notify_carry_load(struct harombefs *h);
void notify_carry_save(struct harombefs *h);
void notify_carry_save_locked(struct harombefs *h);
/* Before a release of hd (NULL: a file opened before a restart, token
 * fi->fh, whose ghost is forgotten here): 1 when the carried state must be
 * rewritten once the handle is gone (notify_carry_save). */
int notify_release(struct harombefs *h, struct handle *hd, uint64_t token);
/* The one view the caller of req may read, for MOUNT/self: its index in
 * g's views, or -ENOENT (none or several; with audit, recorded once per
 * FS_QUIET_S per uid).  self is found by name, never listed. */
int self_resolve(fuse_req_t req, struct gen *g, int audit);
void fs_readlink(fuse_req_t req, fuse_ino_t ino);

/* ---- watch.c ---- */

/* Start and stop the thread that watches the SOPS file and polls Vault
 * metadata for views with watch:.  0 or -errno. */
int watch_start(struct harombefs *h);
void watch_stop(struct harombefs *h);
/* Wake the thread now: a view changed (its on_change may be due). */
void watch_kick(struct harombefs *h);

/* ---- onchange.c ---- */

/* Run the on_change of every view of g that changed and whose
 * min_interval has passed; the time (monotonic ms) the next one falls due,
 * or UINT64_MAX. */
uint64_t onchange_run_due(struct harombefs *h, struct gen *g);

/* ---- live.c ---- */

/* Give be the hooks by which it asks whether a container is alive and
 * tells when a per-container value changed. */
void live_attach(struct harombefs *h, struct backend *be);
/* A reader (pid) of view, a view with a cgroup rule: remember its cgroup. */
void live_seen(struct harombefs *h, struct node *view, pid_t pid);
void live_free(struct node *n);

/* ---- inval.c ---- */

/* Start and stop the page-cache invalidation thread. */
int inval_start(struct harombefs *h);
void inval_stop(struct harombefs *h);
/* After the last close of ino: drop its page cache (soon, coalesced). */
void inval_later(struct harombefs *h, fuse_ino_t ino);
/* An open of ino: the kernel drops its page cache itself (no keep_cache). */
void inval_cancel(struct harombefs *h, fuse_ino_t ino);
/* Tell the kernel to forget what changed between two generations. */
void inval_reload(struct harombefs *h, const struct gen *old, const struct gen *new);

#endif
