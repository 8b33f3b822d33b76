#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "backends/vault/sjson.h"
#include "lib/log.h"
#include "lib/secbuf.h"

/*
 * KV operations (version 1 and 2): read, write, delete, list and
 * metadata, and the mount's KV version.  The ops table in vault.c points here.
 */

/* ---- KV version of the mount ---- */

/* 1 or 2, or a negative backend error. */
int vault_kv_version(struct vault_backend *vb, uint64_t deadline, struct why *why)
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
	if (vcall_init(&c, "GET", path, NULL, MAX_SECRET_RESP)) {
		v = why_fail(why, -BACKEND_ENOMEM, "out of memory");
		goto out;
	}
	if ((v = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		v = 1;
	} else if (!vault_is_success(c.req.status)) {
		v = vault_status_fail(vb, &c, why);
		if (why && strlen(why->msg) + 40 < sizeof(why->msg))
			strcat(why->msg, " (detecting the KV version: see vault_kv_version)");
	} else if (!(v = vault_parse_resp(vb, &c, &root, why))) {
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
	return vault_api_path(vb, kv == 2 ? "data" : NULL, k->path, q);
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
	long long ver;
	int r;

	if (kv == 2 && c->req.resp && secbuf_len(c->req.resp) &&
	    !sjson_parse(secbuf_str(c->req.resp), secbuf_len(c->req.resp), &root, NULL) &&
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
int vault_pick_field(struct json_object *data, const struct vault_key *k, struct secbuf **out,
		      struct why *why)
{
	struct json_object *v = NULL;
	char names[160];
	int count;

	if (!data || !json_object_is_type(data, json_type_object))
		return why_fail(why, -BACKEND_EINVAL, "secret '%s' holds no fields", k->path);
	count = json_object_object_length(data);
	if (k->whole) {
		/* Every field as one JSON object, escaped straight into locked
		 * memory (sjson_write); the tree is wiped by the caller. */
		if (!(*out = secbuf_new(256)))
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		if (sjson_write(*out, data)) {
			secbuf_free(*out);
			*out = NULL;
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		}
		return 0;
	}
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

int vault_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
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
	kv = vault_kv_version(vb, deadline, &kvwhy);
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
		if ((rcs[i] = vault_key_parse_read(keys[i], &ks[i], W(i))))
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
		if ((rcs[i] = vcall_init(&calls[ncalls], "GET", data_path(vb, kv, &ks[i]), NULL,
					 MAX_SECRET_RESP))) {
			why_fail(W(i), rcs[i], "out of memory");
			continue;
		}
		which[i] = ncalls++;
	}
	vault_run(vb, calls, ncalls, deadline);
	for (j = 0; j < ncalls; j++)
		if (!calls[j].rc && calls[j].req.status == 200)
			prc[j] = vault_parse_resp(vb, &calls[j], &roots[j], &pwhy[j]);
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
			rcs[i] = vault_status_fail(vb, c, W(i));
		} else if (prc[j]) {
			rcs[i] = prc[j];
			if (whys)
				whys[i] = pwhy[j];
		} else {
			data = sjson_obj(roots[j], "data");
			if (kv == 2)
				data = sjson_obj(data, "data");
			rcs[i] = vault_pick_field(data, &ks[i], &outs[i], W(i));
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

int vault_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	int rc = 0;

	vault_get_many_for(be, NULL, 1, &key, out, &rc, why);
	return rc;
}

/* Every field of one secret, from one read (harombe vault export). */
int vault_fields(struct backend *be, const char *path, backend_field_fn *fn, void *arg,
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
	if ((kv = vault_kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1 && k.version)
		return why_fail(why, -BACKEND_EINVAL, "'%s': mount '%s' is KV version 1, which has no versions", path,
				vb->mount);
	if ((r = vcall_init(&c, "GET", data_path(vb, kv, &k), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = not_found(vb, kv, &c, &k, why);
	} else if (c.req.status != 200) {
		r = vault_status_fail(vb, &c, why);
	} else if (!(r = vault_parse_resp(vb, &c, &root, why))) {
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

static int exists(struct vault_backend *vb, int kv, const struct vault_key *k, uint64_t deadline,
		  struct why *why)
{
	struct vcall c;
	int r;

	if ((r = vcall_init(&c, "GET", vault_api_path(vb, kv == 2 ? "metadata" : NULL, k->path, ""), NULL,
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
	if ((kv = vault_kv_version(vb, deadline, why)) < 0)
		return kv;
	if (merge && kv == 2) {
		/* PATCH merges the fields into the current version (Vault
		 * >= 1.9); a secret that does not exist yet is created. */
		struct secbuf *b = fields_body(2, NULL, NULL, n, fields, values, lens);

		if (!b)
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		if ((r = vcall_init(&c, "PATCH", vault_api_path(vb, "data", k->path, ""), b, MAX_SECRET_RESP))) {
			secbuf_free(b);
			return why_fail(why, r, "out of memory");
		}
		c.ctype = "Content-Type: application/merge-patch+json";
		r = vault_run_ok(vb, &c, deadline, why);
		vcall_release(&c);
		if (r != -BACKEND_ENOTFOUND)
			return r;
		merge = 0;
	}
	if (merge) {
		/* KV 1 has no merge: read, replace the field, write back. */
		if ((r = vcall_init(&c, "GET", vault_api_path(vb, NULL, k->path, ""), NULL, MAX_SECRET_RESP)))
			return why_fail(why, r, "out of memory");
		if ((r = vault_run_one(vb, &c, deadline, why))) {
			/* why is filled */
		} else if (c.req.status == 200) {
			if (!(r = vault_parse_resp(vb, &c, &root, why)))
				keep = sjson_obj(root, "data");
		} else if (c.req.status != 404) {
			r = vault_status_fail(vb, &c, why);
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
		if ((r = vcall_init(&c, "POST", vault_api_path(vb, kv == 2 ? "data" : NULL, k->path, ""), b,
				   MAX_SECRET_RESP))) {
			secbuf_free(b);
			return why_fail(why, r, "out of memory");
		}
	}
	r = vault_run_ok(vb, &c, deadline, why);
	vcall_release(&c);
	return r;
}

int vault_set(struct backend *be, const char *key, const void *value, size_t len,
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

int vault_set_fields(struct backend *be, const char *key, size_t n, const char *const *fields,
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
	if ((kv = vault_kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1 && k.version)
		return why_fail(why, -BACKEND_EINVAL, "mount '%s' is KV version 1: it has no versions", vb->mount);
	if (purge && k.version)
		return why_fail(why, -BACKEND_EINVAL, "--purge removes every version: give '%s' without '@%lld'",
				k.path, k.version);
	if ((r = exists(vb, kv, &k, deadline, why)))
		return r;
	if (kv == 2 && purge) {
		r = vcall_init(&c, "DELETE", vault_api_path(vb, "metadata", k.path, ""), NULL, MAX_SECRET_RESP);
	} else if (kv == 2 && k.version) {
		snprintf(num, sizeof(num), "%lld", k.version);
		b = secbuf_new(64);
		if (!b || sjson_raw(b, "{\"versions\":[") || sjson_raw(b, num) || sjson_raw(b, "]}")) {
			secbuf_free(b);
			return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		}
		r = vcall_init(&c, "POST", vault_api_path(vb, "delete", k.path, ""), b, MAX_SECRET_RESP);
	} else {
		r = vcall_init(&c, "DELETE", vault_api_path(vb, kv == 2 ? "data" : NULL, k.path, ""), NULL,
			      MAX_SECRET_RESP);
	}
	if (r) {
		secbuf_free(b);
		return why_fail(why, r, "out of memory");
	}
	r = vault_run_ok(vb, &c, deadline, why);
	vcall_release(&c);
	return r;
}

int vault_del(struct backend *be, const char *key, struct why *why)
{
	return remove_secret(be, key, 0, why);
}

int vault_purge(struct backend *be, const char *key, struct why *why)
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

int vault_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
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
	if ((kv = vault_kv_version(vb, deadline, why)) < 0)
		return kv;
	if (asprintf(&dir, "%s%s", prefix, len && prefix[len - 1] != '/' ? "/" : "") < 0)
		return why_fail(why, -BACKEND_ENOMEM, "out of memory");
	if ((r = vcall_init(&c, "LIST", vault_api_path(vb, kv == 2 ? "metadata" : NULL, prefix, "/"), NULL,
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
		r = vault_status_fail(vb, &c, why);
	} else if (!(r = vault_parse_resp(vb, &c, &root, why))) {
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

int vault_meta(struct backend *be, const char *key, struct backend_meta *out,
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
	if ((kv = vault_kv_version(vb, deadline, why)) < 0)
		return kv;
	if (kv == 1)
		return why_fail(why, -BACKEND_ENOTSUP, "mount '%s' is KV version 1: no versions or times", vb->mount);
	if ((r = vcall_init(&c, "GET", vault_api_path(vb, "metadata", k.path, ""), NULL, MAX_SECRET_RESP)))
		return why_fail(why, r, "out of memory");
	if ((r = vault_run_one(vb, &c, deadline, why))) {
		/* why is filled */
	} else if (c.req.status == 404) {
		r = why_fail(why, -BACKEND_ENOTFOUND, "no secret '%s' in mount '%s' at %s", k.path, vb->mount,
			     vb->addr);
	} else if (c.req.status != 200) {
		r = vault_status_fail(vb, &c, why);
	} else if (!(r = vault_parse_resp(vb, &c, &root, why))) {
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
