#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "backends/vault/sjson.h"
#include "lib/log.h"

/*
 * The renewal thread: renews a renewable token before it expires,
 * logs in again (AppRole, cert, jwt, kubernetes) when a token cannot be renewed, and never spins
 * on a token that does not renew or does not expire.
 */

/* ---- token renewal ---- */

/* lookup-self: learn the token's TTL and whether it renews. */
static int token_lookup(struct vault_backend *vb, struct why *why)
{
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *data;
	struct vcall c;
	int r;

	if ((r = vcall_init(&c, "GET", strdup("/v1/auth/token/lookup-self"), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = vault_run_ok(vb, &c, deadline, why)) && !(r = vault_parse_resp(vb, &c, &root, why))) {
		data = sjson_obj(root, "data");
		pthread_rwlock_wrlock(&vb->tok_lock);
		vb->tok_ttl = sjson_int(data, "ttl", 0);
		vb->tok_full_ttl = sjson_int(data, "creation_ttl", vb->tok_ttl);
		vb->tok_renewable = sjson_bool(data, "renewable", 0);
		vb->tok_at = vhttp_now_ms();
		pthread_rwlock_unlock(&vb->tok_lock);
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

static int token_renew(struct vault_backend *vb, struct why *why)
{
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *auth;
	struct vcall c;
	long long ttl;
	int r;

	if ((r = vcall_init(&c, "POST", strdup("/v1/auth/token/renew-self"), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = vault_run_ok(vb, &c, deadline, why)) && !(r = vault_parse_resp(vb, &c, &root, why))) {
		auth = sjson_obj(root, "auth");
		ttl = sjson_int(auth, "lease_duration", -1);
		if (ttl < 0) {
			r = why_fail(why, -BACKEND_EUNAVAIL, "renew-self at %s: no auth.lease_duration", vb->addr);
		} else {
			pthread_rwlock_wrlock(&vb->tok_lock);
			/* Less than a full TTL: the token's maximum TTL is near
			 * and renewing cannot take it further. */
			vb->tok_capped = vb->tok_full_ttl > 0 && ttl * 10 < vb->tok_full_ttl * 9;
			vb->tok_ttl = ttl;
			vb->tok_renewable = sjson_bool(auth, "renewable", vb->tok_renewable);
			vb->tok_at = vhttp_now_ms();
			pthread_rwlock_unlock(&vb->tok_lock);
		}
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

static uint64_t retry_wait(struct vault_backend *vb, unsigned int *failures)
{
	uint64_t w = 1000u << (*failures < 6 ? *failures : 6), now = vhttp_now_ms(), expiry;

	(*failures)++;
	if (w > RENEW_MAX_BACKOFF_MS)
		w = RENEW_MAX_BACKOFF_MS;
	pthread_rwlock_rdlock(&vb->tok_lock);
	expiry = vb->tok_ttl > 0 ? vb->tok_at + (uint64_t)vb->tok_ttl * 1000u : 0;
	pthread_rwlock_unlock(&vb->tok_lock);
	/* Try again well before the token runs out. */
	if (expiry > now && (expiry - now) / 3 < w)
		w = (expiry - now) / 3;
	return w < RENEW_MIN_WAIT_MS ? RENEW_MIN_WAIT_MS : w;
}

/* One step of the renewal schedule: how long to sleep before the next
 * (NO_WORK: nothing left to do for this token). */
static uint64_t renew_step(struct vault_backend *vb, unsigned int *failures)
{
	struct why why = { "" };
	long long ttl;
	int have, renewable, capped, r;
	uint64_t at, now = vhttp_now_ms(), due;

	pthread_rwlock_rdlock(&vb->tok_lock);
	have = vb->tok_hdr != NULL;
	ttl = vb->tok_ttl;
	renewable = vb->tok_renewable;
	capped = vb->tok_capped;
	at = vb->tok_at;
	pthread_rwlock_unlock(&vb->tok_lock);

	if (!have) {
		if (!vault_logs_in(vb) && vb->tok_source != TOK_FILE)
			return NO_WORK;
		pthread_mutex_lock(&vb->login_lock);
		r = vault_logs_in(vb) ? vault_login(vb, now + vb->timeout_ms, "login", &why)
				      : vault_reread_token_file(vb, &why);
		pthread_mutex_unlock(&vb->login_lock);
		if (r)
			return retry_wait(vb, failures);
		*failures = 0;
		return 0;
	}
	if (ttl < 0) {
		if ((r = token_lookup(vb, &why))) {
			log_warn("vault: token lookup at %s failed: %s", vb->addr, why.msg);
			if (r != -BACKEND_EDENIED)
				return retry_wait(vb, failures);
			/* refused: wait for a new token (a token file re-read) */
			vault_audit_auth(vb, "lookup", r, why.msg);
			return NO_WORK;
		}
		*failures = 0;
		return 0;
	}
	if (ttl == 0) {
		log_debug("vault: the token does not expire; nothing to renew");
		return NO_WORK;
	}
	due = at + (uint64_t)ttl * 1000u * 2 / 3;
	if (now < due)
		return due - now < RENEW_MIN_WAIT_MS ? RENEW_MIN_WAIT_MS : due - now;
	if (!renewable || capped) {
		if (vault_logs_in(vb)) {
			pthread_mutex_lock(&vb->login_lock);
			r = vault_login(vb, now + vb->timeout_ms, "relogin", &why);
			pthread_mutex_unlock(&vb->login_lock);
			if (r)
				return retry_wait(vb, failures);
			*failures = 0;
			return 0;
		}
		log_warn("vault: the token %s expires in %lld s and cannot be renewed further; "
			 "give harombe a new token before then", vb->tok_where ? vb->tok_where : "",
			 ttl - (long long)((now - at) / 1000));
		return NO_WORK;
	}
	r = token_renew(vb, &why);
	vault_audit_auth(vb, "renew", r, why.msg);
	if (!r) {
		log_debug("vault: token renewed");
		*failures = 0;
		return 0;
	}
	log_warn("vault: token renewal at %s failed: %s", vb->addr, why.msg);
	if (vault_logs_in(vb)) {
		pthread_mutex_lock(&vb->login_lock);
		r = vault_login(vb, vhttp_now_ms() + vb->timeout_ms, "relogin", &why);
		pthread_mutex_unlock(&vb->login_lock);
		if (!r) {
			*failures = 0;
			return 0;
		}
	} else if (r == -BACKEND_EDENIED || r == -BACKEND_EINVAL) {
		/* Vault refused the token (revoked, expired, no longer
		 * renewable): retrying cannot help.  A token file may get a
		 * new one; its re-read (on the next 403) wakes us. */
		log_err("vault: the token from %s can no longer be renewed; give harombe a new one",
			vb->tok_where ? vb->tok_where : "config");
		return NO_WORK;
	}
	return retry_wait(vb, failures);
}

void *vault_renewer_main(void *arg)
{
	struct vault_backend *vb = arg;
	unsigned int failures = 0;
	uint64_t wait;
	struct timespec ts;

	pthread_mutex_lock(&vb->r_lock);
	while (!vb->stopping) {
		vb->kicked = 0;
		pthread_mutex_unlock(&vb->r_lock);
		wait = renew_step(vb, &failures);
		{
			uint64_t lw = vault_lease_step(vb), cw = vault_pki_step(vb);

			if (lw < wait)
				wait = lw;
			if (cw < wait)
				wait = cw;
		}
		pthread_mutex_lock(&vb->r_lock);
		if (wait == NO_WORK) {
			/* nothing to do until a new token arrives (or unmount) */
			while (!vb->stopping && !vb->kicked)
				pthread_cond_wait(&vb->r_cond, &vb->r_lock);
			continue;
		}
		if (!wait || vb->kicked)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!vb->stopping && !vb->kicked &&
		       pthread_cond_timedwait(&vb->r_cond, &vb->r_lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&vb->r_lock);
	return NULL;
}
