/*
 * floorfs: the floor a FUSE open cannot go below, as issue 19 defines it.
 * A truly minimal filesystem on libfuse's high-level API (libfuse's
 * example/hello.c with a directory): /c/env serves a constant buffer with
 * direct_io; entry and attribute timeouts are libfuse's defaults (1 s);
 * run with -s (single-threaded loop).  No allow_other, no
 * default_permissions: nothing harombefs needs, only what FUSE costs.
 *   floorfs MOUNTPOINT CONTENT_FILE -s [other FUSE options]
 */
#define FUSE_USE_VERSION 314
#include <fuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *content;
static size_t content_len;

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/") || !strcmp(path, "/c")) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (!strcmp(path, "/c/env")) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)content_len;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/c/env"))
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fi->direct_io = 1;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	if (off < 0 || (size_t)off >= content_len)
		return 0;
	if (size > content_len - (size_t)off)
		size = content_len - (size_t)off;
	memcpy(buf, content + off, size);
	return (int)size;
}

static const struct fuse_operations ops = {
	.getattr = ff_getattr,
	.open = ff_open,
	.read = ff_read,
};

int main(int argc, char **argv)
{
	struct stat st;
	int fd;

	if (argc < 3)
		return fprintf(stderr, "usage: floorfs MOUNTPOINT CONTENT_FILE -s [FUSE options]\n"), 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return perror(argv[2]), 1;
	content_len = (size_t)st.st_size;
	content = malloc(content_len + 1);
	if (!content || read(fd, content, content_len) != (ssize_t)content_len)
		return 1;
	close(fd);
	/* fuse_main takes MOUNTPOINT and the options; the content file is ours. */
	argv[2] = argv[1];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
