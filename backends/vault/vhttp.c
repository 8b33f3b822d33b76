#include "lib/compat.h"
#include "backends/vault/vhttp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/ssl.h>

#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"

#define DEFAULT_MAX_RESP (1u << 20)
#define DEFAULT_MAX_CONNS 16u
#define POOL_MAX 32u
#define CA_DIR_MAX (4u << 20)
/* The worker aborts a transfer this long after its deadline if libcurl has
 * not (a request still waiting for a free connection is not timed by
 * libcurl in every version). */
#define DEADLINE_GRACE_MS 200

struct batch {
	pthread_cond_t cond;
	size_t left;
};

struct pending {
	struct vhttp_req *req;
	struct batch *batch;
	char *url;
	CURL *easy;
	struct curl_slist hdr[6];
	uint64_t deadline;
	struct pending *next;		/* queue, then the active list */
	struct pending *prev;
};

struct vhttp {
	char *url;			/* base for request paths */
	char *unix_socket;
	char *ca_file;
	char *ca_pem;			/* ca_dir's certificates, concatenated */
	size_t ca_pem_len;
	char *client_cert, *client_key;
	char *proxy;
	char *connect_to_line;		/* server_name:port:host:port */
	struct curl_slist connect_to;
	const char *redir_protocols;
	int skip_verify, follow, cleanse;

	CURLM *multi;
	pthread_t worker;
	int started;
	pthread_mutex_t mu;
	struct pending *queue, *queue_tail;
	struct pending *active;
	int stop;
	CURL *pool[POOL_MAX];
	size_t npool;
};

uint64_t vhttp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- libcurl's heap, wiped on free ----
 *
 * libcurl assembles each request (headers, token, small bodies) and keeps
 * response headers in its own heap blocks.  Routing its allocator through
 * these functions wipes every block before it goes back to malloc.  realloc
 * never leaves the old block behind unwiped.  (ASan's malloc_usable_size
 * reports the requested size, so this stays clean under the sanitizer.) */

static void w_free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void *w_malloc(size_t n)
{
	return malloc(n);
}

static void *w_calloc(size_t a, size_t b)
{
	return calloc(a, b);
}

static char *w_strdup(const char *s)
{
	return strdup(s);
}

static void *w_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	if (!n) {
		w_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	w_free(p);
	return q;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, w_malloc, w_free, w_realloc, w_strdup,
					 w_calloc);
}

/* ---- setup ---- */

static int load_ca_dir(struct vhttp *c, const char *dir, struct why *why)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t len = 0, cap = 0;
	char *pem = NULL;
	int count = 0, r = 0;

	if (!d) {
		why_set(why, "cannot open CA directory '%s': %s", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;
		ssize_t got;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
			continue;
		if (len + (size_t)st.st_size + 2 > CA_DIR_MAX) {
			why_set(why, "CA directory '%s' holds more than 4 MiB", dir);
			r = -EFBIG;
			break;
		}
		if (len + (size_t)st.st_size + 2 > cap) {
			char *n;

			cap = (len + (size_t)st.st_size + 2) * 2;
			if (!(n = realloc(pem, cap))) {
				r = -ENOMEM;
				break;
			}
			pem = n;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, pem + len, (size_t)st.st_size);
		close(fd);
		if (got <= 0)
			continue;
		pem[len + (size_t)got] = 0;
		if (!strstr(pem + len, "-----BEGIN CERTIFICATE-----"))
			continue;
		len += (size_t)got;
		pem[len++] = '\n';
		pem[len] = 0;
		count++;
	}
	closedir(d);
	if (!r && !count) {
		why_set(why, "no PEM certificates in CA directory '%s'", dir);
		r = -ENOENT;
	}
	if (r) {
		free(pem);
		return r;
	}
	c->ca_pem = pem;
	c->ca_pem_len = len;
	return 0;
}

/* Verify the server as server_name while connecting to the URL's host: the
 * URL names server_name (SNI and verification), CURLOPT_CONNECT_TO says
 * where to connect. */
