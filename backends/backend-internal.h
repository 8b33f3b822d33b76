#ifndef BACKEND_INTERNAL_H
#define BACKEND_INTERNAL_H

/* For backends/ sources (and test backends) only. */

#include <stdint.h>

#include "backend.h"

struct backend_ops {
	const char *name;		/* the provider name in harombe.yaml */
	unsigned int caps;		/* BACKEND_CAN_* */
	int (*open)(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		    struct why *err);
	void (*close)(struct backend *be);
	int (*get)(struct backend *be, const char *key, struct secbuf **out, struct why *why);
	/* Optional: parallel fetch.  NULL = get() in a loop. */
	int (*get_many)(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
			int *rcs, struct why *whys);
	/* Optional (NULL = BACKEND_ENOTSUP). */
	int (*list)(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		    struct why *why);
	int (*set)(struct backend *be, const char *key, const void *value, size_t len,
		   struct why *why);
	int (*del)(struct backend *be, const char *key, struct why *why);
	/* Optional: what the store knows about a key without reading it
	 * (Vault KV v2 metadata, a file's mtime).  NULL = BACKEND_ENOTSUP. */
	int (*meta)(struct backend *be, const char *key, struct backend_meta *out,
		    struct why *why);
	/* Optional: make a new, empty store at target (a SOPS file) for the
	 * recipients given.  NULL = BACKEND_ENOTSUP. */
	int (*create)(const struct backend_ctx *ctx, const char *target, const char *const *recipients,
		      size_t n, struct why *why);
	/* Optional: write several fields as one secret, replacing it (Vault's
	 * `kv put a=1 b=2`).  NULL = BACKEND_ENOTSUP. */
	int (*set_fields)(struct backend *be, const char *key, size_t n, const char *const *fields,
			  const void *const *values, const size_t *lens, struct why *why);
	/* Optional: delete every version and the metadata.  NULL = del(). */
	int (*purge)(struct backend *be, const char *key, struct why *why);
	/* Optional: every field of a secret with its value (Vault KV).
	 * NULL = BACKEND_ENOTSUP. */
	int (*fields)(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
		      struct why *why);
	/* Optional: drop cached copies (backends/cache.c).  NULL = nothing cached. */
	void (*forget)(struct backend *be, const char *key);
	/* Optional: get_many on behalf of a scope (a container), for stores
	 * that keep something per consumer (Vault leases).  NULL = get_many. */
	int (*get_many_for)(struct backend *be, const char *scope, size_t n, const char *const *keys,
			    struct secbuf **outs, int *rcs, struct why *whys);
	/* Optional: get_many_for from memory alone (backend_try_get_many_for):
	 * 0, or -BACKEND_EWOULDBLOCK when any key needs the store.  NULL =
	 * get_many_for for a BACKEND_INSTANT store, else always
	 * -BACKEND_EWOULDBLOCK. */
	int (*try_get_many_for)(struct backend *be, const char *scope, size_t n, const char *const *keys,
				struct secbuf **outs, int *rcs, struct why *whys);
	/* Optional: is key's value per scope (never shared, never cached)?
	 * NULL = no key is. */
	int (*scoped)(struct backend *be, const char *key);
	/* Optional: take over carried leases (backend_adopt).  NULL = none. */
	void (*adopt)(struct backend *be, backend_named_fn *named, void *arg);
	/* Optional: the live leases.  NULL = none. */
	void (*leases)(struct backend *be, backend_lease_fn *fn, void *arg);
	/* Optional: take the daemon's hooks (backend.h).  NULL = ignore them. */
	void (*set_hooks)(struct backend *be, const struct backend_hooks *hooks);
};

/* Every backend struct embeds this first. */
struct backend {
	const struct backend_ops *ops;
};

/* Add a provider at run time (the test daemon's mock store).  0 or -ENOSPC. */
int backend_register(const struct backend_ops *ops);

extern const struct backend_ops backend_env;
extern const struct backend_ops backend_sops;
extern const struct backend_ops backend_vault;
extern const struct backend_ops backend_cache;

/* backends/cache.c: 0 and *out owning inner, or -ENOMEM (inner untouched). */
int cache_wrap(struct backend *inner, uint64_t ttl_ms, uint64_t stale_ms, struct backend **out);
struct backend *cache_inner(struct backend *be);

#endif
