#include "lib/compat.h"
#include "backends/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend-internal.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/* The one place that names every concrete backend. */
static const struct backend_ops *providers[8] = {
	&backend_env,
	&backend_sops,
	&backend_vault,
};

int backend_register(const struct backend_ops *ops)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(providers); i++) {
		if (!providers[i] || providers[i] == ops) {
			providers[i] = ops;
			return 0;
		}
	}
	return -ENOSPC;
}

const char *backend_provider_list(void)
{
	static char list[128];
	size_t i, off = 0;

	list[0] = 0;
	for (i = 0; i < ARRAY_SIZE(providers) && providers[i]; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s'%s'", i ? ", " : "",
					providers[i]->name);
	return list;
}

/* Anything outside the documented set would leak a backend's internals into
 * callers' errno handling; fold it into "unavailable" and say so. */
static int normalize(const struct backend *be, int r)
{
	switch (-r) {
	case 0:
	case BACKEND_ENOTFOUND:
	case BACKEND_EDENIED:
	case BACKEND_EUNAVAIL:
	case BACKEND_ETIMEDOUT:
	case BACKEND_ETAMPERED:
	case BACKEND_EINVAL:
	case BACKEND_ENOMEM:
	case BACKEND_ENOTSUP:
		return r;
	default:
		log_debug("%s backend returned %s; reported as unavailable", be->ops->name, strerror(-r));
		return -BACKEND_EUNAVAIL;
	}
}

int backend_check_provider(const struct backend_ctx *ctx, struct why *err)
{
	const char *name = ctx->provider ? ctx->provider : ctx->cfg->provider;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(providers) && providers[i]; i++)
		if (!strcmp(providers[i]->name, name))
			return 0;
	if (!ctx->provider && ctx->cfg->credentials && cfg_get(ctx->cfg->credentials, "provider"))
		return cfg_fail(err, cfg_get(ctx->cfg->credentials, "provider"),
				"unknown provider '%s' (known: %s)", name, backend_provider_list());
	return cfg_fail(err, NULL, "unknown provider '%s' (known: %s)", name, backend_provider_list());
}

int backend_open(const struct backend_ctx *ctx, struct backend **out, struct why *err)
{
	const char *name = ctx->provider ? ctx->provider : ctx->cfg->provider;
	const struct cfg_node *opts = ctx->opts ? ctx->opts : ctx->cfg->credentials;
	size_t i;
	int r;

	*out = NULL;
	for (i = 0; i < ARRAY_SIZE(providers) && providers[i]; i++) {
		if (strcmp(providers[i]->name, name) != 0)
			continue;
		r = providers[i]->open(ctx, opts, out, err);
		if (r == 0 && *out)
			(*out)->ops = providers[i];
		return r;
	}
	if (!ctx->provider && ctx->cfg->credentials && cfg_get(ctx->cfg->credentials, "provider"))
		return cfg_fail(err, cfg_get(ctx->cfg->credentials, "provider"),
				"unknown provider '%s' (known: %s)", name, backend_provider_list());
	return cfg_fail(err, NULL, "unknown provider '%s' (known: %s)", name, backend_provider_list());
}

void backend_close(struct backend *be)
{
	if (be)
		be->ops->close(be);
}

/* The cache reports the store it fronts. */
static const struct backend *front(const struct backend *be)
{
	while (be->ops == &backend_cache)
		be = cache_inner((struct backend *)be);
	return be;
}

const char *backend_name(const struct backend *be)
{
	return front(be)->ops->name;
}

unsigned int backend_caps(const struct backend *be)
{
	return front(be)->ops->caps;
}

int backend_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	int r;

	*out = NULL;
	r = normalize(be, be->ops->get(be, key, out, why));
	if (r && *out) {
		secbuf_free(*out);
		*out = NULL;
	}
	return r;
}

int backend_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
		     int *rcs, struct why *whys)
{
	return backend_get_many_for(be, NULL, n, keys, outs, rcs, whys);
}

int backend_scoped(struct backend *be, const char *key)
{
	return be->ops->scoped ? be->ops->scoped(be, key) != 0 : 0;
}

void backend_adopt(struct backend *be, backend_named_fn *named, void *arg)
{
	if (be->ops->adopt)
		be->ops->adopt(be, named, arg);
}

void backend_leases(struct backend *be, backend_lease_fn *fn, void *arg)
{
	if (be->ops->leases)
		be->ops->leases(be, fn, arg);
}

void backend_set_hooks(struct backend *be, const struct backend_hooks *hooks)
{
	if (be && be->ops->set_hooks)
		be->ops->set_hooks(be, hooks);
}

int backend_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			 struct secbuf **outs, int *rcs, struct why *whys)
{
	size_t i;
	int first = 0;

	for (i = 0; i < n; i++) {
		outs[i] = NULL;
		rcs[i] = 0;
		if (whys)
			whys[i].msg[0] = 0;
	}
	if (be->ops->get_many_for) {
		be->ops->get_many_for(be, scope, n, keys, outs, rcs, whys);
		for (i = 0; i < n; i++)
			rcs[i] = normalize(be, rcs[i]);
	} else if (be->ops->get_many) {
		be->ops->get_many(be, n, keys, outs, rcs, whys);
		for (i = 0; i < n; i++)
			rcs[i] = normalize(be, rcs[i]);
	} else {
		for (i = 0; i < n; i++)
			rcs[i] = backend_get(be, keys[i], &outs[i], whys ? &whys[i] : NULL);
	}
	for (i = 0; i < n; i++) {
		if (rcs[i] && outs[i]) {
			secbuf_free(outs[i]);
			outs[i] = NULL;
		}
		if (rcs[i] && !first)
			first = rcs[i];
	}
	return first;
}

