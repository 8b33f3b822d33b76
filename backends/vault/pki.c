#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "backends/vault/sjson.h"
#include "lib/audit.h"
#include "lib/carry.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * Certificates from the PKI secrets engine, and whether a scope is alive.
 *
 * A certificate key is "MOUNT/issue/ROLE?common_name=CN[&alt_names=A,B]
 * [&ip_sans=IP,IP][&uri_sans=U][&ttl=Ns]#FIELD" (values URL-encoded; the
 * view's `certificates:` builds it, inject/view.c).  Like a lease it is one
 * per scope (the container) and request, shared by every open and every
 * field: issued on first use (POST MOUNT/issue/ROLE), issued again by the
 * renewal thread at 2/3 of the certificate's life while its scope is alive
 * (the daemon is told, so that poll() waiters and on_change hear of it),
 * and dropped (wiped) when the scope is idle or gone.  PKI issues carry no
 * lease unless the role has generate_lease; when one comes, it is revoked
 * (sys/leases/revoke) with the certificate, as leases are.  A replaced
 * certificate is not revoked: readers may still hold it until they re-read,
 * and it runs out by itself.
 *
 * The fields (certificate, private_key, ca_chain, ...) live in locked
 * memory; the private key never leaves it but as a copy for one open, and
 * in the carried state (lib/carry.h, secret memory): in harombefs every
 * issue, re-issue and drop rewrites the "vault" section with the
 * certificates after the leases, so that the daemon a restart or a kill -9
 * brings up adopts them (same serial, same key, the same renewal
 * schedule) instead of issuing new ones.  Carried certificates the new
 * configuration no longer names are dropped (their lease revoked, if any).
 * Serial numbers are logged and audited (they are public), never a key.
 */

