#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/vault/sjson.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * The token in use, and getting a new one: AppRole login, re-login or a
 * token file re-read when Vault refuses the token, and their audit records.
 */

/* ---- the token ---- */

int vault_token_set(struct vault_backend *vb, const unsigned char *tok, size_t len, long long ttl,
		    int renewable)
{
	struct secbuf *h, *old;
	size_t i;

	for (i = 0; i < len; i++)	/* a token is one header value: no CR, LF or spaces */
		if (tok[i] <= 0x20 || tok[i] >= 0x7f)
			return -BACKEND_EINVAL;
	if (!len)
		return -BACKEND_EINVAL;
	h = secbuf_new(sizeof(HDR_TOKEN) + len);
	if (!h || secbuf_append(h, HDR_TOKEN, strlen(HDR_TOKEN)) || secbuf_append(h, tok, len)) {
		secbuf_free(h);
		return -BACKEND_ENOMEM;
	}
	pthread_rwlock_wrlock(&vb->tok_lock);
	old = vb->tok_hdr;
	vb->tok_hdr = h;
	vb->tok_gen++;
	vb->tok_ttl = ttl;
	vb->tok_full_ttl = ttl;
	vb->tok_renewable = renewable;
	vb->tok_capped = 0;
	vb->tok_at = vhttp_now_ms();
	pthread_rwlock_unlock(&vb->tok_lock);
	secbuf_free(old);
	pthread_mutex_lock(&vb->r_lock);
	vb->kicked = 1;
	pthread_cond_broadcast(&vb->r_cond);
	pthread_mutex_unlock(&vb->r_lock);
	return 0;
}

int vault_token_copy(struct vault_backend *vb, struct secbuf **out, unsigned long *gen)
{
	size_t len;
	int r = 0;

	*out = NULL;
	pthread_rwlock_rdlock(&vb->tok_lock);
	*gen = vb->tok_gen;
	if (vb->tok_hdr) {
		const unsigned char *d = secbuf_data(vb->tok_hdr, &len);

		if (!(*out = secbuf_dup(d, len)))
			r = -BACKEND_ENOMEM;
	}
	pthread_rwlock_unlock(&vb->tok_lock);
	return r;
}

void vault_audit_auth(struct vault_backend *vb, const char *action, int rc, const char *reason)
{
	struct audit_kv extra[3] = {
		{ "method", vb->method == AUTH_APPROLE ? "approle" : "token", 0 },
		{ "action", action, 0 },
		{ "vault", vb->addr, 0 },
	};
	struct audit_record rec = {
		.event = AUDIT_VAULT_AUTHENTICATION,
		.source = vb->source,
		.result = rc ? "error" : "ok",
		.reason = rc ? reason : NULL,
		.extra = extra,
		.n_extra = ARRAY_SIZE(extra),
	};

	if (vb->audit && audit_wants(vb->audit, AUDIT_VAULT_AUTHENTICATION))
		audit_write(vb->audit, &rec);
}

/* ---- authentication ---- */

int vault_approle_login(struct vault_backend *vb, uint64_t deadline, const char *action,
			struct why *why)
{
	struct secbuf *sid = NULL, *body = NULL;
	struct json_object *root = NULL, *auth;
	struct vcall c;
	const char *tok;
	struct why msg = WHY_INIT;
	int r;

