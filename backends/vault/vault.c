#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/carry.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * HashiCorp Vault, KV version 1 and 2 (specs/vault-api.md).
 *
 * Keys are relative to one mount (mount_point).  Every operation has one
 * deadline (timeout) that covers its retries, backoff and any re-login, so
 * nothing here can hold a FUSE open longer than that.  Requests go through
 * vhttp (one worker thread, one keep-alive pool, parallel batches).
 *
 * Secrets: the token lives in locked memory as the whole header line
 * "X-Vault-Token: ..." (each request takes its own locked copy, so a
 * re-login never pulls it from under a transfer); response bodies arrive
 * in locked memory; JSON that can hold a value or a token goes through
 * sjson (which wipes json-c's copies); request bodies with a value are
 * built in locked memory.  Messages name addresses, paths, HTTP statuses
 * and Vault's error text, never a value or a token.
 *
 * This file: the options, open() and close(), and the ops table.  The
 * rest of the backend, one job a file: creds.c (where credentials come
 * from), login.c (the token, AppRole login), renew.c (the renewal
 * thread), auth.c (cert, jwt and kubernetes logins, wrapped secret_ids),
 * lease.c (dynamic secrets), pki.c (certificates, scope liveness),
 * request.c (the request engine), kv.c (KV operations) and
 * parse.c (pure helpers); vault-internal.h is what they share.
 */

static const char *const vault_keys[] = {
	"provider", "vault_url", "vault_namespace", "mount_point", "kv_version", "auto_renew", "token",
	"token_file", "role_id", "secret_id", "secret_id_file", "approle_mount", "ca_cert", "ca_path",
	"client_cert", "client_key", "tls_skip_verify", "tls_server_name", "timeout", "max_retries",
	"disable_redirects", "max_connections", "auth_method", "auth_mount", "auth_role", "jwt_file",
	"secret_id_wrapped", "secret_id_wrap_path", "dynamic_paths", "lease_idle", "revoke_on_exit", NULL,
};

/* A string option, else the first non-empty environment variable. */
static int opt_str(const struct cfg_node *opts, const char *key, const char *env1, const char *env2,
		   const char **out, struct why *err)
{
	const char *v = NULL;
	int r;

	*out = NULL;
	if ((r = cfg_get_str(opts, key, &v, err)))
		return r;
	if (v && *v) {
		*out = v;
		return 0;
	}
	if (env1 && (v = getenv(env1)) && *v)
		*out = v;
	else if (env2 && (v = getenv(env2)) && *v)
		*out = v;
	return 0;
}

static int opt_bool(const struct cfg_node *opts, const char *key, const char *env, int *out,
		    struct why *err)
{
	const char *v;
	int r;

	if (cfg_get(opts, key) && !cfg_is_null(cfg_get(opts, key)))
		return cfg_get_bool(opts, key, out, err);
	if (env && (v = getenv(env)) && *v) {
		if ((r = vault_parse_bool(v)) < 0)
			return cfg_fail(err, NULL, "%s='%s' is not a boolean (true, false, 1, 0)", env, v);
		*out = r;
	}
	return 0;
}

/* mount_point without '/' at either end, and its URL-encoded form. */
static int set_mount(struct vault_backend *vb, const char *m, const struct cfg_node *node,
		     struct why *err)
{
	size_t len;

	while (*m == '/')
		m++;
	len = strlen(m);
	while (len && m[len - 1] == '/')
		len--;
	if (!len)
		return cfg_fail(err, node, "'mount_point' must name a mount");
	if (!(vb->mount = strndup(m, len)))
		return -ENOMEM;
	if (strstr(vb->mount, "//") || strstr(vb->mount, "..") || strchr(vb->mount, '#') ||
	    strchr(vb->mount, '?'))
		return cfg_fail(err, node, "'mount_point' '%s' is not a mount path", vb->mount);
	if (!(vb->mount_enc = vault_encode_segments(vb->mount)))
		return -ENOMEM;
	return 0;
}

/* dynamic_paths: a list of Vault path prefixes (or one string); each
 * ends with '/' so that "database/creds/" never matches "database/credsx". */
static int set_dynamic(struct vault_backend *vb, const struct cfg_node *opts, struct why *err)
{
	static const char *const defaults[] = { "database/creds/" };
	const struct cfg_node *dn = cfg_get(opts, "dynamic_paths");
	const char *one[1];
	const char *const *list = defaults;
	size_t n = ARRAY_SIZE(defaults), i;

	if (dn && !cfg_is_null(dn)) {
		if (dn->kind == CFG_SCALAR) {
			one[0] = dn->text;
			list = one;
			n = 1;
		} else if (dn->kind == CFG_SEQ) {
			n = dn->n;
			list = NULL;
		} else {
			return cfg_fail(err, dn, "'dynamic_paths' must be a list of Vault paths");
		}
	}
	if (!(vb->dyn = calloc(n + 1, sizeof(*vb->dyn))))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct cfg_node *item = list ? dn : dn->items[i];
		const char *p = list ? list[i] : item->text;
		size_t len;

		if (!list && item->kind != CFG_SCALAR)
			return cfg_fail(err, item, "'dynamic_paths' must be a list of Vault paths");
		while (*p == '/')
			p++;
		len = strlen(p);
		while (len && p[len - 1] == '/')
			len--;
		if (!len || strstr(p, "..") || strpbrk(p, "#?@ \t"))
			return cfg_fail(err, item, "'dynamic_paths': '%s' is not a Vault path", p);
		if (asprintf(&vb->dyn[i], "%.*s/", (int)len, p) < 0) {
			vb->dyn[i] = NULL;
			return -ENOMEM;
		}
		vb->n_dyn = i + 1;
	}
	return 0;
}

