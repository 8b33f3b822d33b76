#include "lib/compat.h"
#include "fs/harden.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int harden_process(char *err, size_t errlen)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "cannot make the process undumpable: %s", strerror(errno));
		return -errno;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		snprintf(err, errlen, "cannot set the core size limit to 0: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
