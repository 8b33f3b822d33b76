#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * on_change: when a value of a view changed, send its container's
 * processes a signal (every process of the cgroups its `cgroup:` pattern
 * matches, and of theirs below) and/or run a command as a given user.  At
 * most one run per view per min_interval: changes in between coalesce into
 * one run at the interval's end.  Each run is audited.  The watch thread
 * (watch.c) runs them, so a slow command never holds a FUSE worker.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/access.h"
#include "inject/fetch.h"
#include "inject/view.h"
#include "lib/log.h"

#define HOOK_TIMEOUT_MS 30000
#define CGROUP_DEPTH 32

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the signal ---- */

static int cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char dev[256], dir[4096], type[64];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2") && strlen(dir) < len) {
			snprintf(buf, len, "%s", dir);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static size_t signal_procs(const char *dir, int sig)
{
	char path[4200], line[32];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		pid_t pid = (pid_t)atoi(line);

		if (pid > 1 && pid != getpid() && kill(pid, sig) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* Signal the processes of dir (rel is its path under the cgroup root) when
 * it or an ancestor matched pattern, and walk its children. */
static size_t walk(const char *dir, const char *rel, const char *pattern, int matched, int sig, int depth)
{
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	/* The root itself never counts as a container's cgroup. */
	if (!matched && strcmp(rel, "/") && fnmatch(pattern, rel, FNM_PATHNAME) == 0)
		matched = 1;
	if (matched)
		n += signal_procs(dir, sig);
	if (depth >= CGROUP_DEPTH || !(d = opendir(dir)))
		return n;
	while ((e = readdir(d))) {
		char sub[4200], subrel[4200];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub) ||
		    snprintf(subrel, sizeof(subrel), "%s%s%s", rel, strcmp(rel, "/") ? "/" : "", e->d_name) >=
			    (int)sizeof(subrel))
			continue;
		n += walk(sub, subrel, pattern, matched, sig, depth + 1);
	}
	closedir(d);
	return n;
}

/* ---- the command ---- */

/* Run argv as uid:gid with a small environment, stdin from /dev/null; wait
 * up to HOOK_TIMEOUT_MS.  0 and *status, or -errno. */
static int run_as(char *const *argv, uid_t uid, gid_t gid, const char *container, int *status,
		  int *timed_out)
{
	char ev_c[128], *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				    ev_c, NULL };
	uint64_t deadline;
	pid_t pid, w;

	snprintf(ev_c, sizeof(ev_c), "HAROMBE_CONTAINER=%s", container);
	*timed_out = 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Only async-signal-safe calls from here.  The locked arena is
		 * MADV_WIPEONFORK: this copy of the daemon holds no value. */
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0)
			dup2(fd, 0);
		close_range(3, ~0U, 0);	/* /dev/fuse, the control socket, the audit log */
		setsid();
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	deadline = now_ms() + HOOK_TIMEOUT_MS;
	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline && !*timed_out) {
			*timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		usleep(10000);
	}
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGHUP: return "HUP";
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	case SIGTERM: return "TERM";
	case SIGINT: return "INT";
	case SIGQUIT: return "QUIT";
	case SIGWINCH: return "WINCH";
	case SIGCONT: return "CONT";
	default: return "?";
	}
}

static void run_hook(struct gen *g, const struct view *v, unsigned long changes)
{
	const struct view_on_change *oc = v->on_change;
	struct inject_values asked;
	char reason[512] = "", root[4096];
	size_t at = 0;
	int ok = 1;

	if (oc->signal) {
		size_t n = 0;

		if (cgroup2_root(root, sizeof(root)) == 0)
			n = walk(root, "/", v->cgroup, 0, oc->signal, 0);
		at += (size_t)snprintf(reason + at, sizeof(reason) - at, "on_change: SIG%s to %zu process%s of %s",
				       signame(oc->signal), n, n == 1 ? "" : "es", v->cgroup);
	}
	if (oc->argv && at < sizeof(reason)) {
		int status = 0, timed_out = 0, r = run_as(oc->argv, oc->uid, oc->gid, v->container, &status,
							  &timed_out);

		if (r) {
			ok = 0;
			at += (size_t)snprintf(reason + at, sizeof(reason) - at, "%son_change: cannot run '%s': %s",
					       at ? "; " : "", oc->argv[0], strerror(-r));
		} else {
			ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
			at += (size_t)snprintf(reason + at, sizeof(reason) - at,
					       "%son_change: '%s' as uid %u %s %d%s", at ? "; " : "", oc->argv[0],
					       (unsigned)oc->uid, WIFEXITED(status) ? "exited" : "killed by signal",
					       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
					       timed_out ? " (timed out)" : "");
		}
	}
	if (at < sizeof(reason))
		snprintf(reason + at, sizeof(reason) - at, " (change %lu)", changes);
	inject_values_init(&asked, v->names, v->keys, v->n);
	{
		struct caller self = { getpid(), geteuid(), getegid(), NULL, 0 };

		fs_audit_event(g, AUDIT_SECRET_ROTATION, v, NULL, &asked, &self, ok ? "ok" : "error", reason, NULL);
	}
	log_info("%s: %s", v->container, reason);
}

uint64_t onchange_run_due(struct harombefs *h, struct gen *g)
{
	uint64_t now = now_ms(), next = UINT64_MAX;
	size_t i;
	int ran = 0;

	for (i = 0; i < g->views->n; i++) {
		const struct view *v = &g->views->views[i];
		struct node *vn;
		unsigned long changes = 0;
		int run = 0;

		if (!v->on_change || !(vn = node_intern(h, N_VIEW, v->container, NULL)))
			continue;
		pthread_mutex_lock(&h->open_lock);
		if (vn->hook_seen != vn->changes) {
			uint64_t due = vn->hook_last_ms ? vn->hook_last_ms + v->on_change->min_interval_ms : 0;

			if (due <= now) {
				run = 1;
				vn->hook_seen = changes = vn->changes;
				vn->hook_last_ms = now;
			} else if (due < next) {
				next = due;
			}
		}
		pthread_mutex_unlock(&h->open_lock);
		if (run)
			run_hook(g, v, changes);
		ran |= run;
	}
	/* A restart must not run it again for the same change. */
	if (ran)
		notify_carry_save(h);
	return next;
}