static int apply_server_name(struct vhttp *c, const char *name, struct why *why)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *url = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->url, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		why_set(why, "cannot parse the Vault address '%s'", c->url);
		goto out;
	}
	if (asprintf(&c->connect_to_line, "%s:%s:%s:%s", name, port, host, port) < 0) {
		c->connect_to_line = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_HOST, name, 0) || curl_url_get(u, CURLUPART_URL, &url, 0)) {
		why_set(why, "'%s' is not a valid TLS server name", name);
		goto out;
	}
	free(c->url);
	c->url = strdup(url);
	if (!c->url) {
		r = -ENOMEM;
		goto out;
	}
	/* curl_url_get gives "https://name:8200/"; request paths start with '/'. */
	if (c->url[0] && c->url[strlen(c->url) - 1] == '/')
		c->url[strlen(c->url) - 1] = 0;
	c->connect_to.data = c->connect_to_line;
	c->connect_to.next = NULL;
	r = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	return r;
}

static void *worker_main(void *arg);

static char *dup_opt(const char *s, int *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

int vhttp_new(const struct vhttp_opts *o, struct vhttp **out, struct why *why)
{
	struct vhttp *c;
	const curl_version_info_data *vi;
	sigset_t all, old;
	int failed = 0, r;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return why_fail(why, -EIO, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->url = dup_opt(o->url, &failed);
	c->unix_socket = dup_opt(o->unix_socket, &failed);
	c->ca_file = dup_opt(o->ca_file, &failed);
	c->client_cert = dup_opt(o->client_cert, &failed);
	c->client_key = dup_opt(o->client_key, &failed);
	c->proxy = dup_opt(o->proxy, &failed);
	c->skip_verify = o->skip_verify;
	c->follow = o->follow_redirects;
	c->redir_protocols = !strncasecmp(o->url, "https:", 6) ? "https" : "http,https";
	if (failed) {
		r = -ENOMEM;
		goto fail;
	}
	if (o->ca_dir && !o->ca_file && (r = load_ca_dir(c, o->ca_dir, why)))
		goto fail;
	if (o->server_name && *o->server_name && (r = apply_server_name(c, o->server_name, why)))
		goto fail;
	vi = curl_version_info(CURLVERSION_NOW);
	c->cleanse = vi && vi->ssl_version && !strncmp(vi->ssl_version, "OpenSSL/", 8);

	c->multi = curl_multi_init();
	if (!c->multi) {
		r = -ENOMEM;
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)(o->max_conns ? o->max_conns : DEFAULT_MAX_CONNS));
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			  (long)(2 * (o->max_conns ? o->max_conns : DEFAULT_MAX_CONNS)));

	/* The worker must never take a signal meant for the FUSE loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&c->worker, NULL, worker_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		why_set(why, "cannot start the HTTP thread: %s", strerror(-r));
		goto fail;
	}
	c->started = 1;
	*out = c;
	return 0;
fail:
	if (r == -ENOMEM && !why_str(why)[0])
		why_set(why, "out of memory");
	vhttp_free(c);
	return r;
}

void vhttp_free(struct vhttp *c)
{
	size_t i;

	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_mutex_unlock(&c->mu);
		curl_multi_wakeup(c->multi);
		pthread_join(c->worker, NULL);
	}
	for (i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c->url);
	free(c->unix_socket);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->client_cert);
	free(c->client_key);
	free(c->proxy);
	free(c->connect_to_line);
	free(c);
}

/* ---- the worker ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct pending *pd = arg;
	struct vhttp_req *req = pd->req;
	size_t n = size * nmemb, max = req->max_resp ? req->max_resp : DEFAULT_MAX_RESP;

	if (secbuf_len(req->resp) + n > max) {
		req->fail = VHTTP_TOOBIG;
		return 0;
	}
	if (secbuf_append(req->resp, p, n) != 0) {
		req->fail = VHTTP_NOMEM;
		return 0;
	}
	return n;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
	(void)curl;
	(void)arg;
#ifdef SSL_OP_CLEANSE_PLAINTEXT
	/* Decrypted records are wiped once libcurl has read them. */
	SSL_CTX_set_options((SSL_CTX *)ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
#else
	(void)ssl_ctx;
#endif
	return CURLE_OK;
}

static void complete(struct vhttp *c, struct pending *pd)
{
	pthread_mutex_lock(&c->mu);
	if (--pd->batch->left == 0)
		pthread_cond_signal(&pd->batch->cond);
	pthread_mutex_unlock(&c->mu);
	/* pd belongs to the waiting thread from here on. */
}

static void fail_now(struct vhttp *c, struct pending *pd, enum vhttp_fail f, const char *why)
{
	pd->req->fail = f;
	snprintf(pd->req->err, sizeof(pd->req->err), "%s", why);
	complete(c, pd);
}

static void set_method(CURL *h, const struct vhttp_req *req)
{
	const char *m = req->method;

	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, secbuf_str(req->body));
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)secbuf_len(req->body));
		curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
		if (strcmp(m, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	} else if (!strcmp(m, "POST") || !strcmp(m, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
		if (strcmp(m, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	}
}

static void start(struct vhttp *c, struct pending *pd)
{
	struct vhttp_req *req = pd->req;
	uint64_t now = vhttp_now_ms();
	long left;
	CURL *h;

	if (now >= pd->deadline)
		return fail_now(c, pd, VHTTP_TIMEOUT, "deadline passed before the request was sent");
	left = (long)(pd->deadline - now);
	req->resp = secbuf_new(1024);
	if (!req->resp)
		return fail_now(c, pd, VHTTP_NOMEM, "locked memory exhausted");
	h = c->npool ? c->pool[--c->npool] : curl_easy_init();
	if (!h)
		return fail_now(c, pd, VHTTP_OTHER, "cannot create a libcurl handle");
	pd->easy = h;

	curl_easy_setopt(h, CURLOPT_URL, pd->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, pd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, pd);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, req->err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, left);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, &pd->hdr[0]);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
	if (c->follow) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, c->redir_protocols);
	}
	set_method(h, req);
	if (req->fresh) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}

	if (c->skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	} else if (c->ca_pem) {
		struct curl_blob blob = { c->ca_pem, c->ca_pem_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (c->client_cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
	if (c->connect_to_line)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, &c->connect_to);
	if (c->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
	if (c->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	if (c->cleanse)
		curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);

	if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
		curl_easy_reset(h);
		if (c->npool < POOL_MAX)
			c->pool[c->npool++] = h;
		else
			curl_easy_cleanup(h);
		pd->easy = NULL;
		return fail_now(c, pd, VHTTP_OTHER, "cannot queue the request in libcurl");
	}
	pd->prev = NULL;
	pd->next = c->active;
	if (c->active)
		c->active->prev = pd;
	c->active = pd;
}

static enum vhttp_fail classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return VHTTP_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return VHTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return VHTTP_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:	/* a reset during the handshake looks like this */
		return VHTTP_IO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return VHTTP_TLS;
	case CURLE_OUT_OF_MEMORY:
		return VHTTP_NOMEM;
	default:
		return VHTTP_OTHER;
	}
}

