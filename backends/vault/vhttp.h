#ifndef VHTTP_H
#define VHTTP_H

#include <stddef.h>
#include <stdint.h>

/*
 * The HTTP engine under the Vault backend (backends/ only).
 *
 * One worker thread owns a libcurl multi handle and with it the only
 * connection pool: every request, from any thread, is handed to that
 * worker, so keep-alive connections are reused across requests and FUSE
 * threads, and a batch of requests (the keys of one view) runs in
 * parallel.  The submitting thread sleeps until its batch is done; every
 * request carries an absolute deadline that libcurl enforces, so a batch
 * always finishes.  Retries, authentication and status codes are the
 * caller's business: this layer moves bytes.
 *
 * Response bodies go straight from libcurl's write callback into locked
 * memory (struct secbuf).  Header lines that carry the token are locked
 * memory too: libcurl reads them in place (we build the curl_slist nodes
 * ourselves rather than let curl_slist_append() strdup() them).  libcurl's
 * own heap blocks (request buffers that held a header or a body) are wiped
 * when libcurl frees them, and OpenSSL is asked to cleanse decrypted
 * records once they are read (SSL_OP_CLEANSE_PLAINTEXT).
 */

struct secbuf;
struct vhttp;
struct why;

struct vhttp_opts {
	const char *url;		/* scheme://host[:port], no trailing '/' */
	const char *unix_socket;	/* connect here instead (unix:// addresses) */
	const char *ca_file;		/* PEM bundle: the only trusted CAs */
	const char *ca_dir;		/* every PEM file in it (VAULT_CAPATH) */
	const char *client_cert;	/* mTLS */
	const char *client_key;
	const char *server_name;	/* TLS name to verify and send as SNI */
	const char *proxy;
	int skip_verify;
	int follow_redirects;		/* 307/308 from HA standbys */
	unsigned int max_conns;		/* per host; 0 = 16 */
};

enum vhttp_fail {
	VHTTP_OK = 0,		/* an HTTP response arrived: see status */
	VHTTP_CONNECT,		/* could not resolve or connect */
	VHTTP_TIMEOUT,		/* the deadline passed */
	VHTTP_IO,		/* reset, nothing received, or a truncated body */
	VHTTP_TLS,		/* handshake or certificate verification */
	VHTTP_TOOBIG,		/* response larger than max_resp */
	VHTTP_NOMEM,		/* locked memory exhausted */
	VHTTP_OTHER,
};

struct vhttp_req {
	/* in */
	const char *method;		/* GET POST PUT PATCH DELETE LIST */
	const char *path;		/* "/v1/...", already URL-encoded */
	const struct secbuf *token;	/* header line "X-Vault-Token: ..." or NULL */
	const char *ns_header;		/* "X-Vault-Namespace: ..." or NULL */
	const char *content_type;	/* header line for the body; NULL = JSON */
	const struct secbuf *body;	/* NULL: none */
	size_t max_resp;		/* 0 = 1 MiB */
	uint64_t deadline_ms;		/* vhttp_now_ms() clock */
	int fresh;			/* a new connection, closed after, no TLS session
					 * resumed: client certificate files are read anew */
	/* out */
	enum vhttp_fail fail;
	long status;
	struct secbuf *resp;		/* body (possibly empty); caller frees */
	char err[256];			/* libcurl's words when fail != VHTTP_OK */
	/* private to vhttp.c */
	void *priv;
};

/* 0 and *out, or -errno with why filled. */
int vhttp_new(const struct vhttp_opts *o, struct vhttp **out, struct why *why);
void vhttp_free(struct vhttp *c);

/* Perform reqs concurrently and return when each has an outcome.  Safe
 * from any number of threads at once. */
void vhttp_run(struct vhttp *c, struct vhttp_req *const *reqs, size_t n);

/* Monotonic milliseconds (CLOCK_BOOTTIME: includes suspend). */
uint64_t vhttp_now_ms(void);

#endif
