#include "lib/compat.h"
#include "lib/why.h"
#include "fs/handover.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"

/* enum fuse_notify_code, Linux 6.9 (protocol 7.40): move every request
 * the daemon side has read but not answered back to the pending queue. */
#define HANDOVER_NOTIFY_RESEND 7
/* An INIT request is a header and a few dozen bytes of flags. */
#define INIT_MAX 4096

/* The sessions that mounted: see handover_mount(). */
static struct fuse_session *kept[4];
static unsigned int nkept;

static int init_check(const void *p, size_t n)
{
	struct fuse_in_header ih;

	if (n < sizeof(ih) || n > INIT_MAX)
		return -EINVAL;
	memcpy(&ih, p, sizeof(ih));
	return ih.opcode == FUSE_INIT && ih.len == n ? 0 : -EINVAL;
}

int handover_mount(struct fuse_args *args, const char *mountpoint, int *fuse_fd, int *init_fd,
		   struct why *why)
{
	static const struct fuse_lowlevel_ops none;
	struct fuse_session *se;
	struct fuse_buf buf = { 0 };
	int mfd = -1, mounted = 0, r = -EIO, res;

	*fuse_fd = *init_fd = -1;
	se = fuse_session_new(args, &none, sizeof(none), NULL);
	if (!se) {
		why_set(why, "cannot start a FUSE session (see the message above)");
		return -EINVAL;
	}
	if (fuse_session_mount(se, mountpoint) != 0) {
		why_set(why, "cannot mount on '%s'", mountpoint);
		goto out;
	}
	mounted = 1;
	/* The kernel queues INIT as the first request of a new mount. */
	res = fuse_session_receive_buf(se, &buf);
	if (res <= 0 || (buf.flags & FUSE_BUF_IS_FD) || init_check(buf.mem, (size_t)res) != 0) {
		why_set(why, "no INIT request from the kernel on '%s' (%s)", mountpoint,
			 res < 0 ? strerror(-res) : "unexpected request");
		goto out;
	}
	mfd = memfd_create("harombefs-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || write(mfd, buf.mem, (size_t)res) != res ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
		r = -errno;
		why_set(why, "cannot keep the INIT request in a memfd: %s", strerror(errno));
		goto out;
	}
	/* Success: the caller owns the descriptor.  The session is kept,
	 * never used again: libfuse frees what it holds only in
	 * fuse_session_unmount(), which would unmount. */
	*fuse_fd = fuse_session_fd(se);
	*init_fd = mfd;
	mfd = -1;
	if (nkept < ARRAY_SIZE(kept))
		kept[nkept++] = se;
	se = NULL;
	r = 0;
out:
	free(buf.mem);
	if (mfd >= 0)
		close(mfd);
	if (se && mounted)
		fuse_session_unmount(se);
	if (se)
		fuse_session_destroy(se);
	return r;
}

int handover_resume(struct fuse_session *se, int init_fd, struct why *why)
{
	struct fuse_out_header resend = { .len = sizeof(resend), .error = HANDOVER_NOTIFY_RESEND };
	struct fuse_buf buf = { 0 };
	struct stat st;
	void *p = NULL;
	int r = 0;

	if (fstat(init_fd, &st) != 0 || st.st_size <= 0 || st.st_size > INIT_MAX ||
	    !(p = malloc((size_t)st.st_size)) || pread(init_fd, p, (size_t)st.st_size, 0) != st.st_size ||
	    init_check(p, (size_t)st.st_size) != 0) {
		why_set(why, "the saved INIT request is unreadable or not an INIT request");
		r = -EINVAL;
		goto out;
	}
	/* libfuse learns the connection's parameters from INIT.  On a fresh
	 * mount this answers the kernel; after a restart the kernel answered
	 * it long ago, and the reply fails with ENOENT, which libfuse ignores. */
	buf.mem = p;
	buf.size = (size_t)st.st_size;
	fuse_session_process_buf(se, &buf);
	if (write(fuse_session_fd(se), &resend, sizeof(resend)) != (ssize_t)sizeof(resend)) {
		if (errno != EINVAL) {
			r = -errno;
			why_set(why, "cannot ask the kernel to resend requests: %s", strerror(errno));
			goto out;
		}
		log_warn("this kernel cannot resend the requests a dead daemon left unanswered "
			 "(Linux 6.9 can): callers waiting on them stay blocked until interrupted");
	}
out:
	free(p);
	return r;
}