static void release_easy(struct vhttp *c, struct pending *pd)
{
	CURL *h = pd->easy;

	curl_multi_remove_handle(c->multi, h);
	if (pd->prev)
		pd->prev->next = pd->next;
	else
		c->active = pd->next;
	if (pd->next)
		pd->next->prev = pd->prev;
	pd->easy = NULL;
	/* Forget every pointer into the request (headers, body, buffers). */
	curl_easy_reset(h);
	if (c->npool < POOL_MAX)
		c->pool[c->npool++] = h;
	else
		curl_easy_cleanup(h);
}

static void finish(struct vhttp *c, CURL *h, CURLcode rc)
{
	struct pending *pd = NULL;
	struct vhttp_req *req;
	long status = 0;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&pd);
	req = pd->req;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (req->fail == VHTTP_OK)	/* not already set by on_body */
		req->fail = classify(rc);
	if (req->fail != VHTTP_OK && !req->err[0])
		snprintf(req->err, sizeof(req->err), "%s", curl_easy_strerror(rc));
	if (req->fail == VHTTP_TOOBIG)
		snprintf(req->err, sizeof(req->err), "response larger than %zu bytes",
			 req->max_resp ? req->max_resp : (size_t)DEFAULT_MAX_RESP);
	if (req->fail == VHTTP_NOMEM)
		snprintf(req->err, sizeof(req->err), "locked memory exhausted");
	req->status = req->fail == VHTTP_OK ? status : 0;
	release_easy(c, pd);
	complete(c, pd);
}

