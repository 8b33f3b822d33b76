#include "lib/compat.h"
#include "backends/backend.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "backends/backend-internal.h"
#include "backends/vault/sjson.h"
#include "backends/vault/vault-internal.h"
#include "backends/vault/vhttp.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/fileio.h"

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
 */

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

enum auth_method { AUTH_TOKEN, AUTH_APPROLE };
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
};

struct vcall {
	const char *method;
	char *path;			/* "/v1/...", owned */
	struct secbuf *body;		/* owned; NULL = none */
	const char *ctype;		/* header line; NULL = JSON */
	int auth;			/* send the token */
	size_t max_resp;
	struct vhttp_req req;
	int rc;				/* 0: req.status and req.resp are the answer */
	struct why why;
	unsigned int tries;
	int retry_kind;
};

enum { RETRY_NONE, RETRY_TRANSIENT, RETRY_REAUTH };

static struct vault_backend *vault_downcast(struct backend *be)
{
	return (struct vault_backend *)be;
}

/* ---- pure helpers (vault-internal.h) ---- */

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int vault_key_parse(const char *key, struct vault_key *k, struct why *why)
{
	const char *hash = strchr(key, '#');
	size_t plen = hash ? (size_t)(hash - key) : strlen(key);
	char *at, *q;

	memset(k, 0, sizeof(*k));
	if (!plen || plen >= sizeof(k->path))
		return why_fail(why, -BACKEND_EINVAL, "key '%s' has no usable path", key);
	memcpy(k->path, key, plen);
	if (hash) {
		if (!hash[1] || strlen(hash + 1) >= sizeof(k->field))
			return why_fail(why, -BACKEND_EINVAL, "key '%s' has an empty field after '#'", key);
		snprintf(k->field, sizeof(k->field), "%s", hash + 1);
	}
	q = strstr(k->path, "?version=");
	at = strrchr(k->path, '@');
	if (q) {
		if (!all_digits(q + 9))
			return why_fail(why, -BACKEND_EINVAL, "key '%s': '?version=' needs a number", key);
		k->version = strtoll(q + 9, NULL, 10);
		*q = 0;
	} else if (at && all_digits(at + 1)) {
		k->version = strtoll(at + 1, NULL, 10);
		*at = 0;
	}
	if (!k->path[0] || k->path[strlen(k->path) - 1] == '/')
		return why_fail(why, -BACKEND_EINVAL, "key '%s' has no usable path", key);
	if (k->version < 0 || k->version > 1000000000LL)
		return why_fail(why, -BACKEND_EINVAL, "key '%s': version out of range", key);
	if ((q || at) && k->version == 0 && (q || all_digits(at + 1)))
		return why_fail(why, -BACKEND_EINVAL, "key '%s': versions start at 1", key);
	return 0;
}

int vault_parse_time(const char *s, long long *out)
{
	struct tm tm;
	const char *p;
	long long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -EINVAL;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 3600LL + mm * 60LL) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (long long)t - off;
	return 0;
}

int vault_parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -EINVAL;
}

int vault_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int lo = 0;

	if (!u)
		return 0;
	if (!curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_HOST, &host, 0) && host) {
		struct in_addr a4;
		struct in6_addr a6;
		size_t len = strlen(host);

		if (!strcasecmp(host, "localhost"))
			lo = 1;
		else if (inet_pton(AF_INET, host, &a4) == 1)
			lo = (ntohl(a4.s_addr) >> 24) == 127;
		else if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
			host[len - 1] = 0;
			lo = inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
		}
	}
	curl_free(host);
	curl_url_cleanup(u);
	return lo;
}

/* ---- secrets from the environment and from files ---- */

/*
 * VAULT_TOKEN (and `env:NAME` references) are copied into locked memory once
 * per process and wiped from the environment, so no child ever inherits
 * them; a later open (a config reload) reuses the copy.
 */
static struct {
	pthread_mutex_t lock;
	struct {
		char *name;
		struct secbuf *value;
	} e[8];
	size_t n;
} stash = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* 0 and *out (NULL when the variable is unset or empty), or -ENOMEM. */
static int env_secret(const char *name, struct secbuf **out)
{
	size_t i;
	char *v;
	int r = 0;

	*out = NULL;
	pthread_mutex_lock(&stash.lock);
	for (i = 0; i < stash.n; i++) {
		if (!strcmp(stash.e[i].name, name)) {
			size_t len;
			const unsigned char *d = secbuf_data(stash.e[i].value, &len);

			if (len && !(*out = secbuf_dup(d, len)))
				r = -ENOMEM;
			goto out;
		}
	}
	v = getenv(name);
	if (!v || !*v)
		goto out;
	if (stash.n == ARRAY_SIZE(stash.e) || !(stash.e[stash.n].name = strdup(name)) ||
	    !(stash.e[stash.n].value = secbuf_dup(v, strlen(v))) || !(*out = secbuf_dup(v, strlen(v)))) {
		if (stash.n < ARRAY_SIZE(stash.e)) {
			free(stash.e[stash.n].name);
			secbuf_free(stash.e[stash.n].value);
			stash.e[stash.n].name = NULL;
			stash.e[stash.n].value = NULL;
		}
		r = -ENOMEM;
		goto out;
	}
	stash.n++;
	sodium_memzero(v, strlen(v));
	unsetenv(name);
out:
	pthread_mutex_unlock(&stash.lock);
	return r;
}

/* The whole file, whitespace-trimmed, into locked memory. */
static int read_secret_file(const char *path, struct secbuf **out, int warn_mode, struct why *why)
{
	struct secbuf *sb = NULL;
	struct stat st;
	const unsigned char *d;
	size_t len, a, b;
	int fd, r = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		why_set(why, "cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		r = why_fail(why, -EINVAL, "'%s' is not a regular file of at most 64 KiB", path);
		goto out;
	}
	if (warn_mode && (st.st_mode & 077))
		log_warn("vault: '%s' is readable by group or others (mode %04o); make it 0600", path,
			 (unsigned)(st.st_mode & 07777));
	if ((r = secbuf_read_fd(fd, 65536, &sb))) {
		if (r == -ENOMEM)
			why_set(why, "locked memory exhausted");
		else if (r == -EFBIG)
			r = why_fail(why, -EINVAL, "'%s' grew past 64 KiB", path);
		else
			why_set(why, "cannot read '%s': %s", path, strerror(-r));
		goto out;
	}
	d = secbuf_data(sb, &len);
	for (a = 0; a < len && isspace(d[a]); a++)
		;
	for (b = len; b > a && isspace(d[b - 1]); b--)
		;
	if (a == b) {
		r = why_fail(why, -ENOENT, "'%s' is empty", path);
		goto out;
	}
	if (!(*out = secbuf_dup(d + a, b - a)))
		r = why_fail(why, -ENOMEM, "locked memory exhausted");
out:
	secbuf_free(sb);
	close(fd);
	return r;
}


