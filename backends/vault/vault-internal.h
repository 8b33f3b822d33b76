#ifndef VAULT_INTERNAL_H
#define VAULT_INTERNAL_H

/*
 * What the files of backends/vault/ share: the backend's state, one
 * request (struct vcall), and the functions one file calls in another.
 * For backends/vault/ sources (and the Vault unit tests, for the pure
 * helpers at the end) only.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/backend-internal.h"
#include "backends/vault/vhttp.h"
#include "lib/why.h"

struct audit;
struct carry;
struct carry_rd;
struct cfg_node;
struct vlease;
struct vcert;
struct vault_key;
struct json_object;
struct secbuf;

#define DEFAULT_ADDR "https://127.0.0.1:8200"
#define DEFAULT_MOUNT "secret"
#define DEFAULT_TIMEOUT_MS 5000u
#define DEFAULT_RETRIES 2u
#define MAX_SECRET_RESP (1u << 20)
#define MAX_LIST_RESP (4u << 20)
#define BACKOFF_BASE_MS 100u
#define BACKOFF_CAP_MS 2000u
#define RENEW_MIN_WAIT_MS 250u
#define RENEW_MAX_BACKOFF_MS 60000u
#define HDR_TOKEN "X-Vault-Token: "
#define NO_WORK UINT64_MAX

enum auth_method { AUTH_TOKEN, AUTH_APPROLE, AUTH_CERT, AUTH_JWT, AUTH_KUBERNETES };
#define K8S_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
enum tok_source { TOK_NONE, TOK_LITERAL, TOK_ENV, TOK_FILE };

struct vault_backend {
	struct backend base;
	struct vhttp *http;
	char *addr;			/* as configured, for messages */
	char *mount;			/* "secret", "kv/prod": no '/' at either end */
	char *mount_enc;		/* URL-encoded per segment */
	char *ns_header;		/* "X-Vault-Namespace: ns1/" or NULL */
	uint64_t timeout_ms;
	unsigned int max_retries;

	pthread_mutex_t kv_lock;
	int kv_version;			/* 1 or 2; 0 = detect on first use */

	enum auth_method method;
	enum tok_source tok_source;
	char *tok_where;		/* where the token came from, for messages */
	char *tok_file;
	char *role_id;
	char *secret_id_env;		/* secret_id: env:NAME */
	char *secret_id_file;
	struct secbuf *secret_id;	/* a literal secret_id */
	char *login_path;		/* "/v1/auth/approle/login" */
	char *auth_mount;		/* "approle", "jwt", "team/k8s": the login's mount */
	char *auth_role;		/* jwt, kubernetes: role; cert: the certificate role's name */
	char *jwt_file;			/* jwt, kubernetes: read at every login */
	int secret_id_wrapped;		/* the secret_id source holds a wrapping token */
	char *wrap_path;		/* creation_path the wrapping token must have (glob) */
	unsigned char wrap_seen[32];	/* hash of the wrapping token last unwrapped */
	struct secbuf *unwrapped;	/* its secret_id (under login_lock) */
	char *cert_file, *key_file;	/* cert: client_cert, client_key */
	char cert_stamp[160];		/* cert: what the files were at the last login */

	pthread_rwlock_t tok_lock;
	struct secbuf *tok_hdr;		/* NULL = no token yet */
	unsigned long tok_gen;
	long long tok_ttl;		/* seconds; -1 unknown, 0 never expires */
	long long tok_full_ttl;		/* what a renewal normally grants */
	int tok_renewable;
	int tok_capped;			/* renewal granted less: max TTL is near */
	uint64_t tok_at;		/* vhttp_now_ms() when tok_ttl was learned */
	pthread_mutex_t login_lock;

	pthread_t renewer;
	int renewer_started;
	pthread_mutex_t r_lock;
	pthread_cond_t r_cond;
	int stopping;
	int kicked;			/* a new token: re-plan renewal now */

	struct audit *audit;
	char *source;

	/* lease.c: dynamic secrets */
	char **dyn;			/* dynamic_paths: prefixes of leased paths */
	size_t n_dyn;
	uint64_t lease_idle_ms;		/* lease_idle */
	int revoke_on_exit;
	int lease_daemon;		/* harombefs: leases are renewed and revoked */
	struct carry *carry;		/* harombefs: leases and token outlive a restart */
	unsigned long carry_ticket;
	struct vlease *adopt;		/* carried in, awaiting vault_leases_adopt() */
	uint64_t carry_tok_at;		/* the token state last carried */
	unsigned long carry_tok_gen;
	pthread_mutex_t lease_lock;
	pthread_cond_t lease_cond;
	struct vlease *leases;

	/* pki.c: certificates (under lease_lock, with lease_cond) */
	struct vcert *certs;
	struct vcert *cert_adopt;	/* carried in, awaiting vault_pki_adopt() */
	struct backend_hooks hooks;	/* the daemon's (backend.h), under lease_lock */
};

