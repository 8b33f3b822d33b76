#ifndef FUSE_STUB_H
#define FUSE_STUB_H

/*
 * libfuse's request and reply functions, replaced for fuzzing fs/fs.c
 * without a kernel (tests/fuzz/fuse-stub.c): a request is a struct the
 * caller fills, and each reply is recorded in it.  fs.c must answer every
 * request exactly once; the fuzz target checks `replies`.
 */

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

enum stub_reply { STUB_NONE, STUB_ERR, STUB_ENTRY, STUB_ATTR, STUB_OPEN, STUB_BUF, STUB_STATFS };

struct stub_dirent {
	char name[256];
	fuse_ino_t ino;
};

struct fuse_req {
	void *userdata;
	struct fuse_ctx ctx;
	gid_t groups[4];
	int ngroups;
	size_t want;			/* read/readdir: the size asked for */
	/* the reply */
	int replies;
	enum stub_reply kind;
	int err;
	struct fuse_entry_param entry;
	struct stat attr;
	struct fuse_file_info fi;
	unsigned char *buf;		/* malloc()ed copy of a data reply */
	size_t buflen;
	/* names fuse_add_direntry() was given during this request */
	struct stub_dirent dirents[64];
	int ndirents;
};

#endif
