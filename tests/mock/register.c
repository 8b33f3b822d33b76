#include "lib/compat.h"

#include <stdio.h>
#include <stdlib.h>

#include "backends/backend-internal.h"
#include "tests/mock/mock.h"

/* Linked into build/tests/harombe-test: the harombe command with the test
 * store registered before main() runs, so that the CLI tests can use a
 * persistent store without a server. */
__attribute__((constructor)) static void mock_register(void)
{
	if (backend_register(&backend_mock) != 0) {
		fprintf(stderr, "harombe-test: cannot register the mock backend\n");
		exit(2);
	}
}
