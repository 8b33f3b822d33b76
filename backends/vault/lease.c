#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <sodium.h>

#include "backends/vault/sjson.h"
#include "lib/audit.h"
#include "lib/carry.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * Dynamic secrets: paths under dynamic_paths (database/creds/ROLE, ...)
 * answer with a lease.  One lease per scope (the container) and path,
 * shared by every open and every field of it: minted on first use, renewed
 * (sys/leases/renew) at 2/3 of its TTL while in use, dropped when a renewal
 * is capped by max_ttl (the next open mints a new one), and revoked
 * (sys/leases/revoke) when idle past lease_idle and at close unless
 * revoke_on_exit is false.
 *
 * "In use" means fetched (opened, or read by `harombe run`) within
 * lease_idle: harombefs renders a file at open, so an open is a use.
 *
 * The lease's data (the credentials) is kept as JSON text in locked memory
 * for as long as the lease lives; lease ids are kept in ordinary memory
 * (they are no credential without a token) but never logged: audit records
 * carry their BLAKE2b hash.  lease_lock guards the table; the renewal
 * thread marks a lease busy while it talks to Vault about it unlocked.
 *
 * In harombefs the table outlives the daemon (lib/carry.h): every change
 * (mint, renewal, drop, revocation, a new login token) rewrites the
 * "vault" section of the carried state, so that the daemon a restart or a
 * kill -9 brings up adopts the leases (and the token they hang on) instead
 * of minting new ones.  Adopted leases the new configuration no longer
 * names are revoked by the renewal thread.  A restart does not revoke; a
 * stop still does (unless revoke_on_exit is false).  A lease minted in the
 * instant between Vault's answer and that rewrite is not carried: it ends
 * at its TTL.  The certificates of pki.c ride in the same section, after
 * the leases (vault_pki_save(), vault_pki_load()).
 */

#define CARRY_VAULT "vault"
/* 1: token and leases; 2: and then the certificates (pki.c).  A daemon
 * reads both (an upgrade from a version-1 daemon keeps its leases). */
#define CARRY_VAULT_VERSION 2

struct vlease {
	struct vlease *next;
	char *scope;
	char *path;
	char *id;
	struct secbuf *data;	/* the answer's data object, as JSON */
	long long ttl;		/* seconds, as last granted */
	long long full_ttl;	/* as first granted */
	int renewable;
	int capped;		/* a renewal granted less: max_ttl is near */
	int minting;		/* being minted: wait on lease_cond */
	int orphan;		/* carried in, and the configuration no longer names it */
	int busy;		/* the renewal thread is using it unlocked */
	uint64_t got_at;	/* when ttl was granted (vhttp_now_ms) */
	uint64_t used_at;
	unsigned int renewals;
};

/* The first dynamic_paths prefix path starts with, or NULL. */
int vault_is_dynamic(const struct vault_backend *vb, const char *path)
{
	size_t i;

	for (i = 0; i < vb->n_dyn; i++)
		if (!strncmp(path, vb->dyn[i], strlen(vb->dyn[i])))
			return 1;
	return 0;
}