static const char *const fields[] = {
	"certificate", "private_key", "private_key_type", "issuing_ca", "ca_chain", "serial_number",
	"expiration",
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
enum { F_CERT, F_KEY, F_KEYTYPE, F_ISSUING, F_CHAIN, F_SERIAL, F_EXPIRATION };

static const char *const params[] = { "common_name", "alt_names", "ip_sans", "uri_sans", "ttl" };

struct vcert {
	struct vcert *next;
	char *scope;
	char *req;		/* the key without '#field' */
	char *lease_id;		/* only when the role generates leases */
	struct secbuf *f[NFIELDS];
	char serial[96];
	uint64_t got_at;	/* issued (vhttp_now_ms) */
	uint64_t expire_at;	/* its notAfter, on the same clock */
	uint64_t used_at;
	uint64_t retry_at;	/* after a failed re-issue: not before */
	int issuing;		/* first issue in flight: wait on lease_cond */
	int busy;		/* the renewal thread issues it again, unlocked */
	int orphan;		/* carried in, and the configuration no longer names it */
	unsigned int reissues;
};

/* "MOUNT/issue/ROLE?" with a known first parameter. */
int vault_is_pki(const char *key)
{
	const char *q = strchr(key, '?'), *p;
	size_t i;

	if (!q || q == key)
		return 0;
	for (p = q; p > key && p[-1] != '/'; p--)
		;
	if (p == q || p - key < 7 || strncmp(p - 7, "/issue/", 7))
		return 0;
	for (i = 0; i < ARRAY_SIZE(params); i++)
		if (!strncmp(q + 1, params[i], strlen(params[i])) && q[1 + strlen(params[i])] == '=')
			return 1;
	return 0;
}

/* Percent-decode s[0..n) into a new string, or NULL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else if (s[i] == '%') {
			free(out);
			return NULL;
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

/* The request's JSON body from the query of req ("path?a=1&b=2"), and the
 * API path "/v1/path".  0 or an error with why. */
static int build_request(const char *req, char **api, struct secbuf **body, struct why *why)
{
	const char *q = strchr(req, '?'), *p;
	char *path, *enc;
	int first = 1, have_cn = 0;
	size_t i;

	*api = NULL;
	*body = NULL;
	if (!(path = strndup(req, (size_t)(q - req))))
		return why_fail(why, -BACKEND_ENOMEM, "out of memory");
	enc = vault_encode_segments(path);
	free(path);
	if (!enc || asprintf(api, "/v1/%s", enc) < 0) {
		free(enc);
		*api = NULL;
		return why_fail(why, -BACKEND_ENOMEM, "out of memory");
	}
	free(enc);
	if (!(*body = secbuf_new(256)) || sjson_raw(*body, "{"))
		goto nomem;
	for (p = q + 1; *p;) {
		const char *amp = strchr(p, '&'), *eq = strchr(p, '=');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		char *val;

		if (!eq || eq > p + len)
			return why_fail(why, -BACKEND_EINVAL, "certificate request '%s': '%.*s' is not NAME=VALUE", req,
					(int)len, p);
		for (i = 0; i < ARRAY_SIZE(params); i++)
			if ((size_t)(eq - p) == strlen(params[i]) && !strncmp(p, params[i], (size_t)(eq - p)))
				break;
		if (i == ARRAY_SIZE(params))
			return why_fail(why, -BACKEND_EINVAL, "certificate request '%s': unknown parameter '%.*s'", req,
					(int)(eq - p), p);
		have_cn |= i == 0;
		if (!(val = pct_decode(eq + 1, len - (size_t)(eq + 1 - p))))
			return why_fail(why, -BACKEND_EINVAL, "certificate request '%s': bad %%-encoding", req);
		if (sjson_raw(*body, first ? "\"" : ",\"") || sjson_raw(*body, params[i]) || sjson_raw(*body, "\":") ||
		    sjson_write_str(*body, val, strlen(val))) {
			free(val);
			goto nomem;
		}
		free(val);
		first = 0;
		p += len;
		if (*p == '&')
			p++;
	}
	if (!have_cn)
		return why_fail(why, -BACKEND_EINVAL, "certificate request '%s' has no common_name", req);
	if (sjson_raw(*body, "}"))
		goto nomem;
	return 0;
nomem:
	return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
}

static void cert_clear(struct vcert *c)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		secbuf_free(c->f[i]);
		c->f[i] = NULL;
	}
	if (c->lease_id)
		explicit_bzero(c->lease_id, strlen(c->lease_id));
	free(c->lease_id);
	c->lease_id = NULL;
}

static void cert_free(struct vcert *c)
{
	if (!c)
		return;
	cert_clear(c);
	free(c->scope);
	free(c->req);
	free(c);
}

static void unlink_cert(struct vault_backend *vb, struct vcert *c)
{
	struct vcert **p;

	for (p = &vb->certs; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			return;
		}
}

static void audit_cert(struct vault_backend *vb, const struct vcert *c, const char *action, int rc,
		       const char *reason)
{
	uint64_t now = vhttp_now_ms();
	struct audit_kv extra[5] = {
		{ "action", action, 0 },
		{ "path", c->req, 0 },
		{ "serial", c->serial, 0 },
		{ "ttl", NULL, c->expire_at > now ? (double)((c->expire_at - now) / 1000) : 0 },
		{ "vault", vb->addr, 0 },
	};
	struct audit_record rec = {
		.event = AUDIT_VAULT_LEASE,
		.source = vb->source,
		.container = c->scope[0] ? c->scope : NULL,
		.result = rc ? "error" : "ok",
		.reason = rc ? reason : NULL,
		.extra = extra,
		.n_extra = ARRAY_SIZE(extra),
	};

	if (vb->audit && audit_wants(vb->audit, AUDIT_VAULT_LEASE))
		audit_write(vb->audit, &rec);
}

/* A PEM (or several) as a file's text: ends with a newline. */
static struct secbuf *pem_text(struct json_object *v)
{
	struct secbuf *sb = NULL;
	size_t i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		if (!(sb = secbuf_new(4096)))
			return NULL;
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
			size_t len = s ? strlen(s) : 0;

