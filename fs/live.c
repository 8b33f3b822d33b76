#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * Whether a container is alive, for the values a store keeps per
 * container (Vault leases and certificates): alive while a file of its
 * view is open, or, for a view with a cgroup rule, while a cgroup one of
 * its readers was in still exists; gone once every such cgroup is removed
 * (the container stopped) and no file is open.  Beyond that the store's
 * own idle window decides.  The store asks through backend hooks, and
 * tells back through them when it replaced such a value on its own (a
 * certificate issued again, a lease minted again), which wakes the
 * container's poll() waiters and its on_change (notify.c).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend.h"
#include "fs/access.h"

/* Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on a hybrid host. */
static char cg_root[256];
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

static void find_cg_root(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char dev[64], dir[256], type[32];

	snprintf(cg_root, sizeof(cg_root), "/sys/fs/cgroup");
	if (!f)
		return;
	while (fscanf(f, "%63s %255s %31s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(cg_root, sizeof(cg_root), "%s", dir);
			break;
		}
	fclose(f);
}

static int cg_exists(const char *cg)
{
	char path[800];
	struct stat st;

	pthread_once(&cg_once, find_cg_root);
	snprintf(path, sizeof(path), "%s%s", cg_root, cg);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A reader of view (a view with a cgroup rule) in its cgroup: remembered,
 * and the cgroups that are gone forgotten.  A container whose cgroups are
 * all gone stays gone until it reads again. */
void live_seen(struct harombefs *h, struct node *view, pid_t pid)
{
	char cg[512];
	size_t i;
	int free_slot = -1;

	if (pid <= 0 || access_cgroup_of(pid, cg, sizeof(cg)) != 0 || !strcmp(cg, "/"))
		return;
	pthread_mutex_lock(&h->open_lock);
	for (i = 0; i < FS_SEEN_CGROUPS; i++)
		if (view->seen_cg[i] && strcmp(view->seen_cg[i], cg) && !cg_exists(view->seen_cg[i])) {
			free(view->seen_cg[i]);
			view->seen_cg[i] = NULL;
		}
	for (i = 0; i < FS_SEEN_CGROUPS; i++) {
		if (view->seen_cg[i] && !strcmp(view->seen_cg[i], cg))
			goto out;
		if (!view->seen_cg[i] && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot < 0) {
		/* full: the oldest goes (a container that reads again is seen again) */
		free_slot = (int)(view->seen_next++ % FS_SEEN_CGROUPS);
		free(view->seen_cg[free_slot]);
	}
	view->seen_cg[free_slot] = strdup(cg);
out:
	pthread_mutex_unlock(&h->open_lock);
}

void live_free(struct node *n)
{
	size_t i;

	for (i = 0; i < FS_SEEN_CGROUPS; i++)
		free(n->seen_cg[i]);
}

static int alive(void *arg, const char *scope)
{
	struct harombefs *h = arg;
	char *cg[FS_SEEN_CGROUPS] = { 0 };
	struct node *vn;
	size_t i, seen = 0, exist = 0;
	int open = 0;

	pthread_rwlock_rdlock(&h->node_lock);
	vn = node_find_locked(h, N_VIEW, scope, NULL);
	pthread_mutex_lock(&h->open_lock);
	if (vn) {
		open = vn->t.handles > 0;
		for (i = 0; i < FS_SEEN_CGROUPS; i++)
			if (vn->seen_cg[i])
				cg[i] = strdup(vn->seen_cg[i]);
	}
	pthread_mutex_unlock(&h->open_lock);
	pthread_rwlock_unlock(&h->node_lock);
	for (i = 0; i < FS_SEEN_CGROUPS; i++) {
		if (!cg[i])
			continue;
		seen++;
		exist += cg_exists(cg[i]);
	}
	for (i = 0; i < FS_SEEN_CGROUPS; i++)
		free(cg[i]);
	if (open || exist)
		return BACKEND_SCOPE_ALIVE;
	return seen ? BACKEND_SCOPE_GONE : BACKEND_SCOPE_UNKNOWN;
}

static void changed(void *arg, const char *scope, const char *key)
{
	notify_changed_in(arg, scope, key);
}

void live_attach(struct harombefs *h, struct backend *be)
{
	struct backend_hooks hk = { changed, alive, h };

	backend_set_hooks(be, &hk);
}