struct vcall {
	const char *method;
	char *path;			/* "/v1/...", owned */
	struct secbuf *body;		/* owned; NULL = none */
	const char *ctype;		/* header line; NULL = JSON */
	int auth;			/* send the token */
	const struct secbuf *token;	/* send this header line instead (unwrap) */
	int fresh;			/* a new connection, no TLS session reuse */
	size_t max_resp;
	struct vhttp_req req;
	int rc;				/* 0: req.status and req.resp are the answer */
	struct why why;
	unsigned int tries;
	int retry_kind;
};

enum { RETRY_NONE, RETRY_TRANSIENT, RETRY_REAUTH };

static inline struct vault_backend *vault_downcast(struct backend *be)
{
	return (struct vault_backend *)be;
}

/* ---- creds.c: where credentials come from (VAULT_TOKEN, token files, secret_id) ---- */

int vault_env_secret(const char *name, struct secbuf **out);
/* what names the file in a refusal (lib/trust.h): -EPERM when others can write it. */
int vault_read_secret_file(const char *path, const char *what, struct secbuf **out, int warn_mode,
			   struct why *why);
int vault_reread_token_file(struct vault_backend *vb, struct why *why);
int vault_setup_token(struct vault_backend *vb, const struct cfg_node *opts, struct why *err);
int vault_setup_approle(struct vault_backend *vb, const struct cfg_node *opts, const char *role_id,
			struct why *err);

/* ---- login.c: the token, AppRole login and re-login ---- */

/* Does this method log in (rather than take a token as given)? */
static inline int vault_logs_in(const struct vault_backend *vb)
{
	return vb->method != AUTH_TOKEN;
}
const char *vault_method_name(enum auth_method m);
/* Log in by the configured method (login_lock held or not needed). */
int vault_login(struct vault_backend *vb, uint64_t deadline, const char *action, struct why *why);
/* POST body to login_path without a token; take auth.client_token. */
int vault_login_post(struct vault_backend *vb, struct secbuf *body, int fresh, uint64_t deadline,
		     struct why *why);

int vault_token_set(struct vault_backend *vb, const unsigned char *tok, size_t len, long long ttl,
		    int renewable);
int vault_token_copy(struct vault_backend *vb, struct secbuf **out, unsigned long *gen);
void vault_audit_auth(struct vault_backend *vb, const char *action, int rc, const char *reason);
int vault_approle_login(struct vault_backend *vb, uint64_t deadline, const char *action,
			struct why *why);
int vault_ensure_token(struct vault_backend *vb, uint64_t deadline, struct why *why);
int vault_reauth(struct vault_backend *vb, unsigned long gen_used, uint64_t deadline,
		 struct why *why);

/* ---- auth.c: cert, jwt and kubernetes logins, wrapped secret_ids ---- */

int vault_setup_login(struct vault_backend *vb, const struct cfg_node *opts, const char *method,
		      const char *client_cert, const char *client_key, struct why *err);
int vault_cert_login(struct vault_backend *vb, uint64_t deadline, struct why *why);
int vault_jwt_login(struct vault_backend *vb, uint64_t deadline, struct why *why);
/* A wrapping token to the secret_id it wraps (cached per wrapping token). */
int vault_unwrap_secret_id(struct vault_backend *vb, const struct secbuf *wrap, uint64_t deadline,
			   struct secbuf **out, struct why *why);

/* ---- request.c: the request engine ---- */

void vault_run(struct vault_backend *vb, struct vcall *calls, size_t n, uint64_t deadline);
int vault_run_one(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why);
void vcall_release(struct vcall *c);
int vault_status_fail(struct vault_backend *vb, const struct vcall *c, struct why *why);
int vault_is_success(long s);
int vault_parse_resp(struct vault_backend *vb, const struct vcall *c, struct json_object **out,
		     struct why *why);
char *vault_encode_segments(const char *path);
char *vault_api_path(const struct vault_backend *vb, const char *infix, const char *path,
		     const char *suffix);
int vcall_init(struct vcall *c, const char *method, char *path, struct secbuf *body, size_t max);
int vault_run_ok(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why);

/* ---- kv.c: KV operations (the ops table points here) ---- */

int vault_kv_version(struct vault_backend *vb, uint64_t deadline, struct why *why);
int vault_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
		   int *rcs, struct why *whys);
int vault_get(struct backend *be, const char *key, struct secbuf **out, struct why *why);
int vault_fields(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
		 struct why *why);
int vault_set(struct backend *be, const char *key, const void *value, size_t len,
	      struct why *why);
int vault_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
		     const void *const *values, const size_t *lens, struct why *why);
int vault_del(struct backend *be, const char *key, struct why *why);
int vault_purge(struct backend *be, const char *key, struct why *why);
int vault_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
	       struct why *why);
int vault_meta(struct backend *be, const char *key, struct backend_meta *out,
	       struct why *why);

int vault_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
		       struct secbuf **outs, int *rcs, struct why *whys);
/* From memory alone (backend_try_get_many_for): live leases' and
 * certificates' fields; a KV key (which only a cache in front can hold)
 * would block. */
int vault_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
			   struct secbuf **outs, int *rcs, struct why *whys);