			if (!len)
				continue;
			if (secbuf_append(sb, s, len) || (s[len - 1] != '\n' && secbuf_putc(sb, '\n'))) {
				secbuf_free(sb);
				return NULL;
			}
		}
		return sb;
	}
	if (sjson_value(v, &sb))
		return NULL;
	if (secbuf_len(sb) && secbuf_str(sb)[secbuf_len(sb) - 1] != '\n' && secbuf_putc(sb, '\n')) {
		secbuf_free(sb);
		return NULL;
	}
	return sb;
}

/* POST the request; fill the fields of c (unlocked: c is ours). */
static int issue(struct vault_backend *vb, struct vcert *c, uint64_t deadline, struct why *why)
{
	struct json_object *root = NULL, *data, *v;
	struct secbuf *body = NULL;
	struct vcall call;
	char *api = NULL;
	const char *serial, *lease;
	long long exp;
	time_t wall = time(NULL);
	size_t i;
	int r;

	if ((r = build_request(c->req, &api, &body, why))) {
		free(api);
		secbuf_free(body);
		return r;
	}
	if ((r = vcall_init(&call, "POST", api, body, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_ok(vb, &call, deadline, why)) || (r = vault_parse_resp(vb, &call, &root, why)))
		goto out;
	data = sjson_obj(root, "data");
	exp = data ? sjson_int(data, "expiration", 0) : 0;
	if (!data || !sjson_str(data, "certificate") || !sjson_str(data, "private_key") || exp <= 0) {
		r = why_fail(why, -BACKEND_EINVAL, "'%s' answered without certificate, private_key and expiration "
			     "(is it a PKI issue endpoint?)", c->req);
		goto out;
	}
	for (i = 0; i < NFIELDS; i++) {
		if (!json_object_object_get_ex(data, fields[i], &v))
			continue;
		if (!(c->f[i] = pem_text(v))) {
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
			goto out;
		}
	}
	if (!c->f[F_CHAIN] || !secbuf_len(c->f[F_CHAIN])) {
		/* no ca_chain (older Vault): the issuing CA alone */
		secbuf_free(c->f[F_CHAIN]);
		c->f[F_CHAIN] = c->f[F_ISSUING] ? secbuf_dup(secbuf_str(c->f[F_ISSUING]), secbuf_len(c->f[F_ISSUING]))
						: NULL;
	}
	serial = sjson_str(data, "serial_number");
	snprintf(c->serial, sizeof(c->serial), "%s", serial ? serial : "");
	lease = sjson_str(root, "lease_id");
	if (lease && *lease && !(c->lease_id = strdup(lease))) {
		r = why_fail(why, -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	c->got_at = vhttp_now_ms();
	c->expire_at = c->got_at + (exp > wall ? (uint64_t)(exp - wall) * 1000u : 0);
	if (exp < wall + 2)
		log_warn("vault: certificate %s of '%s' expires %lld s from now by this host's clock: "
			 "is the clock ahead of Vault's?", c->serial, c->req, exp - (long long)wall);
out:
	if (r)
		cert_clear(c);
	sjson_put(root);
	vcall_release(&call);
	return r;
}

/* When the renewal thread issues c again: at 2/3 of its life, never
 * sooner than 1 s after the issue (a host clock far ahead of Vault's makes
 * every certificate look expired: no busy loop then), or after a failure,
 * a quarter of what is left, 1 s to 1 min, later. */
static uint64_t renew_at(const struct vcert *c)
{
	uint64_t life = c->expire_at > c->got_at ? c->expire_at - c->got_at : 0;
	uint64_t at = c->got_at + (life * 2 / 3 > 1000 ? life * 2 / 3 : 1000);

	return c->retry_at > at ? c->retry_at : at;
}

static void kick(struct vault_backend *vb)
{
	pthread_mutex_lock(&vb->r_lock);
	vb->kicked = 1;
	pthread_cond_broadcast(&vb->r_cond);
	pthread_mutex_unlock(&vb->r_lock);
}

static int pick(struct vcert *c, const char *field, struct secbuf **out, struct why *why)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (!strcmp(field, fields[i]))
			break;
	if (i == NFIELDS || !c->f[i])
		return why_fail(why, -BACKEND_ENOTFOUND, "certificate '%s' has no field '%s' (fields: certificate, "
				"private_key, private_key_type, issuing_ca, ca_chain, serial_number, expiration)",
				c->req, field);
	if (!(*out = secbuf_dup(secbuf_str(c->f[i]), secbuf_len(c->f[i]))))
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	return 0;
}

int vault_pki_get(struct vault_backend *vb, const char *scope, const char *key, uint64_t deadline,
		  struct secbuf **out, struct why *why)
{
	const char *hash = strchr(key, '#');
	size_t rlen = hash ? (size_t)(hash - key) : strlen(key);
	struct vcert *c;
	int r, issued = 0;

	*out = NULL;
	if (!scope)
		scope = "";
	if (!hash || !hash[1])
		return why_fail(why, -BACKEND_EINVAL, "certificate request '%.*s': name a field "
				"(#certificate, #private_key, #ca_chain, ...)", (int)rlen, key);
	pthread_mutex_lock(&vb->lease_lock);
again:
	for (c = vb->certs; c; c = c->next)
		if (!strcmp(c->scope, scope) && strlen(c->req) == rlen && !strncmp(c->req, key, rlen))
			break;
	if (c && (c->issuing || c->busy)) {
		pthread_cond_wait(&vb->lease_cond, &vb->lease_lock);
		goto again;
	}
	if (c && vhttp_now_ms() + 1000 >= c->expire_at) {
		/* run out (the renewal thread could not issue it again) */
		unlink_cert(vb, c);
		cert_free(c);
		c = NULL;
		vault_carry_save(vb);
	}
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || !(c->scope = strdup(scope)) || !(c->req = strndup(key, rlen))) {
			cert_free(c);
			pthread_mutex_unlock(&vb->lease_lock);
			return why_fail(why, -BACKEND_ENOMEM, "out of memory");
		}
		c->issuing = 1;
		c->next = vb->certs;
		vb->certs = c;
		pthread_mutex_unlock(&vb->lease_lock);
		r = issue(vb, c, deadline, why);
		pthread_mutex_lock(&vb->lease_lock);
		c->issuing = 0;
		pthread_cond_broadcast(&vb->lease_cond);
		audit_cert(vb, c, "issued", r, why ? why->msg : NULL);
		if (r) {
			unlink_cert(vb, c);
			cert_free(c);
			pthread_mutex_unlock(&vb->lease_lock);
			return r;
		}
		issued = 1;
		vault_carry_save(vb);
		log_info("vault: issued certificate %s of '%s' for '%s' (%llu s)", c->serial, c->req, scope,
			 (unsigned long long)((c->expire_at - c->got_at) / 1000));
	}
	c->used_at = vhttp_now_ms();
	c->orphan = 0;
	r = pick(c, hash + 1, out, why);
	pthread_mutex_unlock(&vb->lease_lock);
	if (issued)
		kick(vb);
	return r;
}