/* The backstop behind libcurl's own timeouts. */
static long reap_overdue(struct vhttp *c)
{
	uint64_t now = vhttp_now_ms(), next = UINT64_MAX;
	struct pending *pd = c->active, *nx;

	for (; pd; pd = nx) {
		nx = pd->next;
		if (now >= pd->deadline + DEADLINE_GRACE_MS) {
			struct vhttp_req *req = pd->req;

			release_easy(c, pd);
			req->fail = VHTTP_TIMEOUT;
			snprintf(req->err, sizeof(req->err), "no answer before the deadline");
			complete(c, pd);
		} else if (pd->deadline + DEADLINE_GRACE_MS < next) {
			next = pd->deadline + DEADLINE_GRACE_MS;
		}
	}
	if (next == UINT64_MAX || next - now > 1000)
		return 1000;
	return (long)(next - now) + 1;
}

static void *worker_main(void *arg)
{
	struct vhttp *c = arg;
	int running = 0, stop;
	long wait_ms;

	for (;;) {
		struct pending *q, *nx;
		CURLMsg *m;
		int left;

		pthread_mutex_lock(&c->mu);
		q = c->queue;
		c->queue = c->queue_tail = NULL;
		stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		for (; q; q = nx) {
			nx = q->next;
			start(c, q);
		}
		if (stop && !c->active)
			break;
		curl_multi_perform(c->multi, &running);
		while ((m = curl_multi_info_read(c->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				finish(c, m->easy_handle, m->data.result);
		wait_ms = reap_overdue(c);
		curl_multi_poll(c->multi, NULL, 0, (int)wait_ms, NULL);
	}
	return NULL;
}

/* ---- submitting ---- */

static void link_hdr(struct pending *pd, size_t *n, const char *line)
{
	pd->hdr[*n].data = (char *)line;
	pd->hdr[*n].next = NULL;
	if (*n)
		pd->hdr[*n - 1].next = &pd->hdr[*n];
	(*n)++;
}

void vhttp_run(struct vhttp *c, struct vhttp_req *const *reqs, size_t n)
{
	struct pending *pds;
	struct batch b;
	size_t i, k;

	if (!n)
		return;
	pds = calloc(n, sizeof(*pds));
	for (i = 0; i < n; i++) {
		reqs[i]->fail = VHTTP_OK;
		reqs[i]->status = 0;
		reqs[i]->resp = NULL;
		reqs[i]->err[0] = 0;
	}
	if (!pds) {
		for (i = 0; i < n; i++) {
			reqs[i]->fail = VHTTP_NOMEM;
			snprintf(reqs[i]->err, sizeof(reqs[i]->err), "out of memory");
		}
		return;
	}
	pthread_cond_init(&b.cond, NULL);
	b.left = n;
	for (i = 0; i < n; i++) {
		struct pending *pd = &pds[i];
		struct vhttp_req *req = reqs[i];

		pd->req = req;
		pd->batch = &b;
		pd->deadline = req->deadline_ms;
		if (asprintf(&pd->url, "%s%s", c->url, req->path) < 0)
			pd->url = NULL;
		k = 0;
		link_hdr(pd, &k, "X-Vault-Request: true");
		link_hdr(pd, &k, "Expect:");
		if (req->token)
			link_hdr(pd, &k, secbuf_str(req->token));
		if (req->ns_header)
			link_hdr(pd, &k, req->ns_header);
		if (req->body)
			link_hdr(pd, &k, req->content_type ? req->content_type
							   : "Content-Type: application/json");
	}
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < n; i++) {
		if (!pds[i].url) {
			reqs[i]->fail = VHTTP_NOMEM;
			snprintf(reqs[i]->err, sizeof(reqs[i]->err), "out of memory");
			b.left--;
			continue;
		}
		pds[i].next = NULL;
		if (c->queue_tail)
			c->queue_tail->next = &pds[i];
		else
			c->queue = &pds[i];
		c->queue_tail = &pds[i];
	}
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);

	pthread_mutex_lock(&c->mu);
	while (b.left)
		pthread_cond_wait(&b.cond, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&b.cond);
	for (i = 0; i < n; i++)
		free(pds[i].url);
	free(pds);
}
