#include "lib/compat.h"
#include "inject/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include <sodium.h>

#include "inject/run.h"
#include "lib/config.h"
#include "lib/fileio.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/when.h"
#include "lib/why.h"

/* ---- values ---- */

static const char *const gen_names[] = { "auto", "urlsafe", "random", "hex", "uuid" };

int rotate_gen_parse(const char *s, enum rotate_gen *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gen_names); i++) {
		if (!strcmp(s, gen_names[i])) {
			*out = (enum rotate_gen)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *rotate_gen_name(enum rotate_gen g)
{
	return (size_t)g < ARRAY_SIZE(gen_names) ? gen_names[g] : "?";
}

static int is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

size_t rotate_prefix_len(const unsigned char *v, size_t len)
{
	size_t i = 0, words = 0, best = 0;

	/* Words of at most 6 letters and digits: "sk", "live", "github",
	 * "pat", "xoxb", "glpat" -- token type markers, not passphrases. */
	while (words < 3 && i < len && is_lower(v[i])) {
		size_t start = i;

		while (i < len && (is_lower(v[i]) || is_digit(v[i])))
			i++;
		if (i - start > 6 || i >= len || (v[i] != '-' && v[i] != '_') || i + 1 > ROTATE_PREFIX_MAX)
			break;
		best = ++i;
		words++;
	}
	return best && len - best >= 8 ? best : 0;
}

static int is_uuid(const unsigned char *v, size_t len)
{
	size_t i;

	if (len != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		unsigned char c = v[i];

		if (dash ? c != '-' : !(is_hex(c) || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

static int all_hex(const unsigned char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_hex(v[i]))
			return 0;
	return 1;
}

static void fill(enum rotate_gen g, unsigned char *p, size_t n)
{
	static const char urlsafe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char random[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*";
	static const char hex[] = "0123456789abcdef";
	const char *set = g == ROTATE_HEX ? hex : g == ROTATE_RANDOM ? random : urlsafe;
	uint32_t size = (uint32_t)strlen(set);
	size_t i;

	/* randombytes_uniform() has no modulo bias. */
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)set[randombytes_uniform(size)];
}

static void fill_uuid(unsigned char *p)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i, o = 0;

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			p[o++] = '-';
		p[o++] = (unsigned char)hex[b[i] >> 4];
		p[o++] = (unsigned char)hex[b[i] & 15];
	}
	sodium_memzero(b, sizeof(b));
}

int rotate_new_value(const struct rotate_spec *spec, const unsigned char *old, size_t oldlen,
		     struct secbuf **out, struct rotate_result *res)
{
	size_t plen = spec->keep_prefix && old ? rotate_prefix_len(old, oldlen) : 0;
	const unsigned char *body = old ? old + plen : NULL;
	size_t blen = old ? oldlen - plen : 0, length;
	enum rotate_gen g = spec->gen;
	struct secbuf *sb;
	unsigned char *p;

	*out = NULL;
	if (sodium_init() < 0)
		return -ENOMEM;
	if (g == ROTATE_AUTO) {
		if (body && is_uuid(body, blen))
			g = ROTATE_UUID;
		else if (body && blen >= ROTATE_LENGTH_MIN && all_hex(body, blen))
			g = ROTATE_HEX;
		else
			g = ROTATE_URLSAFE;
	}
	if (g == ROTATE_UUID) {
		if (spec->length && spec->length != 36)
			return -EINVAL;
		length = 36;
	} else {
		length = spec->length;
		if (!length)
			length = blen >= ROTATE_LENGTH_MIN && blen <= ROTATE_LENGTH_MAX ? blen
											: ROTATE_LENGTH_DEFAULT;
		if (length < ROTATE_LENGTH_MIN || length > ROTATE_LENGTH_MAX)
			return -EINVAL;
	}
	if (!(sb = secbuf_new(plen + length)))
		return -ENOMEM;
	if (plen)
		secbuf_append(sb, old, plen);
	p = secbuf_tail(sb, length);
	if (g == ROTATE_UUID)
		fill_uuid(p);
	else
		fill(g, p, length);
	secbuf_commit(sb, length);
	*out = sb;
	if (res) {
		res->gen = g;
		res->length = length;
		res->prefix_len = plen;
	}
	return 0;
}

/* ---- configuration ---- */

static const char *const rotation_keys[] = {
	"enabled", "policies", "state_file", "hook_timeout", "generator", "length", NULL,
};
static const char *const policy_keys[] = { "secrets", "schedule", "generator", "length", "name", NULL };

/* generator: and length: of a map into spec. */
static int load_spec(const struct cfg_node *map, struct rotate_spec *spec, struct why *err)
{
	const struct cfg_node *g = cfg_get(map, "generator");
	const char *gs = NULL;
	unsigned long len = spec->length;
	int r;

	if ((r = cfg_get_str(map, "generator", &gs, err)))
		return r;
	if (gs && rotate_gen_parse(gs, &spec->gen))
		return cfg_fail(err, g, "'generator' must be auto, urlsafe, random, hex or uuid, not '%s'", gs);
	if ((r = cfg_get_uint(map, "length", ROTATE_LENGTH_MAX + 1, &len, err)))
		return r;
	if (len && len < ROTATE_LENGTH_MIN)
		return cfg_fail(err, cfg_get(map, "length"), "'length' must be between %d and %d", ROTATE_LENGTH_MIN,
				ROTATE_LENGTH_MAX);
	if (len && spec->gen == ROTATE_UUID)
		return cfg_fail(err, cfg_get(map, "length"), "'length' does not apply to the uuid generator");
	spec->length = len;
	return 0;
}

/* Schedules take a unit: "30d" is clear, "30" is not. */
static int load_schedule(const struct cfg_node *p, struct rotate_policy *pol, struct why *err)
{
	const struct cfg_node *s = cfg_get(p, "schedule");
	size_t n;

	if (!s || cfg_is_null(s))
		return cfg_fail(err, p, "a rotation policy needs a 'schedule' such as \"30d\"");
	if (s->kind != CFG_SCALAR)
		return cfg_fail(err, s, "'schedule' must be a duration such as 30d");
	n = s->text_len;
	if (!n || !strchr("smhdw", s->text[n - 1]) || (n >= 2 && !strcmp(s->text + n - 2, "ms")) ||
	    cfg_parse_duration_ms(s->text, &pol->schedule_ms) != 0)
		return cfg_fail(err, s,
				"'schedule' must be a whole number with a unit s, m, h, d or w "
				"(such as 30d or 12h), not '%s'",
				s->text);
	if (!pol->schedule_ms)
		return cfg_fail(err, s, "'schedule' must be longer than 0");
	if (!(pol->schedule = strdup(s->text)))
		return -ENOMEM;
	return 0;
}

static int load_policy(struct rotate_config *rc, const struct cfg_node *p, struct why *err)
{
	struct rotate_policy *pol = &rc->policies[rc->n];
	const struct cfg_node *secrets, *single[1];
	const struct cfg_node *const *items;
	size_t i, k, m, cnt;
	int r;

	if (p->kind != CFG_MAP)
		return cfg_fail(err, p, "a rotation policy must be a mapping with 'secrets' and 'schedule'");
	cfg_warn_unknown(p, "a rotation policy", policy_keys);
	rc->n++;
	pol->line = p->line;
	pol->spec = rc->spec;
	if ((r = load_schedule(p, pol, err)) || (r = load_spec(p, &pol->spec, err)))
		return r;
	secrets = cfg_get(p, "secrets");
	if (!secrets || cfg_is_null(secrets) || (secrets->kind == CFG_SEQ && !secrets->n))
		return cfg_fail(err, secrets ? secrets : p, "a rotation policy needs 'secrets', a list of keys");
	if (secrets->kind == CFG_MAP)
		return cfg_fail(err, secrets, "'secrets' must be a list of keys such as [github/token]");
	single[0] = secrets;
	items = secrets->kind == CFG_SEQ ? (const struct cfg_node *const *)secrets->items : single;
	cnt = secrets->kind == CFG_SEQ ? secrets->n : 1;
	if (!(pol->keys = calloc(cnt, sizeof(*pol->keys))))
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		const struct cfg_node *s = items[i];
		const char *why;

		if (s->kind != CFG_SCALAR || cfg_is_null(s))
			return cfg_fail(err, s, "'secrets' must list keys such as github/token");
		if ((why = names_check_key(s->text)))
			return cfg_fail(err, s, "secret key '%s' %s", s->text, why);
		for (k = 0; k < rc->n; k++) {
			const struct rotate_policy *o = &rc->policies[k];

			for (m = 0; m < (o == pol ? pol->n : o->n); m++)
				if (!strcmp(o->keys[m], s->text))
					return cfg_fail(err, s, "'%s' is already in the rotation policy at line %d",
							s->text, o->line);
		}
		if (!(pol->keys[pol->n] = strdup(s->text)))
			return -ENOMEM;
		pol->n++;
	}
	return 0;
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && (n ? i < n : v[i] != NULL); i++)
		free(v[i]);
	free(v);
}

static int load_hook(struct rotate_config *rc, const char *container, const struct cfg_node *h,
		     struct why *err)
{
	struct rotate_hook *hk = &rc->hooks[rc->nhooks];
	size_t i;

	if (h->kind == CFG_SCALAR && h->text_len) {
		if (!(hk->argv = calloc(4, sizeof(*hk->argv))))
			return -ENOMEM;
		if (!(hk->argv[0] = strdup("/bin/sh")) || !(hk->argv[1] = strdup("-c")) ||
		    !(hk->argv[2] = strdup(h->text)))
			goto oom;
	} else if (h->kind == CFG_SEQ && h->n) {
		if (!(hk->argv = calloc(h->n + 1, sizeof(*hk->argv))))
			return -ENOMEM;
		for (i = 0; i < h->n; i++) {
			if (h->items[i]->kind != CFG_SCALAR || !h->items[i]->text_len) {
				free_strv(hk->argv, 0);
				hk->argv = NULL;
				return cfg_fail(err, h->items[i], "'on_rotate' arguments must be non-empty strings");
			}
			if (!(hk->argv[i] = strdup(h->items[i]->text)))
				goto oom;
		}
	} else {
		return cfg_fail(err, h,
				"'on_rotate' must be a command: a string (run by /bin/sh -c) or a list of "
				"arguments");
	}
	rc->nhooks++;
	hk->line = h->line;
	hk->col = h->col;
	if (!(hk->container = strdup(container)))
		return -ENOMEM;
	return 0;
oom:
	rc->nhooks++;
	return -ENOMEM;
}

int rotate_config_load(const struct harombe_config *cfg, struct rotate_config **out,
		       struct why *err)
{
	const struct cfg_node *rot = cfg_get(cfg->security, "rotation"), *pols, *sf, *cs = cfg->containers;
	struct rotate_config *rc = calloc(1, sizeof(*rc));
	const char *state = ROTATE_STATE_DEFAULT;
	size_t i;
	int r = 0;

	*out = NULL;
	if (!rc)
		return -ENOMEM;
	rc->enabled = 1;
	rc->hook_timeout_ms = ROTATE_HOOK_TIMEOUT_DEFAULT;
	rc->spec = (struct rotate_spec)ROTATE_SPEC_INIT;
	if (rot && rot->kind != CFG_MAP && !cfg_is_null(rot)) {
		r = cfg_fail(err, rot, "'rotation' must be a mapping");
		goto out;
	}
	if (rot && rot->kind == CFG_MAP)
		cfg_warn_unknown(rot, "security.rotation", rotation_keys);
	if ((r = cfg_get_bool(rot, "enabled", &rc->enabled, err)) ||
	    (r = cfg_get_str(rot, "state_file", &state, err)) ||
	    (r = cfg_get_duration_ms(rot, "hook_timeout", &rc->hook_timeout_ms, err)) ||
	    (r = load_spec(rot, &rc->spec, err)))
		goto out;
	sf = cfg_get(rot, "state_file");
	if (state[0] != '/') {
		r = cfg_fail(err, sf, "'state_file' must be an absolute path");
		goto out;
	}
	if (!rc->hook_timeout_ms) {
		r = cfg_fail(err, cfg_get(rot, "hook_timeout"), "'hook_timeout' must be longer than 0");
		goto out;
	}
	if (!(rc->state_file = strdup(state))) {
		r = -ENOMEM;
		goto out;
	}
	pols = cfg_get(rot, "policies");
	if (pols && !cfg_is_null(pols)) {
		if (pols->kind != CFG_SEQ) {
			r = cfg_fail(err, pols, "'policies' must be a list of {secrets: [...], schedule: 30d}");
			goto out;
		}
		if (!(rc->policies = calloc(pols->n + 1, sizeof(*rc->policies)))) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < pols->n && !r; i++)
			r = load_policy(rc, pols->items[i], err);
		if (r)
			goto out;
	}
	if (cs && cs->kind == CFG_MAP) {
		if (!(rc->hooks = calloc(cs->n + 1, sizeof(*rc->hooks)))) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < cs->n && !r; i++) {
			const struct cfg_node *h = cfg_get(cs->items[i], "on_rotate");
			int enabled = 1;

			if ((r = cfg_get_bool(cs->items[i], "enabled", &enabled, err)))
				break;
			if (h && !cfg_is_null(h) && enabled)
				r = load_hook(rc, cs->keys[i]->text, h, err);
		}
	}
