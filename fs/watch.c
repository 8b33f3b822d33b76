#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * Changes harombefs is not told about: a SOPS file edited underneath it
 * (inotify on the file's directory: an atomic replace is a rename into it,
 * an in-place write a close after writing), and Vault KV v2 secrets
 * changed by others, for containers with `watch: PERIOD` (one metadata
 * request per secret path per period, the shortest period of the views
 * that map it).  Either drops the cached copies and counts a change
 * (fs_forget), which wakes poll()s.  One thread; it re-reads the current
 * generation each time it wakes, so a reload takes effect within
 * WATCH_IDLE_MS.  It also runs the views' on_change (onchange.c), woken by
 * watch_kick() when a view changed.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "inject/view.h"
#include "lib/config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/why.h"

#define WATCH_IDLE_MS 2000

struct wpath {
	char *path;		/* a secret's path (no #field, no @version) */
	uint64_t period_ms;
	uint64_t due_ms;	/* monotonic */
	long long version;	/* last seen; 0: not yet */
	int seen;		/* present in the current generation */
};

struct watcher {
	struct harombefs *h;
	pthread_t thread;
	int stop[2];		/* a byte on stop[1] ends the thread */
	int ino;		/* inotify fd, or -1 */
	int wd;			/* the watch on the SOPS file's directory, or -1 */
	char *sops_path;	/* what wd watches for: the file's full path */
	char *sops_dir, *sops_base;
	struct wpath *paths;
	size_t n, cap;
	int notsup_logged;
};

/* Guards harombefs's watch pointer between watch_start/watch_stop and the
 * control thread's watch_kick. */
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- SOPS: inotify on the file's directory ---- */

static void sops_unwatch(struct watcher *w)
{
	if (w->wd >= 0)
		inotify_rm_watch(w->ino, w->wd);
	w->wd = -1;
	free(w->sops_path);
	free(w->sops_dir);
	w->sops_path = w->sops_dir = NULL;
	w->sops_base = NULL;
}

static void sops_follow(struct watcher *w, const struct gen *g)
{
	const char *file = NULL;
	char *path, *slash;

	if (w->ino < 0)
		return;
	if (g->cfg->provider && !strcmp(g->cfg->provider, "sops"))
		(void)cfg_get_str(g->cfg->credentials, "secrets_file", &file, NULL);
	path = file ? path_expand_home(file) : NULL;
	if ((!path && !w->sops_path) || (path && w->sops_path && !strcmp(path, w->sops_path))) {
		free(path);
		return;
	}
	sops_unwatch(w);
	if (!path || !(slash = strrchr(path, '/')) || !(w->sops_dir = strndup(path, (size_t)(slash - path) + 1))) {
		free(path);
		return;
	}
	w->sops_path = path;
	w->sops_base = slash + 1;
	w->wd = inotify_add_watch(w->ino, w->sops_dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	if (w->wd < 0)
		log_warn("cannot watch '%s' for changes: %s; poll() waiters learn of its edits only "
			 "through harombe's own writes", w->sops_path, strerror(errno));
}

/* Did the events in buf touch the SOPS file? */
static int sops_touched(struct watcher *w, const char *buf, ssize_t len)
{
	const struct inotify_event *e;
	const char *p;
	int hit = 0;

	for (p = buf; p < buf + len; p += sizeof(*e) + e->len) {
		e = (const struct inotify_event *)p;
		if (e->wd == w->wd && w->sops_base && e->len && !strcmp(e->name, w->sops_base))
			hit = 1;
	}
	return hit;
}

/* ---- Vault: KV v2 metadata, per secret path ---- */

static struct wpath *wpath_find(struct watcher *w, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strlen(w->paths[i].path) == len && !memcmp(w->paths[i].path, path, len))
			return &w->paths[i];
	return NULL;
}

/* The paths the views of g watch, each with its shortest period; paths no
 * longer watched are dropped. */
static void vault_follow(struct watcher *w, const struct gen *g)
{
	size_t i, k;
	uint64_t now = now_ms();

	for (i = 0; i < w->n; i++) {
		w->paths[i].seen = 0;
		w->paths[i].period_ms = 0;
	}
	for (i = 0; i < g->views->n; i++) {
		const struct view *v = &g->views->views[i];

		for (k = 0; v->watch_ms && k < v->n; k++) {
			const char *key = v->keys[k];
			size_t len = strcspn(key, "@#");
			struct wpath *p;

			if (key[len] == '@')
				continue;	/* a pinned version never changes */
			if (!(p = wpath_find(w, key, len))) {
				struct wpath *np;

				if (w->n == w->cap) {
					np = realloc(w->paths, (w->cap ? w->cap * 2 : 8) * sizeof(*np));
					if (!np)
						continue;
					w->paths = np;
					w->cap = w->cap ? w->cap * 2 : 8;
				}
				p = &w->paths[w->n];
				memset(p, 0, sizeof(*p));
				if (!(p->path = strndup(key, len)))
					continue;
				p->due_ms = now;
				w->n++;
			}
			p->seen = 1;
			if (!p->period_ms || v->watch_ms < p->period_ms)
				p->period_ms = v->watch_ms;
			if (p->due_ms > now + p->period_ms)
				p->due_ms = now + p->period_ms;
		}
	}
	for (i = 0; i < w->n;) {
		if (w->paths[i].seen) {
			i++;
			continue;
		}
		free(w->paths[i].path);
		w->paths[i] = w->paths[--w->n];
	}
}

