#include "compat.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "credshape.h"
#include "fileio.h"
#include "trust.h"
#include "log.h"
#include "secbuf.h"

#define MAX_DEPTH 64
#define MAX_NODES 100000
#define MAX_FILE (1u << 20)

const char *const audit_event_names[AUDIT_EVENT_COUNT] = {
	"secret_read",		"secret_write",	     "secret_delete",
	"secret_rotation",	"vault_authentication", "injection_start",
	"injection_complete",	"access_denied",	     "leak_detected",
	"vault_lease",
};

int cfg_fail(struct why *err, const struct cfg_node *n, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (!err)
		return -EINVAL;
	if (n)
		off = snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: ", n->file, n->line, n->col);
	if (off < 0 || (size_t)off >= sizeof(err->msg))
		off = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg + off, sizeof(err->msg) - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- YAML to tree ---- */

struct builder {
	yaml_document_t *doc;
	const char *file;
	size_t count;
	struct why *err;
};

static struct cfg_node *new_node(struct builder *b, enum cfg_kind kind, const yaml_node_t *y)
{
	struct cfg_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (int)y->start_mark.line + 1;
	n->col = (int)y->start_mark.column + 1;
	n->file = b->file;
	return n;
}

static struct cfg_node *convert(struct builder *b, yaml_node_t *y, int depth)
{
	struct cfg_node *n;
	size_t i;

	if (depth > MAX_DEPTH || ++b->count > MAX_NODES) {
		struct cfg_node where = { .file = b->file, .line = (int)y->start_mark.line + 1,
					  .col = (int)y->start_mark.column + 1 };
		cfg_fail(b->err, &where, "document nests or repeats too deeply (aliases?)");
		return NULL;
	}
	switch (y->type) {
	case YAML_SCALAR_NODE:
		n = new_node(b, CFG_SCALAR, y);
		if (!n)
			return NULL;
		n->text = malloc(y->data.scalar.length + 1);
		if (!n->text) {
			free(n);
			return NULL;
		}
		memcpy(n->text, y->data.scalar.value, y->data.scalar.length);
		n->text[y->data.scalar.length] = 0;
		n->text_len = y->data.scalar.length;
		n->plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (strlen(n->text) != n->text_len) {
			cfg_fail(b->err, n, "string contains a NUL character");
			cfg_node_free(n);
			return NULL;
		}
		return n;
	case YAML_SEQUENCE_NODE: {
		size_t cnt = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);

		n = new_node(b, CFG_SEQ, y);
		if (!n)
			return NULL;
		n->items = calloc(cnt ? cnt : 1, sizeof(*n->items));
		if (!n->items)
			goto oom;
		for (i = 0; i < cnt; i++) {
			yaml_node_t *c = yaml_document_get_node(b->doc, y->data.sequence.items.start[i]);

			if (!c || !(n->items[n->n] = convert(b, c, depth + 1)))
				goto fail;
			n->n++;
		}
		return n;
	}
	case YAML_MAPPING_NODE: {
		size_t cnt = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);

		n = new_node(b, CFG_MAP, y);
		if (!n)
			return NULL;
		n->keys = calloc(cnt ? cnt : 1, sizeof(*n->keys));
		n->items = calloc(cnt ? cnt : 1, sizeof(*n->items));
		if (!n->keys || !n->items)
			goto oom;
		for (i = 0; i < cnt; i++) {
			yaml_node_pair_t *p = &y->data.mapping.pairs.start[i];
			yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(b->doc, p->value);
			struct cfg_node *kn, *vn;
			size_t j;

			if (!k || !v || !(kn = convert(b, k, depth + 1)))
				goto fail;
			if (kn->kind != CFG_SCALAR) {
				cfg_fail(b->err, kn, "a mapping key must be a plain string");
				cfg_node_free(kn);
				goto fail;
			}
			for (j = 0; j < n->n; j++) {
				if (!strcmp(n->keys[j]->text, kn->text)) {
					cfg_fail(b->err, kn, "duplicate key '%s' (first at line %d)", kn->text,
						 n->keys[j]->line);
					cfg_node_free(kn);
					goto fail;
				}
			}
			if (!(vn = convert(b, v, depth + 1))) {
				cfg_node_free(kn);
				goto fail;
			}
			n->keys[n->n] = kn;
			n->items[n->n] = vn;
			n->n++;
		}
		return n;
	}
	default:
		break;
	}
	return NULL;