int handover_listen(int *fuse_fd, int *init_fd, int *carry_fd, struct why *why)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *copy = NULL, *save = NULL, *name;
	long n, i;
	int r = 0;

	*fuse_fd = *init_fd = *carry_fd = -1;
	if (!pid || !nfds || strtol(pid, NULL, 10) != (long)getpid())
		goto out;
	n = strtol(nfds, NULL, 10);
	if (n <= 0 || n > 64)
		goto out;
	copy = strdup(names ? names : "");
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	name = strtok_r(copy, ":", &save);
	for (i = 0; i < n; i++) {
		int fd = (int)(3 + i), *slot = NULL;

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (name && !strcmp(name, HANDOVER_FUSE))
			slot = fuse_fd;
		else if (name && !strcmp(name, HANDOVER_INIT))
			slot = init_fd;
		else if (name && !strcmp(name, HANDOVER_CARRY))
			slot = carry_fd;
		if (slot && *slot < 0)
			*slot = fd;
		else if (slot == carry_fd)
			close(fd);	/* only the first: the rest were replaced */
		else if (slot) {
			why_set(why, "more than one '%s' descriptor passed in LISTEN_FDS", name);
			r = -EINVAL;
		} else {
			close(fd);	/* not ours */
		}
		name = strtok_r(NULL, ":", &save);
	}
	if (!r && (*fuse_fd < 0) != (*init_fd < 0)) {
		why_set(why, "LISTEN_FDS passed '%s' without '%s'",
			 *fuse_fd >= 0 ? HANDOVER_FUSE : HANDOVER_INIT,
			 *fuse_fd >= 0 ? HANDOVER_INIT : HANDOVER_FUSE);
		r = -EINVAL;
	}
	if (!r && *fuse_fd >= 0)
		r = 1;
out:
	free(copy);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (r <= 0 && *carry_fd >= 0) {
		/* state without its connection is nobody's */
		close(*carry_fd);
		*carry_fd = -1;
	}
	if (r < 0) {
		if (*fuse_fd >= 0)
			close(*fuse_fd);
		if (*init_fd >= 0)
			close(*init_fd);
		*fuse_fd = *init_fd = -1;
	}
	return r;
}

int handover_notify(const char *msg, const int *fds, size_t nfds)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, r = 0;

	if (!path || !*path)
		return -ENOENT;
	if ((path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path) || nfds > 4)
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* BARRIER=1: the receiver closes the descriptor once it has processed
 * everything sent before it. */
static int barrier(void)
{
	struct pollfd pfd;
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	r = handover_notify("BARRIER=1", &p[1], 1);
	close(p[1]);
	if (r == 0) {
		pfd.fd = p[0];
		pfd.events = 0;
		r = poll(&pfd, 1, 10000);
		r = r == 1 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
	}
	close(p[0]);
	return r;
}

int handover_store(int fuse_fd, int init_fd)
{
	int r;

	handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_FUSE, NULL, 0);
	handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_INIT, NULL, 0);
	if ((r = handover_notify("FDSTORE=1\nFDNAME=" HANDOVER_FUSE, &fuse_fd, 1)) != 0 ||
	    (r = handover_notify("FDSTORE=1\nFDNAME=" HANDOVER_INIT, &init_fd, 1)) != 0)
		return r;
	return barrier();
}

int handover_store_carry(int carry_fd)
{
	int r = handover_notify("FDSTORE=1\nFDNAME=" HANDOVER_CARRY, &carry_fd, 1);

	return r ? r : barrier();
}

void handover_unstore(void)
{
	handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_FUSE, NULL, 0);
	handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_INIT, NULL, 0);
	handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_CARRY, NULL, 0);
}

int handover_notify_poll(int fuse_fd, uint64_t kh)
{
	struct {
		struct fuse_out_header h;
		struct fuse_notify_poll_wakeup_out w;
	} msg = { { sizeof(msg), FUSE_NOTIFY_POLL, 0 }, { kh } };

	return write(fuse_fd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg) ? 0 : -errno;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

int handover_mounted(const char *mountpoint)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ours = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mnt = NULL, *type = NULL;
		int field = 0, dash = 0;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
			if (field == 4)
				mnt = tok;
			else if (!strcmp(tok, "-"))
				dash = field;
			else if (dash && field == dash + 1)
				type = tok;
		}
		if (!mnt || !type)
			continue;
		unescape(mnt);
		/* Later lines are mounted on top of earlier ones. */
		if (!strcmp(mnt, mountpoint))
			ours = !strcmp(type, "fuse.harombefs");
	}
	free(line);
	fclose(f);
	return ours;
}
