#include "lib/compat.h"
#include "tests/fuzz/fuse-stub.h"

#include <stdlib.h>
#include <string.h>

void *fuse_req_userdata(fuse_req_t req)
{
	return req->userdata;
}

const struct fuse_ctx *fuse_req_ctx(fuse_req_t req)
{
	return &req->ctx;
}

int fuse_req_getgroups(fuse_req_t req, int size, gid_t list[])
{
	int i;

	for (i = 0; i < req->ngroups && i < size; i++)
		list[i] = req->groups[i];
	return req->ngroups;
}

static void reply(fuse_req_t req, enum stub_reply kind)
{
	req->replies++;
	req->kind = kind;
}

int fuse_reply_err(fuse_req_t req, int err)
{
	reply(req, STUB_ERR);
	req->err = err;
	if (err < 0 || err > 4095)
		abort();	/* the kernel wants a positive errno */
	return 0;
}

int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	reply(req, STUB_ENTRY);
	req->entry = *e;
	return 0;
}

int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout)
{
	(void)attr_timeout;
	reply(req, STUB_ATTR);
	req->attr = *attr;
	return 0;
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	reply(req, STUB_OPEN);
	req->fi = *fi;
	return 0;
}

int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	reply(req, STUB_BUF);
	if (size > req->want)
		abort();	/* more than the kernel asked for */
	req->buflen = size;
	req->buf = malloc(size ? size : 1);
	if (req->buf && size)
		memcpy(req->buf, buf, size);
	return 0;
}

int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf)
{
	(void)stbuf;
	reply(req, STUB_STATFS);
	return 0;
}

/* libfuse's size: the fixed part of struct fuse_dirent, then the name,
 * padded to 8 bytes. */
size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize, const char *name, const struct stat *stbuf,
			 off_t off)
{
	size_t namelen = strlen(name), entlen = 24 + namelen, padded = (entlen + 7) & ~(size_t)7;

	(void)off;
	if (!buf || padded > bufsize)
		return padded;
	memset(buf, 0, padded);
	memcpy(buf + 24, name, namelen);
	if (req->ndirents < (int)(sizeof(req->dirents) / sizeof(req->dirents[0])) && namelen < 256) {
		memcpy(req->dirents[req->ndirents].name, name, namelen + 1);
		req->dirents[req->ndirents].ino = stbuf->st_ino;
		req->ndirents++;
	}
	return padded;
}

int fuse_lowlevel_notify_inval_inode(struct fuse_session *se, fuse_ino_t ino, off_t off, off_t len)
{
	(void)se;
	(void)ino;
	(void)off;
	(void)len;
	return 0;
}

int fuse_lowlevel_notify_inval_entry(struct fuse_session *se, fuse_ino_t parent, const char *name,
				     size_t namelen)
{
	(void)se;
	(void)parent;
	(void)name;
	(void)namelen;
	return 0;
}
