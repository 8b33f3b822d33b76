#ifndef ACCESS_H
#define ACCESS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Who may read a view.  The kernel enforces the 0400/0500 modes first
 * (default_permissions); the daemon then checks the caller itself on every
 * open and on listing the root, so a process that got past the modes (root,
 * or a bind mount with other owners) is still held to harombe.yaml.
 */

struct view;
struct why;

struct caller {
	pid_t pid;		/* thread id of the caller, 0 if not visible to us */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;	/* supplementary groups, or NULL if not read */
	int ngroups;
};

/* 0 when c may read v; -EACCES with why (no secrets, only ids and paths).
 * For a view with a cgroup rule the caller must also not be traced by a
 * process outside that rule (TracerPid in /proc/PID/status): a debugger
 * attached from outside could otherwise make an allowed process read. */
int access_check(const struct view *v, const struct caller *c, struct why *why);

/* From /proc/PID/status: the TracerPid (0 when not traced) and whether
 * CapEff holds CAP_SYS_ADMIN.  0 or -errno. */
int access_status_of(pid_t pid, pid_t *tracer, int *sys_admin);
/* Parse /proc/PID/status text the same way (exposed for tests). */
int access_status_parse(const char *text, pid_t *tracer, int *sys_admin);
/* True when pid holds CAP_SYS_ADMIN in the daemon's user namespace: what
 * it takes to bind-mount a view (docker -v, harombe-bind). */
int access_may_mount(pid_t pid);

/* The caller's cgroup path: the cgroup v2 ("0::") line of /proc/PID/cgroup,
 * or the v1 name=systemd line when there is no v2 line or the v2 path is
 * the root while the v1 one is not (hybrid hosts).  0 or -errno. */
int access_cgroup_of(pid_t pid, char *buf, size_t len);
/* Parse /proc/PID/cgroup text the same way (exposed for tests). */
int access_cgroup_parse(const char *text, char *buf, size_t len);
/* pattern matches path or one of its ancestors, '*' not crossing '/'. */
int access_cgroup_match(const char *pattern, const char *path);
/* /proc/PID/comm without the newline; "?" when unreadable. */
void access_command_of(pid_t pid, char *buf, size_t len);

#endif
