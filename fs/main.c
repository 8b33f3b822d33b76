#include "lib/compat.h"

#include "fs/daemon.h"

int main(int argc, char *argv[])
{
	return harombefs_main(argc, argv);
}
