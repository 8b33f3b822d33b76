#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/jsonw.h"
#include "lib/why.h"

/*
 * `harombe vault leases`: the live Vault leases of the running harombefs
 * (dynamic secrets: one per container and path), asked over its control
 * socket.  Container, path, seconds left, renewals and idle seconds; never
 * a lease id or a value.
 */

static void print_json_str(const char *s)
{
	size_t len = strlen(s);
	unsigned char *buf = malloc(jsonw_escaped_len((const unsigned char *)s, len) + 1), *end;

	if (!buf)
		return;
	end = jsonw_escape(buf, (const unsigned char *)s, len);
	printf("\"%.*s\"", (int)(end - buf), buf);
	free(buf);
}

int cli_vault_leases(struct cli *c, int argc, char **argv)
{
	char path[CONTROL_PATH_MAX], *text = NULL, *line, *save = NULL;
	struct why why = WHY_INIT;
	int r, first = 1;

	(void)argv;
	if (argc != 1) {
		cli_help(stderr, "vault", "leases");
		return EXIT_USAGE;
	}
	if ((r = cli_config(c)))
		return r;
	if (control_path(c->cfg->fs.mountpoint, path, sizeof(path)) != 0) {
		cli_error("no control socket path for the mountpoint '%s'", c->cfg->fs.mountpoint);
		return EXIT_USAGE;
	}
	r = control_leases(path, &text, &why);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		cli_error("no harombefs listens on '%s': leases live in the daemon", path);
		return EXIT_BACKEND;
	}
	if (r) {
		cli_error("cannot ask harombefs (%s) for its leases: %s", path, why.msg[0] ? why_str(&why) : strerror(-r));
		return EXIT_BACKEND;
	}
	if (c->json)
		printf("[");
	else if (*text)
		printf("%-20s %-36s %8s %8s %8s\n", "CONTAINER", "PATH", "TTL", "RENEWALS", "IDLE");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5];
		int i;

		f[0] = line;
		for (i = 1; i < 5 && f[i - 1]; i++) {
			f[i] = strchr(f[i - 1], '\t');
			if (f[i])
				*f[i]++ = 0;
		}
		if (i < 5 || !f[4])
			continue;
		if (c->json) {
			printf("%s{\"container\":", first ? "" : ",");
			print_json_str(f[0]);
			printf(",\"path\":");
			print_json_str(f[1]);
			printf(",\"ttl\":%lld,\"renewals\":%lld,\"idle\":%lld}", atoll(f[2]), atoll(f[3]), atoll(f[4]));
		} else {
			printf("%-20s %-36s %7llds %8lld %7llds\n", *f[0] ? f[0] : "-", f[1], atoll(f[2]), atoll(f[3]),
			       atoll(f[4]));
		}
		first = 0;
	}
	if (c->json)
		printf("]\n");
	free(text);
	return 0;
}
