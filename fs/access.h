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

struct caller {
	pid_t pid;		/* thread id of the caller, 0 if not visible to us */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;	/* supplementary groups, or NULL if not read */
	int ngroups;
};

/* 0 when c may read v; -EACCES with why (no secrets, only ids and paths). */
int access_check(const struct view *v, const struct caller *c, char *why, size_t whylen);

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
