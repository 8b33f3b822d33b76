#include "lib/compat.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/vaultsrv.h"

char vaultsrv_url[64];
static pid_t srv_pid;
static char srv_dir[64] = "";

void vaultsrv_start(const char *const *extra)
{
	char portfile[128], state[128], port[16] = "";
	const char *argv[32] = { "python3", "tests/vault/vaultsrv.py", "--port-file", portfile,
				 "--root-token", VAULTSRV_ROOT_TOKEN, "--state", state };
	size_t n = 8;
	extern char **environ;
	int i;

	while (extra && *extra && n < ARRAY_SIZE(argv) - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;
	snprintf(srv_dir, sizeof(srv_dir), "/tmp/harombe-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(srv_dir));
	snprintf(portfile, sizeof(portfile), "%s/port", srv_dir);
	snprintf(state, sizeof(state), "%s/state.json", srv_dir);
	ck_assert_msg(posix_spawnp(&srv_pid, "python3", NULL, NULL, (char *const *)argv, environ) == 0,
		      "cannot start python3 (scripts/deps.sh installs it)");
	for (i = 0; i < 200 && !port[0]; i++) {
		FILE *f = fopen(portfile, "r");

		if (f) {
			if (!fgets(port, sizeof(port), f))
				port[0] = 0;
			fclose(f);
		}
		if (!port[0])
			usleep(25000);
	}
	ck_assert_msg(port[0], "the Vault test server did not start within 5 s");
	port[strcspn(port, "\n")] = 0;
	snprintf(vaultsrv_url, sizeof(vaultsrv_url), "http://127.0.0.1:%s", port);
}

void vaultsrv_stop(void)
{
	char cmd[128];

	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
		srv_pid = 0;
	}
	if (srv_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv_dir);
		if (system(cmd) != 0) {
			/* a temporary directory left behind; nothing secret in it */
		}
		srv_dir[0] = 0;
	}
}
