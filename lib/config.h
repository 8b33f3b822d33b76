#ifndef CONFIG_H
#define CONFIG_H

#include "compat.h"
#include "why.h"

/*
 * harombe.yaml.  This module is the only one that knows libyaml: it turns
 * the file into a tree of cfg_nodes that remember where they came from, so
 * every later error can name file, line and column.  Backends and views read
 * their own keys from the tree; the settings every program shares (provider,
 * security.fs, security.audit) are parsed here into struct harombe_config.
 */

enum cfg_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ };

struct cfg_node {
	enum cfg_kind kind;
	int line, col;			/* 1-based position of the node */
	const char *file;		/* owned by the document */
	/* CFG_SCALAR */
	char *text;			/* NUL-terminated */
	size_t text_len;
	int plain;			/* unquoted (only plain scalars can be null/bool) */
	/* CFG_MAP: keys[i] -> items[i]; CFG_SEQ: items[i] */
	size_t n;
	struct cfg_node **keys;
	struct cfg_node **items;
};


/* Parse YAML text into a tree (first document only; an empty document
 * gives an empty map).  0 or -errno with err filled. */
int cfg_parse(const char *file, const char *text, size_t len, struct cfg_node **out,
	      struct why *err);
void cfg_node_free(struct cfg_node *n);

/* Map lookup of one key (not dotted).  NULL when absent or not a map. */
const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key);
/* Dotted lookup: cfg_path(root, "security.credentials.provider"). */
const struct cfg_node *cfg_path(const struct cfg_node *root, const char *dotted);
/* A plain scalar spelling null ("", "~", "null", "Null", "NULL"). */
int cfg_is_null(const struct cfg_node *n);

/* Fill err with "file:line:col: " + message, positioned at n. */
int cfg_fail(struct why *err, const struct cfg_node *n, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Typed getters.  A missing key or a null value leaves *out at the default
 * the caller set beforehand and returns 0; a wrong type or format returns
 * -EINVAL with err naming the place. */
int cfg_get_str(const struct cfg_node *map, const char *key, const char **out, struct why *err);
int cfg_get_bool(const struct cfg_node *map, const char *key, int *out, struct why *err);
/* Durations: "0", "90" (seconds), "500ms", "30s", "5m", "1h", "30d", "2w". */
int cfg_get_duration_ms(const struct cfg_node *map, const char *key, uint64_t *out,
			struct why *err);
/* Sizes: "1048576", "512KiB", "8MiB", "1GiB" (K/M/G are binary too; KB/MB/GB decimal). */
int cfg_get_size(const struct cfg_node *map, const char *key, size_t *out, struct why *err);
/* Parsers behind the getters, for callers with their own strings. */
int cfg_parse_duration_ms(const char *s, uint64_t *out);
int cfg_parse_size(const char *s, size_t *out);
/* Non-negative integer below limit. */
int cfg_get_uint(const struct cfg_node *map, const char *key, unsigned long limit,
		 unsigned long *out, struct why *err);

/* Warn (through log) about keys of map that are not in known[] (NULL-ended). */
void cfg_warn_unknown(const struct cfg_node *map, const char *where, const char *const *known);

/* ---- the shared settings ---- */

enum audit_event {
	AUDIT_SECRET_READ = 0,
	AUDIT_SECRET_WRITE,
	AUDIT_SECRET_DELETE,
	AUDIT_SECRET_ROTATION,
	AUDIT_VAULT_AUTHENTICATION,
	AUDIT_INJECTION_START,
	AUDIT_INJECTION_COMPLETE,
	AUDIT_ACCESS_DENIED,
	AUDIT_LEAK_DETECTED,
	AUDIT_VAULT_LEASE,
	AUDIT_EVENT_COUNT
};
extern const char *const audit_event_names[AUDIT_EVENT_COUNT];

/*
 * What one view's open files may hold at once (security.fs.limits, and
 * security.containers.NAME.limits over it).  Past open_files an open fails
 * with EMFILE, past locked_memory with ENOMEM: for that view alone.
 */
struct harombe_limits {
	unsigned long open_files;	/* HAROMBE_DEFAULT_OPEN_FILES */
	size_t locked_memory;		/* bytes; default fs.locked_memory / HAROMBE_LOCKED_SHARE */
};
#define HAROMBE_DEFAULT_OPEN_FILES 1024
#define HAROMBE_MAX_OPEN_FILES 1048576
#define HAROMBE_LOCKED_SHARE 4
#define HAROMBE_MIN_VIEW_LOCKED 4096

/* Parse the 'limits' key of map (absent or null: lim unchanged) on top of
 * what lim holds.  A view's locked_memory cannot exceed arena.  0, or
 * -EINVAL with err at file:line:col. */
int config_get_limits(const struct cfg_node *map, size_t arena, struct harombe_limits *lim,
		      struct why *err);

struct harombe_config {
	char *path;
	struct cfg_node *root;
	const struct cfg_node *security;	/* NULL when absent */
	const struct cfg_node *credentials;	/* security.credentials or NULL */
	const struct cfg_node *containers;	/* security.containers or NULL */
	const char *provider;			/* "env" unless configured */
	struct {
		const char *mountpoint;		/* "/run/harombe" */
		uint64_t cache_ttl_ms;
		uint64_t stale_if_error_ms;
		size_t locked_memory;		/* bytes; SECMEM_DEFAULT_SIZE */
		const char *audit_log;		/* path; default below */
		struct harombe_limits limits;	/* every view's, unless it sets its own */
	} fs;
	struct {
		int enabled;			/* security.audit.enabled, default 1 */
		unsigned int events;		/* bit per enum audit_event */
	} audit;
};

#define HAROMBE_DEFAULT_MOUNTPOINT "/run/harombe"
#define HAROMBE_DEFAULT_AUDIT_LOG "/var/log/harombe/audit.jsonl"

/* Load and check a config file: YAML syntax, types of the shared settings,
 * and no credential-shaped literal anywhere.  0 or -errno with err. */
int config_load(const char *path, struct harombe_config **out, struct why *err);
/* The same from memory (tests, the embedded demo). */
int config_load_text(const char *name, const char *text, size_t len, struct harombe_config **out,
		     struct why *err);
void config_free(struct harombe_config *cfg);

#endif
