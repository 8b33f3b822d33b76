#ifndef VIEW_H
#define VIEW_H

#include <stdint.h>
#include <sys/types.h>

/*
 * A view is what one container may read: its owner, an optional cgroup
 * pattern, and its NAME -> key mapping in config order.  Built from
 * security.containers in harombe.yaml; every name and key is validated
 * here, with file:line:col in the error.
 */

struct harombe_config;
struct template;
struct why;

/* A file of the view rendered from a template (inject/template.h). */
struct view_template {
	char *name;		/* the file's name in the view: "app.ini", ".pgpass" */
	unsigned int mode;	/* 0400, or 0440 (the view has a gid) */
	struct template *tmpl;
};

/* on_change: what to do when a value of the view changed in the store. */
struct view_on_change {
	int signal;		/* 0, or a signal for every process of the view's cgroup */
	char **argv;		/* NULL, or a command (a string runs as /bin/sh -c STRING) */
	size_t argc;
	uid_t uid;		/* the command runs as this user (default: the view's owner) */
	gid_t gid;
	uint64_t min_interval_ms;	/* at most one run per interval; changes between coalesce */
};
#define VIEW_ON_CHANGE_INTERVAL_MS 10000

/* What a template file may not be called: the view's own files. */
#define VIEW_RESERVED_NAMES "env", "docker.env", "env.json", "secrets", "generation"

/* A file of the view holding one value as it is: a certificate's tls.crt,
 * tls.key and ca.crt (certificates:). */
struct view_file {
	char *name;		/* "tls.crt" */
	char *key;		/* "pki/issue/web?common_name=web.internal#certificate" */
};

struct view_secret {
	char *name;		/* environment variable name, also secrets/<name> */
	char *key;		/* backend key: path or path#field */
};

struct view {
	char *container;
	uid_t uid;
	gid_t gid;
	int gid_set;		/* gid given in config: callers must hold it */
	char *cgroup;		/* fnmatch(3) pattern on the caller's cgroup, or NULL */
	unsigned long max_open;	/* open files at once (limits.open_files) */
	size_t max_locked;	/* locked bytes its open files hold (limits.locked_memory) */
	struct view_secret *secrets;
	size_t n;
	const char **names;	/* secrets[i].name, for audit records */
	const char **keys;	/* secrets[i].key */
	unsigned int mode;	/* of env, docker.env, env.json, secrets/: 0400 or 0440 */
	uint64_t watch_ms;	/* watch: ask the store for new versions this often; 0: never */
	struct view_on_change *on_change;	/* NULL when none */
	struct view_template *templates;
	size_t n_templates;
	struct view_file *files;	/* certificates: */
	size_t n_files;
};

struct viewset {
	struct view *views;
	size_t n;
};

int viewset_load(const struct harombe_config *cfg, struct viewset **out, struct why *err);
void viewset_free(struct viewset *vs);
const struct view *viewset_find(const struct viewset *vs, const char *container);
/* Index of name in v->secrets, or -1. */
int view_find_secret(const struct view *v, const char *name);
/* Index of the template file called name, or -1. */
int view_find_template(const struct view *v, const char *name);
/* Index of the certificate file called name, or -1. */
int view_find_file(const struct view *v, const char *name);
/* Does any file of v grant its group read (mode 0440)? */
int view_group_reads(const struct view *v);
/* Same owner, cgroup, mapping, modes and templates. */
int view_equal(const struct view *a, const struct view *b);

#endif
