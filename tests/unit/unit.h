#ifndef UNIT_H
#define UNIT_H

/* One Check suite per file; UNIT_MAIN gives each file its own runner, in
 * Check's fork mode, so a crash fails one test, not the run. */

#include <check.h>
#include <stdlib.h>

#define UNIT_MAIN(suite_fn)                                                  \
	int main(void)                                                       \
	{                                                                    \
		SRunner *sr = srunner_create(suite_fn());                     \
		int failed;                                                  \
		srunner_run_all(sr, CK_NORMAL);                              \
		failed = srunner_ntests_failed(sr);                          \
		srunner_free(sr);                                            \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                 \
	}

#endif
