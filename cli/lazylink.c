/*
 * libcurl and libcrypto for the harombe command, loaded on first use.
 *
 * `harombe secrets filter` runs on every tool call of an agent gateway, and
 * most of its start-up was the dynamic linker's: libcurl brings ~30
 * libraries (GnuTLS, Kerberos, LDAP, SSH, ...) whose ~11,000 symbol
 * relocations are resolved eagerly (every Debian library is linked with
 * -z now), 3-4 ms before main() on our VMs; libcrypto and libssl another
 * 1 ms.  Only the Vault backend (libcurl) and the SOPS store's AES-GCM
 * (libcrypto) use them, so the command does not link them: these
 * definitions stand in for the few functions backends/ calls, and the
 * first call dlopen()s the library and forwards.  harombefs links the
 * libraries as usual and not this file.
 *
 * If a library cannot be loaded, each function fails the way the library
 * says it can fail (NULL, CURLE_FAILED_INIT, 0 from EVP), so the callers'
 * error paths apply, and the reason is said once on stderr.  The list of
 * functions is what the linker reports as undefined without -lcurl -lssl
 * -lcrypto: a new call in backends/ fails the link until it is added here.
 */
#include "lib/compat.h"
#include "cli/cli.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define CURL_DISABLE_TYPECHECK 1	/* curl_easy_setopt is a function here, not the checking macro */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#if OPENSSL_VERSION_MAJOR != 3
#error "lazylink.c names libcrypto.so.3 and libssl.so.3: update the sonames"
#endif

struct lazylib {
	const char *soname;
	pthread_once_t once;
	void *handle;
};

static struct lazylib lib_curl = { "libcurl.so.4", PTHREAD_ONCE_INIT, NULL };
static struct lazylib lib_crypto = { "libcrypto.so.3", PTHREAD_ONCE_INIT, NULL };
static struct lazylib lib_ssl = { "libssl.so.3", PTHREAD_ONCE_INIT, NULL };

static void open_curl(void)
{
	if (!(lib_curl.handle = dlopen(lib_curl.soname, RTLD_NOW | RTLD_LOCAL)))
		cli_error("cannot load %s (the Vault backend needs it): %s", lib_curl.soname, dlerror());
}

static void open_crypto(void)
{
	if (!(lib_crypto.handle = dlopen(lib_crypto.soname, RTLD_NOW | RTLD_LOCAL)))
		cli_error("cannot load %s (SOPS files need it): %s", lib_crypto.soname, dlerror());
}

static void open_ssl(void)
{
	if (!(lib_ssl.handle = dlopen(lib_ssl.soname, RTLD_NOW | RTLD_LOCAL)))
		cli_error("cannot load %s: %s", lib_ssl.soname, dlerror());
}

static void *lazy_sym(struct lazylib *l, void (*opener)(void), const char *name)
{
	void *p;

	pthread_once(&l->once, opener);
	if (!l->handle)
		return NULL;
	if (!(p = dlsym(l->handle, name)))
		cli_error("%s has no %s", l->soname, name);
	return p;
}

