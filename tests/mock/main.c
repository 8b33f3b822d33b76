#include "lib/compat.h"

#include <stdio.h>

#include "backends/backend-internal.h"
#include "fs/daemon.h"
#include "tests/mock/mock.h"

/* harombefs with the test store registered: the same daemon code. */
int main(int argc, char *argv[])
{
	if (backend_register(&backend_mock) != 0) {
		fprintf(stderr, "harombefs-test: cannot register the mock backend\n");
		return 1;
	}
	return harombefs_main(argc, argv);
}
