#ifndef INJECT_FETCH_H
#define INJECT_FETCH_H

#include <stddef.h>
#include "inject/render.h"
#include "lib/audit.h"
#include "lib/why.h"

/*
 * A view's values: the one path from a list of NAME -> key pairs to
 * plaintext.  The mount's open, `harombe run`, `container start` and
 * `container secrets` all fetch here: one batch through the backend
 * (backend_get_many: in parallel where the store allows, one shared fetch
 * for concurrent opens), the values in locked memory owned by a struct
 * inject_values, and the audit context of the result (which name and key
 * failed, the backend's error, its reason).  inject_values_wipe() and
 * inject_values_release() are the only places that wipe them.
 *
 * Errors are the backend's (-BACKEND_E*, which are -errno values): fs/ maps
 * them to what FUSE returns, cli/ to exit statuses (cli_exit_for).
 */

struct backend;
struct secbuf;
struct run_env;

struct inject_values {
	/* the request, borrowed from the caller: n names and n keys */
	const char *const *names;
	const char *const *keys;
	size_t n;
	/* the result */
	struct secbuf **values;	/* n, locked memory; NULL where a fetch failed */
	int *rcs;		/* each key's result: 0 or -BACKEND_E* */
	struct why *whys;	/* each key's reason (never a value) */
	size_t failed;		/* the first key that failed, n when none did */
	int rc;			/* 0, or what failed: rcs[failed], or -ENOMEM */
	struct why why;		/* its reason: whys[failed], "out of memory", ... */
};

#define INJECT_VALUES_INIT { NULL, NULL, 0, NULL, NULL, NULL, 0, 0, WHY_INIT }

/* A request without values: names[i] -> keys[i], n of them (borrowed; they
 * must outlive vals).  For audit records of requests that were refused
 * before any fetch. */
void inject_values_init(struct inject_values *vals, const char *const *names,
			const char *const *keys, size_t n);

/*
 * Fetch keys[0..n) (names[i] is what keys[i] is called in the view or the
 * environment) in one batch.  0 when every key was fetched; else the first
 * failing key's backend error with vals->failed, vals->rc and vals->why
 * set, and every key's own result in vals->rcs / vals->whys; or -ENOMEM
 * (vals->failed == n) when there was no memory for the batch.  Whatever it
 * returns, vals must be released with inject_values_release().
 */
int inject_fetch(struct backend *be, const char *const *names, const char *const *keys, size_t n,
		 struct inject_values *vals);

/* inject_fetch() on behalf of a container (scope): dynamic secrets (Vault
 * leases) are kept one per container and path (backend_get_many_for). */
int inject_fetch_for(struct backend *be, const char *scope, const char *const *names,
		     const char *const *keys, size_t n, struct inject_values *vals);
/* inject_fetch_for() from memory alone (backend_try_get_many_for()), for
 * a thread that must not wait on the store: the same results, or
 * -BACKEND_EWOULDBLOCK with no value fetched when any key needs the store;
 * then inject_values_release(vals) and fetch the ordinary way. */
int inject_try_fetch_for(struct backend *be, const char *scope, const char *const *names,
			 const char *const *keys, size_t n, struct inject_values *vals);

/* Wipe and free every value now; the result (rcs, whys, failed, rc, why)
 * stays for the report and the audit record.  NULL-safe. */
void inject_values_wipe(struct inject_values *vals);
/* Wipe the values and free everything vals holds.  NULL-safe. */
void inject_values_release(struct inject_values *vals);

/* render_view() of the values, names as in the request. */
int inject_render(const struct inject_values *vals, enum render_kind kind, size_t max,
		  struct secbuf **out, struct why *why);

struct template;
/* template_render() of the values: vals was fetched with template_keys(t)
 * and template_names(t) (the template's keys, one batch). */
int inject_render_template(const struct inject_values *vals, const struct template *t, size_t max,
			   struct secbuf **out, struct why *why);

/*
 * Set NAME=value in env for every value.  0, or run_env_set()'s -EINVAL (a
 * value with a NUL byte, which an environment cannot hold) or -ENOMEM, with
 * vals->failed, vals->rc (-BACKEND_EINVAL / -BACKEND_ENOMEM) and the reason
 * set as for a failed fetch.
 */
int inject_fill_env(struct inject_values *vals, struct run_env *env);

/* Who read what, for inject_audit(). */
struct inject_audit {
	enum audit_event event;	/* secret_read, injection_start, injection_complete, access_denied */
	const char *source;	/* "harombefs", "harombe" */
	const char *container;
	const char *view;	/* "env", "secrets/NAME"; NULL when not a file */
	const struct audit_caller *caller;
	const struct audit_kv *extra;
	size_t n_extra;
};

/* Record vals' names and keys (NEVER A VALUE) with result ("ok", "error",
 * "denied") and reason (NULL on success).  0, also when a does not record
 * this event, or audit_write()'s -errno. */
int inject_audit(struct audit *a, const struct inject_audit *ia, const struct inject_values *vals,
		 const char *result, const char *reason);

#endif
