/*
 * The scan config of a tree (.harombe-scan.yaml, --config FILE): read it,
 * let scan/scanconf.c take the keys harombe reads itself (extend:
 * use_default, allowlist: stopwords), and give the rest to the rules loader.
 */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan/scan.h"
#include "scan/scanconf.h"

#define CONFIG_MAX (16u << 20)

int secrets_load_config(struct ctx *x, const char *path)
{
	char err[1024], *t = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		cli_error("secrets: cannot read the scan config '%s': %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (!(t = malloc(CONFIG_MAX + 1))) {
		close(fd);
		cli_error("secrets: out of memory");
		return EXIT_USAGE;
	}
	while (len < CONFIG_MAX && (n = read(fd, t + len, CONFIG_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	t[len] = 0;
	if (r || len == CONFIG_MAX) {
		cli_error("secrets: cannot read the scan config '%s': %s", path, r ? strerror(-r) : "over 16 MiB");
		free(t);
		return EXIT_USAGE;
	}
	if (scanconf_take(path, t, len, &x->conf, err, sizeof(err)) ||
	    (!x->conf.use_default && scanconf_disable_builtins(x->s, err, sizeof(err))) ||
	    scan_load_rules_text(x->s, path, t, len, err, sizeof(err))) {
		cli_error("%s", err);
		r = EXIT_USAGE;
	}
	free(t);
	return r;
}

