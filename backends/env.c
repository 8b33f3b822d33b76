#include "lib/compat.h"
#include "backends/backend.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "backends/backend-internal.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * The development backend: HAROMBE_SECRET_<KEY> environment variables.
 *
 * The variables are read once per prefix, copied into locked memory and
 * then wiped from the process environment (the bytes in place, then the
 * entry), so /proc/PID/environ and any child stop showing them.  That copy
 * is process-wide because the environment can only be taken once; a config
 * reload that opens a new env backend reads from the same copy.  set and
 * delete change that copy only: nothing here outlives the process.
 */

#define DEFAULT_PREFIX "HAROMBE_SECRET_"

struct env_var {
	char *name;			/* full variable name (not secret) */
	struct secbuf *value;
};

static struct {
	pthread_rwlock_t lock;
	struct env_var *vars;
	size_t n, cap;
	char **taken;			/* prefixes already taken from environ */
	size_t ntaken;
} store = { .lock = PTHREAD_RWLOCK_INITIALIZER };

struct env_backend {
	struct backend base;
	char *prefix;
};

static struct env_backend *env_downcast(struct backend *be)
{
	return (struct env_backend *)be;
}

static struct env_var *find(const char *name)
{
	size_t i;

	for (i = 0; i < store.n; i++)
		if (!strcmp(store.vars[i].name, name))
			return &store.vars[i];
	return NULL;
}

static int store_put(const char *name, const void *value, size_t len)
{
	struct env_var *v = find(name);
	struct secbuf *sb = secbuf_dup(value, len);

	if (!sb)
		return -BACKEND_ENOMEM;
	if (v) {
		secbuf_free(v->value);
		v->value = sb;
		return 0;
	}
	if (store.n == store.cap) {
		size_t cap = store.cap ? store.cap * 2 : 16;
		struct env_var *nv = realloc(store.vars, cap * sizeof(*nv));

		if (!nv) {
			secbuf_free(sb);
			return -BACKEND_ENOMEM;
		}
		store.vars = nv;
		store.cap = cap;
	}
	if (!(store.vars[store.n].name = strdup(name))) {
		secbuf_free(sb);
		return -BACKEND_ENOMEM;
	}
	store.vars[store.n++].value = sb;
	return 0;
}

/* Move every PREFIX* variable from environ into the store. */
static int take_environ(const char *prefix)
{
	extern char **environ;
	size_t i, plen = strlen(prefix);
	char **t;
	int r = 0;

	for (i = 0; i < store.ntaken; i++)
		if (!strcmp(store.taken[i], prefix))
			return 0;
	for (i = 0; environ && environ[i];) {
		char *e = environ[i], *eq = strchr(e, '=');

		if (!eq || strncmp(e, prefix, plen) != 0) {
			i++;
			continue;
		}
		*eq = 0;
		if (!r)
			r = store_put(e, eq + 1, strlen(eq + 1));
		sodium_memzero(eq + 1, strlen(eq + 1));
		unsetenv(e);	/* shifts environ down: do not advance i */
	}
	t = realloc(store.taken, (store.ntaken + 1) * sizeof(*t));
	if (!t || !(t[store.ntaken] = strdup(prefix))) {
		store.taken = t ? t : store.taken;
		return -BACKEND_ENOMEM;
	}
	store.taken = t;
	store.ntaken++;
	return r;
}

static int env_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		    struct why *err)
{
	struct env_backend *eb;
	const char *prefix = DEFAULT_PREFIX;
	const struct cfg_node *pn = cfg_get(opts, "secret_prefix");
	size_t i;
	int r;

	(void)ctx;
	if ((r = cfg_get_str(opts, "secret_prefix", &prefix, err)))
		return r;
	if (!*prefix)
		return cfg_fail(err, pn, "'secret_prefix' must not be empty");
	for (i = 0; prefix[i]; i++)
		if (!isalnum((unsigned char)prefix[i]) && prefix[i] != '_')
			return cfg_fail(err, pn, "'secret_prefix' may contain only letters, digits and '_'");
	eb = calloc(1, sizeof(*eb));
	if (!eb || !(eb->prefix = strdup(prefix))) {
		free(eb);
		return cfg_fail(err, NULL, "out of memory"), -ENOMEM;
	}
	pthread_rwlock_wrlock(&store.lock);
	r = take_environ(prefix);
	pthread_rwlock_unlock(&store.lock);
	if (r) {
		free(eb->prefix);
		free(eb);
		return cfg_fail(err, NULL, "cannot copy %s* variables into locked memory: %s", prefix,
				backend_strerror(r));
	}
	*out = &eb->base;
	return 0;
}

