#ifndef CLI_H
#define CLI_H

#include "lib/compat.h"

#include <stdio.h>

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
	const char *config_path;	/* -c, $HAROMBE_CONFIG, ./harombe.yaml, SYSCONFDIR/harombe/harombe.yaml */
	const char *provider;		/* --provider */
	const char *mount;		/* vault -mount, with no config only */
	int provider_from_env;		/* provider picked from VAULT_ADDR, not asked for */
	int json;			/* --format json */
	int sarif;			/* --format sarif (secrets scan, scan-git) */
	struct harombe_config *cfg;	/* loaded on demand */
	struct backend *be;		/* opened on demand */
	struct audit *audit;
	struct cli_ops *ops;		/* cli/ops.c: views, rotation config, audit log */
	int exit_floor;			/* the least exit status (an impostor on the control socket: 3) */
};

void cli_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* The config file to use (-c, $HAROMBE_CONFIG, ./harombe.yaml,
 * SYSCONFDIR/harombe/harombe.yaml), or NULL when there is none. */
const char *cli_find_config(const struct cli *c);
/* Load the config (once).  0, or an exit status after printing why. */
int cli_config(struct cli *c);
/* Open the configured (or --provider) backend (once).  0 or exit status. */
int cli_backend(struct cli *c);
/* The exit status for a backend error. */
int cli_exit_for(int backend_err);
/* The name in names (NULL-terminated) closest to word, for "did you mean":
 * a prefix of it, or one or two edits away; NULL when none is close. */
const char *cli_closest(const char *word, const char *const *names);
/* "harombe: GROUP: unknown command 'x'; did you mean 'y'? (a, b, c)"; group
 * NULL: a group itself was unknown. */
void cli_unknown_command(const char *group, const char *word, const char *const *names);
/* After getopt_long returned '?' or ':' for arg: "harombe: GROUP CMD: unknown
 * option '--bogus'; did you mean '--bogon'?" or "option '--x' needs a value". */
struct option;
void cli_bad_option(const char *group, const char *cmd, const char *arg, const struct option *lo, int missing);
/* ---- cli/help.c: the help of every command, and the options each takes ---- */

/* Print the help of GROUP CMD (its usage, summary, options and notes), or
 * with cmd NULL (or a group without commands) the group's.  0, or -1 for
 * an unknown group. */
int cli_help(FILE *f, const char *group, const char *cmd);
/* True when the table has GROUP CMD; cmd NULL: GROUP is one command itself
 * (run, rotate). */
int cli_help_has(const char *group, const char *cmd);
/* The commands of group into names, NULL-terminated (at most max - 1). */
void cli_help_commands(const char *group, const char **names, size_t max);
/* Before the group's parser: every --option in argv[0..argc) (up to "--")
 * must be one the command's help names.  0, or EXIT_USAGE after saying
 * "GROUP CMD: unknown option '--x'; did you mean '--y'?" or "--x is for
 * GROUP A only".  An unknown GROUP CMD is left to the group. */
int cli_help_check_options(const char *group, const char *cmd, int argc, char **argv);
/* Print the long options of GROUP [CMD], one a line, without "--"; group
 * NULL: every "GROUP [CMD]".  0, or -1 when there is no such command. */
int cli_help_list(const char *group, const char *cmd);

typedef int cli_group_fn(struct cli *c, int argc, char **argv);
cli_group_fn cli_vault;
cli_group_fn cli_secrets;
cli_group_fn cli_container;
cli_group_fn cli_run;
cli_group_fn cli_rotate;
cli_group_fn cli_audit_group;
cli_group_fn cli_sops;
cli_group_fn cli_config_group;
/* Commands of `harombe vault` that live in their own files; argv[0] is the
 * command name. */
cli_group_fn cli_vault_import;
cli_group_fn cli_vault_export;
cli_group_fn cli_vault_rotate;
cli_group_fn cli_vault_leases;

/* ---- cli/ops.c: what the commands that change or hand out secrets share ---- */

struct view;
struct viewset;
struct rotate_config;
enum audit_event;
struct audit_kv;

/* Allocate what the ops helpers hold (main() calls it first, so that they
 * cannot fail for lack of it).  0, or an exit status after printing why. */
int cli_ops_init(struct cli *c);
/* Open the audit log of the config (security.fs.audit_log), once.  Call it
 * before cli_backend() so that the backend's own events go there too.
 * 0, or an exit status after printing why: a change that cannot be
 * recorded is not made. */
int cli_audit(struct cli *c);
/* One record from this process (source "harombe"): keys and names, never
 * a value.  r: 0 for "ok", else the backend error (result "error" or
 * "denied") with why.  0, or -errno when the line could not be written
 * (reported once on stderr). */
int cli_audit_event(struct cli *c, enum audit_event ev, const char *container, const char *const *names,
		    size_t n_names, const char *const *keys, size_t n_keys, int r, const char *why,
		    const struct audit_kv *extra, size_t n_extra);
/* After a write or delete of key (r its result): audit it, and on success
 * tell a running harombefs. */
void cli_changed(struct cli *c, enum audit_event ev, const char *key, int r, const char *why);
/* Tell a running harombefs (its control socket, next to the config's
 * mountpoint) to drop what its cache holds for these keys.  No daemon is
 * fine; a daemon that cannot be told is a warning; an impostor on the
 * socket (not root or our uid) is an error: exit_floor becomes 3. */
void cli_forget(struct cli *c, const char *const *keys, size_t n);
/* The views of the config (once), and one of them by name: an unknown
 * name prints the known ones and gives NULL. */
int cli_views(struct cli *c, const struct viewset **out);
const struct view *cli_view(struct cli *c, const char *name, int *exit_status);
/* security.rotation and on_rotate (once).  0 or exit status. */
int cli_rotation(struct cli *c, const struct rotate_config **out);
/* The environment variables harombe reads credentials from, which children
 * (hooks, `harombe run`, container engines) do not inherit. */
const char *const *cli_dropped_env(struct cli *c);
/* Free what the ops helpers hold; main() calls it. */
void cli_ops_release(struct cli *c);
/* cli/rotate.c: rotate keys (vault rotate, container rotate-secrets). */
struct cli_rotate_opts {
	int gen;		/* enum rotate_gen, when gen_set */
	int gen_set;
	size_t length;		/* 0: from policy or the old value */
	int no_prefix, no_hooks;
	const char *trigger;	/* audited: "manual", "container", "policy" */
	const char *container;	/* audited */
};
/* getopt letters g (--generator), l (--length), P (--no-prefix), H
 * (--no-hooks): 0 handled, 1 not one of them, else an exit status. */
int cli_rotate_option(int opt, const char *arg, struct cli_rotate_opts *o);
/* Rotate, audit, tell harombefs, run hooks, report.  Exit status. */
int cli_rotate_keys(struct cli *c, const char *const *keys, size_t n, const struct cli_rotate_opts *o);
/* Write a value to stdout as a JSON string (for --format json), quotes included. */
void cli_json_str(const char *s);

#endif