int vault_pki_try(struct vault_backend *vb, const char *scope, const char *key, struct secbuf **out,
		  struct why *why)
{
	const char *hash = strchr(key, '#');
	size_t rlen = hash ? (size_t)(hash - key) : strlen(key);
	struct vcert *c;
	int r;

	*out = NULL;
	if (!scope)
		scope = "";
	if (!hash || !hash[1] || pthread_mutex_trylock(&vb->lease_lock) != 0)
		return -BACKEND_EWOULDBLOCK;	/* a bad key: vault_pki_get() says why */
	for (c = vb->certs; c; c = c->next)
		if (!strcmp(c->scope, scope) && strlen(c->req) == rlen && !strncmp(c->req, key, rlen))
			break;
	/* what vault_pki_get() would wait for, or issue again */
	if (!c || c->issuing || c->busy || vhttp_now_ms() + 1000 >= c->expire_at) {
		pthread_mutex_unlock(&vb->lease_lock);
		return -BACKEND_EWOULDBLOCK;
	}
	c->used_at = vhttp_now_ms();
	r = pick(c, hash + 1, out, why);
	pthread_mutex_unlock(&vb->lease_lock);
	return r;
}

static void drop(struct vault_backend *vb, struct vcert *c, const char *why_text)
{
	struct why why = WHY_INIT;
	int r = 0;

	if (c->lease_id && vb->lease_daemon) {
		r = vault_lease_revoke(vb, c->lease_id, &why);
		if (r)
			log_warn("vault: cannot revoke certificate %s of '%s' (%s): %s", c->serial, c->req, why_text,
				 why.msg);
	}
	log_info("vault: dropped certificate %s of '%s' for '%s' (%s)%s", c->serial, c->req, c->scope, why_text,
		 c->lease_id ? (r ? "" : ", its lease revoked") : "");
	audit_cert(vb, c, c->lease_id ? "revoked" : "dropped", r, why.msg);
	cert_free(c);
}

