#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>

/*
 * harombefs's control socket: how `harombe vault rotate` (and every other
 * command that changes a secret) tells a running daemon to drop what its
 * cache holds, so that the next open serves the new value at once.
 *
 * A SOCK_SEQPACKET unix socket at MOUNTPOINT.ctl (next to the mountpoint,
 * mode 0600), one message per request, one reply per message:
 *   "forget KEY"   drop every cached copy of KEY's path    -> "ok"
 *   "forget-all"   drop everything                         -> "ok"
 *   "ping"                                                 -> "ok"
 * Anything else gets "error: ...".  Only root and the daemon's own user may
 * talk to it (SO_PEERCRED, besides the file mode).  No message ever carries
 * a value.
 */

#define CONTROL_PATH_MAX 108	/* sizeof(sockaddr_un.sun_path) */
#define CONTROL_MSG_MAX 1024

/* MOUNTPOINT.ctl for an absolute mountpoint.  0 or -ENAMETOOLONG/-EINVAL. */
int control_path(const char *mountpoint, char *buf, size_t len);

/* Called from the control thread for each forget; key NULL: everything. */
typedef void control_forget_fn(const char *key, void *arg);

struct control;
/* Listen at path (a stale socket there is replaced; a live one is not) and
 * serve requests on a thread of its own.  0 or -errno with err filled. */
int control_start(const char *path, control_forget_fn *fn, void *arg, struct control **out, char *err,
		  size_t errlen);
/* Stop the thread and remove the socket.  NULL-safe. */
void control_stop(struct control *ctl);

/* Client: forget each key (keys NULL and n 0: "forget-all").  0; -ENOENT or
 * -ECONNREFUSED when no daemon listens there; other -errno with why. */
int control_forget(const char *path, const char *const *keys, size_t n, char *why, size_t whylen);

#endif
