#ifndef BACKEND_H
#define BACKEND_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/why.h"

/*
 * The store behind every view: one interface, several implementations
 * (env, vault, sops).  fs/, inject/ and cli/ see only this header.
 *
 * Keys are "path" or "path#field" (DESIGN.md); callers check them with
 * names_check_key() first.  Values come back in locked memory (struct
 * secbuf) that the caller owns and frees with secbuf_free().
 *
 * Every function returns 0 or one of the negative errors below, never any
 * other errno, and may fill *why with a short human reason for the log and
 * the audit trail.  A reason NEVER contains a value or a token.  All calls
 * are safe from several threads at once.
 */

#define BACKEND_ENOTFOUND ENOENT	/* no such key (or field) */
#define BACKEND_EDENIED EACCES		/* the store refused us */
#define BACKEND_EUNAVAIL EHOSTDOWN	/* unreachable, sealed, 5xx, file unreadable */
#define BACKEND_ETIMEDOUT ETIMEDOUT	/* no answer before the deadline */
#define BACKEND_ETAMPERED EBADMSG	/* integrity check failed: never served */
#define BACKEND_EINVAL EINVAL		/* bad key, malformed data or response */
#define BACKEND_ENOMEM ENOMEM		/* locked memory exhausted */
#define BACKEND_ENOTSUP EOPNOTSUPP	/* this store cannot do that */
#define BACKEND_EWOULDBLOCK EWOULDBLOCK	/* backend_try_get_many_for(): not in memory */

/* Capabilities. */
#define BACKEND_CAN_LIST 0x1u
#define BACKEND_CAN_WRITE 0x2u		/* set and delete */
#define BACKEND_PERSISTENT 0x4u		/* writes outlive the process */
#define BACKEND_INSTANT 0x8u		/* get answers from memory, never blocks on I/O */

struct backend;
struct secbuf;
struct audit;
struct harombe_config;
struct cfg_node;
struct carry;

struct backend_ctx {
	const struct harombe_config *cfg;
	const char *provider;		/* overrides cfg->provider when set */
	const struct cfg_node *opts;	/* the backend's options; cfg->credentials when NULL */
	struct audit *audit;		/* for vault_authentication and the like; may be NULL */
	const char *source;		/* "harombefs" or "harombe": audit source */
	int daemon;			/* long-lived: may start background threads */
	struct carry *carry;		/* harombefs: state a restart passes on (lib/carry.h); may be NULL */
};

/* Called once per key by backend_list(); non-zero stops the walk and is
 * returned.  key is only valid during the call. */
typedef int backend_list_fn(const char *key, void *arg);

/* Open the provider named by ctx (provider, else cfg->provider).  An
 * unknown provider or bad option fills err with file:line:col. */
int backend_open(const struct backend_ctx *ctx, struct backend **out, struct why *err);
/* 0 when backend_open would know the provider ctx names (nothing opened,
 * nothing contacted), else BACKEND_EINVAL with file:line:col in err:
 * harombe config check refuses what harombefs would. */
int backend_check_provider(const struct backend_ctx *ctx, struct why *err);
void backend_close(struct backend *be);		/* wipes the backend's own secrets; NULL-safe */
const char *backend_name(const struct backend *be);
unsigned int backend_caps(const struct backend *be);

/*
 * A whole secret: the key "path#" (path, '#' and no field, a form that
 * names_check_key() refuses, so no configured key can be one) asks for every
 * field of the secret at path as one JSON object, in locked memory: a Vault
 * KV secret's `data` object, the map at a SOPS path (a value there is
 * BACKEND_EINVAL).  Stores without fields refuse it (BACKEND_ENOTSUP).  The
 * templates' {{ secret "path" | json }} (docs/templates.md) asks for it; a
 * cache keeps it apart from "path" and "path#field", and forgets it with them.
 */
#define BACKEND_WHOLE_SUFFIX "#"
/* 1 when key is "path#" (a whole secret), else 0. */
int backend_key_whole(const char *key);

/* 0 and *out = new secbuf, or an error and *out = NULL. */
int backend_get(struct backend *be, const char *key, struct secbuf **out, struct why *why);
/* Fetch n keys (in parallel where the store allows).  outs[i] and rcs[i]
 * are filled for every i; whys may be NULL or an array of n.  Returns 0
 * when all succeeded, else the first failing rcs[i]. */
int backend_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
		     int *rcs, struct why *whys);
/* backend_get_many() on behalf of scope (a container name, or NULL): a
 * store that mints something per consumer (a Vault lease: dynamic_paths)
 * keeps one per scope and path, shared by every call for that scope. */
int backend_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			 struct secbuf **outs, int *rcs, struct why *whys);
/*
 * backend_get_many_for() answered from memory alone, for a caller that must
 * not wait (harombefs's FUSE loop thread): a value the cache holds fresh
 * (cache_ttl), a key of a SOPS file decrypted and unchanged since (one
 * stat()), a live lease's or certificate's fields, anything from a
 * BACKEND_INSTANT store.  Never does network I/O, never waits for another
 * thread's fetch or for a lock held across one.  All or nothing: either
 * every key is answered (the return and outs, rcs, whys as
 * backend_get_many_for() would give them, errors included) or
 * -BACKEND_EWOULDBLOCK, with every outs[i] NULL, when any key would need
 * the store (a miss, an entry past cache_ttl, a file to decrypt again, a
 * lease to mint), and the caller fetches all of them the ordinary way.
 */