oom:
	cfg_fail(b->err, NULL, "out of memory");
fail:
	cfg_node_free(n);
	return NULL;
}

void cfg_node_free(struct cfg_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys)
			cfg_node_free(n->keys[i]);
		cfg_node_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
}

int cfg_parse(const char *file, const char *text, size_t len, struct cfg_node **out,
	      struct why *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *rootnode;
	struct builder b = { .doc = &doc, .file = file, .err = err };
	struct cfg_node *root = NULL;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return cfg_fail(err, NULL, "%s: cannot initialise the YAML parser", file), -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		struct cfg_node where = { .file = file, .line = (int)parser.problem_mark.line + 1,
					  .col = (int)parser.problem_mark.column + 1 };
		cfg_fail(err, &where, "YAML syntax error: %s%s%s", parser.problem ? parser.problem : "unknown",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	rootnode = yaml_document_get_root_node(&doc);
	if (!rootnode) {
		root = calloc(1, sizeof(*root));
		if (root) {
			root->kind = CFG_MAP;
			root->file = file;
			root->line = root->col = 1;
		}
	} else {
		root = convert(&b, rootnode, 0);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!root) {
		if (!err->msg[0])
			cfg_fail(err, NULL, "%s: out of memory", file);
		return -EINVAL;
	}
	*out = root;
	return 0;
}

const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key)
{
	size_t i;

	if (!map || map->kind != CFG_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->text, key))
			return map->items[i];
	return NULL;
}

const struct cfg_node *cfg_path(const struct cfg_node *root, const char *dotted)
{
	char part[128];
	const char *p = dotted, *dot;

	while (root && *p) {
		dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = 0;
		root = cfg_get(root, part);
		p += n + (dot ? 1 : 0);
	}
	return root;
}

int cfg_is_null(const struct cfg_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (!n || n->kind != CFG_SCALAR || !n->plain)
		return 0;
	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(n->text, nulls[i]))
			return 1;
	return 0;
}

static const struct cfg_node *scalar_or_null(const struct cfg_node *map, const char *key, int *absent,
					     struct why *err, int *bad)
{
	const struct cfg_node *n = cfg_get(map, key);

	*absent = !n || cfg_is_null(n);
	*bad = 0;
	if (!*absent && n->kind != CFG_SCALAR) {
		cfg_fail(err, n, "'%s' must be a single value, not a %s", key,
			 n->kind == CFG_MAP ? "mapping" : "list");
		*bad = 1;
	}
	return n;
}

int cfg_get_str(const struct cfg_node *map, const char *key, const char **out, struct why *err)
{
	int absent, bad;
	const struct cfg_node *n = scalar_or_null(map, key, &absent, err, &bad);

	if (bad)
		return -EINVAL;
	if (!absent)
		*out = n->text;
	return 0;
}

int cfg_get_bool(const struct cfg_node *map, const char *key, int *out, struct why *err)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	int absent, bad;
	const struct cfg_node *n = scalar_or_null(map, key, &absent, err, &bad);
	size_t i;

	if (bad)
		return -EINVAL;
	if (absent)
		return 0;
	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(n->text, yes[i]))
			return *out = 1, 0;
		if (!strcmp(n->text, no[i]))
			return *out = 0, 0;
	}
	return cfg_fail(err, n, "'%s' must be true or false, not '%s'", key, n->text);
}