/* ---- the token ---- */

static int token_set(struct vault_backend *vb, const unsigned char *tok, size_t len, long long ttl,
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

static int token_copy(struct vault_backend *vb, struct secbuf **out, unsigned long *gen)
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

static void audit_auth(struct vault_backend *vb, const char *action, int rc, const char *reason)
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

/* ---- requests ---- */

static int transient_status(long s)
{
	return s == 412 || s == 429 || (s >= 500 && s <= 599 && s != 501);
}

static uint64_t backoff_ms(unsigned int round)
{
	uint64_t base = BACKOFF_BASE_MS << (round < 5 ? round : 5);

	if (base > BACKOFF_CAP_MS)
		base = BACKOFF_CAP_MS;
	return base / 2 + randombytes_uniform((uint32_t)(base / 2 + 1));
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void fail_transport(struct vault_backend *vb, struct vcall *c)
{
	const char *err = c->req.err[0] ? c->req.err : "unknown error";
	char tries[32] = "";

	if (c->tries > 1)
		snprintf(tries, sizeof(tries), " (%u attempts)", c->tries);
	switch (c->req.fail) {
	case VHTTP_TIMEOUT:
		c->rc = why_fail(&c->why, -BACKEND_ETIMEDOUT, "no answer from %s within %llu ms (%s %s)%s",
				 vb->addr, (unsigned long long)vb->timeout_ms, c->method, c->path, tries);
		break;
	case VHTTP_NOMEM:
		c->rc = why_fail(&c->why, -BACKEND_ENOMEM, "locked memory exhausted");
		break;
	case VHTTP_CONNECT:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "cannot reach %s: %s%s", vb->addr, err, tries);
		break;
	case VHTTP_IO:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "%s %s%s: connection failed or response truncated: %s%s",
				 c->method, vb->addr, c->path, err, tries);
		break;
	case VHTTP_TLS:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "TLS with %s failed: %s", vb->addr, err);
		break;
	default:
		c->rc = why_fail(&c->why, -BACKEND_EUNAVAIL, "%s %s%s: %s", c->method, vb->addr, c->path, err);
	}
}

static int ensure_token(struct vault_backend *vb, uint64_t deadline, struct why *why);
static int reauth(struct vault_backend *vb, unsigned long gen_used, uint64_t deadline,
		  struct why *why);

/*
 * Run calls in parallel until each has an answer: retries (jittered
 * exponential backoff) on connection failures, 412, 429 and 5xx except
 * 501, at most max_retries each; one re-login (AppRole) or token file
 * re-read when Vault says 403; never past the deadline.  Afterwards each
 * call has rc != 0 with why, or rc == 0 and the HTTP answer in req.
 */