static void vault_close(struct backend *be);
static int vault_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		      struct why *err)
{
	struct vault_backend *vb = calloc(1, sizeof(*vb));
	struct vhttp_opts ho = { 0 };
	const char *addr = NULL, *ns = NULL, *mount = DEFAULT_MOUNT, *kvs = NULL, *role_id = NULL,
		   *timeout = NULL, *retries = NULL, *method = NULL;
	struct why msg = WHY_INIT;	/* its reasons were cut at 511 bytes: kept so */
	char *url = NULL;
	uint64_t tmo = DEFAULT_TIMEOUT_MS;
	unsigned long maxc = 16;
	int auto_renew = 1, disable_redirects = 0, r;
	sigset_t all, old;

	*out = NULL;
	if (!vb)
		return cfg_fail(err, NULL, "out of memory"), -ENOMEM;
	pthread_mutex_init(&vb->kv_lock, NULL);
	pthread_mutex_init(&vb->login_lock, NULL);
	pthread_rwlock_init(&vb->tok_lock, NULL);
	pthread_mutex_init(&vb->r_lock, NULL);
	pthread_mutex_init(&vb->lease_lock, NULL);
	pthread_cond_init(&vb->lease_cond, NULL);
	vb->revoke_on_exit = 1;
	vb->lease_idle_ms = 300000;
	vb->lease_daemon = ctx->daemon;
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&vb->r_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	vb->base.ops = &backend_vault;
	vb->tok_ttl = -1;
	vb->max_retries = DEFAULT_RETRIES;
	vb->audit = ctx->audit;
	vb->source = strdup(ctx->source ? ctx->source : "harombe");
	if (!ctx->provider || !strcmp(ctx->cfg->provider, "vault"))
		cfg_warn_unknown(opts, "security.credentials", vault_keys);

	if ((r = opt_str(opts, "vault_url", "VAULT_AGENT_ADDR", "VAULT_ADDR", &addr, err)) ||
	    (r = opt_str(opts, "vault_namespace", "VAULT_NAMESPACE", NULL, &ns, err)) ||
	    (r = cfg_get_str(opts, "mount_point", &mount, err)) ||
	    (r = cfg_get_str(opts, "kv_version", &kvs, err)) ||
	    (r = cfg_get_bool(opts, "auto_renew", &auto_renew, err)) ||
	    (r = cfg_get_str(opts, "role_id", &role_id, err)) ||
	    (r = opt_str(opts, "ca_cert", "VAULT_CACERT", NULL, &ho.ca_file, err)) ||
	    (r = opt_str(opts, "ca_path", "VAULT_CAPATH", NULL, &ho.ca_dir, err)) ||
	    (r = opt_str(opts, "client_cert", "VAULT_CLIENT_CERT", NULL, &ho.client_cert, err)) ||
	    (r = opt_str(opts, "client_key", "VAULT_CLIENT_KEY", NULL, &ho.client_key, err)) ||
	    (r = opt_str(opts, "tls_server_name", "VAULT_TLS_SERVER_NAME", NULL, &ho.server_name, err)) ||
	    (r = opt_bool(opts, "tls_skip_verify", "VAULT_SKIP_VERIFY", &ho.skip_verify, err)) ||
	    (r = opt_bool(opts, "disable_redirects", "VAULT_DISABLE_REDIRECTS", &disable_redirects, err)) ||
	    (r = cfg_get_uint(opts, "max_connections", 1025, &maxc, err)))
		goto fail;
	if ((r = cfg_get_str(opts, "timeout", &timeout, err)))
		goto fail;
	if (!timeout && (timeout = getenv("VAULT_CLIENT_TIMEOUT")) && !*timeout)
		timeout = NULL;
	if (timeout && (cfg_parse_duration_ms(timeout, &tmo) != 0 || tmo == 0 || tmo > 600000)) {
		r = cfg_fail(err, cfg_get(opts, "timeout"), "timeout '%s' must be a duration from 1ms to 10m",
			     timeout);
		goto fail;
	}
	vb->timeout_ms = tmo;
	if ((r = cfg_get_str(opts, "max_retries", &retries, err)))
		goto fail;
	if (!retries && (retries = getenv("VAULT_MAX_RETRIES")) && !*retries)
		retries = NULL;
	if (retries) {
		char *end;
		long n = strtol(retries, &end, 10);

		if (*end || end == retries || n > 100) {
			r = cfg_fail(err, cfg_get(opts, "max_retries"), "max_retries '%s' must be a number up to 100",
				     retries);
			goto fail;
		}
		vb->max_retries = n > 0 ? (unsigned int)n : 0;
	}
	if (kvs && strcmp(kvs, "auto")) {
		if (!strcmp(kvs, "1") || !strcmp(kvs, "2")) {
			vb->kv_version = kvs[0] - '0';
		} else {
			r = cfg_fail(err, cfg_get(opts, "kv_version"), "kv_version must be 1, 2 or auto, not '%s'", kvs);
			goto fail;
		}
	}
	if ((r = set_mount(vb, mount, cfg_get(opts, "mount_point"), err)))
		goto fail;
	if ((r = set_dynamic(vb, opts, err)) || (r = cfg_get_bool(opts, "revoke_on_exit", &vb->revoke_on_exit, err)) ||
	    (r = cfg_get_duration_ms(opts, "lease_idle", &vb->lease_idle_ms, err)))
		goto fail;
	if (vb->lease_idle_ms < 1000) {
		r = cfg_fail(err, cfg_get(opts, "lease_idle"), "'lease_idle' must be at least 1s");
		goto fail;
	}

	if (!addr)
		addr = DEFAULT_ADDR;
	if (!strncmp(addr, "unix://", 7)) {
		ho.unix_socket = addr + 7;
		url = strdup("http://localhost");
	} else if (!strncasecmp(addr, "https://", 8) || !strncasecmp(addr, "http://", 7)) {
		size_t len = strlen(addr);

		while (len && addr[len - 1] == '/')
			len--;
		url = strndup(addr, len);
		if (url && !strncasecmp(url, "http://", 7) && !vault_url_is_loopback(url))
			log_warn("vault: WARNING: %s is plain http and not a loopback address: the Vault token "
				 "and every secret cross the network unencrypted; use https", url);
	} else {
		r = cfg_fail(err, cfg_get(opts, "vault_url"), "Vault address '%s' must start with https://, "
							      "http:// or unix://", addr);
		goto fail;
	}
	if (!url || !(vb->addr = strdup(addr))) {
		r = -ENOMEM;
		goto fail;
	}
	{
		size_t len = strlen(vb->addr);

		while (len && vb->addr[len - 1] == '/')
			vb->addr[--len] = 0;
	}
	if (ns && *ns && asprintf(&vb->ns_header, "X-Vault-Namespace: %s", ns) < 0) {
		vb->ns_header = NULL;
		r = -ENOMEM;
		goto fail;
	}
	if (ns && strpbrk(ns, "\r\n")) {
		r = cfg_fail(err, cfg_get(opts, "vault_namespace"), "the namespace contains a line break");
		goto fail;
	}

	if ((r = cfg_get_str(opts, "auth_method", &method, err)))
		goto fail;
	if (!method || !*method)
		method = role_id && *role_id ? "approle" : "token";
	if (!strcmp(method, "approle") && !(role_id && *role_id)) {
		r = cfg_fail(err, cfg_get(opts, "auth_method"), "'auth_method: approle' needs 'role_id'");
		goto fail;
	}
	if (strcmp(method, "approle") && role_id && *role_id) {
		r = cfg_fail(err, cfg_get(opts, "role_id"), "'role_id' is for AppRole, not 'auth_method: %s'", method);
		goto fail;
	}
	if (!strcmp(method, "approle"))
		r = vault_setup_approle(vb, opts, role_id, err);
	else if (!strcmp(method, "token"))
		r = vault_setup_token(vb, opts, err);
	if (!r && strcmp(method, "token"))
		r = vault_setup_login(vb, opts, method, ho.client_cert, ho.client_key, err);
	if (r)
		goto fail;

	ho.url = url;
	ho.follow_redirects = !disable_redirects;
	ho.max_conns = (unsigned int)maxc;
	if ((r = vhttp_new(&ho, &vb->http, &msg))) {
		r = cfg_fail(err, NULL, "vault: %.511s", why_str(&msg));
		goto fail;
	}
	free(url);
	url = NULL;

	if (ctx->daemon && ctx->carry) {
		vb->carry = ctx->carry;
		vault_carry_load(vb);
	}
	if (ctx->daemon && auto_renew) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = pthread_create(&vb->renewer, NULL, vault_renewer_main, vb);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r) {
			r = cfg_fail(err, NULL, "vault: cannot start the token renewal thread: %s", strerror(r));
			goto fail;
		}
		vb->renewer_started = 1;
	}
	*out = &vb->base;
	return 0;
