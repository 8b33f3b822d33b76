#ifndef LIB_CONTROL_H
#define LIB_CONTROL_H

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
 *   "leases"       the live Vault leases                   -> "ok\n" and one
 *                  line per lease: SCOPE TAB PATH TAB TTL-LEFT TAB RENEWALS
 *                  TAB IDLE-SECONDS (no lease id, no value), in one reply of
 *                  at most CONTROL_REPLY_MAX bytes
 * Anything else gets "error: ...".  Only root and the daemon's own user may
 * talk to it (SO_PEERCRED, besides the file mode), and the client believes
 * only a peer that is root or its own uid.  No message ever carries a
 * value.
 *
 * This is the protocol and its client, which `harombe` links; the server
 * is the daemon's alone (fs/control.h).
 */

#define CONTROL_PATH_MAX 108	/* sizeof(sockaddr_un.sun_path) */
#define CONTROL_MSG_MAX 1024
#define CONTROL_REPLY_MAX 65536

struct sockaddr_un;
struct why;

/* MOUNTPOINT.ctl for an absolute mountpoint.  0 or -ENAMETOOLONG/-EINVAL. */
int control_path(const char *mountpoint, char *buf, size_t len);

/* The address of the socket at path.  0 or -ENAMETOOLONG. */
int control_addr(const char *path, struct sockaddr_un *sa);
/* Connect to the socket at path (5 s send and receive timeouts): the
 * descriptor, or -errno with why (-ENOENT, -ECONNREFUSED: nobody listens
 * there).  -EPERM: an impostor: the socket file or the process answering
 * (SO_PEERCRED) is neither root's nor this euid's; nothing may be sent to
 * it or believed from it. */
int control_connect(const char *path, struct why *why);

/* Client: forget each key (keys NULL and n 0: "forget-all").  0; -ENOENT or
 * -ECONNREFUSED when no daemon listens there; -EPERM when an impostor
 * does (see control_connect); other -errno with why. */
int control_forget(const char *path, const char *const *keys, size_t n, struct why *why);

/* Client: the "leases" lines (after "ok\n") in *out (malloc()ed, "" when
 * none).  0; -ENOENT or -ECONNREFUSED when no daemon listens; -errno. */
int control_leases(const char *path, char **out, struct why *why);

#endif
