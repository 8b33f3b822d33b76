#include "lib/compat.h"
#include "fs/access.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inject/view.h"
#include "lib/why.h"

/* /proc opened once: openat() from it skips a path walk per caller. */
static int proc_fd(void)
{
	static int fd = -1;
	int f;

	if (__atomic_load_n(&fd, __ATOMIC_ACQUIRE) >= 0)
		return fd;
	f = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f >= 0) {
		int expected = -1;

		if (!__atomic_compare_exchange_n(&fd, &expected, f, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			close(f);
	}
	return fd >= 0 ? fd : AT_FDCWD;
}

/*
 * What a caller's checks and audit records read of it (/proc/TID/comm,
 * cgroup, status) through descriptors kept open for the last few callers,
 * so that a caller that opens again costs one pread() per file instead of
 * openat(), read() until the end and close().  A descriptor of /proc/TID
 * names that task, not its number: it reads the task as it is now (after
 * an exec, a prctl(PR_SET_NAME), a move to another cgroup, a ptrace
 * attach), and fails with ESRCH once the task is gone, even when a new
 * task has taken the number; then the file is opened again.  Holding one
 * keeps no number from being reused.  PROC_SLOTS callers by thread id,
 * direct-mapped: a new caller closes the descriptors of the one in its
 * slot.  Every slot is a few descriptors at most (the files read).
 */
#define PROC_SLOTS 32

enum proc_file { PROC_COMM, PROC_CGROUP, PROC_STATUS, PROC_FILES };

static const char *const proc_names[PROC_FILES] = { "comm", "cgroup", "status" };

static struct proc_slot {
	pid_t tid;
	int fd[PROC_FILES];
} proc_slots[PROC_SLOTS];
static pthread_mutex_t proc_lock = PTHREAD_MUTEX_INITIALIZER;

static void slot_close(struct proc_slot *s)
{
	int i;

	for (i = 0; i < PROC_FILES; i++) {
		if (s->fd[i] > 0)
			close(s->fd[i]);
		s->fd[i] = 0;	/* 0: not open (slots start zeroed) */
	}
}

/* /proc/TID/<file> into buf (NUL-terminated, cut at len - 1): its length
 * or -errno.  One pread() reads a /proc file whole: it is made in one go
 * when read at offset 0. */
static ssize_t read_proc(pid_t tid, enum proc_file f, char *buf, size_t len)
{
	struct proc_slot *s = &proc_slots[(unsigned int)tid % PROC_SLOTS];
	char path[64];
	ssize_t n = -ESRCH;
	int again;

	if (tid <= 0)
		return -ESRCH;
	pthread_mutex_lock(&proc_lock);
	if (s->tid != tid) {
		slot_close(s);
		s->tid = tid;
	}
	for (again = 0; again < 2; again++) {
		if (s->fd[f] <= 0) {
			snprintf(path, sizeof(path), "%d/%s", (int)tid, proc_names[f]);
			int fd = openat(proc_fd(), path, O_RDONLY | O_CLOEXEC);

			if (fd < 0) {
				n = -errno;
				break;
			}
			if (fd == 0) {	/* 0 means "not open" here: keep it out */
				int d = fcntl(fd, F_DUPFD_CLOEXEC, 1);

				close(fd);
				if (d < 0) {
					n = -errno;
					break;
				}
				fd = d;
			}
			s->fd[f] = fd;
		}
		n = pread(s->fd[f], buf, len - 1, 0);
		if (n >= 0)
			break;
		/* The task of a kept descriptor is gone: the number may be a
		 * new task's now, which this caller is. */
		n = -errno;
		close(s->fd[f]);
		s->fd[f] = 0;
	}
	pthread_mutex_unlock(&proc_lock);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

int access_cgroup_parse(const char *text, char *buf, size_t len)
{
	const char *line = text, *v2 = NULL, *v1 = NULL;
	size_t v2len = 0, v1len = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);

		if (ll >= 3 && !strncmp(line, "0::", 3)) {
			v2 = line + 3;
			v2len = ll - 3;
		} else {
			const char *c1 = memchr(line, ':', ll);
			const char *c2 = c1 ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line)) : NULL;

			if (c1 && c2 && (size_t)(c2 - c1 - 1) == strlen("name=systemd") &&
			    !strncmp(c1 + 1, "name=systemd", (size_t)(c2 - c1 - 1))) {
				v1 = c2 + 1;
				v1len = ll - (size_t)(c2 + 1 - line);
			}
		}
		line += ll + (nl ? 1 : 0);
		if (!nl)
			break;
	}
	if (v2 && v1 && v2len == 1 && v2[0] == '/' && !(v1len == 1 && v1[0] == '/')) {
		v2 = v1;
		v2len = v1len;
	}
	if (!v2) {
		v2 = v1;
		v2len = v1len;
	}
	if (!v2 || !v2len || v2[0] != '/')
		return -ENOENT;
	if (v2len >= len)
		return -ENAMETOOLONG;
	memcpy(buf, v2, v2len);
	buf[v2len] = 0;
	return 0;
}

