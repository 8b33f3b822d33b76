#ifndef HARDEN_H
#define HARDEN_H

#include <stddef.h>

/* Make the process undumpable (no core files, no ptrace by peers, /proc/PID
 * files owned by root) and set the core size limit to 0.  0 or -errno. */
int harden_process(char *err, size_t errlen);

#endif
