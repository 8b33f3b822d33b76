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
 * The token in use, and getting a new one: AppRole login (cert, jwt and
 * kubernetes in auth.c), re-login or a token file re-read when Vault refuses the token, and their audit records.
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
		{ "method", vault_method_name(vb->method), 0 },
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

const char *vault_method_name(enum auth_method m)
{
	switch (m) {
	case AUTH_APPROLE:
		return "approle";
	case AUTH_CERT:
		return "cert";
	case AUTH_JWT:
		return "jwt";
	case AUTH_KUBERNETES:
		return "kubernetes";
	default:
		return "token";
	}
}

/* POST body (consumed) to login_path without a token; the answer's
 * auth.client_token becomes the token. */
int vault_login_post(struct vault_backend *vb, struct secbuf *body, int fresh, uint64_t deadline,
		     struct why *why)
{
	struct json_object *root = NULL, *auth;
	struct vcall c;
	const char *tok, *name = vault_method_name(vb->method);
	int r;

	if ((r = vcall_init(&c, "POST", strdup(vb->login_path), body, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	c.auth = 0;
	c.fresh = fresh;
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (!vault_is_success(c.req.status)) {
		r = vault_status_fail(vb, &c, why);
		/* "invalid role or secret ID", "invalid certificate or no client
		 * certificate supplied", a JWT that does not validate */
		if (c.req.status == 400)
			r = -BACKEND_EDENIED;
	} else if (!(r = vault_parse_resp(vb, &c, &root, why))) {
		auth = sjson_obj(root, "auth");
		tok = sjson_str(auth, "client_token");
		if (!tok)
			r = why_fail(why, -BACKEND_EUNAVAIL, "%s login at %s: no auth.client_token in the answer",
				     name, vb->addr);
		else if ((r = vault_token_set(vb, (const unsigned char *)tok, strlen(tok),
					      sjson_int(auth, "lease_duration", 0), sjson_bool(auth, "renewable", 0))))
			why_fail(why, r, "%s login at %s: unusable token in the answer", name, vb->addr);
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

/* The secret_id as configured: a copy of the literal, the variable or
 * the file; NULL when none is configured (bind_secret_id=false). */
static int approle_secret_id(struct vault_backend *vb, struct secbuf **out, struct why *why)
{
	struct why msg = WHY_INIT;
	int r;

	*out = NULL;
	if (vb->secret_id) {
		size_t len;
		const unsigned char *d = secbuf_data(vb->secret_id, &len);

		if (!(*out = secbuf_dup(d, len)))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	} else if (vb->secret_id_env) {
		if (vault_env_secret(vb->secret_id_env, out))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		if (!*out)
			return why_fail(why, -BACKEND_EDENIED, "AppRole secret_id: %s is not set", vb->secret_id_env);
	} else if (vb->secret_id_file) {
		if ((r = vault_read_secret_file(vb->secret_id_file, "Vault secret_id_file", out, 0, &msg)))
			return why_fail(why, r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EDENIED, "AppRole secret_id: %s",
					msg.msg);
	}
	return 0;
}

int vault_approle_login(struct vault_backend *vb, uint64_t deadline, const char *action,
			struct why *why)
{
	struct secbuf *sid = NULL, *body = NULL;
	int r;

	(void)action;
	if ((r = approle_secret_id(vb, &sid, why)))
		goto out;
	if (sid && vb->secret_id_wrapped) {
		struct secbuf *wrap = sid;

		sid = NULL;
		r = vault_unwrap_secret_id(vb, wrap, deadline, &sid, why);
		secbuf_free(wrap);
		if (r)
			goto out;
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
	r = vault_login_post(vb, body, 0, deadline, why);
	body = NULL;
out:
	secbuf_free(sid);
	secbuf_free(body);
	return r;
}

/* Log in by the configured method; log and audit the outcome. */
int vault_login(struct vault_backend *vb, uint64_t deadline, const char *action, struct why *why)
{
	const char *name = vault_method_name(vb->method);
	int r;

	switch (vb->method) {
	case AUTH_APPROLE:
		r = vault_approle_login(vb, deadline, action, why);
		break;
	case AUTH_CERT:
		r = vault_cert_login(vb, deadline, why);
		break;
	case AUTH_JWT:
	case AUTH_KUBERNETES:
		r = vault_jwt_login(vb, deadline, why);
		break;
	default:
		r = why_fail(why, -BACKEND_EDENIED, "no login method configured");
	}
	if (r)
		log_warn("vault: %s %s at %s failed: %s", name, action, vb->addr, why ? why->msg : "");
	else
		log_info("vault: %s %s at %s: new token", name, action, vb->addr);
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
		if (vault_logs_in(vb))
			r = vault_login(vb, deadline, "login", why);
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
		if (vault_logs_in(vb))
			r = vault_login(vb, deadline, "relogin", why);
		else
			r = vault_reread_token_file(vb, why);
	}
	pthread_mutex_unlock(&vb->login_lock);
	return r;
}