int access_cgroup_of(pid_t pid, char *buf, size_t len)
{
	char text[4096];
	ssize_t n;

	n = read_proc(pid, PROC_CGROUP, text, sizeof(text));
	if (n < 0)
		return (int)n;
	return access_cgroup_parse(text, buf, len);
}

int access_cgroup_match(const char *pattern, const char *path)
{
	char p[4096];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return 0;
	memcpy(p, path, n + 1);
	for (;;) {
		if (fnmatch(pattern, p, FNM_PATHNAME) == 0)
			return 1;
		char *slash = strrchr(p, '/');

		if (!slash || (slash == p && p[1] == 0))
			return 0;
		slash[slash == p ? 1 : 0] = 0;	/* the root is an ancestor too */
	}
}

void access_command_of(pid_t pid, char *buf, size_t len)
{
	ssize_t n;

	n = read_proc(pid, PROC_COMM, buf, len);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

int access_status_parse(const char *text, pid_t *tracer, int *sys_admin)
{
	const char *t = strstr(text, "\nTracerPid:"), *c = strstr(text, "\nCapEff:");
	unsigned long long caps;
	long tp;
	char *end;

	if (!t || !c)
		return -EINVAL;
	errno = 0;
	tp = strtol(t + strlen("\nTracerPid:"), &end, 10);
	if (errno || end == t + strlen("\nTracerPid:") || tp < 0)
		return -EINVAL;
	caps = strtoull(c + strlen("\nCapEff:"), &end, 16);
	if (errno || end == c + strlen("\nCapEff:"))
		return -EINVAL;
	*tracer = (pid_t)tp;
	*sys_admin = (int)((caps >> 21) & 1);	/* CAP_SYS_ADMIN */
	return 0;
}

int access_status_of(pid_t pid, pid_t *tracer, int *sys_admin)
{
	char text[4096];
	ssize_t n;

	n = read_proc(pid, PROC_STATUS, text, sizeof(text));
	if (n < 0)
		return (int)n;
	return access_status_parse(text, tracer, sys_admin);
}

int access_may_mount(pid_t pid)
{
	char path[64], mine[64], theirs[64];
	pid_t tracer;
	int admin = 0;
	ssize_t a, b;

	if (pid <= 0 || access_status_of(pid, &tracer, &admin) != 0 || !admin)
		return 0;
	/* Capabilities count in the caller's own user namespace: a root in
	 * a container's namespace holds them too, and must not pass. */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	a = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
	b = readlink(path, theirs, sizeof(theirs) - 1);
	if (a <= 0 || b <= 0 || a != b)
		return 0;
	return !memcmp(mine, theirs, (size_t)a);
}

/* A view with a cgroup rule: a tracer outside the rule could drive an
 * allowed process (ptrace can make it open and read), so a traced caller
 * passes only when its tracer matches too. */
static int check_tracer(const struct view *v, const struct caller *c, struct why *why)
{
	char cg[4096];
	pid_t tracer = 0;
	int admin, r;

	if ((r = access_status_of(c->pid, &tracer, &admin)) != 0)
		return why_fail(why, -EACCES, "status of pid %d cannot be read (%s); view '%s' requires %s",
				(int)c->pid, strerror(-r), v->container, v->cgroup);
	if (!tracer)
		return 0;
	if ((r = access_cgroup_of(tracer, cg, sizeof(cg))) != 0)
		return why_fail(why, -EACCES, "pid %d is traced by pid %d whose cgroup cannot be read (%s); "
				"view '%s' requires %s", (int)c->pid, (int)tracer, strerror(-r),
				v->container, v->cgroup);
	if (!access_cgroup_match(v->cgroup, cg))
		return why_fail(why, -EACCES, "pid %d is traced by pid %d in cgroup %s, outside %s of view '%s'",
				(int)c->pid, (int)tracer, cg, v->cgroup, v->container);
	return 0;
}

int access_check(const struct view *v, const struct caller *c, struct why *why)
{
	if (c->uid != v->uid)
		return why_fail(why, -EACCES, "uid %u is not the owner (uid %u) of view '%s'",
				(unsigned)c->uid, (unsigned)v->uid, v->container);
	if (v->gid_set && c->gid != v->gid) {
		int i, found = 0;

		for (i = 0; c->groups && i < c->ngroups; i++)
			found |= c->groups[i] == v->gid;
		if (!found)
			return why_fail(why, -EACCES, "gid %u is not group %u of view '%s'", (unsigned)c->gid,
					(unsigned)v->gid, v->container);
	}
	if (v->cgroup) {
		char cg[4096];
		int r = c->pid > 0 ? access_cgroup_of(c->pid, cg, sizeof(cg)) : -ESRCH;

		if (r)
			return why_fail(why, -EACCES, "cgroup of pid %d cannot be read (%s); view '%s' requires %s",
					(int)c->pid, strerror(-r), v->container, v->cgroup);
		if (!access_cgroup_match(v->cgroup, cg))
			return why_fail(why, -EACCES, "cgroup %s of pid %d does not match %s of view '%s'", cg,
					(int)c->pid, v->cgroup, v->container);
		return check_tracer(v, c, why);
	}
	return 0;
}
