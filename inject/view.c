#include "lib/compat.h"
#include "inject/view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "inject/template.h"
#include "lib/config.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/trust.h"

static const char *const container_keys[] = {
	"image", "enabled", "secrets", "uid", "gid", "cgroup", "environment", "resources",
	"egress_allow", "mounts", "timeout", "confirm_actions", "on_rotate", "limits", "mode", "templates", "watch", "on_change",
	"certificates", NULL,
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

/* mode: "0400" (the default) or "0440", which needs the view's gid. */
static int get_mode(const struct cfg_node *map, const struct view *v, unsigned int *mode, struct why *err)
{
	const struct cfg_node *n = cfg_get(map, "mode");

	*mode = 0400;
	if (!n || cfg_is_null(n))
		return 0;
	if (n->kind != CFG_SCALAR || (strcmp(n->text, "0400") && strcmp(n->text, "0440") &&
				      strcmp(n->text, "400") && strcmp(n->text, "440")))
		return cfg_fail(err, n, "'mode' must be \"0400\" or \"0440\"");
	*mode = strstr(n->text, "440") ? 0440 : 0400;
	if (*mode == 0440 && !v->gid_set)
		return cfg_fail(err, n, "mode 0440 shares the file with the view's group: set 'gid' too");
	return 0;
}

static int check_file_name(const struct cfg_node *k, const struct view *v, struct why *err)
{
	static const char *const reserved[] = { VIEW_RESERVED_NAMES };
	const char *s = k->text;
	size_t i;

	if (!k->text_len || k->text_len > NAMES_ENV_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return cfg_fail(err, k, "template file name '%s' must be 1 to %d bytes, not . or ..", s,
				NAMES_ENV_MAX);
	for (i = 0; i < k->text_len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return cfg_fail(err, k, "template file name '%s' holds '/' or a control character", s);
	for (i = 0; i < ARRAY_SIZE(reserved); i++)
		if (!strcmp(s, reserved[i]))
			return cfg_fail(err, k, "'%s' is a file every view has; name the template otherwise", s);
	if (view_find_template(v, s) >= 0)
		return cfg_fail(err, k, "template '%s' is given twice", s);
	if (view_find_file(v, s) >= 0)
		return cfg_fail(err, k, "'%s' is already a certificate file of the view", s);
	return 0;
}

/* A template's source file: absolute, or relative to the config's
 * directory; held to the config's own strict modes (lib/trust.h). */
static int read_source(const struct harombe_config *cfg, const struct cfg_node *src, char **text,
		       size_t *len, char **path, struct why *err)
{
	const char *slash = strrchr(cfg->path, '/');
	struct why tw = WHY_INIT;
	struct stat st;
	ssize_t got;
	int fd, r;

	*text = NULL;
	if (src->kind != CFG_SCALAR || !src->text_len)
		return cfg_fail(err, src, "'source' must be a file name");
	if (src->text[0] == '/' || !slash) {
		*path = strdup(src->text);
	} else if (asprintf(path, "%.*s/%s", (int)(slash - cfg->path), cfg->path, src->text) < 0) {
		*path = NULL;
	}
	if (!*path)
		return -ENOMEM;
	fd = open(*path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cfg_fail(err, src, "cannot open template '%s': %s", *path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TEMPLATE_MAX_TEXT) {
		close(fd);
		return cfg_fail(err, src, "template '%s' is not a regular file of at most 1 MiB", *path);
	}
	/* Whoever can write a template can make it name any key of the view. */
	if ((r = trust_check_fd(fd, *path, "template", &tw)) != 0) {
		close(fd);
		return cfg_fail(err, src, "%s", tw.msg);
	}
	if (!(*text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	*len = 0;
	while (*len < (size_t)st.st_size && (got = read(fd, *text + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)got;
	close(fd);
	(*text)[*len] = 0;
	return 0;
}

static int load_template(const struct harombe_config *cfg, const struct cfg_node *k,
			 const struct cfg_node *t, struct view *v, struct why *err)
{
	struct view_template *vt = &v->templates[v->n_templates];
	const struct cfg_node *src = cfg_get(t, "source"), *inl = cfg_get(t, "inline");
	static const char *const keys[] = { "source", "inline", "mode", NULL };
	char what[NAMES_ENV_MAX + NAMES_CONTAINER_MAX + 64], *text = NULL, *path = NULL;
	struct template_origin o = { 0 };
	size_t len = 0;
	int r;

	if ((r = check_file_name(k, v, err)))
		return r;
	if (t->kind != CFG_MAP)
		return cfg_fail(err, t, "template '%s' must be a mapping: {source: FILE} or {inline: TEXT}",
				k->text);
	cfg_warn_unknown(t, "a template", keys);
	if (!!(src && !cfg_is_null(src)) == !!(inl && !cfg_is_null(inl)))
		return cfg_fail(err, t, "template '%s' needs exactly one of 'source' and 'inline'", k->text);
	if (!(vt->name = strdup(k->text)))
		return -ENOMEM;
	v->n_templates++;
	if ((r = get_mode(t, v, &vt->mode, err)))
		return r;
	snprintf(what, sizeof(what), "template '%s' of container '%s'", k->text, v->container);
	if (src && !cfg_is_null(src)) {
		if ((r = read_source(cfg, src, &text, &len, &path, err)) == 0) {
			o.file = path;
			o.what = what;
			r = template_parse(&o, text, len, v->keys, v->names, v->n, &vt->tmpl, err);
		}
		free(text);
		free(path);
		return r;
	}
	if (inl->kind != CFG_SCALAR)
		return cfg_fail(err, inl, "'inline' must be the template's text");
	o.file = inl->file;
	o.line = inl->line;
	o.col = inl->col;
	o.what = what;
	return template_parse(&o, inl->text, inl->text_len, v->keys, v->names, v->n, &vt->tmpl, err);
}

static const struct {
	const char *name;
	int sig;
} change_signals[] = {
	{ "HUP", SIGHUP }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM },
	{ "INT", SIGINT }, { "QUIT", SIGQUIT }, { "WINCH", SIGWINCH }, { "CONT", SIGCONT },
};

/* on_change: {signal: HUP, command: CMD, user: U, min_interval: 10s} */
static int load_on_change(const struct cfg_node *c, struct view *v, struct why *err)
{
	static const char *const keys[] = { "signal", "command", "user", "min_interval", NULL };
	const struct cfg_node *oc = cfg_get(c, "on_change"), *sig, *cmd;
	struct view_on_change *h;
	unsigned long id = 0, pgid = 0;
	size_t i;
	int r;

	if (!oc || cfg_is_null(oc))
		return 0;
	if (oc->kind != CFG_MAP)
		return cfg_fail(err, oc, "'on_change' must be a mapping: {signal: HUP} and/or {command: ...}");
	cfg_warn_unknown(oc, "on_change", keys);
	if (!(h = v->on_change = calloc(1, sizeof(*h))))
		return -ENOMEM;
	h->uid = v->uid;
	h->gid = v->gid;
	h->min_interval_ms = VIEW_ON_CHANGE_INTERVAL_MS;
	sig = cfg_get(oc, "signal");
	if (sig && !cfg_is_null(sig)) {
		const char *name = sig->kind == CFG_SCALAR ? sig->text : "";

		if (!strncmp(name, "SIG", 3))
			name += 3;
		for (i = 0; i < ARRAY_SIZE(change_signals); i++)
			if (!strcmp(name, change_signals[i].name))
				h->signal = change_signals[i].sig;
		if (!h->signal)
			return cfg_fail(err, sig, "'signal' must be one of HUP, USR1, USR2, TERM, INT, QUIT, "
					"WINCH, CONT");
		if (!v->cgroup)
			return cfg_fail(err, sig, "on_change 'signal' goes to the processes of the container's "
					"cgroup: set 'cgroup' too");
	}
	cmd = cfg_get(oc, "command");
	if (cmd && !cfg_is_null(cmd)) {
		if (cmd->kind == CFG_SCALAR && cmd->text_len) {
			h->argc = 3;
			if (!(h->argv = calloc(4, sizeof(*h->argv))) || !(h->argv[0] = strdup("/bin/sh")) ||
			    !(h->argv[1] = strdup("-c")) || !(h->argv[2] = strdup(cmd->text)))
				return -ENOMEM;
		} else if (cmd->kind == CFG_SEQ && cmd->n) {
			if (!(h->argv = calloc(cmd->n + 1, sizeof(*h->argv))))
				return -ENOMEM;
			for (i = 0; i < cmd->n; i++) {
				if (cmd->items[i]->kind != CFG_SCALAR || !cmd->items[i]->text_len)
					return cfg_fail(err, cmd->items[i], "'command' arguments must be non-empty strings");
				if (!(h->argv[i] = strdup(cmd->items[i]->text)))
					return -ENOMEM;
				h->argc++;
			}
			if (h->argv[0][0] != '/')
				return cfg_fail(err, cmd->items[0], "the command's program must be an absolute path");
		} else {
			return cfg_fail(err, cmd, "'command' must be a string (run by /bin/sh -c) or a list");
		}
	}
	if (!h->signal && !h->argv)
		return cfg_fail(err, oc, "'on_change' needs 'signal' or 'command'");
	r = get_id(oc, "user", 1, &id, &pgid, err);
	if (r < 0)
		return r;
	if (r == 0) {
		h->uid = (uid_t)id;
		h->gid = (gid_t)pgid;
	}
	if ((r = cfg_get_duration_ms(oc, "min_interval", &h->min_interval_ms, err)))
		return r;
	return 0;
}

static int on_change_equal(const struct view_on_change *a, const struct view_on_change *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	if (a->signal != b->signal || a->uid != b->uid || a->gid != b->gid || a->argc != b->argc ||
	    a->min_interval_ms != b->min_interval_ms)
		return 0;
	for (i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]))
			return 0;
	return 1;
}

/* ---- certificates: ---- */

/* Append s, %-encoded except for unreserved characters (RFC 3986). */
static int put_enc(char **buf, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (*len + 4 > *cap) {
			char *nb = realloc(*buf, *cap * 2);

			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap *= 2;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			(*buf)[(*len)++] = (char)c;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[c >> 4];
			(*buf)[(*len)++] = hex[c & 15];
		}
		(*buf)[*len] = 0;
	}
	return 0;
}

static int put_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	while (*len + n + 1 > *cap) {
		char *nb = realloc(*buf, *cap * 2);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap *= 2;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return 0;
}

/* "&name=v1,v2" from a string or a list of strings (absent: nothing). */
static int put_param(const struct cfg_node *cert, const char *name, int list, char **buf, size_t *len,
		     size_t *cap, struct why *err)
{
	const struct cfg_node *n = cfg_get(cert, name);
	size_t i;
	int r;

	if (!n || cfg_is_null(n))
		return 0;
	if (n->kind == CFG_SCALAR) {
		if (!n->text_len)
			return cfg_fail(err, n, "'%s' must not be empty", name);
		if ((r = put_raw(buf, len, cap, "&")) || (r = put_raw(buf, len, cap, name)) ||
		    (r = put_raw(buf, len, cap, "=")) || (r = put_enc(buf, len, cap, n->text)))
			return r;
		return 0;
	}
	if (!list || n->kind != CFG_SEQ || !n->n)
		return cfg_fail(err, n, "'%s' must be %s", name, list ? "a list of names (or one string)" : "a string");
	if ((r = put_raw(buf, len, cap, "&")) || (r = put_raw(buf, len, cap, name)) || (r = put_raw(buf, len, cap, "=")))
		return r;
	for (i = 0; i < n->n; i++) {
		const struct cfg_node *it = n->items[i];

		if (it->kind != CFG_SCALAR || !it->text_len || strchr(it->text, ','))
			return cfg_fail(err, it, "'%s' must list non-empty names without ','", name);
		if ((i && (r = put_raw(buf, len, cap, ","))) || (r = put_enc(buf, len, cap, it->text)))
			return r;
	}
	return 0;
}

static int add_file(struct view *v, const struct cfg_node *at, const char *name, const char *req,
		    const char *field, struct why *err)
{
	struct cfg_node k = *at;
	struct view_file *f = &v->files[v->n_files];
	int r;

	k.text = (char *)name;
	k.text_len = strlen(name);
	if ((r = check_file_name(&k, v, err)))
		return r;
	if (!(f->name = strdup(name)) || asprintf(&f->key, "%s#%s", req, field) < 0) {
		f->key = NULL;
		return -ENOMEM;
	}
	v->n_files++;
	return 0;
}

/* certificates: NAME: {role: R, common_name: CN, mount: pki, alt_names: [...],
 * ip_sans: [...], uri_sans: [...], ttl: 24h, cert_file, key_file, ca_file} */
static int load_certificate(const struct cfg_node *k, const struct cfg_node *c, struct view *v,
			    struct why *err)
{
	static const char *const keys[] = { "mount", "role", "common_name", "alt_names", "ip_sans", "uri_sans",
					    "ttl", "cert_file", "key_file", "ca_file", NULL };
	const char *mount = "pki", *role = NULL, *cn = NULL, *cf = NULL, *kf = NULL, *caf = "ca.crt", *ttl = NULL;
	char *req = NULL, dflt_c[300], dflt_k[300];
	size_t len = 0, cap = 256, i;
	uint64_t ttl_ms = 0;
	int r;

	if (c->kind != CFG_MAP)
		return cfg_fail(err, c, "certificate '%s' must be a mapping: {role: ROLE, common_name: NAME, ...}",
				k->text);
	cfg_warn_unknown(c, "a certificate", keys);
	for (i = 0; i < k->text_len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", k->text[i]))
			return cfg_fail(err, k, "certificate name '%s' may hold only letters, digits, '.', '_' and '-'",
					k->text);
	if (!k->text_len || k->text_len > 200)
		return cfg_fail(err, k, "certificate name '%s' must be 1 to 200 characters", k->text);
	if ((r = cfg_get_str(c, "mount", &mount, err)) || (r = cfg_get_str(c, "role", &role, err)) ||
	    (r = cfg_get_str(c, "common_name", &cn, err)) || (r = cfg_get_str(c, "cert_file", &cf, err)) ||
	    (r = cfg_get_str(c, "key_file", &kf, err)) || (r = cfg_get_str(c, "ca_file", &caf, err)) ||
	    (r = cfg_get_str(c, "ttl", &ttl, err)))
		return r;
	if (!mount || !*mount || mount[0] == '/' || mount[strlen(mount) - 1] == '/' || strstr(mount, "//") ||
	    strstr(mount, "..") || strpbrk(mount, "?#@%& \t"))
		return cfg_fail(err, cfg_get(c, "mount") ? cfg_get(c, "mount") : c,
				"certificate '%s': 'mount' must be the PKI mount's path, such as pki or team/pki", k->text);
	if (!role || !*role || strpbrk(role, "/?#@%& \t"))
		return cfg_fail(err, cfg_get(c, "role") ? cfg_get(c, "role") : c,
				"certificate '%s' needs 'role': the PKI role to issue with (MOUNT/issue/ROLE)", k->text);
	if (!cn || !*cn)
		return cfg_fail(err, cfg_get(c, "common_name") ? cfg_get(c, "common_name") : c,
				"certificate '%s' needs 'common_name'", k->text);
	if (ttl && (cfg_parse_duration_ms(ttl, &ttl_ms) || ttl_ms < 1000))
		return cfg_fail(err, cfg_get(c, "ttl"), "certificate '%s': 'ttl' must be a duration of at least 1s",
				k->text);
	if (!(req = malloc(cap)))
		return -ENOMEM;
	req[0] = 0;
	if ((r = put_raw(&req, &len, &cap, mount)) || (r = put_raw(&req, &len, &cap, "/issue/")) ||
	    (r = put_raw(&req, &len, &cap, role)) || (r = put_raw(&req, &len, &cap, "?common_name=")) ||
	    (r = put_enc(&req, &len, &cap, cn)) ||
	    (r = put_param(c, "alt_names", 1, &req, &len, &cap, err)) ||
	    (r = put_param(c, "ip_sans", 1, &req, &len, &cap, err)) ||
	    (r = put_param(c, "uri_sans", 1, &req, &len, &cap, err)))
		goto out;
	if (ttl_ms) {
		char t[32];

		snprintf(t, sizeof(t), "&ttl=%llus", (unsigned long long)(ttl_ms / 1000));
		if ((r = put_raw(&req, &len, &cap, t)))
			goto out;
	}
	snprintf(dflt_c, sizeof(dflt_c), "%s.crt", k->text);
	snprintf(dflt_k, sizeof(dflt_k), "%s.key", k->text);
	if ((r = add_file(v, cfg_get(c, "cert_file") ? cfg_get(c, "cert_file") : k, cf ? cf : dflt_c, req,
			  "certificate", err)) ||
	    (r = add_file(v, cfg_get(c, "key_file") ? cfg_get(c, "key_file") : k, kf ? kf : dflt_k, req,
			  "private_key", err)) ||
	    (r = add_file(v, cfg_get(c, "ca_file") ? cfg_get(c, "ca_file") : k, caf, req, "ca_chain", err)))
		goto out;
out:
	free(req);
	return r;
}

static int load_certificates(const struct cfg_node *c, struct view *v, struct why *err)
{
	const struct cfg_node *cs = cfg_get(c, "certificates");
	size_t i;
	int r;

	if (!cs || cfg_is_null(cs))
		return 0;
	if (cs->kind != CFG_MAP)
		return cfg_fail(err, cs, "'certificates' must map NAME: {role: ROLE, common_name: NAME, ...}");
	if (!(v->files = calloc(3 * cs->n + 1, sizeof(*v->files))))
		return -ENOMEM;
	for (i = 0; i < cs->n; i++)
		if ((r = load_certificate(cs->keys[i], cs->items[i], v, err)))
			return r;
	return 0;
}

/* The container's file mode and its templates, once its secrets are known. */
static int load_files(const struct harombe_config *cfg, const struct cfg_node *c, struct view *v,
		      struct why *err)
{
	const struct cfg_node *ts = cfg_get(c, "templates");
	size_t i;
	int r;

	if ((r = get_mode(c, v, &v->mode, err)) || (r = cfg_get_duration_ms(c, "watch", &v->watch_ms, err)))
		return r;
	if (v->watch_ms && v->watch_ms < 1000)
		return cfg_fail(err, cfg_get(c, "watch"), "'watch' must be at least 1s");
	if ((r = load_on_change(c, v, err)))
		return r;
	if (!ts || cfg_is_null(ts))
		return load_certificates(c, v, err);
	if (ts->kind != CFG_MAP)
		return cfg_fail(err, ts, "'templates' must map FILE: {source: PATH} or {inline: TEXT}");
	if (!(v->templates = calloc(ts->n + 1, sizeof(*v->templates))))
		return -ENOMEM;
	for (i = 0; i < ts->n; i++)
		if ((r = load_template(cfg, ts->keys[i], ts->items[i], v, err)))
			return r;
	return load_certificates(c, v, err);
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
	if (!strcmp(name->text, "self"))
		return cfg_fail(err, name, "'self' is the mount's link to each caller's own view; name the "
				"container otherwise");
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
		return load_files(cfg, c, v, err);
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
	return load_files(cfg, c, v, err);
}

static void view_release(struct view *v)
{
	size_t i;

	for (i = 0; v->secrets && i < v->n; i++) {
		free(v->secrets[i].name);
		free(v->secrets[i].key);
	}
	for (i = 0; v->templates && i < v->n_templates; i++) {
		free(v->templates[i].name);
		template_free(v->templates[i].tmpl);
	}
	free(v->templates);
	for (i = 0; v->files && i < v->n_files; i++) {
		free(v->files[i].name);
		free(v->files[i].key);
	}
	free(v->files);
	if (v->on_change) {
		for (i = 0; v->on_change->argv && i < v->on_change->argc; i++)
			free(v->on_change->argv[i]);
		free(v->on_change->argv);
		free(v->on_change);
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
	if (a->mode != b->mode || a->n_templates != b->n_templates || a->watch_ms != b->watch_ms ||
	    !on_change_equal(a->on_change, b->on_change))
		return 0;
	if (a->n_files != b->n_files)
		return 0;
	for (i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, b->files[i].name) || strcmp(a->files[i].key, b->files[i].key))
			return 0;
	for (i = 0; i < a->n_templates; i++)
		if (strcmp(a->templates[i].name, b->templates[i].name) ||
		    a->templates[i].mode != b->templates[i].mode ||
		    !template_equal(a->templates[i].tmpl, b->templates[i].tmpl))
			return 0;
	return 1;
}

int view_find_template(const struct view *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n_templates; i++)
		if (v->templates[i].name && !strcmp(v->templates[i].name, name))
			return (int)i;
	return -1;
}

int view_find_file(const struct view *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n_files; i++)
		if (v->files[i].name && !strcmp(v->files[i].name, name))
			return (int)i;
	return -1;
}

int view_group_reads(const struct view *v)
{
	size_t i;

	if (v->mode & 040)
		return 1;
	for (i = 0; i < v->n_templates; i++)
		if (v->templates[i].mode & 040)
			return 1;
	return 0;
}