int backend_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			     struct secbuf **outs, int *rcs, struct why *whys);
/* Is key's value per scope (a leased, dynamic secret)?  1 or 0. */
int backend_scoped(struct backend *be, const char *key);
/* Does the configuration still name a leased path for scope?  1 or 0. */
typedef int backend_named_fn(const char *scope, const char *path, void *arg);
/* Take over the leases a previous daemon carried (backend_ctx.carry, a
 * restart on the same connection): those named() accepts are renewed and
 * revoked from now on as if minted here (no second lease is minted); the
 * others are revoked soon.  From this call on, be's leases are the ones
 * carried (call it once a reload's generation is in place, too); nothing
 * without carry. */
void backend_adopt(struct backend *be, backend_named_fn *named, void *arg);
/* Called once per live lease by backend_leases(): scope ("" for none),
 * path, seconds left, renewals so far, seconds since last use.  Never a
 * value or a lease id. */
typedef void backend_lease_fn(const char *scope, const char *path, long long ttl_left,
			      unsigned int renewals, long long idle_s, void *arg);
void backend_leases(struct backend *be, backend_lease_fn *fn, void *arg);
/*
 * What a daemon and a store tell each other about scopes (harombefs and
 * its containers).  changed: a value of scope under key's path was
 * replaced by the store on its own (a certificate issued again, a lease
 * minted again before its max_ttl), so that readers can be told; called
 * from a store's thread, with none of the store's locks held.  alive: is
 * scope in use beyond its reads (an open file, a cgroup that still
 * exists)?  One of BACKEND_SCOPE_*; it must not call back into the store.
 */
#define BACKEND_SCOPE_UNKNOWN 0		/* nothing beyond reads: the store's idle window decides */
#define BACKEND_SCOPE_ALIVE 1		/* in use now */
#define BACKEND_SCOPE_GONE 2		/* its container is gone: drop what it holds now */
struct backend_hooks {
	void (*changed)(void *arg, const char *scope, const char *key);
	int (*alive)(void *arg, const char *scope);
	void *arg;
};
/* Give the store these hooks (copied; NULL clears them).  Stores that keep
 * nothing per scope ignore them. */
void backend_set_hooks(struct backend *be, const struct backend_hooks *hooks);
/* Keys under prefix ("" for all); folders end with '/' where the store has them. */
int backend_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		 struct why *why);
int backend_set(struct backend *be, const char *key, const void *value, size_t len,
		struct why *why);
int backend_delete(struct backend *be, const char *key, struct why *why);

/* What a store can say about a key without returning its value. */
struct backend_meta {
	long long version;	/* 0 when the store has no versions */
	long long created;	/* Unix seconds, 0 when unknown */
	long long updated;	/* Unix seconds of the current value, 0 when unknown */
	int store_wide;		/* updated is the last change anywhere in the store (a
				 * SOPS file), not of this key: rotation cannot use it */
};
/* 0 and *out, or an error; BACKEND_ENOTSUP when the store cannot tell. */
int backend_meta(struct backend *be, const char *key, struct backend_meta *out,
		 struct why *why);

/* Make a new, empty store named target (e.g. a SOPS file) whose key is
 * wrapped for n recipients (age1...), with the provider ctx names.  Never
 * overwrites: an existing target is BACKEND_EINVAL.  BACKEND_ENOTSUP for
 * providers that have nothing to create. */
int backend_create(const struct backend_ctx *ctx, const char *target, const char *const *recipients,
		   size_t n, struct why *why);

/* Write several fields as one secret, replacing what was there (Vault KV;
 * BACKEND_ENOTSUP elsewhere).  values[i] holds lens[i] bytes. */
int backend_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
		       const void *const *values, const size_t *lens, struct why *why);
/* Delete a key with every version and its metadata; stores without
 * versions do what backend_delete() does. */
int backend_purge(struct backend *be, const char *key, struct why *why);

/*
 * The cache (security.fs.cache_ttl and stale_if_error, DESIGN.md
 * "Freshness and outages").  backend_wrap_cache() puts it in front of *be and
 * replaces *be with the wrapper (which owns, and closes, the original).
 * Concurrent gets of one key always share one fetch; with both durations 0
 * nothing is kept after it, so every open still fetches.  Values are held
 * in locked memory and wiped when dropped.  0, or -ENOMEM (*be unchanged).
 */
int backend_wrap_cache(struct backend **be, uint64_t ttl_ms, uint64_t stale_ms);
/* Called once per field by backend_fields(); field and value are valid only
 * during the call.  Non-zero stops the walk and is returned. */
typedef int backend_field_fn(const char *field, const struct secbuf *value, void *arg);
/* Every field of the secret at path (no "#field"), each with its value,
 * from one read: for stores whose secrets are sets of named fields (Vault
 * KV), so that a backup can name them all.  BACKEND_ENOTSUP elsewhere.
 * Bypasses a cache. */
int backend_fields(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
		   struct why *why);

/* Drop what a cache holds for key's path: every field and version of it
 * ("github/token" drops "github/token#value" and "github/token@3"); NULL
 * drops everything.  A fetch already in flight is not shared with later
 * gets.  Does nothing without a cache. */
void backend_forget(struct backend *be, const char *key);

/* "not found", "denied", "unavailable", "timed out", "tampered", "invalid",
 * "out of locked memory", "not supported", or strerror() for anything else. */
const char *backend_strerror(int err);
/* The providers this build knows, comma-separated ("env, vault, sops"). */
const char *backend_provider_list(void);

#endif
