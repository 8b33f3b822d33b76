#include "compat.h"
#include "trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "why.h"

int trust_check_stat(const struct stat *st, const char *subject, int sticky_ok, const char *what,
		     const char *file, struct why *why)
{
	const char *kind = strcmp(subject, file) ? "directory " : "";
	unsigned int mode = (unsigned int)(st->st_mode & 07777);
	char where[PATH_MAX + 32] = "";
	uid_t me = geteuid();

	/* "its directory '/x' is ..." when the fault is above the file. */
	if (*kind)
		snprintf(where, sizeof(where), "its directory '%s' is ", subject);
	if (st->st_uid != 0 && st->st_uid != me)
		return why_fail(why, -EPERM, "%s: refusing '%s': %sowned by uid %u, not root%s; "
				"chown root '%s' (or move it somewhere only root can write)",
				what, file, where, (unsigned)st->st_uid,
				me ? " or this user" : "", subject);
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (sticky_ok && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return 0;
	return why_fail(why, -EPERM, "%s: refusing '%s': %swritable by %s (mode %04o); chmod %s '%s'",
			what, file, where,
			(st->st_mode & S_IWOTH) ? ((st->st_mode & S_IWGRP) ? "group and others" : "others") :
			"group",
			mode, (st->st_mode & S_IWOTH) ? ((st->st_mode & S_IWGRP) ? "go-w" : "o-w") : "g-w",
			subject);
}

static int check_dir(const char *dir, const char *what, const char *file, struct why *why)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		int e = errno;

		return why_fail(why, -e, "%s: refusing '%s': cannot check directory '%s': %s", what, file,
				dir, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return why_fail(why, -ENOTDIR, "%s: refusing '%s': '%s' is not a directory", what, file, dir);
	return trust_check_stat(&st, dir, 1, what, file, why);
}

int trust_check_dirs(const char *dir, const char *what, const char *file, struct why *why)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir), i;
	int r;

	if (dir[0] != '/' || n >= sizeof(buf))
		return why_fail(why, -EINVAL, "%s: refusing '%s': cannot resolve its directory", what, file);
	if ((r = check_dir("/", what, file, why)))
		return r;
	/* Each prefix that ends before a '/', then dir itself. */
	for (i = 1; i <= n; i++) {
		if (dir[i] != '/' && dir[i] != 0)
			continue;
		if (dir[i - 1] == '/')
			continue;
		memcpy(buf, dir, i);
		buf[i] = 0;
		if ((r = check_dir(buf, what, file, why)))
			return r;
	}
	return 0;
}

/* The absolute, resolved directory that holds path: realpath() of the
 * file itself (a symlinked file is judged where it really is). */
static int real_dir(const char *path, char **dir, const char *what, struct why *why)
{
	char *real = realpath(path, NULL), *slash;

	if (!real) {
		int e = errno;

		return why_fail(why, -e, "%s: cannot resolve '%s': %s", what, path, strerror(e));
	}
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = 0;
	else
		*slash = 0;
	*dir = real;
	return 0;
}

int trust_check_fd(int fd, const char *path, const char *what, struct why *why)
{
	struct stat st, again;
	char *dir = NULL, *real = NULL;
	int r;

	if (fstat(fd, &st) != 0)
		return why_fail(why, -errno, "%s: cannot check '%s': %s", what, path, strerror(errno));
	if ((r = trust_check_stat(&st, path, 0, what, path, why)))
		return r;
	if ((r = real_dir(path, &dir, what, why)))
		return r;
	/* The name must still lead to the file we opened. */
	real = realpath(path, NULL);
	if (!real || stat(real, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino)
		r = why_fail(why, -EPERM, "%s: refusing '%s': it changed while it was checked", what, path);
	else
		r = trust_check_dirs(dir, what, path, why);
	free(real);
	free(dir);
	return r;
}

int trust_check_path(const char *path, const char *what, struct why *why)
{
	struct stat st;
	char *dir = NULL;
	int r;

	if (stat(path, &st) != 0)
		return why_fail(why, -errno, "%s: cannot check '%s': %s", what, path, strerror(errno));
	if ((r = trust_check_stat(&st, path, 0, what, path, why)))
		return r;
	if ((r = real_dir(path, &dir, what, why)))
		return r;
	r = trust_check_dirs(dir, what, path, why);
	free(dir);
	return r;
}