fail:
	if (r == -ENOMEM && !err->msg[0])
		cfg_fail(err, NULL, "out of memory");
	free(url);
	vault_close(&vb->base);
	return r ? r : -EINVAL;
}

static void vault_close(struct backend *be)
{
	struct vault_backend *vb = vault_downcast(be);

	size_t i;

	if (vb->renewer_started) {
		pthread_mutex_lock(&vb->r_lock);
		vb->stopping = 1;
		pthread_cond_broadcast(&vb->r_cond);
		pthread_mutex_unlock(&vb->r_lock);
		pthread_join(vb->renewer, NULL);
	}
	if (vb->http) {
		vault_leases_close(vb);
		vault_pki_close(vb);
	}
	for (i = 0; i < vb->n_dyn; i++)
		free(vb->dyn[i]);
	free(vb->dyn);
	pthread_mutex_destroy(&vb->lease_lock);
	pthread_cond_destroy(&vb->lease_cond);
	vhttp_free(vb->http);
	secbuf_free(vb->tok_hdr);
	secbuf_free(vb->secret_id);
	free(vb->addr);
	free(vb->mount);
	free(vb->mount_enc);
	free(vb->ns_header);
	free(vb->tok_where);
	free(vb->tok_file);
	free(vb->role_id);
	free(vb->secret_id_env);
	free(vb->secret_id_file);
	free(vb->login_path);
	free(vb->auth_mount);
	free(vb->auth_role);
	free(vb->jwt_file);
	free(vb->wrap_path);
	secbuf_free(vb->unwrapped);
	free(vb->cert_file);
	free(vb->key_file);
	free(vb->source);
	pthread_mutex_destroy(&vb->kv_lock);
	pthread_mutex_destroy(&vb->login_lock);
	pthread_rwlock_destroy(&vb->tok_lock);
	pthread_mutex_destroy(&vb->r_lock);
	pthread_cond_destroy(&vb->r_cond);
	free(vb);
}