out:
	if (r) {
		if (r == -ENOMEM && !err->msg[0])
			cfg_fail(err, NULL, "out of memory reading security.rotation");
		rotate_config_free(rc);
		return r;
	}
	*out = rc;
	return 0;
}

void rotate_config_free(struct rotate_config *rc)
{
	size_t i;

	if (!rc)
		return;
	for (i = 0; i < rc->n; i++) {
		free_strv(rc->policies[i].keys, rc->policies[i].n);
		free(rc->policies[i].schedule);
	}
	for (i = 0; i < rc->nhooks; i++) {
		free_strv(rc->hooks[i].argv, 0);
		free(rc->hooks[i].container);
	}
	free(rc->policies);
	free(rc->hooks);
	free(rc->state_file);
	free(rc);
}

const struct rotate_policy *rotate_policy_for(const struct rotate_config *rc, const char *key)
{
	size_t i, k;

	for (i = 0; i < rc->n; i++)
		for (k = 0; k < rc->policies[i].n; k++)
			if (!strcmp(rc->policies[i].keys[k], key))
				return &rc->policies[i];
	return NULL;
}

const struct rotate_hook *rotate_hook_for(const struct rotate_config *rc, const char *container)
{
	size_t i;

	for (i = 0; i < rc->nhooks; i++)
		if (!strcmp(rc->hooks[i].container, container))
			return &rc->hooks[i];
	return NULL;
}