int vault_pick_field(struct json_object *data, const struct vault_key *k, struct secbuf **out,
		     struct why *why);

/* ---- lease.c: dynamic secrets ---- */

typedef void vault_lease_fn(const char *scope, const char *path, long long ttl_left, unsigned int renewals,
			    long long idle_s, void *arg);
int vault_is_dynamic(const struct vault_backend *vb, const char *path);
int vault_lease_get(struct vault_backend *vb, const char *scope, const struct vault_key *k,
		    uint64_t deadline, struct secbuf **out, struct why *why);
/* vault_lease_get() from a live lease alone: -BACKEND_EWOULDBLOCK when
 * none is (or one is being minted or renewed, or lease_lock is held). */
int vault_lease_try(struct vault_backend *vb, const char *scope, const struct vault_key *k,
		    struct secbuf **out, struct why *why);
uint64_t vault_lease_step(struct vault_backend *vb);
void vault_leases_close(struct vault_backend *vb);
void vault_leases_each(struct vault_backend *vb, vault_lease_fn *fn, void *arg);
/* At open: what the previous daemon carried (its login token is used at
 * once; its leases wait for vault_leases_adopt()). */
void vault_carry_load(struct vault_backend *vb);
void vault_leases_adopt(struct vault_backend *vb, backend_named_fn *named, void *arg);
/* Rewrite the carried section now (lease_lock held): after a change of
 * the certificates. */
void vault_carry_save(struct vault_backend *vb);
/* At close: is this a restart whose successor adopts what vb holds? */
int vault_carry_keep(struct vault_backend *vb);

/* Revoke a lease by id (sys/leases/revoke).  0 or the error. */
int vault_lease_revoke(struct vault_backend *vb, const char *id, struct why *why);

/* ---- pki.c: certificates (MOUNT/issue/ROLE?common_name=...), scope liveness ---- */

/* Is key a certificate request ("MOUNT/issue/ROLE?common_name=...[#field]")? */
int vault_is_pki(const char *key);
int vault_pki_get(struct vault_backend *vb, const char *scope, const char *key, uint64_t deadline,
		  struct secbuf **out, struct why *why);
/* vault_pki_get() from a certificate held alone: -BACKEND_EWOULDBLOCK
 * when none is (or it is being issued, or lease_lock is held). */
int vault_pki_try(struct vault_backend *vb, const char *scope, const char *key, struct secbuf **out,
		  struct why *why);
uint64_t vault_pki_step(struct vault_backend *vb);
void vault_pki_close(struct vault_backend *vb);
void vault_pki_each(struct vault_backend *vb, vault_lease_fn *fn, void *arg);
/* The carried certificates (lease.c's section, lease_lock held): append
 * them to sb (0 or -1 out of memory); read them from rd into cert_adopt;
 * take them over (as vault_leases_adopt(), whose lock is held). */
int vault_pki_save(struct vault_backend *vb, struct secbuf *sb);
void vault_pki_load(struct vault_backend *vb, struct carry_rd *rd);
void vault_pki_adopt(struct vault_backend *vb, backend_named_fn *named, void *arg);
void vault_set_hooks(struct backend *be, const struct backend_hooks *hooks);
/* Is scope in use?  1 alive (renew; *used_at becomes now), 0 idle past
 * lease_idle since *used_at, -1 gone (its container's cgroup went away).
 * lease_lock held. */
int vault_scope_live(struct vault_backend *vb, const char *scope, uint64_t *used_at, uint64_t now);
/* How often a scope that the daemon says is alive is asked again. */
#define LIVE_POLL_MS 1000u
/* Tell the daemon that scope's value under key changed (lease_lock NOT held). */
void vault_tell_changed(struct vault_backend *vb, const char *scope, const char *key);

/* ---- renew.c: the renewal thread ---- */

void *vault_renewer_main(void *arg);

/* ---- parse.c: pure helpers ---- */

/* A parsed key: "path", "path#field", "path@N", "path@N#field", and
 * "path?version=N" in place of "path@N". */
struct vault_key {
	char path[513];
	char field[513];	/* "" = none given */
	long long version;	/* 0 = latest */
	int whole;		/* "path#": every field as one JSON object (reads only) */
};

/* 0, or -EINVAL with why.  Refuses a whole-secret key ("path#"). */
int vault_key_parse(const char *key, struct vault_key *k, struct why *why);
/* vault_key_parse() for reads: also takes "path#" (k->whole, backend.h). */
int vault_key_parse_read(const char *key, struct vault_key *k, struct why *why);

/* RFC 3339 ("2018-03-22T02:24:06.945319214Z", "...-04:00") to Unix
 * seconds; 0 and *out, or -EINVAL. */
int vault_parse_time(const char *s, long long *out);

/* Go's strconv.ParseBool, as the vault CLI reads VAULT_SKIP_VERIFY:
 * 1 or 0, or -EINVAL. */
int vault_parse_bool(const char *s);

/* Is the host of a URL a loopback address (localhost, 127/8, ::1)? */
int vault_url_is_loopback(const char *url);

#endif
