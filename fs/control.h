#ifndef CONTROL_H
#define CONTROL_H

#include "backends/backend.h"
#include "lib/control.h"

/*
 * The daemon's side of the control socket (the protocol, the path and the
 * client are in lib/control.h): a thread that listens at MOUNTPOINT.ctl
 * and answers each request.
 */

/* Called from the control thread for each forget; key NULL: everything. */
typedef void control_forget_fn(const char *key, void *arg);

struct control;
/* Listen at path (a stale socket of ours there is replaced) and serve
 * requests on a thread of its own.  0 or -errno with why filled:
 * -EALREADY when a harombefs of ours listens there already; -EADDRINUSE
 * when the path is taken by someone else (a file or socket another uid
 * owns, or a live peer that is not root or our uid): the daemon must not
 * start, since clients would talk to the impostor. */
int control_start(const char *path, control_forget_fn *fn, void *arg, struct control **out, struct why *why);
/* Called from the control thread for "leases": each() once per live lease. */
typedef void control_leases_fn(backend_lease_fn *each, void *each_arg, void *arg);
/* Answer "leases" with fn from now on (before: no leases). */
void control_set_leases(struct control *ctl, control_leases_fn *fn, void *arg);
/* Stop the thread and remove the socket.  NULL-safe. */
void control_stop(struct control *ctl);

#endif
