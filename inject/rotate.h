#ifndef ROTATE_H
#define ROTATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Rotation: new values from libsodium's CSPRNG, the policies of
 * security.rotation, the state file that remembers when harombe rotated
 * what (names and times, never a value), and the on_rotate hooks of
 * security.containers.
 */

struct secbuf;
struct harombe_config;
struct why;

enum rotate_gen {
	ROTATE_AUTO = 0,	/* the old value's shape: uuid, hex, else urlsafe */
	ROTATE_URLSAFE,		/* A-Z a-z 0-9 - _ */
	ROTATE_RANDOM,		/* A-Z a-z 0-9 !@#$%^&* (the original harombe's charset) */
	ROTATE_HEX,		/* 0-9 a-f */
	ROTATE_UUID,		/* a version 4 UUID */
};

#define ROTATE_LENGTH_DEFAULT 32
#define ROTATE_LENGTH_MIN 16
#define ROTATE_LENGTH_MAX 1024
#define ROTATE_PREFIX_MAX 16

/* "auto", "urlsafe", "random", "hex", "uuid": 0 or -EINVAL. */
int rotate_gen_parse(const char *s, enum rotate_gen *out);
const char *rotate_gen_name(enum rotate_gen g);

struct rotate_spec {
	enum rotate_gen gen;
	size_t length;		/* characters after the prefix; 0: like the old value */
	int keep_prefix;	/* keep a prefix such as "sk-" or "ghp_" */
};

#define ROTATE_SPEC_INIT { ROTATE_AUTO, 0, 1 }

/* What rotate_new_value() did, for reports (never the value). */
struct rotate_result {
	enum rotate_gen gen;
	size_t length;
	size_t prefix_len;	/* bytes of the old value kept in front */
};

/* The length of a recognisable prefix of v: lower-case words ending in
 * '-' or '_' ("sk-", "sk_live_", "github_pat_", "xoxb-"), at most 16 bytes
 * and three words, followed by at least 8 more bytes.  0 when none. */
size_t rotate_prefix_len(const unsigned char *v, size_t len);

/* A new value for a secret whose current value is old (NULL: none).
 * 0 and *out in locked memory, -EINVAL (a length for uuid, or out of
 * range) or -ENOMEM. */
int rotate_new_value(const struct rotate_spec *spec, const unsigned char *old, size_t oldlen,
		     struct secbuf **out, struct rotate_result *res);

/* ---- security.rotation and on_rotate ---- */

struct rotate_policy {
	char **keys;
	size_t n;
	uint64_t schedule_ms;
	char *schedule;		/* as written ("30d") */
	struct rotate_spec spec;
	int line;
};

struct rotate_hook {
	char *container;
	char **argv;		/* a string runs as /bin/sh -c STRING; a list as is */
	int line, col;
};

struct rotate_config {
	int enabled;		/* security.rotation.enabled (default true) */
	char *state_file;	/* default ROTATE_STATE_DEFAULT */
	uint64_t hook_timeout_ms;
	struct rotate_spec spec;	/* security.rotation.generator and length */
	struct rotate_policy *policies;
	size_t n;
	struct rotate_hook *hooks;
	size_t nhooks;
};

#define ROTATE_STATE_DEFAULT "/var/lib/harombe/rotation.json"
#define ROTATE_HOOK_TIMEOUT_DEFAULT (5 * 60 * 1000)

/* Read and check security.rotation and every container's on_rotate; errors
 * name file:line:col.  0 or -EINVAL / -ENOMEM. */
int rotate_config_load(const struct harombe_config *cfg, struct rotate_config **out,
		       struct why *err);
void rotate_config_free(struct rotate_config *rc);
const struct rotate_policy *rotate_policy_for(const struct rotate_config *rc, const char *key);
const struct rotate_hook *rotate_hook_for(const struct rotate_config *rc, const char *container);

/* Does a change of key `changed` change what `mapped` (a container's key)
 * reads?  Same path, and the same field or either without one. */
int rotate_key_affects(const char *changed, const char *mapped);

/*
 * Run a hook with HAROMBE_CONTAINER, HAROMBE_ROTATED_KEYS and
 * HAROMBE_ROTATED_NAMES (space-separated names, never values) in its
 * environment, stdin from /dev/null, in its own process group, killed at
 * the deadline.  The credentials harombe reads (drop[], as for run_env_new)
 * are not passed on.  0 and *status / *timed_out, or -errno if it could
 * not start.
 */
int rotate_hook_run(const struct rotate_hook *h, const char *const *keys, size_t nkeys,
		    const char *const *names, size_t nnames, const char *const *drop,
		    uint64_t timeout_ms, int *status, int *timed_out);

/* ---- the state file ---- */

struct rotate_state;

/* Lock (flock on PATH.lock) and read the state file; a missing file is an
 * empty state.  The directory is created 0700 when missing.  0 or -errno
 * with why. */
int rotate_state_open(const char *path, struct rotate_state **out, struct why *why);
/* Times in ms since the epoch, 0 when unknown. */
void rotate_state_get(const struct rotate_state *st, const char *key, int64_t *rotated, int64_t *seen);
/* Record; 0 leaves a time as it is.  0 or -ENOMEM. */
int rotate_state_set(struct rotate_state *st, const char *key, int64_t rotated, int64_t seen);
/* Write atomically (a 0600 temporary file, fsync, rename, fsync of the
 * directory).  0 or -errno with why. */
int rotate_state_save(struct rotate_state *st, struct why *why);
void rotate_state_close(struct rotate_state *st);	/* unlocks; NULL-safe */

#endif