static void vault_check(struct watcher *w, struct gen *g)
{
	uint64_t now = now_ms();
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct wpath *p = &w->paths[i];
		struct backend_meta m;
		struct why why = WHY_INIT;
		int r;

		if (p->due_ms > now)
			continue;
		p->due_ms = now + p->period_ms;
		r = backend_meta(g->be, p->path, &m, &why);
		if (r == -BACKEND_ENOTSUP) {
			if (!w->notsup_logged++)
				log_warn("watch: the %s backend keeps no versions to watch: %s", backend_name(g->be),
					 why.msg);
			continue;
		}
		if (r) {
			log_info("watch: cannot read the metadata of '%s': %s%s%s", p->path, backend_strerror(r),
				 why_sep(&why), why.msg);
			continue;
		}
		if (m.version && p->version && m.version != p->version) {
			log_info("watch: '%s' is at version %lld (was %lld)", p->path, m.version, p->version);
			fs_forget(w->h, p->path);
		}
		if (m.version)
			p->version = m.version;
	}
}

/* ---- the thread ---- */

static void *watch_main(void *arg)
{
	struct watcher *w = arg;

	for (;;) {
		struct pollfd pf[2] = { { w->stop[0], POLLIN, 0 }, { w->ino, POLLIN, 0 } };
		struct gen *g = gen_get(w->h);
		uint64_t now, next = UINT64_MAX;
		size_t i;
		int timeout, n;

		sops_follow(w, g);
		vault_follow(w, g);
		vault_check(w, g);
		next = onchange_run_due(w->h, g);
		gen_put(g);
		now = now_ms();
		for (i = 0; i < w->n; i++)
			if (w->paths[i].due_ms < next)
				next = w->paths[i].due_ms;
		timeout = next == UINT64_MAX || next - now > WATCH_IDLE_MS ? WATCH_IDLE_MS :
			  next > now ? (int)(next - now) : 0;
		n = poll(pf, w->ino >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char b[64];
			ssize_t got = read(w->stop[0], b, sizeof(b));

			if (got == 0 || (got > 0 && memchr(b, 'q', (size_t)got)))
				break;	/* stop; else a kick: look again */
		}
		if (n > 0 && (pf[1].revents & POLLIN)) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			ssize_t len = read(w->ino, buf, sizeof(buf));

			if (len > 0 && sops_touched(w, buf, len)) {
				log_info("'%s' changed", w->sops_path);
				fs_forget(w->h, NULL);
			}
		}
	}
	return NULL;
}

int watch_start(struct harombefs *h)
{
	struct watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->h = h;
	w->wd = -1;
	w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pipe2(w->stop, O_CLOEXEC | O_NONBLOCK) != 0) {
		if (w->ino >= 0)
			close(w->ino);
		free(w);
		return -errno;
	}
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		close(w->stop[0]);
		close(w->stop[1]);
		if (w->ino >= 0)
			close(w->ino);
		free(w);
		return -EAGAIN;
	}
	pthread_mutex_lock(&kick_lock);
	h->watch = w;
	pthread_mutex_unlock(&kick_lock);
	return 0;
}

void watch_kick(struct harombefs *h)
{
	struct watcher *w;

	/* The control thread kicks; it runs before watch_start and may still
	 * run while watch_stop takes the watcher away. */
	pthread_mutex_lock(&kick_lock);
	w = h->watch;
	if (w && write(w->stop[1], "k", 1) < 0) {
		/* full: the thread is awake already */
	}
	pthread_mutex_unlock(&kick_lock);
}

void watch_stop(struct harombefs *h)
{
	struct watcher *w;
	size_t i;

	pthread_mutex_lock(&kick_lock);
	w = h->watch;
	h->watch = NULL;
	pthread_mutex_unlock(&kick_lock);
	if (!w)
		return;
	if (write(w->stop[1], "q", 1) < 0) {
		/* the thread also stops when the pipe closes */
	}
	pthread_join(w->thread, NULL);
	sops_unwatch(w);
	if (w->ino >= 0)
		close(w->ino);
	close(w->stop[0]);
	close(w->stop[1]);
	for (i = 0; i < w->n; i++)
		free(w->paths[i].path);
	free(w->paths);
	free(w);
}
