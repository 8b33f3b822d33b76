#ifndef CLI_H
#define CLI_H

#include "lib/compat.h"

/*
 * Shared by the `harombe` command groups.  Exit statuses (DESIGN.md):
 * 0 success, 1 a negative answer (not found, findings), 2 usage or config
 * error, 3 backend unavailable, denied or tampered.  Messages go to stderr,
 * start with "harombe: " and never contain a secret.
 */

#define EXIT_NEGATIVE 1
#define EXIT_USAGE 2
#define EXIT_BACKEND 3

struct harombe_config;
struct backend;

struct cli {
	const char *config_path;	/* -c, $HAROMBE_CONFIG, ./harombe.yaml, /etc/harombe/harombe.yaml */
	const char *provider;		/* --provider */
	int json;			/* --format json */
	int sarif;			/* --format sarif (secrets scan, scan-git) */
	struct harombe_config *cfg;	/* loaded on demand */
	struct backend *be;		/* opened on demand */
	struct audit *audit;
};

void cli_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* The config file to use (-c, $HAROMBE_CONFIG, ./harombe.yaml,
 * /etc/harombe/harombe.yaml), or NULL when there is none. */
const char *cli_find_config(const struct cli *c);
/* Load the config (once).  0, or an exit status after printing why. */
int cli_config(struct cli *c);
/* Open the configured (or --provider) backend (once).  0 or exit status. */
int cli_backend(struct cli *c);
/* The exit status for a backend error. */
int cli_exit_for(int backend_err);
/* True when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

typedef int cli_group_fn(struct cli *c, int argc, char **argv);
cli_group_fn cli_vault;
cli_group_fn cli_secrets;

#endif