int cfg_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 }, { "", 1000 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(end, units[i].unit)) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*out = v * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_parse_size(const char *s, size_t *out)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 }, { "KB", 1000 },
		{ "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "MB", 1000000 },
		{ "G", 1ull << 30 }, { "GiB", 1ull << 30 }, { "GB", 1000000000 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (!strcmp(end, units[i].unit)) {
			if (v > SIZE_MAX / units[i].mul)
				return -ERANGE;
			*out = (size_t)(v * units[i].mul);
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_get_duration_ms(const struct cfg_node *map, const char *key, uint64_t *out,
			struct why *err)
{
	int absent, bad;
	const struct cfg_node *n = scalar_or_null(map, key, &absent, err, &bad);

	if (bad)
		return -EINVAL;
	if (absent)
		return 0;
	if (cfg_parse_duration_ms(n->text, out) != 0)
		return cfg_fail(err, n, "'%s' must be a duration such as 30s, 5m, 1h or 30d, not '%s'", key,
				n->text);
	return 0;
}

int cfg_get_size(const struct cfg_node *map, const char *key, size_t *out, struct why *err)
{
	int absent, bad;
	const struct cfg_node *n = scalar_or_null(map, key, &absent, err, &bad);

	if (bad)
		return -EINVAL;
	if (absent)
		return 0;
	if (cfg_parse_size(n->text, out) != 0)
		return cfg_fail(err, n, "'%s' must be a size such as 8MiB or 512KiB, not '%s'", key, n->text);
	return 0;
}

int cfg_get_uint(const struct cfg_node *map, const char *key, unsigned long limit, unsigned long *out,
		 struct why *err)
{
	int absent, bad;
	const struct cfg_node *n = scalar_or_null(map, key, &absent, err, &bad);
	char *end;
	unsigned long v;

	if (bad)
		return -EINVAL;
	if (absent)
		return 0;
	errno = 0;
	v = strtoul(n->text, &end, 10);
	if (errno || end == n->text || *end || n->text[0] == '-' || n->text[0] == '+' || v >= limit)
		return cfg_fail(err, n, "'%s' must be a whole number below %lu, not '%s'", key, limit,
				n->text);
	*out = v;
	return 0;
}

void cfg_warn_unknown(const struct cfg_node *map, const char *where, const char *const *known)
{
	size_t i, k;

	if (!map || map->kind != CFG_MAP)
		return;
	for (i = 0; i < map->n; i++) {
		for (k = 0; known[k]; k++)
			if (!strcmp(map->keys[i]->text, known[k]))
				break;
		if (!known[k])
			log_warn("%s:%d:%d: unknown key '%s' in %s (ignored)", map->keys[i]->file,
				 map->keys[i]->line, map->keys[i]->col, map->keys[i]->text, where);
	}
}

/* ---- credentials written into the config ---- */

struct walk {
	struct why *err;
	char path[512];
};

static int walk_values(struct walk *w, const struct cfg_node *n, const char *key, int in_env,
		       int refs_only)
{
	size_t i, mark = strlen(w->path);
	int r = 0;

	if (n->kind == CFG_SCALAR) {
		const char *label = refs_only ? credshape_known(n->text, n->text_len)
					      : credshape_value(key, n->text, n->text_len, in_env);

		if (label)
			return cfg_fail(w->err, n,
					"%s looks like a credential (%s); harombe.yaml holds references, "
					"never secrets: store the value in the vault and map its key under "
					"'secrets:'",
					w->path[0] ? w->path : "value", label);
		return 0;
	}
	for (i = 0; i < n->n && !r; i++) {
		const char *k = n->kind == CFG_MAP ? n->keys[i]->text : NULL;
		char idx[32];

		if (!k) {
			snprintf(idx, sizeof(idx), "[%zu]", i);
			snprintf(w->path + mark, sizeof(w->path) - mark, "%s", idx);
		} else {
			snprintf(w->path + mark, sizeof(w->path) - mark, "%s%s", mark ? "." : "", k);
		}
		/* Keys under secrets: name vault entries; only a known token
		 * format there is a mistake worth refusing. */
		r = walk_values(w, n->items[i], k ? k : key,
				in_env || (k && !strcmp(k, "environment")),
				refs_only || (k && !strcmp(k, "secrets")));
		w->path[mark] = 0;
	}
	return r;
}

/* ---- the shared settings ---- */

static const char *const security_keys[] = {
	"enabled", "credentials", "containers", "fs", "audit", "rotation", "notifications",
	"container_engine", "isolation", NULL,
};
static const char *const fs_keys[] = {
	"mountpoint", "cache_ttl", "stale_if_error", "locked_memory", "audit_log", "limits", NULL,
};
static const char *const limits_keys[] = { "open_files", "locked_memory", NULL };
static const char *const audit_keys[] = {
	"enabled", "database", "retention_days", "redact_sensitive", "log_level", "log_events", NULL,
};

static int need_map(const struct cfg_node *n, const char *what, struct why *err)
{
	if (n && n->kind != CFG_MAP && !cfg_is_null(n))
		return cfg_fail(err, n, "'%s' must be a mapping", what);
	return 0;
}

int config_get_limits(const struct cfg_node *map, size_t arena, struct harombe_limits *lim,
		      struct why *err)
{
	const struct cfg_node *l = cfg_get(map, "limits");
	unsigned long files = lim->open_files;
	size_t bytes = lim->locked_memory;
	int r;

	if (!l || cfg_is_null(l))
		return 0;
	if (l->kind != CFG_MAP)
		return cfg_fail(err, l, "'limits' must be a mapping such as { open_files: 64, locked_memory: 1MiB }");
	cfg_warn_unknown(l, "limits", limits_keys);
	if ((r = cfg_get_uint(l, "open_files", HAROMBE_MAX_OPEN_FILES + 1, &files, err)) ||
	    (r = cfg_get_size(l, "locked_memory", &bytes, err)))
		return r;
	if (!files)
		return cfg_fail(err, cfg_get(l, "open_files"), "'open_files' must be at least 1");
	if (bytes < HAROMBE_MIN_VIEW_LOCKED)
		return cfg_fail(err, cfg_get(l, "locked_memory"), "'locked_memory' must be at least 4KiB");
	if (bytes > arena)
		return cfg_fail(err, cfg_get(l, "locked_memory"),
				"'locked_memory' (%zu bytes) exceeds security.fs.locked_memory (%zu bytes)",
				bytes, arena);
	lim->open_files = files;
	lim->locked_memory = bytes;
	return 0;
}

static int parse_settings(struct harombe_config *c, struct why *err)
{
	const struct cfg_node *fs, *audit, *events;
	int r;

	if (c->root->kind != CFG_MAP)
		return cfg_fail(err, c->root, "the top level must be a mapping (security: ...)");
	c->security = cfg_get(c->root, "security");
	if ((r = need_map(c->security, "security", err)))
		return r;
	cfg_warn_unknown(c->security, "security", security_keys);
	c->credentials = cfg_get(c->security, "credentials");
	c->containers = cfg_get(c->security, "containers");
	fs = cfg_get(c->security, "fs");
	audit = cfg_get(c->security, "audit");
	if ((r = need_map(c->credentials, "security.credentials", err)) ||
	    (r = need_map(c->containers, "security.containers", err)) ||
	    (r = need_map(fs, "security.fs", err)) || (r = need_map(audit, "security.audit", err)))
		return r;
	if (cfg_is_null(c->containers))
		c->containers = NULL;

	c->provider = "env";
	if ((r = cfg_get_str(c->credentials, "provider", &c->provider, err)))
		return r;

	c->fs.mountpoint = HAROMBE_DEFAULT_MOUNTPOINT;
	c->fs.audit_log = HAROMBE_DEFAULT_AUDIT_LOG;
	c->fs.locked_memory = SECMEM_DEFAULT_SIZE;
	cfg_warn_unknown(fs, "security.fs", fs_keys);
	if ((r = cfg_get_str(fs, "mountpoint", &c->fs.mountpoint, err)) ||
	    (r = cfg_get_duration_ms(fs, "cache_ttl", &c->fs.cache_ttl_ms, err)) ||
	    (r = cfg_get_duration_ms(fs, "stale_if_error", &c->fs.stale_if_error_ms, err)) ||
	    (r = cfg_get_size(fs, "locked_memory", &c->fs.locked_memory, err)) ||
	    (r = cfg_get_str(fs, "audit_log", &c->fs.audit_log, err)))
		return r;
	if (c->fs.locked_memory < SECMEM_MIN_SIZE)
		return cfg_fail(err, cfg_get(fs, "locked_memory"),
				"'locked_memory' must be at least 64KiB");
	/* One view may hold a quarter of the arena: whatever one tenant
	 * does, three quarters stay for the others, the cache and the
	 * fetches in flight. */
	c->fs.limits.open_files = HAROMBE_DEFAULT_OPEN_FILES;
	c->fs.limits.locked_memory = c->fs.locked_memory / HAROMBE_LOCKED_SHARE;
	if ((r = config_get_limits(fs, c->fs.locked_memory, &c->fs.limits, err)))
		return r;
	if (c->fs.mountpoint[0] != '/')
		return cfg_fail(err, cfg_get(fs, "mountpoint"), "'mountpoint' must be an absolute path");
	if (c->fs.audit_log[0] != '/')
		return cfg_fail(err, cfg_get(fs, "audit_log"), "'audit_log' must be an absolute path");

	c->audit.enabled = 1;
	c->audit.events = (1u << AUDIT_EVENT_COUNT) - 1;
	cfg_warn_unknown(audit, "security.audit", audit_keys);
	if ((r = cfg_get_bool(audit, "enabled", &c->audit.enabled, err)))
		return r;
	events = cfg_get(audit, "log_events");
	if (events && !cfg_is_null(events)) {
		size_t i, k;

		if (events->kind != CFG_SEQ)
			return cfg_fail(err, events, "'log_events' must be a list of event names");
		c->audit.events = 0;
		for (i = 0; i < events->n; i++) {
			const struct cfg_node *e = events->items[i];

			for (k = 0; e->kind == CFG_SCALAR && k < AUDIT_EVENT_COUNT; k++)
				if (!strcmp(e->text, audit_event_names[k]))
					break;
			if (e->kind != CFG_SCALAR || k == AUDIT_EVENT_COUNT)
				return cfg_fail(err, e,
						"unknown audit event '%s' (known: secret_read, secret_write, "
						"secret_delete, secret_rotation, vault_authentication, "
						"injection_start, injection_complete, access_denied, "
						"leak_detected, vault_lease)",
						e->kind == CFG_SCALAR ? e->text : "?");
			c->audit.events |= 1u << k;
		}
	}
	return 0;
}

int config_load_text(const char *name, const char *text, size_t len, struct harombe_config **out,
		     struct why *err)
{
	struct harombe_config *c = calloc(1, sizeof(*c));
	struct walk w = { .err = err };
	int r;

	*out = NULL;
	if (!c || !(c->path = strdup(name))) {
		free(c);
		return cfg_fail(err, NULL, "%s: out of memory", name), -ENOMEM;
	}
	if ((r = cfg_parse(c->path, text, len, &c->root, err)) ||
	    (r = parse_settings(c, err)) || (r = walk_values(&w, c->root, NULL, 0, 0))) {
		config_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int config_load(const char *path, struct harombe_config **out, struct why *err)
{
	struct stat st;
	char *text;
	size_t len = 0;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfg_fail(err, NULL, "cannot open config '%s': %s", path, strerror(errno)), -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cfg_fail(err, NULL, "config '%s' is not a regular file", path);
	}
	/* Whoever can write the config can give itself a view. */
	if ((r = trust_check_fd(fd, path, "harombe.yaml", err)) != 0) {
		close(fd);
		return r;
	}
	if (st.st_size > (off_t)MAX_FILE) {
		close(fd);
		return cfg_fail(err, NULL, "config '%s' is larger than 1 MiB", path);
	}
	r = fd_read_all(fd, MAX_FILE, &text, &len);
	close(fd);
	if (r == -ENOMEM)
		return cfg_fail(err, NULL, "%s: out of memory", path), -ENOMEM;
	if (r == -EFBIG)
		return cfg_fail(err, NULL, "config '%s' is larger than 1 MiB", path);
	if (r)
		return cfg_fail(err, NULL, "cannot read config '%s': %s", path, strerror(-r)), r;
	r = config_load_text(path, text, len, out, err);
	free(text);
	return r;
}

void config_free(struct harombe_config *c)
{
	if (!c)
		return;
	cfg_node_free(c->root);
	free(c->path);
	free(c);
}
