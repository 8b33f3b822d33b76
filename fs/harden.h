#ifndef HARDEN_H
#define HARDEN_H

struct why;

#include <stddef.h>

/* Make the process undumpable (no core files, no ptrace by peers, /proc/PID
 * files owned by root) and set the core size limit to 0.  0 or -errno. */
int harden_process(struct why *why);

#endif
