#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "backends/vault/sjson.h"
#include "lib/config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * The logins beside token and AppRole: TLS certificate (auth/cert), JWT
 * role (auth/jwt) and Kubernetes service account (auth/kubernetes), their
 * options, and AppRole's secret_id taken out of a response-wrapped token
 * (sys/wrapping/lookup, then sys/wrapping/unwrap).  Every login here runs
 * with login_lock held (login.c's callers take it), and the renewal thread
 * re-logs in through the same path as AppRole.
 */

/* ---- options ---- */

static int mount_ok(const char *m)
{
	size_t i;

	if (!*m || strstr(m, "..") || m[strlen(m) - 1] == '/')
		return 0;
	for (i = 0; m[i]; i++)
		if (!isalnum((unsigned char)m[i]) && !strchr("-_./", m[i]))
			return 0;
	return 1;
}

static int wrap_options(struct vault_backend *vb, const struct cfg_node *opts, struct why *err)
{
	const char *wp = NULL;
	const char *mount;
	int r;

	if ((r = cfg_get_bool(opts, "secret_id_wrapped", &vb->secret_id_wrapped, err)) ||
	    (r = cfg_get_str(opts, "secret_id_wrap_path", &wp, err)))
		return r;
	if (wp && *wp && !vb->secret_id_wrapped)
		return cfg_fail(err, cfg_get(opts, "secret_id_wrap_path"),
				"'secret_id_wrap_path' needs 'secret_id_wrapped: true'");
	if (!vb->secret_id_wrapped)
		return 0;
	if (!vb->secret_id && !vb->secret_id_env && !vb->secret_id_file)
		return cfg_fail(err, cfg_get(opts, "secret_id_wrapped"),
				"'secret_id_wrapped: true' needs 'secret_id' or 'secret_id_file' (the wrapping token)");
	if (wp && *wp) {
		if (wp[0] == '/' || strpbrk(wp, " \t\r\n"))
			return cfg_fail(err, cfg_get(opts, "secret_id_wrap_path"),
					"'secret_id_wrap_path' '%s' must be a Vault path such as "
					"auth/approle/role/NAME/secret-id", wp);
		vb->wrap_path = strdup(wp);
	} else {
		/* login_path is "/v1/auth/MOUNT/login" */
		mount = vb->login_path + strlen("/v1/auth/");
		if (asprintf(&vb->wrap_path, "auth/%.*s/role/*/secret-id",
			     (int)(strlen(mount) - strlen("/login")), mount) < 0)
			vb->wrap_path = NULL;
	}
	return vb->wrap_path ? 0 : -ENOMEM;
}

/*
 * auth_method and the keys of each method.  AppRole's own keys are read
 * by vault_setup_approle() (creds.c) first; this adds the wrapping options.
 */
int vault_setup_login(struct vault_backend *vb, const struct cfg_node *opts, const char *method,
		      const char *client_cert, const char *client_key, struct why *err)
{
	const struct cfg_node *mn = cfg_get(opts, "auth_method");
	const char *mount = NULL, *role = NULL, *jwt = NULL;
	int r;

	if (!strcmp(method, "approle"))
		return wrap_options(vb, opts, err);
	if (cfg_get(opts, "secret_id_wrapped") || cfg_get(opts, "secret_id_wrap_path"))
		return cfg_fail(err, cfg_get(opts, "secret_id_wrapped") ? cfg_get(opts, "secret_id_wrapped")
									 : cfg_get(opts, "secret_id_wrap_path"),
				"secret_id wrapping is for 'auth_method: approle'");
	if (!strcmp(method, "cert"))
		vb->method = AUTH_CERT;
	else if (!strcmp(method, "jwt"))
		vb->method = AUTH_JWT;
	else if (!strcmp(method, "kubernetes"))
		vb->method = AUTH_KUBERNETES;
	else
		return cfg_fail(err, mn, "'auth_method' must be token, approle, cert, jwt or kubernetes, not '%s'",
				method);
	if ((r = cfg_get_str(opts, "auth_mount", &mount, err)) || (r = cfg_get_str(opts, "auth_role", &role, err)) ||
	    (r = cfg_get_str(opts, "jwt_file", &jwt, err)))
		return r;
	if (!mount || !*mount)
		mount = method;
	while (*mount == '/')
		mount++;
	if (!mount_ok(mount))
		return cfg_fail(err, cfg_get(opts, "auth_mount"), "'auth_mount' '%s' is not a mount path", mount);
	if (!(vb->auth_mount = strdup(mount)) || asprintf(&vb->login_path, "/v1/auth/%s/login", mount) < 0) {
		vb->login_path = NULL;
		return -ENOMEM;
	}
	if (role && *role && (strlen(role) > 256 || strpbrk(role, "\"\\\r\n")))
		return cfg_fail(err, cfg_get(opts, "auth_role"), "'auth_role' is not a role name");
	if (role && *role && !(vb->auth_role = strdup(role)))
		return -ENOMEM;
	vb->tok_where = strdup(method);

	if (vb->method == AUTH_CERT) {
		if (jwt)
			return cfg_fail(err, cfg_get(opts, "jwt_file"), "'jwt_file' is for auth_method jwt or kubernetes");
		if (!client_cert || !*client_cert || !client_key || !*client_key)
			return cfg_fail(err, mn, "'auth_method: cert' needs 'client_cert' and 'client_key' "
						 "(or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)");
		vb->cert_file = path_expand_home(client_cert);
		vb->key_file = path_expand_home(client_key);
		return vb->cert_file && vb->key_file ? 0 : -ENOMEM;
	}
	if (!vb->auth_role)
		return cfg_fail(err, mn, "'auth_method: %s' needs 'auth_role' (the Vault role to log in as)", method);
	if (!jwt || !*jwt) {
		if (vb->method == AUTH_JWT)
			return cfg_fail(err, mn, "'auth_method: jwt' needs 'jwt_file' (the file holding the JWT)");
		jwt = K8S_TOKEN_FILE;
	}
	if (!(vb->jwt_file = path_expand_home(jwt)))
		return -ENOMEM;
	if (access(vb->jwt_file, R_OK) != 0)	/* may be projected later: read at each login */
		log_warn("vault: jwt_file '%s': %s", vb->jwt_file, strerror(errno));
	return 0;
}

/* ---- logins ---- */

/* What the client certificate files are now: identity, size, mtime. */
static void cert_stamp(const struct vault_backend *vb, char *buf, size_t len)
{
	struct stat a, b;

	buf[0] = 0;
	if (stat(vb->cert_file, &a) || stat(vb->key_file, &b))
		return;
	snprintf(buf, len, "%llx:%llx:%lld:%ld.%ld/%llx:%llx:%lld:%ld.%ld", (unsigned long long)a.st_dev,
		 (unsigned long long)a.st_ino, (long long)a.st_size, (long)a.st_mtim.tv_sec, a.st_mtim.tv_nsec,
		 (unsigned long long)b.st_dev, (unsigned long long)b.st_ino, (long long)b.st_size,
		 (long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
}

/*
 * TLS certificate login.  The certificate only counts in the handshake,
 * so the login runs on a new connection without TLS session resumption:
 * libcurl loads client_cert and client_key from their files for it, and a
 * renewed certificate is used from the next login on.
 */
int vault_cert_login(struct vault_backend *vb, uint64_t deadline, struct why *why)
{
	struct secbuf *body = secbuf_new(320);
	char stamp[sizeof(vb->cert_stamp)];

	cert_stamp(vb, stamp, sizeof(stamp));
	if (vb->cert_stamp[0] && strcmp(stamp, vb->cert_stamp))
		log_info("vault: the client certificate '%s' or its key '%s' changed: logging in with the "
			 "new ones", vb->cert_file, vb->key_file);
	memcpy(vb->cert_stamp, stamp, sizeof(stamp));
	if (!body || sjson_raw(body, "{") ||
	    (vb->auth_role && (sjson_raw(body, "\"name\":") ||
			       sjson_write_str(body, vb->auth_role, strlen(vb->auth_role)))) ||
	    sjson_raw(body, "}")) {
		secbuf_free(body);
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	}
	return vault_login_post(vb, body, 1, deadline, why);
}

/* JWT role and Kubernetes login: {"role", "jwt"}, the JWT read from its
 * file at every login (a projected token rotates under us). */
int vault_jwt_login(struct vault_backend *vb, uint64_t deadline, struct why *why)
{
	struct secbuf *jwt = NULL, *body = NULL;
	struct why msg = WHY_INIT;
	int r;

	if ((r = vault_read_secret_file(vb->jwt_file, "Vault jwt_file", &jwt, 0, &msg)))
		return why_fail(why, r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EDENIED, "%s login: jwt_file: %s",
				vault_method_name(vb->method), msg.msg);
	body = secbuf_new(secbuf_len(jwt) + strlen(vb->auth_role) * 6 + 64);
	if (!body || sjson_raw(body, "{\"role\":") || sjson_write_str(body, vb->auth_role, strlen(vb->auth_role)) ||
	    sjson_raw(body, ",\"jwt\":") || sjson_write_str(body, secbuf_str(jwt), secbuf_len(jwt)) ||
	    sjson_raw(body, "}")) {
		secbuf_free(jwt);
		secbuf_free(body);
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	}
	secbuf_free(jwt);
	return vault_login_post(vb, body, 0, deadline, why);
}

/* ---- response-wrapped secret_id ---- */

/* POST path with body {"token": wrap}; the parsed answer in *root. */
static int wrap_call(struct vault_backend *vb, const char *path, const struct secbuf *hdr,
		     const struct secbuf *wrap, uint64_t deadline, struct json_object **root,
		     struct why *why)
{
	struct secbuf *body = NULL;
	struct vcall c;
	int r;

	*root = NULL;
	if (!hdr) {
		body = secbuf_new(secbuf_len(wrap) + 32);
		if (!body || sjson_raw(body, "{\"token\":") ||
		    sjson_write_str(body, secbuf_str(wrap), secbuf_len(wrap)) || sjson_raw(body, "}")) {
			secbuf_free(body);
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		}
	}
	if ((r = vcall_init(&c, "POST", strdup(path), body, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	c.auth = 0;
	c.token = hdr;
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (!vault_is_success(c.req.status)) {
		r = vault_status_fail(vb, &c, why);
		if (c.req.status == 400)	/* "wrapping token is not valid or does not exist" */
			r = -BACKEND_EDENIED;
	} else {
		r = vault_parse_resp(vb, &c, root, why);
	}
	vcall_release(&c);
	return r;
}

/*
 * Look the wrapping token up first: it must have been made where a
 * secret_id is made (wrap_path), or someone who intercepted the real one
 * may have handed us a token of their own.  Then unwrap it (single use)
 * and keep the secret_id for later logins; a new wrapping token in the
 * file is unwrapped in its turn.
 */
int vault_unwrap_secret_id(struct vault_backend *vb, const struct secbuf *wrap, uint64_t deadline,
			   struct secbuf **out, struct why *why)
{
	unsigned char h[32];
	struct json_object *root = NULL;
	struct secbuf *hdr = NULL;
	struct why msg = WHY_INIT;
	const char *cp, *sid;
	size_t i;
	int r;

	*out = NULL;
	for (i = 0; i < secbuf_len(wrap); i++)	/* it becomes a header value */
		if ((unsigned char)secbuf_str(wrap)[i] <= 0x20 || (unsigned char)secbuf_str(wrap)[i] >= 0x7f)
			return why_fail(why, -BACKEND_EDENIED, "AppRole secret_id: the wrapping token is not a token");
	crypto_generichash(h, sizeof(h), (const unsigned char *)secbuf_str(wrap), secbuf_len(wrap), NULL, 0);
	if (vb->unwrapped && sodium_memcmp(h, vb->wrap_seen, sizeof(h)) == 0) {
		if (!(*out = secbuf_dup(secbuf_str(vb->unwrapped), secbuf_len(vb->unwrapped))))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		return 0;
	}
	if ((r = wrap_call(vb, "/v1/sys/wrapping/lookup", NULL, wrap, deadline, &root, &msg))) {
		why_fail(why, r, "AppRole secret_id: wrapping token lookup: %s", msg.msg);
		goto out;
	}
	cp = sjson_str(sjson_obj(root, "data"), "creation_path");
	if (!cp || fnmatch(vb->wrap_path, cp, 0) != 0) {
		r = why_fail(why, -BACKEND_EDENIED, "AppRole secret_id: the wrapping token was made at '%s', not "
			     "'%s': not unwrapping it", cp ? cp : "(none)", vb->wrap_path);
		goto out;
	}
	sjson_put(root);
	root = NULL;
	hdr = secbuf_new(strlen(HDR_TOKEN) + secbuf_len(wrap) + 1);
	if (!hdr || secbuf_append(hdr, HDR_TOKEN, strlen(HDR_TOKEN)) ||
	    secbuf_append(hdr, secbuf_str(wrap), secbuf_len(wrap))) {
		r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		goto out;
	}
	if ((r = wrap_call(vb, "/v1/sys/wrapping/unwrap", hdr, wrap, deadline, &root, &msg))) {
		why_fail(why, r, "AppRole secret_id: unwrap: %s", msg.msg);
		goto out;
	}
	sid = sjson_str(sjson_obj(root, "data"), "secret_id");
	if (!sid || !*sid) {
		r = why_fail(why, -BACKEND_EUNAVAIL, "AppRole secret_id: the unwrapped answer has no data.secret_id");
		goto out;
	}
	secbuf_free(vb->unwrapped);
	vb->unwrapped = secbuf_dup(sid, strlen(sid));
	*out = secbuf_dup(sid, strlen(sid));
	if (!vb->unwrapped || !*out) {
		secbuf_free(*out);
		*out = NULL;
		r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		goto out;
	}
	memcpy(vb->wrap_seen, h, sizeof(h));
	log_info("vault: AppRole secret_id unwrapped from a wrapping token made at '%s'", vb->wrap_path);
out:
	sodium_memzero(h, sizeof(h));
	sjson_put(root);
	secbuf_free(hdr);
	return r;
}