static int vault_scoped(struct backend *be, const char *key)
{
	struct vault_key k;

	return vault_is_pki(key) || (!vault_key_parse_read(key, &k, NULL) && vault_is_dynamic(vault_downcast(be), k.path));
}

static void vault_adopt(struct backend *be, backend_named_fn *named, void *arg)
{
	vault_leases_adopt(vault_downcast(be), named, arg);
}

static void vault_leases(struct backend *be, backend_lease_fn *fn, void *arg)
{
	vault_leases_each(vault_downcast(be), fn, arg);
	vault_pki_each(vault_downcast(be), fn, arg);
}


const struct backend_ops backend_vault = {
	.name = "vault",
	.caps = BACKEND_CAN_LIST | BACKEND_CAN_WRITE | BACKEND_PERSISTENT,
	.open = vault_open,
	.close = vault_close,
	.get = vault_get,
	.get_many = vault_get_many,
	.list = vault_list,
	.set = vault_set,
	.set_fields = vault_set_fields,
	.del = vault_del,
	.purge = vault_purge,
	.meta = vault_meta,
	.fields = vault_fields,
	.get_many_for = vault_get_many_for,
	.try_get_many_for = vault_try_get_many_for,
	.scoped = vault_scoped,
	.adopt = vault_adopt,
	.leases = vault_leases,
	.set_hooks = vault_set_hooks,
};
