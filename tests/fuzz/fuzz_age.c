/* libFuzzer target: the age header, armor and decryption (see fuzz-common.h). */
#include "lib/compat.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_age(data, size);
	return 0;
}
