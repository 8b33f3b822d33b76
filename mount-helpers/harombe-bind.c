/*
 * harombe-bind: bind a view read-only into a running process's mount
 * namespace, for a container started before its view existed.
 *
 *   harombe-bind [-m MOUNT] [-t TARGET] CONTAINER PID
 *
 * MOUNT/CONTAINER (default /run/harombe/CONTAINER) appears at TARGET
 * (default /run/secrets) as the process PID sees its file system, read-only,
 * nosuid, nodev, noexec, as `docker run -v /run/harombe/C:/run/secrets:ro`
 * would have put it.  A bind mount cannot be made across mount namespaces
 * with mount(2); the new mount API can: open_tree(OPEN_TREE_CLONE) copies
 * the view here into a detached mount, setns() enters the process's
 * namespace and root, and move_mount() attaches the copy there (Linux 5.12
 * for mount_setattr()).  Needs root (CAP_SYS_ADMIN, CAP_SYS_CHROOT).
 *
 * Exit status: 0 bound, 1 failed, 2 usage.
 */
#include "lib/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lib/names.h"

#define FUSE_SUPER_MAGIC 0x65735546

static void usage(FILE *f)
{
	fprintf(f, "usage: harombe-bind [-m MOUNT] [-t TARGET] CONTAINER PID\n"
		   "\n"
		   "Bind MOUNT/CONTAINER (default MOUNT: /run/harombe) read-only at TARGET\n"
		   "(default: /run/secrets) in the mount namespace and root of process PID.\n");
}

/* mkdir -p, inside the target's root (we are chrooted there). */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char *argv[])
{
	const char *mount = "/run/harombe", *target = "/run/secrets", *why;
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
	};
	char src[PATH_MAX], path[64], *end;
	struct statfs sfs;
	struct stat st;
	int opt, tree = -1, ns = -1, root = -1, r;
	long pid;

	while ((opt = getopt(argc, argv, "m:t:h")) != -1) {
		switch (opt) {
		case 'm':
			mount = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if ((why = names_check_container(argv[optind]))) {
		fprintf(stderr, "harombe-bind: container name '%s' %s\n", argv[optind], why);
		return 2;
	}
	errno = 0;
	pid = strtol(argv[optind + 1], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "harombe-bind: '%s' is not a process id\n", argv[optind + 1]);
		return 2;
	}
	if (target[0] != '/') {
		fprintf(stderr, "harombe-bind: TARGET '%s' must be an absolute path\n", target);
		return 2;
	}
	snprintf(src, sizeof(src), "%s/%s", mount, argv[optind]);
	if (statfs(src, &sfs) != 0 || stat(src, &st) != 0) {
		fprintf(stderr, "harombe-bind: cannot find the view '%s': %s\n", src, strerror(errno));
		return 1;
	}
	if (sfs.f_type != FUSE_SUPER_MAGIC || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "harombe-bind: '%s' is not a view of a harombefs mount\n", src);
		return 1;
	}

	/* Everything that names the process is opened before we move:
	 * /proc as we see it, not as the container does. */
	snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%ld/root", pid);
	root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ns < 0 || root < 0) {
		fprintf(stderr, "harombe-bind: cannot open the namespace of process %ld: %s\n", pid,
			strerror(errno));
		return 1;
	}
	tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
		fprintf(stderr, "harombe-bind: cannot make a read-only copy of '%s': %s\n", src,
			strerror(errno));
		return 1;
	}
	if (setns(ns, CLONE_NEWNS) != 0 || fchdir(root) != 0 || chroot(".") != 0 || chdir("/") != 0) {
		fprintf(stderr, "harombe-bind: cannot enter the mount namespace of process %ld: %s\n", pid,
			strerror(errno));
		return 1;
	}
	if ((r = mkdirs(target)) != 0) {
		fprintf(stderr, "harombe-bind: cannot create '%s' for process %ld: %s\n", target, pid,
			strerror(-r));
		return 1;
	}
	if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
		fprintf(stderr, "harombe-bind: cannot mount '%s' on '%s' for process %ld: %s\n", src, target,
			pid, strerror(errno));
		return 1;
	}
	printf("harombe-bind: %s is at %s for process %ld (read-only)\n", src, target, pid);
	return 0;
}