static void vault_run(struct vault_backend *vb, struct vcall *calls, size_t n, uint64_t deadline)
{
	struct vhttp_req **batch = calloc(n + 1, sizeof(*batch));
	struct vcall **todo = calloc(n + 1, sizeof(*todo)), **again = calloc(n + 1, sizeof(*again));
	struct secbuf *tok = NULL;
	unsigned long gen = 0;
	unsigned int round = 0;
	size_t ntodo = 0, nagain, i;
	int need_auth = 0, reauthed = 0, r;

	for (i = 0; i < n; i++) {
		calls[i].rc = 0;
		calls[i].tries = 0;
		calls[i].why.msg[0] = 0;
		calls[i].req.resp = NULL;
		calls[i].req.status = 0;
		need_auth |= calls[i].auth;
	}
	if (!batch || !todo || !again) {
		for (i = 0; i < n; i++)
			calls[i].rc = why_fail(&calls[i].why, -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	if (need_auth) {
		struct why w = { "" };

		r = ensure_token(vb, deadline, &w);
		for (i = 0; i < n && r; i++)
			if (calls[i].auth) {
				calls[i].rc = r;
				calls[i].why = w;
			}
	}
	for (i = 0; i < n; i++)
		if (!calls[i].rc)
			todo[ntodo++] = &calls[i];

	while (ntodo) {
		int transient = 0, want_reauth = 0;

		secbuf_free(tok);
		tok = NULL;
		if (need_auth && (r = token_copy(vb, &tok, &gen))) {
			for (i = 0; i < ntodo; i++)
				todo[i]->rc = why_fail(&todo[i]->why, r, "locked memory exhausted");
			break;
		}
		for (i = 0; i < ntodo; i++) {
			struct vcall *c = todo[i];

			c->req.method = c->method;
			c->req.path = c->path;
			c->req.token = c->auth ? tok : NULL;
			c->req.ns_header = vb->ns_header;
			c->req.content_type = c->ctype;
			c->req.body = c->body;
			c->req.max_resp = c->max_resp;
			c->req.deadline_ms = deadline;
			c->tries++;
			c->retry_kind = RETRY_NONE;
			batch[i] = &c->req;
		}
		vhttp_run(vb->http, batch, ntodo);

		nagain = 0;
		for (i = 0; i < ntodo; i++) {
			struct vcall *c = todo[i];

			if (c->req.fail != VHTTP_OK) {
				if ((c->req.fail == VHTTP_CONNECT || c->req.fail == VHTTP_IO) &&
				    c->tries <= vb->max_retries)
					c->retry_kind = RETRY_TRANSIENT;
				else
					fail_transport(vb, c);
			} else if (transient_status(c->req.status) && c->tries <= vb->max_retries) {
				c->retry_kind = RETRY_TRANSIENT;
			} else if (c->req.status == 403 && c->auth && !reauthed &&
				   (vb->method == AUTH_APPROLE || vb->tok_source == TOK_FILE)) {
				c->retry_kind = RETRY_REAUTH;
			}
			if (c->retry_kind != RETRY_NONE)
				again[nagain++] = c;
			transient |= c->retry_kind == RETRY_TRANSIENT;
			want_reauth |= c->retry_kind == RETRY_REAUTH;
		}
		if (want_reauth) {
			struct why w = { "" };

			reauthed = 1;
			if (reauth(vb, gen, deadline, &w) != 0) {
				log_warn("vault: token refused (HTTP 403) and no new one: %s", w.msg);
				for (i = 0; i < nagain; i++)
					if (again[i]->retry_kind == RETRY_REAUTH)
						again[i]->retry_kind = RETRY_NONE;	/* the 403 stands */
			}
		}
		if (transient) {
			uint64_t delay = backoff_ms(round);

			if (vhttp_now_ms() + delay >= deadline) {
				for (i = 0; i < nagain; i++) {
					if (again[i]->retry_kind != RETRY_TRANSIENT)
						continue;
					again[i]->retry_kind = RETRY_NONE;
					if (again[i]->req.fail != VHTTP_OK)
						fail_transport(vb, again[i]);
				}
			} else {
				sleep_ms(delay);
			}
		}
		ntodo = 0;
		for (i = 0; i < nagain; i++) {
			if (again[i]->retry_kind == RETRY_NONE)
				continue;
			secbuf_free(again[i]->req.resp);
			again[i]->req.resp = NULL;
			todo[ntodo++] = again[i];
		}
		round++;
	}
out:
	secbuf_free(tok);
	free(batch);
	free(todo);
	free(again);
}

/* One call: its transport error (0 when an HTTP answer came), with why. */
static int vault_run_one(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why)
{
	vault_run(vb, c, 1, deadline);
	if (c->rc && why)
		*why = c->why;
	return c->rc;
}

static void vcall_release(struct vcall *c)
{
	free(c->path);
	secbuf_free(c->body);
	secbuf_free(c->req.resp);
	c->path = NULL;
	c->body = NULL;
	c->req.resp = NULL;
}

/* Vault's errors[] joined with "; " (error text names paths and causes,
 * never values). */
static void error_text(const struct secbuf *resp, char *buf, size_t len)
{
	struct json_object *root = NULL, *errs;
	char msg[64];
	size_t i, n, off = 0;

	buf[0] = 0;
	if (!resp || !secbuf_len(resp))
		return;
	if (sjson_parse(secbuf_str(resp), secbuf_len(resp), &root, msg, sizeof(msg)) != 0) {
		snprintf(buf, len, "response is not JSON");
		return;
	}
	errs = sjson_obj(root, "errors");
	if (errs && json_object_is_type(errs, json_type_array)) {
		n = json_object_array_length(errs);
		for (i = 0; i < n && off + 1 < len; i++) {
			struct json_object *e = json_object_array_get_idx(errs, i);

			if (e && json_object_is_type(e, json_type_string))
				off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "; " : "",
							json_object_get_string(e));
		}
	}
	sjson_put(root);
}

/* The backend error for a final HTTP answer that is not a success. */
static int status_fail(struct vault_backend *vb, const struct vcall *c, struct why *why)
{
	long s = c->req.status;
	char text[160];
	int rc;

	error_text(c->req.resp, text, sizeof(text));
	if (s == 307 || s == 308)
		snprintf(text, sizeof(text), "redirected to another node (HA standby); "
					     "redirects are disabled");
	else if (s == 501 && !text[0])
		snprintf(text, sizeof(text), "Vault is not initialized");
	switch (s) {
	case 400:
		rc = -BACKEND_EINVAL;
		break;
	case 401:
	case 403:
		rc = -BACKEND_EDENIED;
		break;
	case 404:
		rc = -BACKEND_ENOTFOUND;
		break;
	case 405:
		rc = -BACKEND_ENOTSUP;
		break;
	default:
		rc = -BACKEND_EUNAVAIL;
	}
	return why_fail(why, rc, "%s %s%s: HTTP %ld%s%s", c->method, vb->addr, c->path, s, text[0] ? ": " : "",
			text);
}

static int is_success(long s)
{
	return s >= 200 && s < 300;
}

/* Parse a response that may hold secrets. */
static int parse_resp(struct vault_backend *vb, const struct vcall *c, struct json_object **out,
		      struct why *why)
{
	char msg[96];

	if (!c->req.resp || !secbuf_len(c->req.resp))
		return why_fail(why, -BACKEND_EUNAVAIL, "%s %s%s: HTTP %ld with an empty body", c->method,
				vb->addr, c->path, c->req.status);
	if (sjson_parse(secbuf_str(c->req.resp), secbuf_len(c->req.resp), out, msg, sizeof(msg)) != 0)
		return why_fail(why, -BACKEND_EUNAVAIL, "%s %s%s: malformed JSON in the response (%s)", c->method,
				vb->addr, c->path, msg);
	return 0;
}

/* path with each '/'-separated segment URL-encoded ("" stays ""). */
static char *encode_segments(const char *path)
{
	size_t cap = strlen(path) * 3 + 1;
	char *out = malloc(cap), *o = out;
	const char *seg = path;

	if (!out)
		return NULL;
	*o = 0;
	while (*seg) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		char *e = curl_easy_escape(NULL, seg, (int)len);

		if (!e) {
			free(out);
			return NULL;
		}
		o += snprintf(o, cap - (size_t)(o - out), "%s%s", o == out ? "" : "/", e);
		curl_free(e);
		seg += len;
		if (*seg == '/')
			seg++;
	}
	return out;
}

/* "/v1/<mount>[/<infix>][/<path>]<suffix>", path segments URL-encoded. */
static char *api_path(const struct vault_backend *vb, const char *infix, const char *path,
		      const char *suffix)
{
	char *enc = encode_segments(path), *out = NULL;

	if (enc && asprintf(&out, "/v1/%s%s%s%s%s%s", vb->mount_enc, infix ? "/" : "", infix ? infix : "",
			    *enc ? "/" : "", enc, suffix) < 0)
		out = NULL;
	free(enc);
	return out;
}

static int call_init(struct vcall *c, const char *method, char *path, struct secbuf *body, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->path = path;
	c->body = body;
	c->auth = 1;
	c->max_resp = max;
	return path ? 0 : -BACKEND_ENOMEM;
}

/* ---- authentication ---- */

