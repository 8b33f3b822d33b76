#include "lib/compat.h"
#include "inject/view.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/names.h"

static const char *const container_keys[] = {
	"image", "enabled", "secrets", "uid", "gid", "cgroup", "environment", "resources",
	"egress_allow", "mounts", "timeout", "confirm_actions", "on_rotate", "limits", NULL,
};

/* uid: 1000 or uid: www-data. */
static int get_id(const struct cfg_node *c, const char *key, int is_user, unsigned long *out,
		  unsigned long *primary_gid, struct why *err)
{
	const struct cfg_node *n = cfg_get(c, key);
	char *end;
	unsigned long v;

	if (!n || cfg_is_null(n))
		return 1;	/* absent */
	if (n->kind != CFG_SCALAR || !n->text_len)
		return cfg_fail(err, n, "'%s' must be a number or a %s name", key, is_user ? "user" : "group");
	errno = 0;
	v = strtoul(n->text, &end, 10);
	if (!errno && !*end && n->text[0] != '-' && n->text[0] != '+') {
		if (v >= 0xffffffffUL)
			return cfg_fail(err, n, "'%s' %s is out of range", key, n->text);
		*out = v;
		if (is_user && primary_gid) {
			struct passwd *pw = getpwuid((uid_t)v);

			*primary_gid = pw ? pw->pw_gid : v;
		}
		return 0;
	}
	if (is_user) {
		struct passwd *pw = getpwnam(n->text);

		if (!pw)
			return cfg_fail(err, n, "unknown user '%s' in '%s'", n->text, key);
		*out = pw->pw_uid;
		if (primary_gid)
			*primary_gid = pw->pw_gid;
	} else {
		struct group *gr = getgrnam(n->text);

		if (!gr)
			return cfg_fail(err, n, "unknown group '%s' in '%s'", n->text, key);
		*out = gr->gr_gid;
	}
	return 0;
}

static int load_view(const struct harombe_config *cfg, const struct cfg_node *name,
		     const struct cfg_node *c, struct view *v, struct why *err)
{
	struct harombe_limits lim = cfg->fs.limits;
	const struct cfg_node *secrets, *cg;
	const char *why;
	unsigned long id = 0, pgid = 0;
	size_t i;
	int r;

	if ((why = names_check_container(name->text)))
		return cfg_fail(err, name, "container name '%s' %s", name->text, why);
	if (c->kind != CFG_MAP && !cfg_is_null(c))
		return cfg_fail(err, c, "container '%s' must be a mapping", name->text);
	cfg_warn_unknown(c, "a container", container_keys);
	if (!(v->container = strdup(name->text)))
		return -ENOMEM;

	r = get_id(c, "uid", 1, &id, &pgid, err);
	if (r < 0)
		return r;
	v->uid = r ? 0 : (uid_t)id;
	v->gid = r ? 0 : (gid_t)pgid;
	r = get_id(c, "gid", 0, &id, NULL, err);
	if (r < 0)
		return r;
	if (r == 0) {
		v->gid = (gid_t)id;
		v->gid_set = 1;
	}
	cg = cfg_get(c, "cgroup");
	if (cg && !cfg_is_null(cg)) {
		if (cg->kind != CFG_SCALAR || cg->text[0] != '/')
			return cfg_fail(err, cg, "'cgroup' must be a path pattern starting with '/', "
					"such as /system.slice/docker-*.scope");
		if (!(v->cgroup = strdup(cg->text)))
			return -ENOMEM;
	}
	if ((r = config_get_limits(c, cfg->fs.locked_memory, &lim, err)))
		return r;
	v->max_open = lim.open_files;
	v->max_locked = lim.locked_memory;

	secrets = cfg_get(c, "secrets");
	if (!secrets || cfg_is_null(secrets))
		return 0;
	if (secrets->kind != CFG_MAP)
		return cfg_fail(err, secrets, "'secrets' must map NAME: vault/key");
	v->secrets = calloc(secrets->n + 1, sizeof(*v->secrets));
	v->names = calloc(secrets->n + 1, sizeof(*v->names));
	v->keys = calloc(secrets->n + 1, sizeof(*v->keys));
	if (!v->secrets || !v->names || !v->keys)
		return -ENOMEM;
	for (i = 0; i < secrets->n; i++) {
		const struct cfg_node *k = secrets->keys[i], *val = secrets->items[i];
		struct view_secret *s = &v->secrets[v->n];

		if ((why = names_check_env(k->text)))
			return cfg_fail(err, k, "variable name '%s' %s", k->text, why);
		if (val->kind != CFG_SCALAR || cfg_is_null(val))
			return cfg_fail(err, val, "'%s' must map to a vault key such as github/token", k->text);
		if ((why = names_check_key(val->text)))
			return cfg_fail(err, val, "secret key for '%s' %s", k->text, why);
		if (!(s->name = strdup(k->text)) || !(s->key = strdup(val->text)))
			return -ENOMEM;
		v->names[v->n] = s->name;
		v->keys[v->n] = s->key;
		v->n++;
	}
	return 0;
}

static void view_release(struct view *v)
{
	size_t i;

	for (i = 0; v->secrets && i < v->n; i++) {
		free(v->secrets[i].name);
		free(v->secrets[i].key);
	}
	free(v->secrets);
	free(v->names);
	free(v->keys);
	free(v->container);
	free(v->cgroup);
}

int viewset_load(const struct harombe_config *cfg, struct viewset **out, struct why *err)
{
	const struct cfg_node *cs = cfg->containers;
	struct viewset *vs = calloc(1, sizeof(*vs));
	size_t i;
	int r = 0;

	*out = NULL;
	if (!vs)
		return -ENOMEM;
	if (cs && cs->n) {
		vs->views = calloc(cs->n, sizeof(*vs->views));
		if (!vs->views) {
			free(vs);
			return -ENOMEM;
		}
	}
	for (i = 0; cs && i < cs->n; i++) {
		int enabled = 1;

		if ((r = cfg_get_bool(cs->items[i], "enabled", &enabled, err)))
			break;
		if (!enabled)
			continue;
		r = load_view(cfg, cs->keys[i], cs->items[i], &vs->views[vs->n], err);
		vs->n++;
		if (r)
			break;
	}
	if (r) {
		if (r == -ENOMEM && !err->msg[0])
			cfg_fail(err, NULL, "out of memory loading containers");
		viewset_free(vs);
		return r;
	}
	*out = vs;
	return 0;
}

void viewset_free(struct viewset *vs)
{
	size_t i;

	if (!vs)
		return;
	for (i = 0; i < vs->n; i++)
		view_release(&vs->views[i]);
	free(vs->views);
	free(vs);
}

const struct view *viewset_find(const struct viewset *vs, const char *container)
{
	size_t i;

	for (i = 0; vs && i < vs->n; i++)
		if (!strcmp(vs->views[i].container, container))
			return &vs->views[i];
	return NULL;
}

int view_find_secret(const struct view *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->secrets[i].name, name))
			return (int)i;
	return -1;
}

int view_equal(const struct view *a, const struct view *b)
{
	size_t i;

	if (a->uid != b->uid || a->gid != b->gid || a->gid_set != b->gid_set || a->n != b->n)
		return 0;
	if ((a->cgroup == NULL) != (b->cgroup == NULL) || (a->cgroup && strcmp(a->cgroup, b->cgroup)))
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->secrets[i].name, b->secrets[i].name) || strcmp(a->secrets[i].key, b->secrets[i].key))
			return 0;
	return 1;
}