static void env_close(struct backend *be)
{
	struct env_backend *eb = env_downcast(be);

	free(eb->prefix);
	free(eb);
}

/* github/token -> HAROMBE_SECRET_GITHUB_TOKEN; '/', '-' and '.' become '_'. */
static int var_name(const struct env_backend *eb, const char *key, char *buf, size_t len,
		    struct why *why)
{
	size_t pl = strlen(eb->prefix), i;

	if (backend_key_whole(key))
		return why_fail(why, -BACKEND_ENOTSUP, "the env backend holds single values: '%.*s' is no "
				"secret of several fields to give as a JSON object", (int)(strlen(key) - 1), key);
	if (strchr(key, '#'))
		return why_fail(why, -BACKEND_EINVAL, "the env backend has no fields ('#'): '%s'", key);
	if (pl + strlen(key) + 1 > len)
		return why_fail(why, -BACKEND_EINVAL, "key is too long");
	memcpy(buf, eb->prefix, pl);
	for (i = 0; key[i]; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c == '/' || c == '-' || c == '.')
			c = '_';
		else if (!isalnum(c) && c != '_')
			return why_fail(why, -BACKEND_EINVAL, "key '%s' cannot be an environment variable name", key);
		buf[pl + i] = (char)toupper(c);
	}
	buf[pl + i] = 0;
	return 0;
}

static int env_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	char name[600];
	struct env_var *v;
	int r;

	if ((r = var_name(env_downcast(be), key, name, sizeof(name), why)))
		return r;
	pthread_rwlock_rdlock(&store.lock);
	v = find(name);
	if (v) {
		size_t len;
		const unsigned char *d = secbuf_data(v->value, &len);

		*out = secbuf_dup(d, len);
		r = *out ? 0 : -BACKEND_ENOMEM;
	} else {
		r = -BACKEND_ENOTFOUND;
		why_set(why, "environment variable %s is not set", name);
	}
	pthread_rwlock_unlock(&store.lock);
	if (r == -BACKEND_ENOMEM)
		why_set(why, "locked memory exhausted");
	return r;
}

static int env_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		    struct why *why)
{
	struct env_backend *eb = env_downcast(be);
	char want[600], key[600];
	size_t pl = strlen(eb->prefix), i, k, n = 0;
	char **names = NULL;
	int r = 0;

	if (*prefix && (r = var_name(eb, prefix, want, sizeof(want), why)))
		return r;
	if (!*prefix)
		snprintf(want, sizeof(want), "%s", eb->prefix);
	/* Copy the names out so that fn runs without the lock held. */
	pthread_rwlock_rdlock(&store.lock);
	names = calloc(store.n + 1, sizeof(*names));
	for (i = 0; names && i < store.n; i++)
		if (!strncmp(store.vars[i].name, want, strlen(want)))
			names[n++] = strdup(store.vars[i].name);
	pthread_rwlock_unlock(&store.lock);
	if (!names)
		return -BACKEND_ENOMEM;
	for (i = 0; i < n && !r; i++) {
		if (!names[i])
			continue;
		/* The mapping is not reversible; lower case with '/' for '_'
		 * gives a key that maps back to the same variable. */
		for (k = 0; names[i][pl + k] && k + 1 < sizeof(key); k++)
			key[k] = names[i][pl + k] == '_' ? '/' : (char)tolower((unsigned char)names[i][pl + k]);
		key[k] = 0;
		r = fn(key, arg);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int env_set(struct backend *be, const char *key, const void *value, size_t len,
		   struct why *why)
{
	char name[600];
	int r;

	if ((r = var_name(env_downcast(be), key, name, sizeof(name), why)))
		return r;
	pthread_rwlock_wrlock(&store.lock);
	r = store_put(name, value, len);
	pthread_rwlock_unlock(&store.lock);
	return r;
}

static int env_del(struct backend *be, const char *key, struct why *why)
{
	char name[600];
	struct env_var *v;
	int r;

	if ((r = var_name(env_downcast(be), key, name, sizeof(name), why)))
		return r;
	pthread_rwlock_wrlock(&store.lock);
	v = find(name);
	if (v) {
		secbuf_free(v->value);
		free(v->name);
		*v = store.vars[--store.n];
	} else {
		r = -BACKEND_ENOTFOUND;
		why_set(why, "environment variable %s is not set", name);
	}
	pthread_rwlock_unlock(&store.lock);
	return r;
}

const struct backend_ops backend_env = {
	.name = "env",
	.caps = BACKEND_CAN_LIST | BACKEND_CAN_WRITE | BACKEND_INSTANT,
	.open = env_open,
	.close = env_close,
	.get = env_get,
	.list = env_list,
	.set = env_set,
	.del = env_del,
};
