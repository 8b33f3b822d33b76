/* libFuzzer target: the SOPS dotenv store (see fuzz-common.h). */
#include "lib/compat.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_sops(SOPS_FMT_DOTENV, data, size);
	return 0;
}
