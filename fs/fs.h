#ifndef FS_H
#define FS_H

struct why;

#include "backends/backend.h"

#include <stddef.h>

/*
 * harombefs: the state behind the FUSE operations.  One struct harombefs
 * per mount.  The loaded configuration (views, backend, audit sink) is a
 * reference-counted generation; a reload builds a new generation and swaps
 * it in, and in-flight opens finish on the one they started with.
 */

struct harombefs;
struct fuse_session;
struct fuse_lowlevel_ops;

/* Largest file a view renders; also the st_size reported for a file that
 * the caller has not opened (a true upper bound). */
#define FS_VIEW_MAX (1u << 20)

/* Load config_path and open everything it names.  With carry (NULL-safe),
 * take over what a previous daemon on this connection carried (Vault
 * leases, change counters, poll registrations) and keep it current there
 * (lib/carry.h).  0 or -errno with err. */
struct carry;
int fs_new(const char *config_path, struct carry *carry, struct harombefs **out, struct why *why);
void fs_free(struct harombefs *h);
const struct fuse_lowlevel_ops *fs_operations(void);
struct workq;
/* workers: where opens that wait on a store run (NULL: in the caller).
 * Starts the page-cache invalidation thread; 0 or -errno. */
int fs_attach(struct harombefs *h, struct fuse_session *se, struct workq *workers);
/* Stop the threads fs_attach started; call before the session goes away. */
void fs_detach(struct harombefs *h);
/* Re-read the config.  On any error the old generation stays, and the
 * error is logged; 0 or -errno. */
int fs_reload(struct harombefs *h);
/* Drop what the backend's cache holds for key (NULL: everything), so that
 * the next open fetches: the control socket calls it.  It also
 * counts a change on the views that map key, and wakes poll()s of open
 * files that hold it (NULL: every view). */
void fs_forget(struct harombefs *h, const char *key);
/* Empty the backend's cache (SIGUSR2): no value is said to have changed. */
void fs_drop_cache(struct harombefs *h);
/* Each live Vault lease of the current configuration (harombe vault leases). */
void fs_leases(struct harombefs *h, backend_lease_fn *fn, void *arg);
/* Log locked-memory use and open handles (SIGUSR1). */
void fs_log_stats(struct harombefs *h);
/* The mountpoint the loaded config names (security.fs.mountpoint). */
const char *fs_config_mountpoint(const struct harombefs *h);

#endif