static int approle_login(struct vault_backend *vb, uint64_t deadline, const char *action,
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
		if ((r = env_secret(vb->secret_id_env, &sid))) {
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
			goto out;
		}
		if (!sid) {
			r = why_fail(why, -BACKEND_EDENIED, "AppRole secret_id: %s is not set", vb->secret_id_env);
			goto out;
		}
	} else if (vb->secret_id_file) {
		if ((r = read_secret_file(vb->secret_id_file, &sid, 0, &msg))) {
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
	if ((r = call_init(&c, "POST", strdup(vb->login_path), body, MAX_SECRET_RESP))) {
		body = NULL;
		why_fail(why, r, "out of memory");
		goto out;
	}
	body = NULL;
	c.auth = 0;
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (!is_success(c.req.status)) {
		r = status_fail(vb, &c, why);
		if (c.req.status == 400)	/* "invalid role or secret ID" */
			r = -BACKEND_EDENIED;
	} else if (!(r = parse_resp(vb, &c, &root, why))) {
		auth = sjson_obj(root, "auth");
		tok = sjson_str(auth, "client_token");
		if (!tok)
			r = why_fail(why, -BACKEND_EUNAVAIL, "AppRole login at %s: no auth.client_token in the answer",
				     vb->addr);
		else if ((r = token_set(vb, (const unsigned char *)tok, strlen(tok),
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
	audit_auth(vb, action, r, why ? why->msg : NULL);
	return r;
}

/* Re-read the token file; -EDENIED when it holds nothing new. */
static int reread_token_file(struct vault_backend *vb, struct why *why)
{
	struct secbuf *t = NULL;
	struct why msg = WHY_INIT;
	int r, same = 0;

	if ((r = read_secret_file(vb->tok_file, &t, 0, &msg)))
		return why_fail(why, r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EDENIED, "token file: %s", msg.msg);
	pthread_rwlock_rdlock(&vb->tok_lock);
	if (vb->tok_hdr && secbuf_len(vb->tok_hdr) == strlen(HDR_TOKEN) + secbuf_len(t) &&
	    sodium_memcmp(secbuf_str(vb->tok_hdr) + strlen(HDR_TOKEN), secbuf_str(t), secbuf_len(t)) == 0)
		same = 1;
	pthread_rwlock_unlock(&vb->tok_lock);
	if (same)
		r = why_fail(why, -BACKEND_EDENIED, "token file '%s' holds the same token", vb->tok_file);
	else if ((r = token_set(vb, secbuf_data(t, NULL), secbuf_len(t), -1, 0)))
		why_fail(why, r, "token file '%s' holds an unusable token", vb->tok_file);
	secbuf_free(t);
	return r;
}

static int ensure_token(struct vault_backend *vb, uint64_t deadline, struct why *why)
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
			r = approle_login(vb, deadline, "login", why);
		else if (vb->tok_source == TOK_FILE)
			r = reread_token_file(vb, why);
		else
			r = why_fail(why, -BACKEND_EDENIED, "no Vault token");
	}
	pthread_mutex_unlock(&vb->login_lock);
	return r;
}

/* Vault refused the token of generation gen_used: get another, once. */
static int reauth(struct vault_backend *vb, unsigned long gen_used, uint64_t deadline,
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
			r = approle_login(vb, deadline, "relogin", why);
		else
			r = reread_token_file(vb, why);
	}
	pthread_mutex_unlock(&vb->login_lock);
	return r;
}

/* ---- KV version of the mount ---- */

/* 1 or 2, or a negative backend error. */
static int kv_version(struct vault_backend *vb, uint64_t deadline, struct why *why)
{
	struct json_object *root = NULL, *data;
	struct vcall c;
	const char *type, *ver;
	char *path;
	int v;

	pthread_mutex_lock(&vb->kv_lock);
	if ((v = vb->kv_version))
		goto out;
	/* What `vault kv` does: ask the UI mounts endpoint for the mount's
	 * options; a 404 means a server too old to have it (version 1). */
	if (asprintf(&path, "/v1/sys/internal/ui/mounts/%s", vb->mount_enc) < 0)
		path = NULL;
	if (call_init(&c, "GET", path, NULL, MAX_SECRET_RESP)) {
		v = why_fail(why, -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	if ((v = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		v = 1;
	} else if (!is_success(c.req.status)) {
		v = status_fail(vb, &c, why);
		if (why && strlen(why->msg) + 40 < sizeof(why->msg))
			strcat(why->msg, " (detecting the KV version: see kv_version)");
	} else if (!(v = parse_resp(vb, &c, &root, why))) {
		data = sjson_obj(root, "data");
		type = sjson_str(data, "type");
		ver = sjson_str(sjson_obj(data, "options"), "version");
		if (type && strcmp(type, "kv") && strcmp(type, "generic"))
			v = why_fail(why, -BACKEND_EINVAL, "mount '%s' at %s is a '%s' engine, not KV", vb->mount,
				     vb->addr, type);
		else
			v = ver && !strcmp(ver, "2") ? 2 : 1;
	}
	vcall_release(&c);
	sjson_put(root);
	if (v > 0) {
		vb->kv_version = v;
		log_debug("vault: mount '%s' is KV version %d", vb->mount, v);
	}
out:
	pthread_mutex_unlock(&vb->kv_lock);
	return v;
}

/* ---- reading ---- */

static char *data_path(const struct vault_backend *vb, int kv, const struct vault_key *k)
{
	char q[40] = "";

	if (kv == 2 && k->version)
		snprintf(q, sizeof(q), "?version=%lld", k->version);
	return api_path(vb, kv == 2 ? "data" : NULL, k->path, q);
}

static void field_names(struct json_object *data, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	json_object_object_foreach(data, name, v) {
		(void)v;
		if (off + 1 >= len)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s'%s'", off ? ", " : "", name);
	}
}

static int not_found(struct vault_backend *vb, int kv, const struct vcall *c, const struct vault_key *k,
		     struct why *why)
{
	struct json_object *root = NULL, *md;
	char msg[64];
	long long ver;
	int r;

	if (kv == 2 && c->req.resp && secbuf_len(c->req.resp) &&
	    !sjson_parse(secbuf_str(c->req.resp), secbuf_len(c->req.resp), &root, msg, sizeof(msg)) &&
	    (md = sjson_obj(sjson_obj(root, "data"), "metadata"))) {
		ver = sjson_int(md, "version", k->version);
		if (sjson_bool(md, "destroyed", 0))
			r = why_fail(why, -BACKEND_ENOTFOUND, "version %lld of '%s' was destroyed", ver, k->path);
		else
			r = why_fail(why, -BACKEND_ENOTFOUND, "version %lld of '%s' was deleted (%s)", ver, k->path,
				     sjson_str(md, "deletion_time") ? sjson_str(md, "deletion_time") : "");
	} else if (k->version) {
		r = why_fail(why, -BACKEND_ENOTFOUND, "no version %lld of '%s' in mount '%s' at %s", k->version,
			     k->path, vb->mount, vb->addr);
	} else {
		r = why_fail(why, -BACKEND_ENOTFOUND, "no secret '%s' in mount '%s' at %s", k->path, vb->mount,
			     vb->addr);
	}
	sjson_put(root);
	return r;
}

/* The value a key names in a secret's fields (DESIGN.md "Backends"). */
static int pick_field(struct json_object *data, const struct vault_key *k, struct secbuf **out,
		      struct why *why)
{
	struct json_object *v = NULL;
	char names[160];
	int count;

	if (!data || !json_object_is_type(data, json_type_object))
		return why_fail(why, -BACKEND_EINVAL, "secret '%s' holds no fields", k->path);
	count = json_object_object_length(data);
	if (k->field[0]) {
		if (!json_object_object_get_ex(data, k->field, &v)) {
			field_names(data, names, sizeof(names));
			return why_fail(why, -BACKEND_ENOTFOUND, "secret '%s' has no field '%s' (fields: %s)", k->path,
					k->field, count ? names : "none");
		}
	} else if (!json_object_object_get_ex(data, "value", &v)) {
		if (count == 1) {
			json_object_object_foreach(data, name, only) {
				(void)name;
				v = only;
			}
		} else if (count == 0) {
			return why_fail(why, -BACKEND_ENOTFOUND, "secret '%s' has no fields", k->path);
		} else {
			field_names(data, names, sizeof(names));
			return why_fail(why, -BACKEND_EINVAL,
					"secret '%s' has several fields (%s): name one as '%s#FIELD'", k->path, names,
					k->path);
		}
	}
	if (sjson_value(v, out))
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	return 0;
}

static int vault_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
			  int *rcs, struct why *whys)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct vault_key *ks = calloc(n + 1, sizeof(*ks));
	struct vcall *calls = calloc(n + 1, sizeof(*calls));
	struct json_object **roots = calloc(n + 1, sizeof(*roots));
	int *prc = calloc(n + 1, sizeof(*prc));
	size_t *which = calloc(n + 1, sizeof(*which));
	struct why *pwhy = calloc(n + 1, sizeof(*pwhy));
	struct why kvwhy = { "" };
	size_t i, j, ncalls = 0;
	int kv;

#define W(i) (whys ? &whys[i] : NULL)
	if (!ks || !calls || !roots || !prc || !which || !pwhy) {
		for (i = 0; i < n; i++)
			rcs[i] = why_fail(W(i), -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	kv = kv_version(vb, deadline, &kvwhy);
	if (kv < 0) {
		for (i = 0; i < n; i++) {
			rcs[i] = kv;
			if (whys)
				whys[i] = kvwhy;
		}
		goto out;
	}
	/* One request per distinct (path, version): the fields of one
	 * secret come back together. */
	for (i = 0; i < n; i++) {
		which[i] = SIZE_MAX;
		if ((rcs[i] = vault_key_parse(keys[i], &ks[i], W(i))))
			continue;
		if (kv == 1 && ks[i].version) {
			rcs[i] = why_fail(W(i), -BACKEND_EINVAL, "'%s': mount '%s' is KV version 1, which has no "
								 "versions", keys[i], vb->mount);
			continue;
		}
		for (j = 0; j < i; j++) {
			if (which[j] != SIZE_MAX && ks[j].version == ks[i].version &&
			    !strcmp(ks[j].path, ks[i].path)) {
				which[i] = which[j];
				break;
			}
		}
		if (which[i] != SIZE_MAX)
			continue;
		if ((rcs[i] = call_init(&calls[ncalls], "GET", data_path(vb, kv, &ks[i]), NULL,
					MAX_SECRET_RESP))) {
			why_fail(W(i), rcs[i], "out of memory");
			continue;
		}
		which[i] = ncalls++;
	}
	vault_run(vb, calls, ncalls, deadline);
	for (j = 0; j < ncalls; j++)
		if (!calls[j].rc && calls[j].req.status == 200)
			prc[j] = parse_resp(vb, &calls[j], &roots[j], &pwhy[j]);
	for (i = 0; i < n; i++) {
		struct vcall *c;
		struct json_object *data;

		if (which[i] == SIZE_MAX)
			continue;
		j = which[i];
		c = &calls[j];
		if (c->rc) {
			rcs[i] = c->rc;
			if (whys)
				whys[i] = c->why;
		} else if (c->req.status == 404) {
			rcs[i] = not_found(vb, kv, c, &ks[i], W(i));
		} else if (c->req.status != 200) {
			rcs[i] = status_fail(vb, c, W(i));
		} else if (prc[j]) {
			rcs[i] = prc[j];
			if (whys)
				whys[i] = pwhy[j];
		} else {
			data = sjson_obj(roots[j], "data");
			if (kv == 2)
				data = sjson_obj(data, "data");
			rcs[i] = pick_field(data, &ks[i], &outs[i], W(i));
		}
	}
out:
	for (j = 0; calls && roots && j < ncalls; j++) {
		sjson_put(roots[j]);
		vcall_release(&calls[j]);
	}
	free(ks);
	free(calls);
	free(roots);
	free(prc);
	free(which);
	free(pwhy);
	return 0;
#undef W
}

static int vault_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	int rc = 0;

	vault_get_many(be, 1, &key, out, &rc, why);
	return rc;
}

/* Every field of one secret, from one read (harombe vault export). */
static int vault_fields(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
			struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *data;
	struct vault_key k;
	struct vcall c;
	int kv, r;

	if ((r = vault_key_parse(path, &k, why)))
		return r;
	if (k.field[0])
		return why_fail(why, -BACKEND_EINVAL, "'%s': name the secret, without '#%s'", path, k.field);
	if ((kv = kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1 && k.version)
		return why_fail(why, -BACKEND_EINVAL, "'%s': mount '%s' is KV version 1, which has no versions", path,
				vb->mount);
	if ((r = call_init(&c, "GET", data_path(vb, kv, &k), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = not_found(vb, kv, &c, &k, why);
	} else if (c.req.status != 200) {
		r = status_fail(vb, &c, why);
	} else if (!(r = parse_resp(vb, &c, &root, why))) {
		data = sjson_obj(root, "data");
		if (kv == 2)
			data = sjson_obj(data, "data");
		if (!data || !json_object_is_type(data, json_type_object)) {
			r = why_fail(why, -BACKEND_EINVAL, "secret '%s' holds no fields", k.path);
		} else {
			json_object_object_foreach(data, name, v) {
				struct secbuf *sb = NULL;

				if (sjson_value(v, &sb)) {
					r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
					break;
				}
				r = fn(name, sb, arg);
				secbuf_free(sb);
				if (r)
					break;
			}
		}
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

/* ---- writing ---- */

/* One request, run to its end: 0 on 2xx, else the backend error. */
static int run_one(struct vault_backend *vb, struct vcall *c, uint64_t deadline, struct why *why)
{
	vault_run(vb, c, 1, deadline);
	if (c->rc) {
		if (why)
			*why = c->why;
		return c->rc;
	}
	if (!is_success(c->req.status))
		return status_fail(vb, c, why);
	return 0;
}

/* Does key's secret exist?  0 yes (or cannot tell), -ENOENT no. */
static int exists(struct vault_backend *vb, int kv, const struct vault_key *k, uint64_t deadline,
		  struct why *why)
{
	struct vcall c;
	int r;

	if ((r = call_init(&c, "GET", api_path(vb, kv == 2 ? "metadata" : NULL, k->path, ""), NULL,
			   MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = why_fail(why, -BACKEND_ENOTFOUND, "no secret '%s' in mount '%s' at %s", k->path, vb->mount,
			     vb->addr);
	}
	vcall_release(&c);
	return r;
}

/* {"data":{<fields>}} for KV 2, {<fields>} for KV 1, in locked memory. */
static struct secbuf *fields_body(int kv, struct json_object *keep, const char *skip, size_t n,
				  const char *const *fields, const void *const *values, const size_t *lens)
{
	struct secbuf *b = secbuf_new(256);
	int first = 1, r = 0;
	size_t i;

	if (!b)
		return NULL;
	r = sjson_raw(b, kv == 2 ? "{\"data\":{" : "{");
	if (keep && json_object_is_type(keep, json_type_object)) {
		json_object_object_foreach(keep, name, v) {
			if (r || (skip && !strcmp(name, skip)))
				continue;
			r = (!first && secbuf_putc(b, ',')) || sjson_write_str(b, name, strlen(name)) ||
			    secbuf_putc(b, ':') || (v ? sjson_write(b, v) : sjson_raw(b, "null"));
			first = 0;
		}
	}
	for (i = 0; i < n && !r; i++) {
		r = (!first && secbuf_putc(b, ',')) || sjson_write_str(b, fields[i], strlen(fields[i])) ||
		    secbuf_putc(b, ':') || sjson_write_str(b, values[i], lens[i]);
		first = 0;
	}
	if (!r)
		r = sjson_raw(b, kv == 2 ? "}}" : "}");
	if (r) {
		secbuf_free(b);
		return NULL;
	}
	return b;
}

static int write_fields(struct vault_backend *vb, const struct vault_key *k, size_t n,
			const char *const *fields, const void *const *values, const size_t *lens,
			int merge, struct why *why)
{
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *keep = NULL;
	struct vcall c;
	int kv, r;

	if (k->version)
		return why_fail(why, -BACKEND_EINVAL, "cannot write to a version ('%s@%lld'): write '%s'", k->path,
				k->version, k->path);
	if ((kv = kv_version(vb, deadline, why)) < 0)
		return kv;
	if (merge && kv == 2) {
		/* PATCH merges the fields into the current version (Vault
		 * >= 1.9); a secret that does not exist yet is created. */
		struct secbuf *b = fields_body(2, NULL, NULL, n, fields, values, lens);

		if (!b)
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		if ((r = call_init(&c, "PATCH", api_path(vb, "data", k->path, ""), b, MAX_SECRET_RESP))) {
			secbuf_free(b);
			return why_fail(why, r, "out of memory");
		}
		c.ctype = "Content-Type: application/merge-patch+json";
		r = run_one(vb, &c, deadline, why);
		vcall_release(&c);
		if (r != -BACKEND_ENOTFOUND)
			return r;
		merge = 0;
	}
	if (merge) {
		/* KV 1 has no merge: read, replace the field, write back. */
		if ((r = call_init(&c, "GET", api_path(vb, NULL, k->path, ""), NULL, MAX_SECRET_RESP)))
			return why_fail(why, r, "out of memory");
		if ((r = vault_run_one(vb, &c, deadline, why))) {
			/* why is filled */
		} else if (c.req.status == 200) {
			if (!(r = parse_resp(vb, &c, &root, why)))
				keep = sjson_obj(root, "data");
		} else if (c.req.status != 404) {
			r = status_fail(vb, &c, why);
		}
		vcall_release(&c);
		if (r) {
			sjson_put(root);
			return r;
		}
	}
	{
		struct secbuf *b = fields_body(kv, keep, n == 1 ? fields[0] : NULL, n, fields, values, lens);

		sjson_put(root);
		if (!b)
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		if ((r = call_init(&c, "POST", api_path(vb, kv == 2 ? "data" : NULL, k->path, ""), b,
				   MAX_SECRET_RESP))) {
			secbuf_free(b);
			return why_fail(why, r, "out of memory");
		}
	}
	r = run_one(vb, &c, deadline, why);
	vcall_release(&c);
	return r;
}

static int vault_set(struct backend *be, const char *key, const void *value, size_t len,
		     struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	struct vault_key k;
	const char *field;
	int r;

	if ((r = vault_key_parse(key, &k, why)))
		return r;
	field = k.field[0] ? k.field : "value";
	return write_fields(vb, &k, 1, &field, &value, &len, k.field[0] != 0, why);
}

static int vault_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
			    const void *const *values, const size_t *lens, struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	struct vault_key k;
	size_t i, j;
	int r;

	if ((r = vault_key_parse(key, &k, why)))
		return r;
	if (k.field[0])
		return why_fail(why, -BACKEND_EINVAL, "'%s': give fields as NAME=VALUE, not with '#'", key);
	if (!n)
		return why_fail(why, -BACKEND_EINVAL, "no fields to write");
	for (i = 0; i < n; i++) {
		if (!fields[i][0])
			return why_fail(why, -BACKEND_EINVAL, "empty field name");
		for (j = 0; j < i; j++)
			if (!strcmp(fields[i], fields[j]))
				return why_fail(why, -BACKEND_EINVAL, "field '%s' given twice", fields[i]);
	}
	return write_fields(vb, &k, n, fields, values, lens, 0, why);
}

static int remove_secret(struct backend *be, const char *key, int purge, struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct vault_key k;
	struct vcall c;
	struct secbuf *b = NULL;
	char num[32];
	int kv, r;

	if ((r = vault_key_parse(key, &k, why)))
		return r;
	if (k.field[0])
		return why_fail(why, -BACKEND_EINVAL, "'%s': delete removes whole secrets; rewrite it without the "
						      "field instead", key);
	if ((kv = kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1 && k.version)
		return why_fail(why, -BACKEND_EINVAL, "mount '%s' is KV version 1: it has no versions", vb->mount);
	if (purge && k.version)
		return why_fail(why, -BACKEND_EINVAL, "--purge removes every version: give '%s' without '@%lld'",
				k.path, k.version);
	if ((r = exists(vb, kv, &k, deadline, why)))
		return r;
	if (kv == 2 && purge) {
		r = call_init(&c, "DELETE", api_path(vb, "metadata", k.path, ""), NULL, MAX_SECRET_RESP);
	} else if (kv == 2 && k.version) {
		snprintf(num, sizeof(num), "%lld", k.version);
		b = secbuf_new(64);
		if (!b || sjson_raw(b, "{\"versions\":[") || sjson_raw(b, num) || sjson_raw(b, "]}")) {
			secbuf_free(b);
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		}
		r = call_init(&c, "POST", api_path(vb, "delete", k.path, ""), b, MAX_SECRET_RESP);
	} else {
		r = call_init(&c, "DELETE", api_path(vb, kv == 2 ? "data" : NULL, k.path, ""), NULL,
			      MAX_SECRET_RESP);
	}
	if (r) {
		secbuf_free(b);
		return why_fail(why, r, "out of memory");
	}
	r = run_one(vb, &c, deadline, why);
	vcall_release(&c);
	return r;
}

static int vault_del(struct backend *be, const char *key, struct why *why)
{
	return remove_secret(be, key, 0, why);
}

static int vault_purge(struct backend *be, const char *key, struct why *why)
{
	return remove_secret(be, key, 1, why);
}

/* ---- listing and metadata ---- */

/* A name in a LIST answer: "key" or "folder/".  Anything else (empty, a
 * control character that a terminal would act on, a '/' inside) is not
 * passed on. */
static int list_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || (n == 1 && s[0] == '/'))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (s[i] == '/' && i + 1 < n))
			return 0;
	return 1;
}

static int vault_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		      struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *keys;
	char *dir = NULL, *full = NULL;
	struct vcall c;
	size_t i, n, len;
	int kv, r;

	while (*prefix == '/')
		prefix++;
	len = strlen(prefix);
	if (strstr(prefix, "//") || strstr(prefix, "/../") || !strncmp(prefix, "../", 3) ||
	    !strcmp(prefix, "..") || (len >= 3 && !strcmp(prefix + len - 3, "/..")))
		return why_fail(why, -BACKEND_EINVAL, "'%s' is not a folder name", prefix);
	if ((kv = kv_version(vb, deadline, why)) < 0)
		return kv;
	if (asprintf(&dir, "%s%s", prefix, len && prefix[len - 1] != '/' ? "/" : "") < 0)
		return why_fail(why, -BACKEND_ENOMEM, "out of memory");
	if ((r = call_init(&c, "LIST", api_path(vb, kv == 2 ? "metadata" : NULL, prefix, "/"), NULL,
			   MAX_LIST_RESP))) {
		free(dir);
		return why_fail(why, r, "out of memory");
	}
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = why_fail(why, -BACKEND_ENOTFOUND, "nothing under '%s' in mount '%s' at %s", dir, vb->mount,
			     vb->addr);
	} else if (c.req.status != 200) {
		r = status_fail(vb, &c, why);
	} else if (!(r = parse_resp(vb, &c, &root, why))) {
		keys = sjson_obj(sjson_obj(root, "data"), "keys");
		if (!keys || !json_object_is_type(keys, json_type_array)) {
			r = why_fail(why, -BACKEND_EUNAVAIL, "LIST %s%s: no data.keys in the answer", vb->addr, c.path);
		} else {
			n = json_object_array_length(keys);
			for (i = 0; i < n && !r; i++) {
				struct json_object *e = json_object_array_get_idx(keys, i);

				if (!e || !json_object_is_type(e, json_type_string))
					continue;
				if (!list_name_ok(json_object_get_string(e))) {
					log_warn("vault: LIST %s%s: skipped a name that is empty, has a control "
						 "character or a '/' inside", vb->addr, c.path);
					continue;
				}
				free(full);
				if (asprintf(&full, "%s%s", dir, json_object_get_string(e)) < 0) {
					full = NULL;
					r = why_fail(why, -BACKEND_ENOMEM, "out of memory");
					break;
				}
				r = fn(full, arg);
			}
		}
	}
	free(full);
	free(dir);
	sjson_put(root);
	vcall_release(&c);
	return r;
}

static long long time_field(struct json_object *o, const char *key)
{
	long long t = 0;

	if (vault_parse_time(sjson_str(o, key), &t) != 0)
		return 0;
	return t;
}

static int vault_meta(struct backend *be, const char *key, struct backend_meta *out,
		      struct why *why)
{
	struct vault_backend *vb = vault_downcast(be);
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *data, *ver;
	struct vault_key k;
	struct vcall c;
	char num[32];
	int kv, r;

	if ((r = vault_key_parse(key, &k, why)))
		return r;
	if ((kv = kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1)
		return why_fail(why, -BACKEND_ENOTSUP, "mount '%s' is KV version 1: no versions or times", vb->mount);
	if ((r = call_init(&c, "GET", api_path(vb, "metadata", k.path, ""), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = why_fail(why, -BACKEND_ENOTFOUND, "no secret '%s' in mount '%s' at %s", k.path, vb->mount,
			     vb->addr);
	} else if (c.req.status != 200) {
		r = status_fail(vb, &c, why);
	} else if (!(r = parse_resp(vb, &c, &root, why))) {
		data = sjson_obj(root, "data");
		out->version = k.version ? k.version : sjson_int(data, "current_version", 0);
		out->created = time_field(data, "created_time");
		out->updated = time_field(data, "updated_time");
		snprintf(num, sizeof(num), "%lld", out->version);
		ver = sjson_obj(sjson_obj(data, "versions"), num);
		if (ver)
			out->updated = time_field(ver, "created_time");
		else if (k.version)
			r = why_fail(why, -BACKEND_ENOTFOUND, "no version %lld of '%s'", k.version, k.path);
	}
	sjson_put(root);
	vcall_release(&c);
	return r;
}

/* ---- token renewal ---- */

/* lookup-self: learn the token's TTL and whether it renews. */
static int token_lookup(struct vault_backend *vb, struct why *why)
{
	uint64_t deadline = vhttp_now_ms() + vb->timeout_ms;
	struct json_object *root = NULL, *data;
	struct vcall c;
	int r;

	if ((r = call_init(&c, "GET", strdup("/v1/auth/token/lookup-self"), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = run_one(vb, &c, deadline, why)) && !(r = parse_resp(vb, &c, &root, why))) {
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

	if ((r = call_init(&c, "POST", strdup("/v1/auth/token/renew-self"), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if (!(r = run_one(vb, &c, deadline, why)) && !(r = parse_resp(vb, &c, &root, why))) {
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
		if (vb->method != AUTH_APPROLE && vb->tok_source != TOK_FILE)
			return NO_WORK;
		pthread_mutex_lock(&vb->login_lock);
		r = vb->method == AUTH_APPROLE ? approle_login(vb, now + vb->timeout_ms, "login", &why)
					       : reread_token_file(vb, &why);
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
			audit_auth(vb, "lookup", r, why.msg);
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
		if (vb->method == AUTH_APPROLE) {
			pthread_mutex_lock(&vb->login_lock);
			r = approle_login(vb, now + vb->timeout_ms, "relogin", &why);
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
	audit_auth(vb, "renew", r, why.msg);
	if (!r) {
		log_debug("vault: token renewed");
		*failures = 0;
		return 0;
	}
	log_warn("vault: token renewal at %s failed: %s", vb->addr, why.msg);
	if (vb->method == AUTH_APPROLE) {
		pthread_mutex_lock(&vb->login_lock);
		r = approle_login(vb, vhttp_now_ms() + vb->timeout_ms, "relogin", &why);
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

static void *renewer_main(void *arg)
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

/* ---- open and close ---- */

static const char *const vault_keys[] = {
	"provider", "vault_url", "vault_namespace", "mount_point", "kv_version", "auto_renew", "token",
	"token_file", "role_id", "secret_id", "secret_id_file", "approle_mount", "ca_cert", "ca_path",
	"client_cert", "client_key", "tls_skip_verify", "tls_server_name", "timeout", "max_retries",
	"disable_redirects", "max_connections", NULL,
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
	if (!(vb->mount_enc = encode_segments(vb->mount)))
		return -ENOMEM;
	return 0;
}

static void vault_close(struct backend *be);

static int setup_token(struct vault_backend *vb, const struct cfg_node *opts, struct why *err)
{
	const struct cfg_node *tn = cfg_get(opts, "token");
	const char *tok = NULL, *tfile = NULL;
	struct secbuf *t = NULL;
	struct why msg = WHY_INIT;
	int r;

	if ((r = cfg_get_str(opts, "token", &tok, err)) || (r = cfg_get_str(opts, "token_file", &tfile, err)))
		return r;
	if (tok && *tok) {
		if (!strncmp(tok, "env:", 4)) {
			if ((r = env_secret(tok + 4, &t)))
				return cfg_fail(err, tn, "out of locked memory"), r;
			if (!t)
				return cfg_fail(err, tn, "'token: %s': %s is not set", tok, tok + 4);
			vb->tok_source = TOK_ENV;
			vb->tok_where = strdup(tok + 4);
		} else if (!strncmp(tok, "file:", 5) || tok[0] == '/' || tok[0] == '~') {
			tfile = tok[0] == 'f' ? tok + 5 : tok;
		} else {
			log_warn("vault: %s:%d: a token written in harombe.yaml; prefer token_file or "
				 "token: env:NAME", tn->file, tn->line);
			if (!(t = secbuf_dup(tok, strlen(tok))))
				return -ENOMEM;
			vb->tok_source = TOK_LITERAL;
			vb->tok_where = strdup("token in harombe.yaml");
		}
	}
	if (!t && vb->tok_source == TOK_NONE && !(tfile && *tfile)) {
		if ((r = env_secret("VAULT_TOKEN", &t)))
			return cfg_fail(err, NULL, "out of locked memory"), r;
		if (t) {
			vb->tok_source = TOK_ENV;
			vb->tok_where = strdup("VAULT_TOKEN");
		} else {
			char *home = path_expand_home("~/.vault-token");

			if (home && access(home, F_OK) == 0) {
				vb->tok_file = home;
				vb->tok_source = TOK_FILE;
			} else {
				free(home);
			}
		}
	}
	if (!t && tfile && *tfile) {
		if (!(vb->tok_file = path_expand_home(tfile)))
			return -ENOMEM;
		vb->tok_source = TOK_FILE;
	}
	if (vb->tok_source == TOK_FILE) {
		vb->tok_where = strdup(vb->tok_file);
		r = read_secret_file(vb->tok_file, &t, 1, &msg);
		if (r == -ENOMEM)
			return cfg_fail(err, NULL, "out of locked memory"), r;
		if (r)	/* a Vault Agent may write it later: re-read on use */
			log_warn("vault: no token yet: %s", msg.msg);
	}
	if (vb->tok_source == TOK_NONE)
		return cfg_fail(err, opts, "no Vault token: set VAULT_TOKEN, 'token_file' or ~/.vault-token, "
					   "or configure AppRole ('role_id')");
	if (t) {
		r = token_set(vb, secbuf_data(t, NULL), secbuf_len(t), -1, 0);
		secbuf_free(t);
		if (r)
			return cfg_fail(err, tn, "the Vault token (from %s) is not a valid header value",
					vb->tok_where ? vb->tok_where : "config"), r;
	}
	return 0;
}

static int setup_approle(struct vault_backend *vb, const struct cfg_node *opts, const char *role_id,
			 struct why *err)
{
	const struct cfg_node *sn = cfg_get(opts, "secret_id");
	const char *sid = NULL, *sfile = NULL, *mount = "approle";
	size_t i;
	int r;

	if ((r = cfg_get_str(opts, "secret_id", &sid, err)) ||
	    (r = cfg_get_str(opts, "secret_id_file", &sfile, err)) ||
	    (r = cfg_get_str(opts, "approle_mount", &mount, err)))
		return r;
	vb->method = AUTH_APPROLE;
	if (!(vb->role_id = strdup(role_id)))
		return -ENOMEM;
	if (sid && *sid) {
		if (!strncmp(sid, "env:", 4)) {
			vb->secret_id_env = strdup(sid + 4);
		} else if (!strncmp(sid, "file:", 5) || sid[0] == '/' || sid[0] == '~') {
			sfile = sid[0] == 'f' ? sid + 5 : sid;
		} else {
			log_warn("vault: %s:%d: an AppRole secret_id written in harombe.yaml; prefer "
				 "secret_id_file or secret_id: env:NAME", sn->file, sn->line);
			if (!(vb->secret_id = secbuf_dup(sid, strlen(sid))))
				return -ENOMEM;
		}
	}
	if (sfile && *sfile && !vb->secret_id && !vb->secret_id_env) {
		if (!(vb->secret_id_file = path_expand_home(sfile)))
			return -ENOMEM;
		if (access(vb->secret_id_file, R_OK) != 0)
			log_warn("vault: secret_id_file '%s': %s", vb->secret_id_file, strerror(errno));
	}
	while (*mount == '/')
		mount++;
	/* A mount may be nested (team/approle): keep its slashes. */
	for (i = 0; mount[i]; i++)
		if (!isalnum((unsigned char)mount[i]) && !strchr("-_./", mount[i]))
			return cfg_fail(err, cfg_get(opts, "approle_mount"), "'approle_mount' '%s' is not a mount path",
					mount);
	if (!*mount || strstr(mount, ".."))
		return cfg_fail(err, cfg_get(opts, "approle_mount"), "'approle_mount' '%s' is not a mount path",
				mount);
	r = asprintf(&vb->login_path, "/v1/auth/%s/login", mount);
	if (r < 0) {
		vb->login_path = NULL;
		return -ENOMEM;
	}
	vb->tok_where = strdup("AppRole");
	return 0;
}

static int vault_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		      struct why *err)
{
	struct vault_backend *vb = calloc(1, sizeof(*vb));
	struct vhttp_opts ho = { 0 };
	const char *addr = NULL, *ns = NULL, *mount = DEFAULT_MOUNT, *kvs = NULL, *role_id = NULL,
		   *timeout = NULL, *retries = NULL;
	char *url = NULL, msg[512] = "";
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

	if (role_id && *role_id)
		r = setup_approle(vb, opts, role_id, err);
	else
		r = setup_token(vb, opts, err);
	if (r)
		goto fail;

	ho.url = url;
	ho.follow_redirects = !disable_redirects;
	ho.max_conns = (unsigned int)maxc;
	if ((r = vhttp_new(&ho, &vb->http, msg, sizeof(msg)))) {
		r = cfg_fail(err, NULL, "vault: %s", msg);
		goto fail;
	}
	free(url);
	url = NULL;

	if (ctx->daemon && auto_renew) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = pthread_create(&vb->renewer, NULL, renewer_main, vb);
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

	if (vb->renewer_started) {
		pthread_mutex_lock(&vb->r_lock);
		vb->stopping = 1;
		pthread_cond_broadcast(&vb->r_cond);
		pthread_mutex_unlock(&vb->r_lock);
		pthread_join(vb->renewer, NULL);
	}
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
	free(vb->source);
	pthread_mutex_destroy(&vb->kv_lock);
	pthread_mutex_destroy(&vb->login_lock);
	pthread_rwlock_destroy(&vb->tok_lock);
	pthread_mutex_destroy(&vb->r_lock);
	pthread_cond_destroy(&vb->r_cond);
	free(vb);
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
};