/*
 * One pass for the renewal thread: drop the certificates of scopes idle or
 * gone, issue again those at 2/3 of their life.  How long until the next
 * is due (NO_WORK: none).
 */
uint64_t vault_pki_step(struct vault_backend *vb)
{
	struct vcert *c, *work, fresh;
	struct why why;
	uint64_t now, due, next;
	int r, live = 1;

	for (;;) {
		work = NULL;
		next = NO_WORK;
		pthread_mutex_lock(&vb->lease_lock);
		now = vhttp_now_ms();
		for (c = vb->certs; c; c = c->next) {
			if (c->issuing || c->busy)
				continue;
			live = c->orphan ? 0 : vault_scope_live(vb, c->scope, &c->used_at, now);
			if (live <= 0 || now >= renew_at(c)) {
				work = c;
				if (live <= 0) {
					unlink_cert(vb, c);
					vault_carry_save(vb);
				} else {
					c->busy = 1;
				}
				break;
			}
			due = renew_at(c);
			if (vb->hooks.alive && now + LIVE_POLL_MS < due)
				due = now + LIVE_POLL_MS;
			else if (!vb->hooks.alive && c->used_at + vb->lease_idle_ms < due)
				due = c->used_at + vb->lease_idle_ms;
			if (due < next)
				next = due;
		}
		pthread_mutex_unlock(&vb->lease_lock);
		if (!work)
			break;
		if (live <= 0) {
			drop(vb, work, work->orphan ? "no longer configured" : live < 0 ? "its container is gone" : "idle");
			continue;
		}
		memset(&fresh, 0, sizeof(fresh));
		fresh.req = work->req;
		fresh.scope = work->scope;
		why.msg[0] = 0;
		r = issue(vb, &fresh, now + vb->timeout_ms, &why);
		pthread_mutex_lock(&vb->lease_lock);
		work->busy = 0;
		if (r) {
			log_warn("vault: cannot issue certificate '%s' for '%s' again: %s", work->req, work->scope,
				 why.msg);
			if (vhttp_now_ms() + 1000 >= work->expire_at) {
				unlink_cert(vb, work);
				audit_cert(vb, work, "expired", r, why.msg);
				cert_free(work);
				vault_carry_save(vb);
			} else {
				uint64_t t = vhttp_now_ms(), wait = (work->expire_at - t) / 4;

				work->retry_at = t + (wait < 1000 ? 1000 : wait > 60000 ? 60000 : wait);
			}
			pthread_cond_broadcast(&vb->lease_cond);
			pthread_mutex_unlock(&vb->lease_lock);
			continue;
		}
		cert_clear(work);
		memcpy(work->f, fresh.f, sizeof(work->f));
		work->lease_id = fresh.lease_id;
		memcpy(work->serial, fresh.serial, sizeof(work->serial));
		work->got_at = fresh.got_at;
		work->expire_at = fresh.expire_at;
		work->retry_at = 0;
		work->reissues++;
		vault_carry_save(vb);
		audit_cert(vb, work, "reissued", 0, NULL);
		log_info("vault: issued certificate %s of '%s' for '%s' again (%llu s)", work->serial, work->req,
			 work->scope, (unsigned long long)((work->expire_at - work->got_at) / 1000));
		{
			char *scope = strdup(work->scope), *req = strdup(work->req);

			pthread_cond_broadcast(&vb->lease_cond);
			pthread_mutex_unlock(&vb->lease_lock);
			if (scope && req)
				vault_tell_changed(vb, scope, req);
			free(scope);
			free(req);
		}
	}
	if (next == NO_WORK)
		return NO_WORK;
	return next > now ? (next - now < RENEW_MIN_WAIT_MS ? RENEW_MIN_WAIT_MS : next - now) : RENEW_MIN_WAIT_MS;
}