int rotate_key_affects(const char *changed, const char *mapped)
{
	const char *hc = strchr(changed, '#'), *hm = strchr(mapped, '#');
	size_t lc = hc ? (size_t)(hc - changed) : strlen(changed);
	size_t lm = hm ? (size_t)(hm - mapped) : strlen(mapped);

	if (lc != lm || strncmp(changed, mapped, lc))
		return 0;
	return !hc || !hm || !strcmp(hc, hm);
}

/* "a b c" from names: not secret. */
static char *join(const char *const *v, size_t n)
{
	size_t i, len = 1;
	char *s, *p;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if (!(s = p = malloc(len)))
		return NULL;
	*p = 0;
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", v[i]);
	return s;
}

int rotate_hook_run(const struct rotate_hook *h, const char *const *keys, size_t nkeys,
		    const char *const *names, size_t nnames, const char *const *drop,
		    uint64_t timeout_ms, int *status, int *timed_out)
{
	struct run_opts o = { .new_pgroup = 1, .stdin_null = 1, .forward = 0 };
	struct run_env *env = run_env_new(drop);
	char *k = join(keys, nkeys), *n = join(names, nnames);
	pid_t pid;
	int r;

	if (!env || !k || !n) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = run_env_set_plain(env, "HAROMBE_CONTAINER", h->container)) ||
	    (r = run_env_set_plain(env, "HAROMBE_ROTATED_KEYS", k)) ||
	    (r = run_env_set_plain(env, "HAROMBE_ROTATED_NAMES", n)))
		goto out;
	if ((r = run_spawn(h->argv[0], h->argv, run_env_envp(env), &o, &pid)))
		goto out;
	r = run_wait(pid, &o, timeout_ms, status, timed_out);
