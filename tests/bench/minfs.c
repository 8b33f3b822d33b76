/*
 * minfs: the floor FUSE imposes.  A minimal low-level FUSE filesystem with
 * the same shape and kernel-facing behaviour as harombefs (allow_other,
 * default_permissions, ro; /c/env; direct_io; no attribute caching for the
 * file, 1 s for directories) that serves a constant buffer: no config, no
 * backend, no rendering, no locked memory, no audit.
 *   minfs MOUNTPOINT CONTENT_FILE [FUSE options, e.g. -s]
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *content;
static size_t content_len;

static int stat_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == 1 || ino == 2) {
		st->st_mode = S_IFDIR | (ino == 1 ? 0555 : 0500);
		st->st_nlink = 2;
	} else if (ino == 3) {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = (off_t)content_len;
	} else {
		return -1;
	}
	return 0;
}

static void mf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (parent == 1 && !strcmp(name, "c"))
		e.ino = 2;
	else if (parent == 2 && !strcmp(name, "env"))
		e.ino = 3;
	else
		return (void)fuse_reply_err(req, ENOENT);
	stat_of(e.ino, &e.attr);
	e.attr_timeout = e.ino == 3 ? 0.0 : 1.0;
	e.entry_timeout = 1.0;
	fuse_reply_entry(req, &e);
}

static void mf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (stat_of(ino, &st) != 0)
		return (void)fuse_reply_err(req, ENOENT);
	fuse_reply_attr(req, &st, ino == 3 ? 0.0 : 1.0);
}

static void mf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != 3)
		return (void)fuse_reply_err(req, EISDIR);
	fi->direct_io = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void mf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if ((size_t)off >= content_len)
		return (void)fuse_reply_buf(req, NULL, 0);
	if (size > content_len - (size_t)off)
		size = content_len - (size_t)off;
	fuse_reply_buf(req, content + off, size);
}

static void mf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = mf_lookup, .getattr = mf_getattr, .open = mf_open,
	.read = mf_read, .release = mf_release,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct fuse_loop_config *cfg;
	int single = 0, i, fd, r;
	struct stat st;

	if (argc < 3)
		return fprintf(stderr, "usage: minfs MOUNTPOINT CONTENT_FILE [-s]\n"), 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return perror(argv[2]), 1;
	content_len = (size_t)st.st_size;
	content = malloc(content_len + 1);
	if (read(fd, content, content_len) != (ssize_t)content_len)
		return 1;
	close(fd);
	fuse_opt_add_arg(&args, argv[0]);
	fuse_opt_add_arg(&args, "-oallow_other,default_permissions,ro,fsname=minfs");
	for (i = 3; i < argc; i++)
		if (!strcmp(argv[i], "-s"))
			single = 1;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0)
		return 1;
	if (single) {
		r = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_max_threads(cfg, 64);
		r = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return r ? 1 : 0;
}