static void lease_hash(const char *id, char out[33])
{
	unsigned char h[16];
	size_t i;

	crypto_generichash(h, sizeof(h), (const unsigned char *)id, strlen(id), NULL, 0);
	for (i = 0; i < sizeof(h); i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void audit_lease(struct vault_backend *vb, const struct vlease *l, const char *action, int rc,
			const char *reason)
{
	char hash[33] = "";
	struct audit_kv extra[5] = {
		{ "action", action, 0 },
		{ "path", l->path, 0 },
		{ "lease", hash, 0 },
		{ "ttl", NULL, (double)l->ttl },
		{ "vault", vb->addr, 0 },
	};
	struct audit_record rec = {
		.event = AUDIT_VAULT_LEASE,
		.source = vb->source,
		.container = l->scope[0] ? l->scope : NULL,
		.result = rc ? "error" : "ok",
		.reason = rc ? reason : NULL,
		.extra = extra,
		.n_extra = ARRAY_SIZE(extra),
	};

	if (!vb->audit || !audit_wants(vb->audit, AUDIT_VAULT_LEASE))
		return;
	if (l->id)
		lease_hash(l->id, hash);
	audit_write(vb->audit, &rec);
}

static void lease_free(struct vlease *l)
{
	if (!l)
		return;
	free(l->scope);
	free(l->path);
	if (l->id)
		sodium_memzero(l->id, strlen(l->id));
	free(l->id);
	secbuf_free(l->data);
	free(l);
}

static void unlink_lease(struct vault_backend *vb, struct vlease *l)
{
	struct vlease **p;

	for (p = &vb->leases; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			return;
		}
}

static void kick_renewer(struct vault_backend *vb)
{
	pthread_mutex_lock(&vb->r_lock);
	vb->kicked = 1;
	pthread_cond_broadcast(&vb->r_cond);
	pthread_mutex_unlock(&vb->r_lock);
}

/* Who the login token belongs to: the same method and role may reuse it. */
static void login_ident(const struct vault_backend *vb, char *buf, size_t n)
{
	snprintf(buf, n, "%s %s %s", vault_method_name(vb->method), vb->login_path ? vb->login_path : "",
		 vb->auth_role ? vb->auth_role : vb->role_id ? vb->role_id : "");
}

/* Rewrite the carried "vault" section (lease_lock held): the address, the
 * login token (a method that logs in: leases hang on the token that
 * minted them, and Vault revokes them with it), and every lease. */
static void save_locked(struct vault_backend *vb)
{
	struct secbuf *sb;
	struct vlease *l;
	uint64_t n = 0;
	char ident[256];
	int r;

	if (!vb->carry)
		return;
	for (l = vb->leases; l; l = l->next)
		n += !l->minting && l->id;
	login_ident(vb, ident, sizeof(ident));
	sb = secbuf_new(1024);
	r = !sb || carry_w_u64(sb, CARRY_VAULT_VERSION) || carry_w_str(sb, vb->addr) ||
	    carry_w_str(sb, vb->ns_header) || carry_w_str(sb, ident);
	pthread_rwlock_rdlock(&vb->tok_lock);
	if (!r && vault_logs_in(vb) && vb->tok_hdr) {
		r = carry_w_u64(sb, 1) || carry_w_bytes(sb, secbuf_str(vb->tok_hdr), secbuf_len(vb->tok_hdr)) ||
		    carry_w_u64(sb, (uint64_t)vb->tok_ttl) || carry_w_u64(sb, (uint64_t)vb->tok_full_ttl) ||
		    carry_w_u64(sb, (uint64_t)vb->tok_renewable) || carry_w_u64(sb, (uint64_t)vb->tok_capped) ||
		    carry_w_u64(sb, vb->tok_at);
	} else if (!r) {
		r = carry_w_u64(sb, 0);
	}
	vb->carry_tok_at = vb->tok_at;
	vb->carry_tok_gen = vb->tok_gen;
	pthread_rwlock_unlock(&vb->tok_lock);
	r = r || carry_w_u64(sb, n);
	for (l = vb->leases; l && !r; l = l->next) {
		if (l->minting || !l->id)
			continue;
		r = carry_w_str(sb, l->scope) || carry_w_str(sb, l->path) || carry_w_str(sb, l->id) ||
		    carry_w_bytes(sb, secbuf_str(l->data), secbuf_len(l->data)) ||
		    carry_w_u64(sb, (uint64_t)l->ttl) || carry_w_u64(sb, (uint64_t)l->full_ttl) ||
		    carry_w_u64(sb, (uint64_t)l->renewable) || carry_w_u64(sb, (uint64_t)l->capped) ||
		    carry_w_u64(sb, l->got_at) || carry_w_u64(sb, l->used_at) || carry_w_u64(sb, l->renewals);
	}
	r = r || vault_pki_save(vb, sb);
	if (r)
		log_warn("vault: out of locked memory writing the carried lease table: a restart now carries "
			 "an older one");
	else
		carry_put(vb->carry, CARRY_VAULT, vb->carry_ticket, secbuf_str(sb), secbuf_len(sb));
	secbuf_free(sb);
}

void vault_carry_save(struct vault_backend *vb)
{
	save_locked(vb);
}

int vault_carry_keep(struct vault_backend *vb)
{
	return vb->carry && carry_handover(vb->carry) && carry_owns(vb->carry, CARRY_VAULT, vb->carry_ticket);
}

void vault_carry_load(struct vault_backend *vb)
{
	struct secbuf *sb = carry_take(vb->carry, CARRY_VAULT);
	struct carry_rd rd;
	const char *addr, *ns, *ident;
	char mine[256];
	uint64_t n, i, version, now = vhttp_now_ms();
	struct vlease **tail = &vb->adopt;

	if (!sb)
		return;
	carry_rd_init(&rd, sb);
	version = carry_r_u64(&rd);
	if (version != 1 && version != CARRY_VAULT_VERSION) {
		log_warn("vault: the carried lease table has another format (an older harombefs?): not "
			 "adopted; its leases end at their TTL");
		goto out;
	}
	addr = carry_r_str(&rd);
	ns = carry_r_str(&rd);
	ident = carry_r_str(&rd);
	if (!rd.bad && (strcmp(addr, vb->addr) || strcmp(ns, vb->ns_header ? vb->ns_header : ""))) {
		log_warn("vault: the carried leases belong to %s, and the configuration now names %s: not "
			 "adopted; they end at their TTL", addr, vb->addr);
		goto out;
	}
	login_ident(vb, mine, sizeof(mine));
	if (carry_r_u64(&rd)) {
		size_t len;
		const char *tok = carry_r_bytes(&rd, &len);
		long long ttl = (long long)carry_r_u64(&rd), full = (long long)carry_r_u64(&rd);
		int renewable = (int)carry_r_u64(&rd), capped = (int)carry_r_u64(&rd);
		uint64_t at = carry_r_u64(&rd);
		struct secbuf *h;

		/* The leases hang on this token: with a new login they would
		 * be revoked when it expires, unrenewed. */
		if (!rd.bad && vault_logs_in(vb) && !strcmp(ident, mine) &&
		    (ttl <= 0 || now + 1000 < at + (uint64_t)ttl * 1000u) && (h = secbuf_dup(tok, len))) {
			pthread_rwlock_wrlock(&vb->tok_lock);
			secbuf_free(vb->tok_hdr);
			vb->tok_hdr = h;
			vb->tok_gen++;
			vb->tok_ttl = ttl;
			vb->tok_full_ttl = full;
			vb->tok_renewable = renewable;
			vb->tok_capped = capped;
			vb->tok_at = at;
			pthread_rwlock_unlock(&vb->tok_lock);
			log_info("vault: adopted the %s login token of the previous daemon", vault_method_name(vb->method));
		}
	}
	n = carry_r_u64(&rd);
	for (i = 0; i < n && !rd.bad; i++) {
		struct vlease *l = calloc(1, sizeof(*l));
		const char *scope = carry_r_str(&rd), *path = carry_r_str(&rd), *id = carry_r_str(&rd);
		size_t len;
		const void *data = carry_r_bytes(&rd, &len);

		if (!l) {
			rd.bad = 1;
			break;
		}
		l->ttl = (long long)carry_r_u64(&rd);
		l->full_ttl = (long long)carry_r_u64(&rd);
		l->renewable = (int)carry_r_u64(&rd);
		l->capped = (int)carry_r_u64(&rd);
		l->got_at = carry_r_u64(&rd);
		l->used_at = carry_r_u64(&rd);
		l->renewals = (unsigned int)carry_r_u64(&rd);
		if (rd.bad || !(l->scope = strdup(scope)) || !(l->path = strdup(path)) || !(l->id = strdup(id)) ||
		    !(l->data = secbuf_dup(data, len))) {
			lease_free(l);
			rd.bad = 1;
			break;
		}
		*tail = l;
		tail = &l->next;
	}
	if (rd.bad)
		log_warn("vault: the carried lease table is cut short: leases after the first %llu are not "
			 "adopted and end at their TTL", (unsigned long long)i);
	else if (version >= 2)
		vault_pki_load(vb, &rd);
out:
	secbuf_free(sb);
}

void vault_leases_adopt(struct vault_backend *vb, backend_named_fn *named, void *arg)
{
	struct vlease *l;
	uint64_t now = vhttp_now_ms();
	unsigned int adopted = 0, orphans = 0;

	if (!vb->carry)
		return;
	pthread_mutex_lock(&vb->lease_lock);
	/* From now on this backend's table is the one carried (and no longer
	 * that of the generation a reload replaced). */
	vb->carry_ticket = carry_claim(vb->carry, CARRY_VAULT);
	while ((l = vb->adopt)) {
		vb->adopt = l->next;
		l->next = NULL;
		if (l->ttl > 0 && now + 200 >= l->got_at + (uint64_t)l->ttl * 1000u) {
			log_info("vault: the carried lease of '%s' for '%s' ran out during the restart", l->path,
				 l->scope);
			audit_lease(vb, l, "expired", 0, NULL);
			lease_free(l);
			continue;
		}
		l->orphan = !vault_is_dynamic(vb, l->path) || !named || !named(l->scope, l->path, arg);
		/* Uses are not carried (an open writes nothing): the restart
		 * counts as one, and lease_idle runs from here. */
		l->used_at = now;
		l->next = vb->leases;
		vb->leases = l;
		if (l->orphan) {
			orphans++;
		} else {
			adopted++;
			audit_lease(vb, l, "adopted", 0, NULL);
		}
	}
	vault_pki_adopt(vb, named, arg);
	save_locked(vb);
	pthread_mutex_unlock(&vb->lease_lock);
	if (adopted || orphans)
		log_info("vault: adopted %u lease%s of the previous daemon; %u it held are no longer configured "
			 "and are revoked", adopted, adopted == 1 ? "" : "s", orphans);
	kick_renewer(vb);
}

/* GET the path; fill l (unlocked: l is ours while minting). */
static int mint(struct vault_backend *vb, struct vlease *l, uint64_t deadline, struct why *why)
{
	struct json_object *root = NULL, *data;
	struct vcall c;
	char *enc = vault_encode_segments(l->path), *path = NULL;
	const char *id;
	int r;

	if (!enc || asprintf(&path, "/v1/%s", enc) < 0)
		path = NULL;
	free(enc);
	if ((r = vcall_init(&c, "GET", path, NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = vault_run_ok(vb, &c, deadline, why)) && !(r = vault_parse_resp(vb, &c, &root, why))) {
		id = sjson_str(root, "lease_id");
		data = sjson_obj(root, "data");
		if (!id || !*id) {
			r = why_fail(why, -BACKEND_EINVAL, "'%s' answered without a lease: not a dynamic secret "
				     "(remove it from dynamic_paths)", l->path);
		} else if (!data || !json_object_is_type(data, json_type_object)) {
			r = why_fail(why, -BACKEND_EINVAL, "'%s' answered without data", l->path);
		} else if (!(l->id = strdup(id)) || !(l->data = secbuf_new(secbuf_len(c.req.resp))) ||
			   sjson_write(l->data, data)) {
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		} else {
			l->ttl = l->full_ttl = sjson_int(root, "lease_duration", 0);
			l->renewable = sjson_bool(root, "renewable", 0);
			l->got_at = vhttp_now_ms();
		}
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

static int lease_call(struct vault_backend *vb, const char *op, const char *id, long long increment,
		      struct json_object **root, struct why *why)
{
	struct secbuf *body = secbuf_new(strlen(id) * 6 + 64);
	char path[64], inc[48] = "";
	struct vcall c;
	int r;

	if (root)
		*root = NULL;
	snprintf(path, sizeof(path), "/v1/sys/leases/%s", op);
	if (increment > 0)
		snprintf(inc, sizeof(inc), ",\"increment\":%lld", increment);
	if (!body || sjson_raw(body, "{\"lease_id\":") || sjson_write_str(body, id, strlen(id)) ||
	    sjson_raw(body, inc) || sjson_raw(body, "}")) {
		secbuf_free(body);
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	}
	if ((r = vcall_init(&c, "PUT", strdup(path), body, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = vault_run_ok(vb, &c, vhttp_now_ms() + vb->timeout_ms, why)) && root)
		r = vault_parse_resp(vb, &c, root, why);
	vcall_release(&c);
	return r;
}

static void revoke(struct vault_backend *vb, struct vlease *l, const char *why_text)
{
	struct why why = WHY_INIT;
	int r = lease_call(vb, "revoke", l->id, 0, NULL, &why);

	if (r)
		log_warn("vault: cannot revoke the lease of '%s' (%s): %s", l->path, why_text, why.msg);
	else
		log_info("vault: revoked the lease of '%s' for '%s' (%s)", l->path, l->scope, why_text);
	audit_lease(vb, l, "revoked", r, why.msg);
}

/* The value of one dynamic key for scope: from its lease, minted if need be. */
int vault_lease_get(struct vault_backend *vb, const char *scope, const struct vault_key *k,
		    uint64_t deadline, struct secbuf **out, struct why *why)
{
	struct json_object *data = NULL;
	struct vlease *l;
	uint64_t now;
	int r, minted = 0;

	*out = NULL;
	if (!scope)
		scope = "";
	if (k->version)
		return why_fail(why, -BACKEND_EINVAL, "'%s' is a dynamic secret: it has no versions", k->path);
	pthread_mutex_lock(&vb->lease_lock);
again:
	now = vhttp_now_ms();
	for (l = vb->leases; l; l = l->next)
		if (!strcmp(l->scope, scope) && !strcmp(l->path, k->path))
			break;
	if (l && (l->minting || l->busy)) {
		pthread_cond_wait(&vb->lease_cond, &vb->lease_lock);
		goto again;
	}
	if (l && l->ttl > 0 && now + 200 >= l->got_at + (uint64_t)l->ttl * 1000u) {
		/* run out (the renewal thread could not keep it): a new one */
		unlink_lease(vb, l);
		lease_free(l);
		l = NULL;
		save_locked(vb);
	}
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l || !(l->scope = strdup(scope)) || !(l->path = strdup(k->path))) {
			lease_free(l);
			pthread_mutex_unlock(&vb->lease_lock);
			return why_fail(why, -BACKEND_ENOMEM, "out of memory");
		}
		l->minting = 1;
		l->next = vb->leases;
		vb->leases = l;
		pthread_mutex_unlock(&vb->lease_lock);
		r = mint(vb, l, deadline, why);
		pthread_mutex_lock(&vb->lease_lock);
		l->minting = 0;
		pthread_cond_broadcast(&vb->lease_cond);
		audit_lease(vb, l, "minted", r, why ? why->msg : NULL);
		if (r) {
			unlink_lease(vb, l);
			lease_free(l);
			pthread_mutex_unlock(&vb->lease_lock);
			return r;
		}
		minted = 1;
		l->used_at = vhttp_now_ms();
		save_locked(vb);
		log_info("vault: minted a lease of '%s' for '%s' (TTL %lld s)", l->path, scope, l->ttl);
	}
	l->used_at = vhttp_now_ms();
	l->orphan = 0;
	r = sjson_parse(secbuf_str(l->data), secbuf_len(l->data), &data, why);
	pthread_mutex_unlock(&vb->lease_lock);
	if (minted)
		kick_renewer(vb);
	if (r)
		return why_fail(why, -BACKEND_EINVAL, "the lease data of '%s' is not JSON", k->path);
	r = vault_pick_field(data, k, out, why);
	sjson_put(data);
	return r;
}

int vault_lease_try(struct vault_backend *vb, const char *scope, const struct vault_key *k,
		    struct secbuf **out, struct why *why)
{
	struct json_object *data = NULL;
	struct vlease *l;
	int r;

	*out = NULL;
	if (!scope)
		scope = "";
	if (k->version || pthread_mutex_trylock(&vb->lease_lock) != 0)
		return -BACKEND_EWOULDBLOCK;
	for (l = vb->leases; l; l = l->next)
		if (!strcmp(l->scope, scope) && !strcmp(l->path, k->path))
			break;
	/* what vault_lease_get() would wait for, or mint again */
	if (!l || l->minting || l->busy || !l->data ||
	    (l->ttl > 0 && vhttp_now_ms() + 200 >= l->got_at + (uint64_t)l->ttl * 1000u)) {
		pthread_mutex_unlock(&vb->lease_lock);
		return -BACKEND_EWOULDBLOCK;
	}
	l->used_at = vhttp_now_ms();
	l->orphan = 0;
	r = sjson_parse(secbuf_str(l->data), secbuf_len(l->data), &data, why);
	pthread_mutex_unlock(&vb->lease_lock);
	if (r)
		return why_fail(why, -BACKEND_EINVAL, "the lease data of '%s' is not JSON", k->path);
	r = vault_pick_field(data, k, out, why);
	sjson_put(data);
	return r;
}

/* Renew one lease (busy, unlocked). */
static int renew(struct vault_backend *vb, struct vlease *l, struct why *why)
{
	struct json_object *root = NULL;
	long long ttl;
	int r = lease_call(vb, "renew", l->id, l->full_ttl, &root, why);

	if (!r) {
		ttl = sjson_int(root, "lease_duration", -1);
		if (ttl < 0) {
			r = why_fail(why, -BACKEND_EUNAVAIL, "sys/leases/renew: no lease_duration");
		} else {
			pthread_mutex_lock(&vb->lease_lock);
			l->capped = ttl * 10 < l->full_ttl * 9;
			l->ttl = ttl;
			l->got_at = vhttp_now_ms();
			l->renewals++;
			save_locked(vb);
			pthread_mutex_unlock(&vb->lease_lock);
		}
	}
	sjson_put(root);
	return r;
}

/*
 * A lease that max_ttl caps, of a container still alive: mint its
 * successor now (busy, unlocked), take its place, and tell the daemon, so
 * that readers re-read before the old one runs out.  The old lease is left
 * to its last seconds, not revoked: a consumer may still be switching.
 * 0, or the error (the lease is then dropped, as before: the next open
 * mints).
 */
static int remint(struct vault_backend *vb, struct vlease *l, struct why *why)
{
	struct vlease fresh;
	char *old_id;
	struct secbuf *old_data;
	int r;

	memset(&fresh, 0, sizeof(fresh));
	fresh.scope = l->scope;
	fresh.path = l->path;
	if ((r = mint(vb, &fresh, vhttp_now_ms() + vb->timeout_ms, why))) {
		free(fresh.id);
		secbuf_free(fresh.data);
		return r;
	}
	pthread_mutex_lock(&vb->lease_lock);
	old_id = l->id;
	old_data = l->data;
	l->id = fresh.id;
	l->data = fresh.data;
	l->ttl = fresh.ttl;
	l->full_ttl = fresh.full_ttl;
	l->renewable = fresh.renewable;
	l->got_at = fresh.got_at;
	l->capped = 0;
	l->renewals = 0;
	save_locked(vb);
	pthread_mutex_unlock(&vb->lease_lock);
	if (old_id)
		sodium_memzero(old_id, strlen(old_id));
	free(old_id);
	secbuf_free(old_data);
	return 0;
}

/*
 * One pass over the leases for the renewal thread: revoke those of idle or
 * gone containers, mint again those that max_ttl caps, renew the others at
 * 2/3 of their TTL.  How long until the next is due (NO_WORK: no lease).
 */
uint64_t vault_lease_step(struct vault_backend *vb)
{
	struct vlease *l, *work;
	struct why why;
	uint64_t now, due, next = NO_WORK;
	int r, live = 1, capped = 0;

	if (vb->carry) {
		int stale;

		pthread_mutex_lock(&vb->lease_lock);
		pthread_rwlock_rdlock(&vb->tok_lock);
		stale = vb->carry_tok_gen != vb->tok_gen || vb->carry_tok_at != vb->tok_at;
		pthread_rwlock_unlock(&vb->tok_lock);
		if (stale)
			save_locked(vb);	/* a new login token, or a renewal of it */
		pthread_mutex_unlock(&vb->lease_lock);
	}
	for (;;) {
		work = NULL;
		next = NO_WORK;
		pthread_mutex_lock(&vb->lease_lock);
		now = vhttp_now_ms();
		for (l = vb->leases; l && !work; l = l->next) {
			uint64_t rd = l->got_at + (uint64_t)l->ttl * 1000u * 2 / 3;

			if (l->minting || l->busy)
				continue;
			if (l->orphan) {	/* carried in, no longer configured */
				live = 0;
				work = l;
				unlink_lease(vb, l);
				save_locked(vb);
				break;
			}
			live = vault_scope_live(vb, l->scope, &l->used_at, now);
			if (live <= 0) {
				work = l;
				unlink_lease(vb, l);
				save_locked(vb);
				break;
			}
			/* capped by max_ttl, or never renewable: a successor instead */
			capped = l->capped || !l->renewable;
			if (l->ttl > 0 && now >= rd) {
				work = l;
				l->busy = 1;
				break;
			}
			due = vb->hooks.alive ? now + LIVE_POLL_MS : l->used_at + vb->lease_idle_ms;
			if (l->ttl > 0 && rd < due)
				due = rd;
			if (due < next)
				next = due;
		}
		pthread_mutex_unlock(&vb->lease_lock);
		if (!work)
			break;
		if (live <= 0) {
			revoke(vb, work, work->orphan ? "no longer configured" :
					 live < 0 ? "its container is gone" : "idle");
			lease_free(work);
			continue;
		}
		why.msg[0] = 0;
		if (capped) {
			r = remint(vb, work, &why);
			audit_lease(vb, work, "reminted", r, why.msg);
			if (!r)
				log_info("vault: the lease of '%s' for '%s' reached its max_ttl: minted a new one (TTL %lld s)",
					 work->path, work->scope, work->ttl);
		} else {
			r = renew(vb, work, &why);
			audit_lease(vb, work, "renewed", r, why.msg);
		}
		pthread_mutex_lock(&vb->lease_lock);
		work->busy = 0;
		if (r) {
			/* Refused (revoked, expired) or Vault is down: forget it; the
			 * next open mints a new one. */
			log_warn("vault: cannot %s the lease of '%s' for '%s': %s", capped ? "replace" : "renew",
				 work->path, work->scope, why.msg);
			unlink_lease(vb, work);
			lease_free(work);
			save_locked(vb);
		}
		pthread_cond_broadcast(&vb->lease_cond);
		if (!r && capped) {
			char *scope = strdup(work->scope), *path = strdup(work->path);

			pthread_mutex_unlock(&vb->lease_lock);
			if (scope && path)
				vault_tell_changed(vb, scope, path);
			free(scope);
			free(path);
			continue;
		}
		pthread_mutex_unlock(&vb->lease_lock);
	}
	if (next == NO_WORK)
		return NO_WORK;
	return next > now ? (next - now < RENEW_MIN_WAIT_MS ? RENEW_MIN_WAIT_MS : next - now) : RENEW_MIN_WAIT_MS;
}

/* At close (the renewal thread is stopped): revoke every lease unless
 * revoke_on_exit is false, and free them.  Before a restart on the same
 * connection nothing is revoked: the carried table is the successor's.
 * (Not that of a generation a reload replaced, which is not carried: its
 * leases are revoked as at a stop.) */
void vault_leases_close(struct vault_backend *vb)
{
	int keep = vault_carry_keep(vb);
	struct vlease *l;

	if (keep && vb->leases)
		log_info("vault: leaving the leases to the next daemon");
	while ((l = vb->leases) || (l = vb->adopt)) {
		if (l == vb->leases)
			vb->leases = l->next;
		else
			vb->adopt = l->next;
		if (!keep && (vb->revoke_on_exit || l->orphan) && vb->lease_daemon && l->id)
			revoke(vb, l, l->orphan ? "no longer configured" : "shutdown");
		lease_free(l);
	}
	/* (vault_pki_close() then rewrites the section without the
	 * certificates, unless they are kept.) */
	if (!keep)
		save_locked(vb);	/* nothing left to adopt */
}

/* Call fn for each live lease: scope, path, seconds left, renewals. */
void vault_leases_each(struct vault_backend *vb, vault_lease_fn *fn, void *arg)
{
	struct vlease *l;
	uint64_t now = vhttp_now_ms();

	pthread_mutex_lock(&vb->lease_lock);
	for (l = vb->leases; l; l = l->next) {
		long long left;

		if (l->minting)
			continue;
		left = l->ttl > 0 ? l->ttl - (long long)((now - l->got_at) / 1000) : 0;
		fn(l->scope, l->path, left, l->renewals, (long long)((now - l->used_at) / 1000), arg);
	}
	pthread_mutex_unlock(&vb->lease_lock);
}

/* get_many with a scope: dynamic keys from their scope's leases, the rest
 * through KV in one batch.  Without dynamic keys this is vault_get_many(). */
int vault_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
		       struct secbuf **outs, int *rcs, struct why *whys)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	const char **kk = NULL;
	struct secbuf **ko = NULL;
	int *kr = NULL;
	struct why *kw = NULL;
	size_t *ki = NULL, nk = 0, i;
	struct vault_key k;
	int first = 0;

	for (i = 0; i < n; i++)
		if (vault_is_pki(keys[i]) || (!vault_key_parse_read(keys[i], &k, NULL) && vault_is_dynamic(vb, k.path)))
			break;
	if (i == n)
		return vault_get_many(be, n, keys, outs, rcs, whys);
	kk = calloc(n + 1, sizeof(*kk));
	ko = calloc(n + 1, sizeof(*ko));
	kr = calloc(n + 1, sizeof(*kr));
	kw = calloc(n + 1, sizeof(*kw));
	ki = calloc(n + 1, sizeof(*ki));
	if (!kk || !ko || !kr || !kw || !ki) {
		for (i = 0; i < n; i++)
			rcs[i] = why_fail(whys ? &whys[i] : NULL, -BACKEND_ENOMEM, "out of memory");
		first = -BACKEND_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (vault_is_pki(keys[i])) {
			rcs[i] = vault_pki_get(vb, scope, keys[i], deadline, &outs[i], whys ? &whys[i] : NULL);
		} else if (!vault_key_parse_read(keys[i], &k, NULL) && vault_is_dynamic(vb, k.path)) {
			rcs[i] = vault_lease_get(vb, scope, &k, deadline, &outs[i], whys ? &whys[i] : NULL);
		} else {
			kk[nk] = keys[i];
			ki[nk++] = i;
		}
	}
	if (nk) {
		vault_get_many(be, nk, kk, ko, kr, kw);
		for (i = 0; i < nk; i++) {
			outs[ki[i]] = ko[i];
			rcs[ki[i]] = kr[i];
			if (whys)
				whys[ki[i]] = kw[i];
		}
	}
	for (i = 0; i < n && !first; i++)
		first = rcs[i];
out:
	free(kk);
	free(ko);
	free(kr);
	free(kw);
	free(ki);
	return first;
}

int vault_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			   struct secbuf **outs, int *rcs, struct why *whys)
{
	struct vault_backend *vb = vault_downcast(be);
	struct vault_key k;
	size_t i;

	for (i = 0; i < n; i++) {
		if (vault_is_pki(keys[i]))
			rcs[i] = vault_pki_try(vb, scope, keys[i], &outs[i], whys ? &whys[i] : NULL);
		else if (!vault_key_parse_read(keys[i], &k, NULL) && vault_is_dynamic(vb, k.path))
			rcs[i] = vault_lease_try(vb, scope, &k, &outs[i], whys ? &whys[i] : NULL);
		else
			rcs[i] = -BACKEND_EWOULDBLOCK;
		if (rcs[i] == -BACKEND_EWOULDBLOCK)
			return rcs[i];
	}
	return 0;
}

int vault_lease_revoke(struct vault_backend *vb, const char *id, struct why *why)
{
	return lease_call(vb, "revoke", id, 0, NULL, why);
}