/* At close (the renewal thread is stopped).  Before a restart on the same
 * connection the carried certificates are the successor's: nothing is
 * revoked, and the section keeps them. */
void vault_pki_close(struct vault_backend *vb)
{
	int keep = vault_carry_keep(vb);
	struct vcert *c;

	if (keep && vb->certs)
		log_info("vault: leaving the certificates to the next daemon");
	while ((c = vb->certs) || (c = vb->cert_adopt)) {
		if (c == vb->certs)
			vb->certs = c->next;
		else
			vb->cert_adopt = c->next;
		if (!keep && c->lease_id && (vb->revoke_on_exit || c->orphan) && vb->lease_daemon)
			drop(vb, c, c->orphan ? "no longer configured" : "shutdown");
		else
			cert_free(c);
	}
	if (!keep && vb->carry) {
		pthread_mutex_lock(&vb->lease_lock);
		vault_carry_save(vb);	/* nothing left to adopt */
		pthread_mutex_unlock(&vb->lease_lock);
	}
}

/* ---- carried across a restart (lease.c's section, lease_lock held) ---- */

int vault_pki_save(struct vault_backend *vb, struct secbuf *sb)
{
	struct vcert *c;
	uint64_t n = 0;
	size_t i;
	int r;

	for (c = vb->certs; c; c = c->next)
		n += !c->issuing;
	r = carry_w_u64(sb, n);
	for (c = vb->certs; c && !r; c = c->next) {
		if (c->issuing)
			continue;
		/* (busy: being issued again, the fields are still this one's) */
		r = carry_w_str(sb, c->scope) || carry_w_str(sb, c->req) ||
		    carry_w_str(sb, c->lease_id ? c->lease_id : "") || carry_w_str(sb, c->serial) ||
		    carry_w_u64(sb, c->got_at) || carry_w_u64(sb, c->expire_at) || carry_w_u64(sb, c->used_at) ||
		    carry_w_u64(sb, c->retry_at) || carry_w_u64(sb, c->reissues) || carry_w_u64(sb, NFIELDS);
		for (i = 0; i < NFIELDS && !r; i++)
			r = carry_w_u64(sb, !!c->f[i]) ||
			    (c->f[i] && carry_w_bytes(sb, secbuf_str(c->f[i]), secbuf_len(c->f[i])));
	}
	return r ? -1 : 0;
}

void vault_pki_load(struct vault_backend *vb, struct carry_rd *rd)
{
	struct vcert **tail = &vb->cert_adopt;
	uint64_t n = carry_r_u64(rd), i, nf, j;

	for (i = 0; i < n && !rd->bad; i++) {
		struct vcert *c = calloc(1, sizeof(*c));
		const char *scope = carry_r_str(rd), *req = carry_r_str(rd), *lease = carry_r_str(rd),
			   *serial = carry_r_str(rd);

		if (!c) {
			rd->bad = 1;
			break;
		}
		c->got_at = carry_r_u64(rd);
		c->expire_at = carry_r_u64(rd);
		c->used_at = carry_r_u64(rd);
		c->retry_at = carry_r_u64(rd);
		c->reissues = (unsigned int)carry_r_u64(rd);
		nf = carry_r_u64(rd);
		if (nf != NFIELDS)
			rd->bad = 1;
		for (j = 0; j < NFIELDS && !rd->bad; j++) {
			size_t len;
			const void *p;

			if (!carry_r_u64(rd))
				continue;
			p = carry_r_bytes(rd, &len);
			if (p && !(c->f[j] = secbuf_dup(p, len)))
				rd->bad = 1;
		}
		if (rd->bad || !(c->scope = strdup(scope)) || !(c->req = strdup(req)) ||
		    (*lease && !(c->lease_id = strdup(lease)))) {
			cert_free(c);
			rd->bad = 1;
			break;
		}
		snprintf(c->serial, sizeof(c->serial), "%s", serial);
		*tail = c;
		tail = &c->next;
	}
	if (rd->bad)
		log_warn("vault: the carried certificates are cut short: those after the first %llu are not "
			 "adopted (the next open issues new ones)", (unsigned long long)i);
}

