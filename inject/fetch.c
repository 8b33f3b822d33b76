#include "lib/compat.h"
#include "inject/fetch.h"

/*
 * A view's values: fetch them in one batch, hold them in locked memory,
 * render them or hand them to an environment, wipe them, and audit the
 * read.  Nothing else in harombe fetches a view's keys.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "inject/run.h"
#include "inject/template.h"
#include "lib/audit.h"
#include "lib/secbuf.h"

void inject_values_init(struct inject_values *vals, const char *const *names,
			const char *const *keys, size_t n)
{
	struct inject_values init = INJECT_VALUES_INIT;

	*vals = init;
	vals->names = names;
	vals->keys = keys;
	vals->n = n;
	vals->failed = n;
}

int inject_fetch(struct backend *be, const char *const *names, const char *const *keys, size_t n,
		 struct inject_values *vals)
{
	return inject_fetch_for(be, NULL, names, keys, n, vals);
}

static int fetch(struct backend *be, const char *scope, const char *const *names, const char *const *keys,
		 size_t n, struct inject_values *vals, int try)
{
	size_t i;
	int r;

	inject_values_init(vals, names, keys, n);
	vals->values = calloc(n + 1, sizeof(*vals->values));
	vals->rcs = calloc(n + 1, sizeof(*vals->rcs));
	/* Not zeroed (2 KiB each): backend_get_many_for() clears each one. */
	vals->whys = malloc((n + 1) * sizeof(*vals->whys));
	if (!vals->values || !vals->rcs || !vals->whys) {
		vals->rc = -ENOMEM;
		why_set(&vals->why, "out of memory");
		return -ENOMEM;
	}
	if (try)
		r = backend_try_get_many_for(be, scope, n, keys, vals->values, vals->rcs, vals->whys);
	else
		r = backend_get_many_for(be, scope, n, keys, vals->values, vals->rcs, vals->whys);
	if (r == -BACKEND_EWOULDBLOCK && try) {
		vals->rc = r;
		return r;
	}
	if (r) {
		for (i = 0; i < n && !vals->rcs[i]; i++)
			;
		vals->failed = i;
		vals->rc = r;
		if (i < n)
			vals->why = vals->whys[i];
	}
	return r;
}

int inject_fetch_for(struct backend *be, const char *scope, const char *const *names,
		     const char *const *keys, size_t n, struct inject_values *vals)
{
	return fetch(be, scope, names, keys, n, vals, 0);
}

int inject_try_fetch_for(struct backend *be, const char *scope, const char *const *names,
			 const char *const *keys, size_t n, struct inject_values *vals)
{
	return fetch(be, scope, names, keys, n, vals, 1);
}

void inject_values_wipe(struct inject_values *vals)
{
	size_t i;

	if (!vals || !vals->values)
		return;
	for (i = 0; i < vals->n; i++) {
		secbuf_free(vals->values[i]);
		vals->values[i] = NULL;
	}
}

void inject_values_release(struct inject_values *vals)
{
	if (!vals)
		return;
	inject_values_wipe(vals);
	free(vals->values);
	free(vals->rcs);
	free(vals->whys);
	vals->values = NULL;
	vals->rcs = NULL;
	vals->whys = NULL;
}

int inject_render(const struct inject_values *vals, enum render_kind kind, size_t max,
		  struct secbuf **out, struct why *why)
{
	return render_view(kind, vals->n, vals->names, vals->values, max, out, why);
}

int inject_render_template(const struct inject_values *vals, const struct template *t, size_t max,
			   struct secbuf **out, struct why *why)
{
	if (vals->n != template_nkeys(t)) {
		*out = NULL;
		return why_fail(why, -EINVAL, "the values are not the template's keys");
	}
	return template_render(t, vals->values, max, out, why);
}

int inject_fill_env(struct inject_values *vals, struct run_env *env)
{
	size_t i;

	for (i = 0; i < vals->n; i++) {
		size_t len;
		const unsigned char *d = secbuf_data(vals->values[i], &len);
		int e = run_env_set(env, vals->names[i], d, len);

		if (e) {
			vals->failed = i;
			vals->rc = vals->rcs[i] = e == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EINVAL;
			why_set(&vals->whys[i], "%s", e == -ENOMEM ? "locked memory exhausted" :
				"the value contains a NUL byte, which an environment variable cannot hold");
			vals->why = vals->whys[i];
			return e;
		}
	}
	return 0;
}

int inject_audit(struct audit *a, const struct inject_audit *ia, const struct inject_values *vals,
		 const char *result, const char *reason)
{
	struct audit_record rec = {
		.event = ia->event,
		.source = ia->source,
		.container = ia->container,
		.view = ia->view,
		.names = vals->names,
		.n_names = vals->names ? vals->n : 0,
		.keys = vals->keys,
		.n_keys = vals->n,
		.caller = ia->caller,
		.result = result,
		.reason = reason,
		.extra = ia->extra,
		.n_extra = ia->n_extra,
	};

	if (!audit_wants(a, ia->event))
		return 0;
	return audit_write(a, &rec);
}
