#include "lib/compat.h"
#include "fs/harden.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "lib/why.h"

int harden_process(struct why *why)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		why_set(why, "cannot make the process undumpable: %s", strerror(errno));
		return -errno;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		why_set(why, "cannot set the core size limit to 0: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