out:
	run_env_free(env);
	free(k);
	free(n);
	return r;
}

/* ---- the state file ---- */

struct rotate_state {
	char *path;
	int lock_fd;
	json_object *root;	/* {"version": 1, "secrets": {KEY: {"rotated": T, "seen": T}}} */
	json_object *secrets;	/* borrowed from root */
};

static int mkdir_parent(const char *path, struct why *why)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return why_fail(why, -ENAMETOOLONG, "state file path is too long");
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;

		return why_fail(why, -e, "cannot create directory '%s' for the rotation state: %s", dir,
				strerror(e));
	}
	return 0;
}

static int read_state(struct rotate_state *st, struct why *why)
{
	enum json_tokener_error je;
	struct stat sb;
	char *text = NULL;
	size_t len = 0;
	int fd, r = 0;

	fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		st->root = json_object_new_object();
		goto fresh;
	}
	if (fd < 0) {
		r = -errno;
		return why_fail(why, r, "cannot read rotation state '%s': %s", st->path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (1 << 24)) {
		close(fd);
		return why_fail(why, -EINVAL, "rotation state '%s' is not a regular file under 16 MiB", st->path);
	}
	r = fd_read_all(fd, 1 << 24, &text, &len);
	close(fd);
	if (r)
		return why_fail(why, r, "cannot read rotation state '%s': %s", st->path, strerror(-r));
	st->root = json_tokener_parse_verbose(text, &je);
	free(text);
	if (!st->root || !json_object_is_type(st->root, json_type_object)) {
		return why_fail(why, -EINVAL,
				"rotation state '%s' is not a JSON object (%s); move it away to start afresh",
				st->path, st->root ? "wrong type" : json_tokener_error_desc(je));
	}
fresh:
	if (!st->root)
		return -ENOMEM;
	if (!json_object_object_get_ex(st->root, "secrets", &st->secrets) ||
	    !json_object_is_type(st->secrets, json_type_object)) {
		st->secrets = json_object_new_object();
		if (!st->secrets)
			return -ENOMEM;
		json_object_object_add(st->root, "secrets", st->secrets);
	}
	json_object_object_add(st->root, "version", json_object_new_int(1));
	return 0;
}