void vault_pki_adopt(struct vault_backend *vb, backend_named_fn *named, void *arg)
{
	struct vcert *c;
	uint64_t now = vhttp_now_ms();
	unsigned int adopted = 0, orphans = 0;

	while ((c = vb->cert_adopt)) {
		vb->cert_adopt = c->next;
		c->next = NULL;
		if (now + 1000 >= c->expire_at) {
			log_info("vault: the carried certificate %s of '%s' for '%s' ran out during the restart",
				 c->serial, c->req, c->scope);
			audit_cert(vb, c, "expired", 0, NULL);
			cert_free(c);
			continue;
		}
		c->orphan = !vault_is_pki(c->req) || !named || !named(c->scope, c->req, arg);
		/* as for leases: the restart counts as a use */
		c->used_at = now;
		c->next = vb->certs;
		vb->certs = c;
		if (c->orphan) {
			orphans++;
		} else {
			adopted++;
			audit_cert(vb, c, "adopted", 0, NULL);
		}
	}
	if (adopted || orphans)
		log_info("vault: adopted %u certificate%s of the previous daemon; %u it held are no longer "
			 "configured and are dropped", adopted, adopted == 1 ? "" : "s", orphans);
}

void vault_pki_each(struct vault_backend *vb, vault_lease_fn *fn, void *arg)
{
	struct vcert *c;
	uint64_t now = vhttp_now_ms();

	pthread_mutex_lock(&vb->lease_lock);
	for (c = vb->certs; c; c = c->next)
		if (!c->issuing)
			fn(c->scope, c->req, c->expire_at > now ? (long long)((c->expire_at - now) / 1000) : 0,
			   c->reissues, (long long)((now - c->used_at) / 1000), arg);
	pthread_mutex_unlock(&vb->lease_lock);
}

/* ---- the daemon's hooks: liveness and change ---- */

void vault_set_hooks(struct backend *be, const struct backend_hooks *hooks)
{
	struct vault_backend *vb = vault_downcast(be);
	struct backend_hooks none = { 0 };

	pthread_mutex_lock(&vb->lease_lock);
	vb->hooks = hooks ? *hooks : none;
	pthread_mutex_unlock(&vb->lease_lock);
	kick(vb);
}

int vault_scope_live(struct vault_backend *vb, const char *scope, uint64_t *used_at, uint64_t now)
{
	int a = vb->hooks.alive && scope[0] ? vb->hooks.alive(vb->hooks.arg, scope) : BACKEND_SCOPE_UNKNOWN;

	if (a == BACKEND_SCOPE_GONE)
		return -1;
	if (a == BACKEND_SCOPE_ALIVE) {
		/* the idle window starts when it was last seen alive */
		*used_at = now;
		return 1;
	}
	return now - *used_at < vb->lease_idle_ms;
}

void vault_tell_changed(struct vault_backend *vb, const char *scope, const char *key)
{
	struct backend_hooks h;

	pthread_mutex_lock(&vb->lease_lock);
	h = vb->hooks;
	pthread_mutex_unlock(&vb->lease_lock);
	if (h.changed && scope[0])
		h.changed(h.arg, scope, key);
}