	if (vb->secret_id) {
		size_t len;
		const unsigned char *d = secbuf_data(vb->secret_id, &len);

		if (!(sid = secbuf_dup(d, len))) {
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
			goto out;
		}
	} else if (vb->secret_id_env) {
		if ((r = vault_env_secret(vb->secret_id_env, &sid))) {
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
			goto out;
		}
		if (!sid) {
			r = why_fail(why, -BACKEND_EDENIED, "AppRole secret_id: %s is not set", vb->secret_id_env);
			goto out;
		}
	} else if (vb->secret_id_file) {
		if ((r = vault_read_secret_file(vb->secret_id_file, "Vault secret_id_file", &sid, 0, &msg))) {
			r = why_fail(why, r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EDENIED, "AppRole secret_id: %s",
				     msg.msg);
			goto out;
		}
	}
	body = secbuf_new(256);
	if (!body || sjson_raw(body, "{\"role_id\":") ||
	    sjson_write_str(body, vb->role_id, strlen(vb->role_id)) ||
	    (sid && (sjson_raw(body, ",\"secret_id\":") ||
		     sjson_write_str(body, secbuf_str(sid), secbuf_len(sid)))) ||
	    sjson_raw(body, "}")) {
		r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		goto out;
	}
	if ((r = vcall_init(&c, "POST", strdup(vb->login_path), body, MAX_SECRET_RESP))) {
		body = NULL;
		why_fail(why, r, "out of memory");
		goto out;
	}
	body = NULL;
	c.auth = 0;
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (!vault_is_success(c.req.status)) {
		r = vault_status_fail(vb, &c, why);
		if (c.req.status == 400)	/* "invalid role or secret ID" */
			r = -BACKEND_EDENIED;
	} else if (!(r = vault_parse_resp(vb, &c, &root, why))) {
		auth = sjson_obj(root, "auth");
		tok = sjson_str(auth, "client_token");
		if (!tok)
			r = why_fail(why, -BACKEND_EUNAVAIL, "AppRole login at %s: no auth.client_token in the answer",
				     vb->addr);
		else if ((r = vault_token_set(vb, (const unsigned char *)tok, strlen(tok),
					      sjson_int(auth, "lease_duration", 0), sjson_bool(auth, "renewable", 0))))
			why_fail(why, r, "AppRole login at %s: unusable token in the answer", vb->addr);
	}
	vcall_release(&c);
out:
	sjson_put(root);
	secbuf_free(sid);
	secbuf_free(body);
	if (r)
		log_warn("vault: AppRole %s at %s failed: %s", action, vb->addr, why ? why->msg : "");
	else
		log_info("vault: AppRole %s at %s: new token", action, vb->addr);
	vault_audit_auth(vb, action, r, why ? why->msg : NULL);
	return r;
}

int vault_ensure_token(struct vault_backend *vb, uint64_t deadline, struct why *why)
{
	int have, r = 0;

	pthread_rwlock_rdlock(&vb->tok_lock);
	have = vb->tok_hdr != NULL;
	pthread_rwlock_unlock(&vb->tok_lock);
	if (have)
		return 0;
	pthread_mutex_lock(&vb->login_lock);
	pthread_rwlock_rdlock(&vb->tok_lock);
	have = vb->tok_hdr != NULL;
	pthread_rwlock_unlock(&vb->tok_lock);
	if (!have) {
		if (vb->method == AUTH_APPROLE)
			r = vault_approle_login(vb, deadline, "login", why);
		else if (vb->tok_source == TOK_FILE)
			r = vault_reread_token_file(vb, why);
		else
			r = why_fail(why, -BACKEND_EDENIED, "no Vault token");
	}
	pthread_mutex_unlock(&vb->login_lock);
	return r;
}

/* Vault refused the token of generation gen_used: get another, once. */
int vault_reauth(struct vault_backend *vb, unsigned long gen_used, uint64_t deadline,
		 struct why *why)
{
	unsigned long gen;
	int r = 0;

	pthread_mutex_lock(&vb->login_lock);
	pthread_rwlock_rdlock(&vb->tok_lock);
	gen = vb->tok_gen;
	pthread_rwlock_unlock(&vb->tok_lock);
	if (gen == gen_used) {	/* nobody has replaced it yet */
		if (vb->method == AUTH_APPROLE)
			r = vault_approle_login(vb, deadline, "relogin", why);
		else
			r = vault_reread_token_file(vb, why);
	}
	pthread_mutex_unlock(&vb->login_lock);
	return r;
}