int backend_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			     struct secbuf **outs, int *rcs, struct why *whys)
{
	size_t i;
	int first = 0, r;

	if (!be->ops->try_get_many_for && (backend_caps(be) & BACKEND_INSTANT))
		return backend_get_many_for(be, scope, n, keys, outs, rcs, whys);
	for (i = 0; i < n; i++) {
		outs[i] = NULL;
		rcs[i] = 0;
		if (whys)
			whys[i].msg[0] = 0;
	}
	r = be->ops->try_get_many_for ? be->ops->try_get_many_for(be, scope, n, keys, outs, rcs, whys)
				       : -BACKEND_EWOULDBLOCK;
	for (i = 0; i < n; i++) {
		if (r == -BACKEND_EWOULDBLOCK || rcs[i])
			rcs[i] = r == -BACKEND_EWOULDBLOCK ? r : normalize(be, rcs[i]);
		if (rcs[i] && outs[i]) {
			secbuf_free(outs[i]);
			outs[i] = NULL;
		}
		if (rcs[i] && !first)
			first = rcs[i];
	}
	return r == -BACKEND_EWOULDBLOCK ? r : first;
}

/* The caller's callback result passes through untouched; only the store's
 * own errors are folded into the documented set. */
struct list_relay {
	backend_list_fn *fn;
	void *arg;
	int rc;
};

static int relay(const char *key, void *arg)
{
	struct list_relay *lr = arg;

	return lr->rc = lr->fn(key, lr->arg);
}

int backend_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		 struct why *why)
{
	struct list_relay lr = { fn, arg, 0 };
	int r;

	if (!be->ops->list)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend cannot list keys", be->ops->name);
	r = be->ops->list(be, prefix ? prefix : "", relay, &lr, why);
	if (lr.rc && r == lr.rc)
		return r;
	return normalize(be, r);
}

int backend_set(struct backend *be, const char *key, const void *value, size_t len,
		struct why *why)
{
	if (!be->ops->set)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend is read-only", be->ops->name);
	return normalize(be, be->ops->set(be, key, value, len, why));
}

int backend_delete(struct backend *be, const char *key, struct why *why)
{
	if (!be->ops->del)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend is read-only", be->ops->name);
	return normalize(be, be->ops->del(be, key, why));
}

int backend_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
		       const void *const *values, const size_t *lens, struct why *why)
{
	if (!be->ops->set_fields)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend has no fields", backend_name(be));
	return normalize(be, be->ops->set_fields(be, key, n, fields, values, lens, why));
}

int backend_purge(struct backend *be, const char *key, struct why *why)
{
	if (!be->ops->purge)
		return backend_delete(be, key, why);
	return normalize(be, be->ops->purge(be, key, why));
}

int backend_wrap_cache(struct backend **be, uint64_t ttl_ms, uint64_t stale_ms)
{
	struct backend *w;
	int r = cache_wrap(*be, ttl_ms, stale_ms, &w);

	if (r == 0)
		*be = w;
	return r;
}

struct field_relay {
	backend_field_fn *fn;
	void *arg;
	int rc;
};

static int field_relay(const char *field, const struct secbuf *value, void *arg)
{
	struct field_relay *fr = arg;

	return fr->rc = fr->fn(field, value, fr->arg);
}

int backend_fields(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
		   struct why *why)
{
	struct field_relay fr = { fn, arg, 0 };
	int r;

	/* A cache keeps single values, not whole secrets: ask the store. */
	be = (struct backend *)front(be);
	if (!be->ops->fields)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend has no fields", be->ops->name);
	r = be->ops->fields(be, path, field_relay, &fr, why);
	if (fr.rc && r == fr.rc)
		return r;
	return normalize(be, r);
}

void backend_forget(struct backend *be, const char *key)
{
	if (be && be->ops->forget)
		be->ops->forget(be, key);
}

int backend_meta(struct backend *be, const char *key, struct backend_meta *out,
		 struct why *why)
{
	memset(out, 0, sizeof(*out));
	if (!be->ops->meta)
		return why_fail(why, -BACKEND_ENOTSUP, "the %s backend keeps no metadata", be->ops->name);
	return normalize(be, be->ops->meta(be, key, out, why));
}

int backend_create(const struct backend_ctx *ctx, const char *target, const char *const *recipients,
		   size_t n, struct why *why)
{
	const char *name = ctx->provider ? ctx->provider : ctx->cfg->provider;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(providers) && providers[i]; i++) {
		if (strcmp(providers[i]->name, name) != 0)
			continue;
		if (!providers[i]->create)
			return why_fail(why, -BACKEND_ENOTSUP, "the %s backend has no files to create", name);
		return providers[i]->create(ctx, target, recipients, n, why);
	}
	why_set(why, "unknown provider '%s' (known: %s)", name, backend_provider_list());
	return -BACKEND_EINVAL;
}

int backend_key_whole(const char *key)
{
	const char *h = strchr(key, '#');

	return h && h > key && !h[1];
}

const char *backend_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case BACKEND_ENOTFOUND:
		return "not found";
	case BACKEND_EDENIED:
		return "denied";
	case BACKEND_EUNAVAIL:
		return "unavailable";
	case BACKEND_ETIMEDOUT:
		return "timed out";
	case BACKEND_ETAMPERED:
		return "tampered";
	case BACKEND_EINVAL:
		return "invalid";
	case BACKEND_ENOMEM:
		return "out of locked memory";
	case BACKEND_ENOTSUP:
		return "not supported";
	default:
		return strerror(err < 0 ? -err : err);
	}
}