/* f: the library's fn, or NULL when it cannot be had (said once per load). */
#define LAZY(lib, fn)                                                                          \
	static __typeof__(&fn) fn##_p;                                                         \
	__typeof__(&fn) f = __atomic_load_n(&fn##_p, __ATOMIC_ACQUIRE);                        \
	if (!f) {                                                                              \
		f = (__typeof__(&fn))lazy_sym(&lib_##lib, open_##lib, #fn);                    \
		__atomic_store_n(&fn##_p, f, __ATOMIC_RELEASE);                                \
	}

/* ---- libcurl ---- */

CURLcode curl_global_init_mem(long flags, curl_malloc_callback m, curl_free_callback fr, curl_realloc_callback r,
			      curl_strdup_callback s, curl_calloc_callback c)
{
	LAZY(curl, curl_global_init_mem);
	return f ? f(flags, m, fr, r, s, c) : CURLE_FAILED_INIT;
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	LAZY(curl, curl_version_info);
	return f ? f(v) : NULL;
}

CURL *curl_easy_init(void)
{
	LAZY(curl, curl_easy_init);
	return f ? f() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	LAZY(curl, curl_easy_cleanup);
	if (f)
		f(h);
}

void curl_easy_reset(CURL *h)
{
	LAZY(curl, curl_easy_reset);
	if (f)
		f(h);
}

const char *curl_easy_strerror(CURLcode code)
{
	LAZY(curl, curl_easy_strerror);
	return f ? f(code) : "libcurl could not be loaded";
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
	LAZY(curl, curl_easy_escape);
	return f ? f(h, s, len) : NULL;
}

void curl_free(void *p)
{
	LAZY(curl, curl_free);
	if (f)
		f(p);
}

/* An option's type is in its number, as libcurl itself reads it. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	LAZY(curl, curl_easy_setopt);
	if (!f)
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = f(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = f(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = f(h, opt, va_arg(ap, curl_off_t));
	else
		rc = f(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	void *p;

	LAZY(curl, curl_easy_getinfo);
	if (!f)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return f(h, info, p);
}

CURLM *curl_multi_init(void)
{
	LAZY(curl, curl_multi_init);
	return f ? f() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	LAZY(curl, curl_multi_cleanup);
	return f ? f(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	va_list ap;
	CURLMcode rc;

	LAZY(curl, curl_multi_setopt);
	if (!f)
		return CURLM_INTERNAL_ERROR;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = f(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f(m, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = f(m, opt, va_arg(ap, void (*)(void)));
	else
		rc = f(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	LAZY(curl, curl_multi_add_handle);
	return f ? f(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	LAZY(curl, curl_multi_remove_handle);
	return f ? f(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	LAZY(curl, curl_multi_perform);
	return f ? f(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *numfds)
{
	LAZY(curl, curl_multi_poll);
	return f ? f(m, extra, n, timeout_ms, numfds) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_wakeup(CURLM *m)
{
	LAZY(curl, curl_multi_wakeup);
	return f ? f(m) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	LAZY(curl, curl_multi_info_read);
	return f ? f(m, left) : NULL;
}

CURLU *curl_url(void)
{
	LAZY(curl, curl_url);
	return f ? f() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
	LAZY(curl, curl_url_cleanup);
	if (f)
		f(u);
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	LAZY(curl, curl_url_get);
	return f ? f(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	LAZY(curl, curl_url_set);
	return f ? f(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

/* ---- libssl (called from libcurl's SSL context callback) ---- */

uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op)
{
	LAZY(ssl, SSL_CTX_set_options);
	return f ? f(ctx, op) : 0;
}

/* ---- libcrypto (the SOPS store's AES-256-GCM) ---- */

const EVP_CIPHER *EVP_aes_256_gcm(void)
{
	LAZY(crypto, EVP_aes_256_gcm);
	return f ? f() : NULL;
}

EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void)
{
	LAZY(crypto, EVP_CIPHER_CTX_new);
	return f ? f() : NULL;
}

void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *ctx)
{
	LAZY(crypto, EVP_CIPHER_CTX_free);
	if (f)
		f(ctx);
}

int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr)
{
	LAZY(crypto, EVP_CIPHER_CTX_ctrl);
	return f ? f(ctx, type, arg, ptr) : 0;
}

int EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl, const unsigned char *key,
		      const unsigned char *iv, int enc)
{
	LAZY(crypto, EVP_CipherInit_ex);
	return f ? f(ctx, cipher, impl, key, iv, enc) : 0;
}

int EVP_CipherUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl, const unsigned char *in, int inl)
{
	LAZY(crypto, EVP_CipherUpdate);
	return f ? f(ctx, out, outl, in, inl) : 0;
}

int EVP_CipherFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl)
{
	LAZY(crypto, EVP_CipherFinal_ex);
	return f ? f(ctx, out, outl) : 0;
}