int rotate_state_open(const char *path, struct rotate_state **out, struct why *why)
{
	struct rotate_state *st = calloc(1, sizeof(*st));
	char lock[PATH_MAX];
	int r;

	*out = NULL;
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return -ENOMEM;
	}
	st->lock_fd = -1;
	if ((r = mkdir_parent(path, why)))
		goto fail;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX) != 0) {
		r = -errno;
		why_set(why, "cannot lock '%s': %s", lock, strerror(errno));
		goto fail;
	}
	if ((r = read_state(st, why)))
		goto fail;
	*out = st;
	return 0;
fail:
	rotate_state_close(st);
	return r;
}

static int64_t get_time(json_object *o, const char *what)
{
	json_object *v;
	int64_t ms;

	if (!json_object_object_get_ex(o, what, &v) || !json_object_is_type(v, json_type_string) ||
	    when_parse_iso(json_object_get_string(v), &ms) != 0)
		return 0;
	return ms;
}

void rotate_state_get(const struct rotate_state *st, const char *key, int64_t *rotated, int64_t *seen)
{
	json_object *o;

	*rotated = *seen = 0;
	if (!json_object_object_get_ex(st->secrets, key, &o) || !json_object_is_type(o, json_type_object))
		return;
	*rotated = get_time(o, "rotated");
	*seen = get_time(o, "seen");
}

int rotate_state_set(struct rotate_state *st, const char *key, int64_t rotated, int64_t seen)
{
	json_object *o;
	char buf[40];

	if (!json_object_object_get_ex(st->secrets, key, &o) || !json_object_is_type(o, json_type_object)) {
		if (!(o = json_object_new_object()))
			return -ENOMEM;
		json_object_object_add(st->secrets, key, o);
	}
	if (rotated) {
		when_format(rotated, buf, sizeof(buf));
		json_object_object_add(o, "rotated", json_object_new_string(buf));
	}
	if (seen) {
		when_format(seen, buf, sizeof(buf));
		json_object_object_add(o, "seen", json_object_new_string(buf));
	}
	return 0;
}

int rotate_state_save(struct rotate_state *st, struct why *why)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char *text = json_object_to_json_string_ext(st->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
									     JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(text), off = 0;
	int fd, dfd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", st->path);
	fd = mkostemp(tmp, O_CLOEXEC);	/* 0600 */
	if (fd < 0) {
		r = -errno;
		return why_fail(why, r, "cannot write rotation state next to '%s': %s", st->path, strerror(errno));
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!r && (write(fd, "\n", 1) != 1 || fsync(fd) != 0))
		r = -errno ? -errno : -EIO;
	if (close(fd) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, st->path) != 0)
		r = -errno;
	if (r) {
		why_set(why, "cannot write rotation state '%s': %s", st->path, strerror(-r));
		unlink(tmp);
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", st->path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = slash == dir ? '/' : 0;
		if (slash == dir)
			slash[1] = 0;
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

void rotate_state_close(struct rotate_state *st)
{
	if (!st)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd);	/* releases the flock */
	json_object_put(st->root);
	free(st->path);
	free(st);
}
