#ifndef HANDOVER_H
#define HANDOVER_H

struct why;

#include <stddef.h>
#include <stdint.h>

/*
 * Keeping the kernel's FUSE connection alive when a daemon dies.
 *
 * A FUSE mount lives as long as some process holds its /dev/fuse
 * descriptor.  Containers hold bind mounts of views (`-v
 * /run/harombe/app:/run/secrets`); if the connection dies they see ENOTCONN
 * until they are restarted, because a new mount on /run/harombe never
 * replaces bind mounts taken of the old one.  So the connection must not
 * die: the process that mounts keeps the descriptor (the keeper of a
 * background harombefs, or systemd's file descriptor store) and hands it,
 * with a copy of the kernel's INIT request, to each daemon it starts.  The
 * new daemon replays the INIT into a fresh libfuse session (the reply goes
 * nowhere: the kernel answered it long ago), asks the kernel to resend the
 * requests the dead one had read but not answered (FUSE_NOTIFY_RESEND,
 * Linux 6.9), and serves on.  Callers block for the moment in between and
 * never see an error.  fs/fs.c keeps inode numbers and file handles valid
 * across such a restart.
 *
 * The descriptors travel by the sd_notify(3)/sd_listen_fds(3) protocol:
 * FDSTORE=1 with FDNAME=fuse and FDNAME=fuse-init to $NOTIFY_SOCKET, and
 * back in LISTEN_FDS/LISTEN_FDNAMES, so systemd and the keeper (keeper.h)
 * are interchangeable.
 */

struct fuse_args;
struct fuse_session;

#define HANDOVER_FUSE "fuse"		/* the /dev/fuse descriptor */
#define HANDOVER_INIT "fuse-init"	/* a sealed memfd: the kernel's INIT request */
#define HANDOVER_CARRY "carry"		/* secret memory: what the daemon carries (lib/carry.h) */

/* Mount a fresh connection on mountpoint with the mount options in args,
 * and read the kernel's INIT request from it without answering it.
 * 0 with *fuse_fd and *init_fd (both close-on-exec), or -errno with err. */
int handover_mount(struct fuse_args *args, const char *mountpoint, int *fuse_fd, int *init_fd,
		   struct why *why);

/* Make se, whose descriptor is an existing connection (fuse_session_mount
 * on "/dev/fd/N"), serve it: process the saved INIT, then have the kernel
 * resend what a dead daemon left unanswered.  0 or -errno with err. */
int handover_resume(struct fuse_session *se, int init_fd, struct why *why);

/* The connection passed by systemd or the keeper in LISTEN_FDS, if any:
 * 1 with both descriptors, 0 when none was passed (*fuse_fd = *init_fd =
 * -1), -errno with err when the passed set is unusable.  *carry_fd gets
 * the carried state passed with it, or -1.  Unsets LISTEN_*. */
int handover_listen(int *fuse_fd, int *init_fd, int *carry_fd, struct why *why);

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, with
 * nfds descriptors attached.  0, -ENOENT when $NOTIFY_SOCKET is unset, or
 * -errno. */
int handover_notify(const char *msg, const int *fds, size_t nfds);

/* Replace the stored connection with this one (FDSTOREREMOVE, then
 * FDSTORE=1 for each), and wait until the receiver has taken them
 * (BARRIER=1).  0, -ENOENT without $NOTIFY_SOCKET, or -errno. */
int handover_store(int fuse_fd, int init_fd);

/* Put the carried state's descriptor in the store beside the connection
 * (FDSTORE=1, FDNAME=carry; the keeper replaces one it holds), and wait
 * until it is taken.  0, -ENOENT without $NOTIFY_SOCKET, or -errno. */
int handover_store_carry(int carry_fd);

/* Drop the stored connection and carried state: the daemon is stopping
 * for good. */
void handover_unstore(void);

/* Wake the poll() that the kernel registered with handle kh on the
 * connection fd (FUSE_NOTIFY_POLL), for a registration made with a
 * predecessor, whose struct fuse_pollhandle this daemon never had.
 * 0 or -errno (-ENOENT: no such registration any more). */
int handover_notify_poll(int fuse_fd, uint64_t kh);

/* Is mountpoint (as written: absolute, no trailing '/') the mount point of
 * a harombefs mount in this namespace?  Reads /proc/self/mountinfo only:
 * it never touches the mount, which may be dead or waiting for a daemon. */
int handover_mounted(const char *mountpoint);

#endif
