#include "lib/compat.h"
#include "backends/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "backends/sops/age.h"
#include "backends/backend-internal.h"
#include "backends/sops/sops-internal.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/secbuf.h"
#include "lib/fileio.h"
#include "lib/jsonw.h"
#include "lib/trust.h"
#include "lib/why.h"

/*
 * provider: sops.  A SOPS file (JSON, YAML, dotenv, INI or binary) whose
 * data key is wrapped for age X25519 recipients, decrypted natively: no
 * sops or age binary at run time.
 *
 *   secrets_file: FILE     required; "~/" is the caller's home
 *   key_file: FILE         optional; an age keys file (age-keygen format)
 *   format: json|yaml|dotenv|ini|binary   optional; else from the extension
 *
 * Identities are combined as sops combines them: key_file, SOPS_AGE_KEY,
 * SOPS_AGE_KEY_FILE and the default keys file ($XDG_CONFIG_HOME or
 * ~/.config, then sops/age/keys.txt), every source that is present.
 *
 * The whole file is decrypted and its MAC verified when it is (re)read; a
 * file that fails any check is never served, and the previous contents are
 * dropped (no stale values).  It is re-read when its inode, size, mtime or
 * ctime changes, which every open checks with one stat().  Decrypted values
 * and the data key stay in locked memory until the next re-read or close.
 *
 * This file is the backend over the document model of sops-internal.h:
 * identities, loading, key addressing, and the ops (reads and writes).
 * Length: over 900 lines because the write path (write_atomic, insert_new,
 * sops_set, sops_del, sops_create) shares the backend's lock, lookup()
 * and refresh() (load_doc()) with the read path; the parsing, crypto and
 * stores are already in their own files (tree.c, crypto.c, datakey.c,
 * age.c, json.c, yaml.c, flat.c).
 */

struct sops_backend {
	struct backend base;
	char *path;
	char *key_file;
	enum sops_format fmt;
	pthread_rwlock_t lock;
	struct sops_doc doc;
	int loaded;
	struct stat st;
	char ids_info[1024];		/* where identities came from: for messages */
};

static struct sops_backend *sops_downcast(struct backend *be)
{
	return (struct sops_backend *)be;
}

/* ---- SOPS_AGE_KEY: taken from the environment once per process ---- */

static struct {
	pthread_mutex_t lock;
	int taken;
	struct secbuf *key;
} envkey = { PTHREAD_MUTEX_INITIALIZER, 0, NULL };

/* Like the env backend does with its variables: copy SOPS_AGE_KEY into
 * locked memory and wipe it from environ, so /proc/PID/environ stops
 * showing a private key.  The copy serves every later open (SIGHUP). */
static void take_env_key(void)
{
	char *v;

	pthread_mutex_lock(&envkey.lock);
	if (!envkey.taken) {
		envkey.taken = 1;
		if ((v = getenv("SOPS_AGE_KEY")) != NULL) {
			envkey.key = secbuf_dup(v, strlen(v));
			sodium_memzero(v, strlen(v));
			unsetenv("SOPS_AGE_KEY");
		}
	}
	pthread_mutex_unlock(&envkey.lock);
}

/* ---- paths and files ---- */


/* Read a whole file into locked memory (keys) or ordinary memory.  Keys
 * (locked) come only from a file nobody else can write (lib/trust.h):
 * -EPERM with the reason in trust. */
static int read_file(const char *path, int locked, struct secbuf **sb_out, char **buf_out, size_t *len,
		     struct stat *st, struct why *trust)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	struct stat tmp;

	if (fd < 0)
		return -errno;
	if (locked && (r = trust_check_fd(fd, path, "age key file", trust)) != 0)
		goto out;
	if (fstat(fd, st ? st : &tmp) != 0) {
		r = -errno;
		goto out;
	}
	if ((size_t)(st ? st : &tmp)->st_size + 1 > (64u << 20)) {
		r = -EFBIG;
		goto out;
	}
	if (locked) {
		if (!(r = secbuf_read_fd(fd, 64u << 20, sb_out)))
			*len = secbuf_len(*sb_out);
		goto out;
	}
	/* Ciphertext and clear text only: ordinary memory. */
	r = fd_read_all(fd, 64u << 20, buf_out, len);
 out:
	close(fd);
	return r;
}

/* ---- identities ---- */

static int add_keys_file(struct age_identities *ids, const char *what, const char *path, int optional,
			 struct obuf *info, struct why *why)
{
	struct secbuf *sb = NULL;
	size_t len = 0, before = age_identities_count(ids), skipped = 0;
	struct why err = WHY_INIT, trust = WHY_INIT;
	int r = read_file(path, 1, &sb, NULL, &len, NULL, &trust);

	if (r == -ENOENT && optional) {
		obuf_printf(info, "%s%s %s (absent)", info->len ? ", " : "", what, path);
		return 0;
	}
	if (trust.msg[0]) {
		why_set(why, "%.500s (%s)", why_str(&trust), what);
		return -EPERM;
	}
	if (r) {
		why_set(why, "cannot read the age keys file '%s' (%s): %s", path, what,
			r == -ENOMEM ? "out of locked memory" : strerror(-r));
		return r == -ENOMEM ? -ENOMEM : -EHOSTDOWN;
	}
	r = age_identities_add_text(ids, secbuf_str(sb), len, 0, &skipped, &err);
	secbuf_free(sb);
	if (r) {
		why_set(why, "age keys file '%s' (%s): %.127s", path, what, why_str(&err));
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	obuf_printf(info, "%s%s %s (%zu key%s%s)", info->len ? ", " : "", what, path,
		    age_identities_count(ids) - before, age_identities_count(ids) - before == 1 ? "" : "s",
		    skipped ? ", others skipped" : "");
	return 0;
}

int sops_identities_load(const char *key_file, char *ids_info, size_t info_cap, struct age_identities **out,
			 struct why *why)
{
	struct age_identities *ids = age_identities_new();
	struct obuf info = { 0 };
	const char *kf = getenv("SOPS_AGE_KEY_FILE"), *xdg = getenv("XDG_CONFIG_HOME");
	char *def = NULL;
	int r = 0;

	*out = NULL;
	if (!ids)
		return -ENOMEM;
	if (key_file)
		r = add_keys_file(ids, "key_file", key_file, 0, &info, why);
	take_env_key();
	if (!r && envkey.key) {
		size_t before = age_identities_count(ids), skipped = 0;
		struct why err = WHY_INIT;

		r = age_identities_add_text(ids, secbuf_str(envkey.key), secbuf_len(envkey.key), 1, &skipped,
					    &err);
		if (r)
			why_set(why, "SOPS_AGE_KEY: %.127s", why_str(&err));
		else
			obuf_printf(&info, "%sSOPS_AGE_KEY (%zu key%s)", info.len ? ", " : "",
				    age_identities_count(ids) - before,
				    age_identities_count(ids) - before == 1 ? "" : "s");
	}
	if (!r && kf && *kf)
		r = add_keys_file(ids, "SOPS_AGE_KEY_FILE", kf, 0, &info, why);
	if (!r) {
		if (xdg && xdg[0] == '/')
			r = asprintf(&def, "%s/sops/age/keys.txt", xdg) < 0 ? -ENOMEM : 0;
		else
			def = path_expand_home("~/.config/sops/age/keys.txt"), r = def ? 0 : -ENOMEM;
	}
	if (!r && (!key_file || strcmp(key_file, def)) && (!kf || strcmp(kf, def)))
		r = add_keys_file(ids, "default", def, 1, &info, why);
	snprintf(ids_info, info_cap, "%s", info.p ? info.p : "no identity source");
	obuf_release(&info);
	free(def);
	if (r) {
		age_identities_free(ids);
		return r;
	}
	*out = ids;
	return 0;
}

/* ---- loading ---- */

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int errno_to_backend(int r)
{
	switch (r) {
	case 0:
		return 0;
	case -EACCES:
		return -BACKEND_EDENIED;
	case -EBADMSG:
		return -BACKEND_ETAMPERED;
	case -ENOMEM:
		return -BACKEND_ENOMEM;
	case -EINVAL:
		return -BACKEND_EINVAL;
	case -ENOTSUP:
		return -BACKEND_ENOTSUP;
	default:
		return -BACKEND_EUNAVAIL;
	}
}

/* Parse, unwrap and verify the file into doc.  Caller holds the write lock. */
static int load_doc(struct sops_backend *sb, struct sops_doc *doc, struct stat *st, struct why *why)
{
	struct age_identities *ids = NULL;
	struct why msg = WHY_INIT;	/* its reasons were cut at 399 bytes: kept so */
	char *text = NULL;
	size_t len = 0;
	int r;

	sops_doc_init(doc, sb->fmt);
	if ((r = read_file(sb->path, 0, NULL, &text, &len, st, NULL))) {
		why_set(why, "cannot read '%s': %s", sb->path, strerror(-r));
		return r == -ENOMEM ? -BACKEND_ENOMEM : -BACKEND_EUNAVAIL;
	}
	if ((r = sops_parse(doc, text, len, &msg))) {
		why_set(why, "%s: %.399s", sb->path, why_str(&msg));
		goto out;
	}
	if ((r = sops_identities_load(sb->key_file, sb->ids_info, sizeof(sb->ids_info), &ids, &msg))) {
		why_set(why, "%.399s", why_str(&msg));
		goto out;
	}
	if ((r = sops_doc_unlock(doc, ids, &msg))) {
		if (r == -EACCES)
			why_set(why, "%s: %.600s; identities tried: %s", sb->path, why_str(&msg), sb->ids_info);
		else
			why_set(why, "%s: %.399s", sb->path, why_str(&msg));
		goto out;
	}
	if ((r = sops_doc_decrypt(doc, &msg)))
		why_set(why, "%s: %.399s", sb->path, why_str(&msg));
 out:
	age_identities_free(ids);
	free(text);
	if (r) {
		sops_doc_release(doc);
		if (r == -EBADMSG)
			log_info("sops: refusing '%s': %.399s", sb->path, why_str(&msg));
	}
	return errno_to_backend(r);
}

/* Make sb->doc match the file on disk.  Caller holds the write lock. */
static int refresh(struct sops_backend *sb, struct why *why)
{
	struct sops_doc doc;
	struct stat st;
	size_t i;
	int r;

	if (sb->loaded && stat(sb->path, &st) == 0 && same_file(&st, &sb->st))
		return 0;
	/* Whatever happens next, the old contents are not served again. */
	sops_doc_release(&sb->doc);
	sb->loaded = 0;
	if ((r = load_doc(sb, &doc, &st, why)))
		return r;
	for (i = 0; i < doc.nbranches && !r; i++)
		r = sops_index_build(doc.branches[i], 0);
	if (r) {
		sops_doc_release(&doc);
		return why_fail(why, -BACKEND_ENOMEM, "out of memory indexing '%s'", sb->path);
	}
	sb->doc = doc;
	sb->st = st;
	sb->loaded = 1;
	return 0;
}

/* Read lock held and the doc current on return 0; no lock on error. */
static int lock_fresh(struct sops_backend *sb, struct why *why)
{
	struct stat st;
	int r;

	pthread_rwlock_rdlock(&sb->lock);
	if (sb->loaded && stat(sb->path, &st) == 0 && same_file(&st, &sb->st))
		return 0;
	pthread_rwlock_unlock(&sb->lock);
	pthread_rwlock_wrlock(&sb->lock);
	r = refresh(sb, why);
	pthread_rwlock_unlock(&sb->lock);
	if (r)
		return r;
	/* Another thread may refresh in between: that is fine, it is newer. */
	pthread_rwlock_rdlock(&sb->lock);
	if (!sb->loaded) {
		pthread_rwlock_unlock(&sb->lock);
		return why_fail(why, -BACKEND_EUNAVAIL, "'%s' changed and could not be re-read", sb->path);
	}
	return 0;
}

/* ---- addressing ---- */

struct found {
	struct sops_node *parent;	/* container holding the node */
	size_t index;
	struct sops_node *node;
};

#define MAX_SEGS 64

static int split_key(char *path, char **segs, size_t *n)
{
	char *s = path, *slash;

	*n = 0;
	for (;;) {
		if (*n == MAX_SEGS)
			return -EINVAL;
		segs[(*n)++] = s;
		if (!(slash = strchr(s, '/')))
			return 0;
		*slash = 0;
		s = slash + 1;
	}
}

/* Longest-match resolution: "github/token" is a flat key "github/token",
 * or github -> token, or any mix, the longest key at each level first. */
static int resolve(struct sops_node *n, char **segs, size_t i, size_t nseg, struct found *f)
{
	char joined[NAMES_KEY_MAX + 1];
	size_t j, k, jl = 0;

	if (i == nseg)
		return 1;
	if (n->kind == SN_MAP) {
		/* joined = segs[i..nseg) with '/', then shortened from the end */
		for (k = i; k < nseg; k++)
			jl += (size_t)snprintf(joined + jl, sizeof(joined) - jl, "%s%s", k > i ? "/" : "", segs[k]);
		for (j = nseg; j > i; j--) {
			struct sops_item *it = sops_map_find(n, joined, jl);

			if (it) {
				f->parent = n;
				f->index = (size_t)(it - n->items);
				f->node = it->val;
				if (j == nseg || (it->val && resolve(it->val, segs, j, nseg, f)))
					return 1;
			}
			if (j - 1 > i)
				jl -= strlen(segs[j - 1]) + 1;
		}
	} else if (n->kind == SN_SEQ && segs[i][0] && strspn(segs[i], "0123456789") == strlen(segs[i])) {
		unsigned long want = strtoul(segs[i], NULL, 10), seen = 0;

		for (k = 0; k < n->n; k++) {
			if (n->items[k].val && n->items[k].val->kind == SN_COMMENT)
				continue;
			if (seen++ != want)
				continue;
			f->parent = n;
			f->index = k;
			f->node = n->items[k].val;
			return f->node && resolve(f->node, segs, i + 1, nseg, f);
		}
	}
	return 0;
}

static int lookup(struct sops_doc *doc, const char *key, struct found *f, int want_leaf, struct why *why)
{
	char buf[NAMES_KEY_MAX + 1], *segs[MAX_SEGS + 1], *field;
	size_t nseg, b;

	memset(f, 0, sizeof(*f));
	if (strlen(key) > NAMES_KEY_MAX || !*key)
		return why_fail(why, -BACKEND_EINVAL, "key is too long");
	snprintf(buf, sizeof(buf), "%s", key);
	if ((field = strchr(buf, '#')))
		*field++ = 0;
	if (split_key(buf, segs, &nseg))
		return why_fail(why, -BACKEND_EINVAL, "key has too many '/' segments");
	if (field)
		segs[nseg++] = field;
	for (b = 0; b < doc->nbranches; b++)
		if (resolve(doc->branches[b], segs, 0, nseg, f))
			break;
	if (b == doc->nbranches || !f->node) {
		memset(f, 0, sizeof(*f));
		return why_fail(why, -BACKEND_ENOTFOUND, "no key '%s' in the file", key);
	}
	if (!want_leaf)
		return 0;
	if (f->node->kind == SN_MAP && !field) {
		/* Like Vault: "value", else a map with one value is that value. */
		struct sops_node *v = sops_map_get(f->node, "value");
		size_t k, nleaf = 0, last = 0;
		struct obuf names = { 0 };

		for (k = 0; k < f->node->n; k++)
			if (f->node->items[k].key) {
				nleaf++;
				last = k;
				obuf_printf(&names, "%s%s", names.len ? ", " : "", f->node->items[k].key);
			}
		if (v && v->kind == SN_SCALAR) {
			f->parent = f->node;
			f->node = v;
		} else if (nleaf == 1 && f->node->items[last].val->kind == SN_SCALAR) {
			f->parent = f->node;
			f->index = last;
			f->node = f->node->items[last].val;
		} else {
			why_set(why, "'%s' is a map with keys %.150s: add #KEY or /KEY", key,
				names.p ? names.p : "(none)");
			obuf_release(&names);
			return -BACKEND_EINVAL;
		}
		obuf_release(&names);
	}
	if (f->node->kind == SN_SEQ)
		return why_fail(why, -BACKEND_EINVAL, "'%s' is a list: address an element as %s/0", key, key);
	if (f->node->kind != SN_SCALAR)
		return why_fail(why, -BACKEND_EINVAL, "'%s' is not a value", key);
	if (f->node->type == SV_NULL && !f->node->enc)
		return why_fail(why, -BACKEND_ENOTFOUND, "'%s' is null", key);
	return 0;
}

/* ---- a whole map as one JSON object (backend.h: "path#") ---- */

static int json_number(const unsigned char *p, size_t len)
{
	size_t i = 0, d;

	if (i < len && p[i] == '-')
		i++;
	if (i < len && p[i] == '0')
		i++;
	else if (i < len && p[i] >= '1' && p[i] <= '9')
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && p[i] == '.') {
		for (d = ++i; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = i; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == len;
}

/* p[0..len) as a JSON string, escaped straight into locked memory. */
static int json_str(struct secbuf *sb, const unsigned char *p, size_t len, struct why *why)
{
	unsigned char *w, *start;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = jsonw_utf8_next(p + i, len - i, &cp);

		if (!n)
			return why_fail(why, -BACKEND_EINVAL, "a value is not valid UTF-8, which JSON cannot hold");
		i += n;
	}
	if (!(start = w = secbuf_tail(sb, jsonw_escaped_len(p, len) + 2)))
		return -BACKEND_ENOMEM;
	*w++ = '"';
	w = jsonw_escape(w, p, len);
	*w++ = '"';
	secbuf_commit(sb, (size_t)(w - start));
	return 0;
}

static int json_node(const struct sops_doc *doc, const struct sops_node *n, struct secbuf *sb, int depth,
		     struct why *why)
{
	const unsigned char *p;
	size_t i, len;
	int r = 0, first = 1;

	if (depth > 64)
		return why_fail(why, -BACKEND_EINVAL, "nested too deep");
	if (n->kind == SN_MAP || n->kind == SN_SEQ) {
		if ((r = secbuf_append(sb, n->kind == SN_MAP ? "{" : "[", 1)))
			return r;
		for (i = 0; i < n->n && !r; i++) {
			const struct sops_item *it = &n->items[i];

			if (!it->val || it->val->kind == SN_COMMENT || (n->kind == SN_MAP && !it->key))
				continue;
			if (!first)
				r = secbuf_append(sb, ",", 1);
			first = 0;
			if (!r && n->kind == SN_MAP) {
				r = json_str(sb, (const unsigned char *)it->key, it->klen, why);
				if (!r)
					r = secbuf_append(sb, ":", 1);
			}
			if (!r)
				r = json_node(doc, it->val, sb, depth + 1, why);
		}
		return r ? r : secbuf_append(sb, n->kind == SN_MAP ? "}" : "]", 1);
	}
	if (n->kind != SN_SCALAR)
		return why_fail(why, -BACKEND_EINVAL, "not a value");
	sops_node_value(doc, n, &p, &len);
	switch (n->type) {
	case SV_BOOL:
		return secbuf_append(sb, len && (p[0] == 'T' || p[0] == 't' || p[0] == '1') ? "true" : "false",
				     len && (p[0] == 'T' || p[0] == 't' || p[0] == '1') ? 4 : 5);
	case SV_NULL:
		if (!n->enc)
			return secbuf_append(sb, "null", 4);
		break;
	case SV_INT:
	case SV_FLOAT:
		if (json_number(p, len))
			return secbuf_append(sb, p, len);
		break;
	default:
		break;
	}
	return json_str(sb, p, len, why);
}

/* The map at key's path ("path#") as a JSON object.  Called with the
 * document locked. */
static int whole_copy(struct sops_doc *doc, const char *key, struct secbuf **out, struct why *why)
{
	char path[NAMES_KEY_MAX + 1];
	size_t n = strlen(key);
	struct found f;
	int r;

	*out = NULL;
	if (n - 1 >= sizeof(path))
		return why_fail(why, -BACKEND_EINVAL, "key is too long");
	memcpy(path, key, n - 1);
	path[n - 1] = 0;
	if ((r = lookup(doc, path, &f, 0, why)))
		return r;
	if (f.node->kind != SN_MAP)
		return why_fail(why, -BACKEND_EINVAL, "'%s' is %s, not a map: only a map is a whole secret "
				"(write {{ secret \"%s\" }} for a single value)", path,
				f.node->kind == SN_SEQ ? "a list" : "a single value", path);
	if (!(*out = secbuf_new(256)))
		return why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
	if ((r = json_node(doc, f.node, *out, 0, why))) {
		if (r == -BACKEND_ENOMEM || r == -ENOMEM)
			r = why_fail(why, -BACKEND_ENOMEM, "locked memory exhausted");
		secbuf_free(*out);
		*out = NULL;
	}
	return r;
}

static int value_copy(const struct sops_doc *doc, const struct sops_node *n, struct secbuf **out)
{
	const unsigned char *p;
	size_t len;

	sops_node_value(doc, n, &p, &len);
	if (n->type == SV_BOOL) {
		/* "True"/"False" in the ciphertext; shown as YAML/JSON have it. */
		int t = len && (p[0] == 'T' || p[0] == 't' || p[0] == '1');

		p = (const unsigned char *)(t ? "true" : "false");
		len = t ? 4 : 5;
	}
	*out = secbuf_dup(p, len);
	return *out ? 0 : -BACKEND_ENOMEM;
}

/* ---- backend ops ---- */

static int sops_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		     struct why *err)
{
	const char *file = NULL, *kf = NULL, *fmt = NULL;
	struct sops_backend *sb;
	int r;

	(void)ctx;
	if ((r = cfg_get_str(opts, "secrets_file", &file, err)) || (r = cfg_get_str(opts, "key_file", &kf, err)) ||
	    (r = cfg_get_str(opts, "format", &fmt, err)))
		return r;
	if (!file || !*file)
		return cfg_fail(err, opts, "provider sops needs 'secrets_file' (the SOPS-encrypted file)");
	if (!(sb = calloc(1, sizeof(*sb))) || !(sb->path = path_expand_home(file)) ||
	    (kf && *kf && !(sb->key_file = path_expand_home(kf)))) {
		if (sb)
			free(sb->path);
		free(sb);
		return cfg_fail(err, NULL, "out of memory"), -ENOMEM;
	}
	sb->fmt = sops_format_for(sb->path);
	if (fmt && *fmt) {
		static const char *const names[] = { "json", "yaml", "dotenv", "ini", "binary" };
		size_t i;

		for (i = 0; i < ARRAY_SIZE(names) && strcmp(names[i], fmt); i++)
			;
		if (i == ARRAY_SIZE(names)) {
			free(sb->key_file);
			free(sb->path);
			free(sb);
			return cfg_fail(err, cfg_get(opts, "format"),
					"'format' must be json, yaml, dotenv, ini or binary");
		}
		sb->fmt = (enum sops_format)i;
	}
	pthread_rwlock_init(&sb->lock, NULL);
	take_env_key();
	*out = &sb->base;
	return 0;
}

static void sops_close(struct backend *be)
{
	struct sops_backend *sb = sops_downcast(be);

	sops_doc_release(&sb->doc);
	pthread_rwlock_destroy(&sb->lock);
	free(sb->path);
	free(sb->key_file);
	free(sb);
}

/* Answer n keys from sb->doc (read lock held). */
static int serve_locked(struct sops_backend *sb, size_t n, const char *const *keys, struct secbuf **outs,
			int *rcs, struct why *whys)
{
	struct why why = WHY_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		struct found f;

		why.msg[0] = 0;
		if (backend_key_whole(keys[i])) {
			rcs[i] = whole_copy(&sb->doc, keys[i], &outs[i], &why);
		} else {
			rcs[i] = lookup(&sb->doc, keys[i], &f, 1, &why);
			if (!rcs[i])
				rcs[i] = value_copy(&sb->doc, f.node, &outs[i]);
		}
		if (rcs[i])
			why_set(whys ? &whys[i] : NULL, "%s", why.msg[0] ? why.msg : "out of locked memory");
	}
	for (i = 0; i < n; i++)
		if (rcs[i])
			return rcs[i];
	return 0;
}

static int sops_get_many(struct backend *be, size_t n, const char *const *keys, struct secbuf **outs,
			 int *rcs, struct why *whys)
{
	struct sops_backend *sb = sops_downcast(be);
	struct why why = WHY_INIT;
	size_t i;
	int r;

	if ((r = lock_fresh(sb, &why))) {
		for (i = 0; i < n; i++) {
			rcs[i] = r;
			why_set(whys ? &whys[i] : NULL, "%s", why_str(&why));
		}
		return r;
	}
	r = serve_locked(sb, n, keys, outs, rcs, whys);
	pthread_rwlock_unlock(&sb->lock);
	return r;
}

/* From the decrypted file alone: would block when it is not loaded, has
 * changed on disk (one stat(), as every read makes), or is being re-read
 * or written (its lock is held across the file's I/O and decryption). */
static int sops_try_get_many_for(struct backend *be, const char *scope, size_t n, const char *const *keys,
				 struct secbuf **outs, int *rcs, struct why *whys)
{
	struct sops_backend *sb = sops_downcast(be);
	struct stat st;

	(void)scope;
	if (pthread_rwlock_tryrdlock(&sb->lock) != 0)
		return -BACKEND_EWOULDBLOCK;
	if (!sb->loaded || stat(sb->path, &st) != 0 || !same_file(&st, &sb->st)) {
		pthread_rwlock_unlock(&sb->lock);
		return -BACKEND_EWOULDBLOCK;
	}
	serve_locked(sb, n, keys, outs, rcs, whys);
	pthread_rwlock_unlock(&sb->lock);
	return 0;
}

static int sops_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	int rc;

	sops_get_many(be, 1, &key, out, &rc, why);
	return rc;
}

struct lister {
	char path[1024];
	size_t len;
	const char *prefix;
	backend_list_fn *fn;
	void *arg;
};

static int list_walk(struct lister *l, const struct sops_node *n)
{
	size_t i, seq = 0, save = l->len;
	int r = 0;

	if (n->kind == SN_SCALAR) {
		if (!strncmp(l->path, l->prefix, strlen(l->prefix)))
			return l->fn(l->path, l->arg);
		return 0;
	}
	for (i = 0; i < n->n && !r; i++) {
		const struct sops_node *v = n->items[i].val;
		int m;

		if (!v || v->kind == SN_COMMENT)
			continue;
		if (n->kind == SN_MAP)
			m = snprintf(l->path + save, sizeof(l->path) - save, "%s%s", save ? "/" : "", n->items[i].key);
		else
			m = snprintf(l->path + save, sizeof(l->path) - save, "/%zu", seq++);
		if (m < 0 || save + (size_t)m >= sizeof(l->path))
			continue;
		l->len = save + (size_t)m;
		r = list_walk(l, v);
	}
	l->len = save;
	l->path[save] = 0;
	return r;
}

static int sops_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		     struct why *why)
{
	struct sops_backend *sb = sops_downcast(be);
	struct lister l = { .prefix = prefix, .fn = fn, .arg = arg };
	struct why msg = WHY_INIT;
	size_t b;
	int r;

	if ((r = lock_fresh(sb, &msg)))
		return why_fail(why, r, "%s", why_str(&msg));
	for (b = 0; b < sb->doc.nbranches && !r; b++)
		r = list_walk(&l, sb->doc.branches[b]);
	pthread_rwlock_unlock(&sb->lock);
	return r;
}

static int sops_meta_op(struct backend *be, const char *key, struct backend_meta *out,
			struct why *why)
{
	struct sops_backend *sb = sops_downcast(be);
	struct why msg = WHY_INIT;
	struct found f;
	struct tm tm;
	int r;

	if ((r = lock_fresh(sb, &msg)))
		return why_fail(why, r, "%s", why_str(&msg));
	r = lookup(&sb->doc, key, &f, 1, &msg);
	if (!r) {
		/* The file's lastmodified: sops has no per-value time. */
		out->store_wide = 1;
		memset(&tm, 0, sizeof(tm));
		if (strptime(sb->doc.m.lastmodified->text, "%Y-%m-%dT%H:%M:%S", &tm))
			out->updated = (long long)timegm(&tm);
		else
			out->updated = (long long)sb->st.st_mtim.tv_sec;
	} else {
		why_set(why, "%s", why_str(&msg));
	}
	pthread_rwlock_unlock(&sb->lock);
	return r;
}

/* ---- writing ---- */

static int fsync_dir(const char *path)
{
	char *d = strdup(path);
	int fd, r = 0;

	if (!d)
		return -ENOMEM;
	fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Replace (or, with excl, create) path atomically: a 0600 temporary file
 * in the same directory, written, fsync()ed, then rename()d (link()ed for
 * excl) over the target, and the directory fsync()ed.  A crash leaves the
 * old file or the new one, whole.  Only ciphertext is ever written.
 */
int sops_write_atomic(const char *path, const char *data, size_t len, const struct stat *old, int excl,
		      struct why *why)
{
	char *dup = strdup(path), *tmp = NULL;
	size_t off = 0;
	int fd = -1, r = 0;

	if (!dup || asprintf(&tmp, "%s/.%s.harombe-XXXXXX", dirname(dup), basename((char *)path)) < 0) {
		free(dup);
		return -ENOMEM;
	}
	free(dup);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		why_set(why, "cannot create a temporary file next to '%s': %s", path, strerror(-r));
		free(tmp);
		return r;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			goto fail;
		}
		off += (size_t)w;
	}
	if (old) {
		/* Keep the file's mode (and owner, when we may). */
		if (fchmod(fd, old->st_mode & 07777) != 0) {
			r = -errno;
			goto fail;
		}
		if (geteuid() == 0)
			(void)!fchown(fd, old->st_uid, old->st_gid);
	}
	if (fsync(fd) != 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (excl ? link(tmp, path) != 0 : rename(tmp, path) != 0) {
		r = -errno;
		goto fail;
	}
	if (excl)
		unlink(tmp);
	free(tmp);
	return fsync_dir(path);
 fail:
	if (!why_str(why)[0])
		why_set(why, "cannot write '%s': %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return r;
}

static int save_doc(struct sops_backend *sb, struct why *why)
{
	struct obuf out = { 0 };
	struct why msg = WHY_INIT;	/* its reasons were cut at 299 bytes: kept so */
	int r;

	if ((r = sops_doc_seal(&sb->doc, &msg)) || (r = sops_emit(&sb->doc, &out))) {
		why_set(why, "%s: %.299s", sb->path, msg.msg[0] ? msg.msg : "cannot write this document back");
		obuf_release(&out);
		return r;
	}
	r = sops_write_atomic(sb->path, out.p, out.len, &sb->st, 0, why);
	obuf_release(&out);
	return r;
}

static int valid_new_key(const struct sops_backend *sb, const char *k, struct why *why)
{
	if (sb->fmt == SOPS_FMT_DOTENV && (!strncmp(k, "sops_", 5) || strpbrk(k, "=\n") || k[0] == '#'))
		return why_fail(why, -EINVAL, "'%s' cannot be a dotenv key here (no '=', no 'sops_' prefix)", k);
	if (sb->fmt == SOPS_FMT_INI && strpbrk(k, "=:[]\n;#"))
		return why_fail(why, -EINVAL, "'%s' cannot be an INI key", k);
	if (!strcmp(k, "sops"))
		return why_fail(why, -EINVAL, "'sops' is reserved for the metadata");
	return 0;
}

/* Where a new key goes: inside the deepest existing map its path names,
 * as one flat key for the rest ("slack/webhook" at the top of a flat file,
 * "db/host" under an existing db map).  INI files need section/key. */
static int insert_new(struct sops_backend *sb, const char *key, struct sops_node *val, struct why *why)
{
	char buf[NAMES_KEY_MAX + 1], *segs[MAX_SEGS + 1], *field, *rest;
	struct sops_node *cur = sb->doc.branches[0], *sec;
	size_t nseg, i = 0;
	int r;

	snprintf(buf, sizeof(buf), "%s", key);
	if ((field = strchr(buf, '#')))
		*field++ = 0;
	if (split_key(buf, segs, &nseg))
		return -EINVAL;
	if (field)
		segs[nseg++] = field;
	while (i + 1 < nseg) {
		struct sops_node *c = sops_map_get(cur, segs[i]);

		if (!c || c->kind != SN_MAP)
			break;
		cur = c;
		i++;
	}
	if (sb->fmt == SOPS_FMT_INI && cur == sb->doc.branches[0]) {
		if (nseg < 2)
			return why_fail(why, -EINVAL, "INI files hold section/key: '%s' has no section", key);
		if (!(sec = sops_node_new(SN_MAP)))
			return -ENOMEM;
		if ((r = valid_new_key(sb, segs[0], why)) ||
		    (r = sops_node_push(cur, strdup(segs[0]), strlen(segs[0]), sec))) {
			if (r == -EINVAL)
				sops_node_free(sec);
			return r;
		}
		cur = sec;
		i = 1;
	}
	if (sb->fmt == SOPS_FMT_DOTENV && field)
		return why_fail(why, -EINVAL, "dotenv files are flat: no '#field'");
	/* Re-join the rest with '/'. */
	for (rest = segs[i]; i + 1 < nseg; i++)
		segs[i][strlen(segs[i])] = '/';
	if (field && rest < field)
		field[-1] = '/';
	if ((r = valid_new_key(sb, rest, why)))
		return r;
	return sops_node_push(cur, strdup(rest), strlen(rest), val);
}

static int sops_set(struct backend *be, const char *key, const void *value, size_t len,
		    struct why *why)
{
	struct sops_backend *sb = sops_downcast(be);
	struct why msg = WHY_INIT;
	struct found f;
	size_t off;
	int r;

	pthread_rwlock_wrlock(&sb->lock);
	if ((r = refresh(sb, &msg)))
		goto out;
	r = lookup(&sb->doc, key, &f, 0, &msg);
	if (r && r != -BACKEND_ENOTFOUND)
		goto out;
	if (!r && f.node->kind != SN_SCALAR) {
		why_set(&msg, "'%s' is a %s: it cannot be replaced by a value", key,
			f.node->kind == SN_MAP ? "map" : "list");
		r = -BACKEND_EINVAL;
		goto out;
	}
	if (memchr(value, 0, len) && sb->fmt != SOPS_FMT_JSON && sb->fmt != SOPS_FMT_BINARY &&
	    f.node && !f.node->enc) {
		why_set(&msg, "a NUL byte cannot be stored in this file");
		r = -BACKEND_EINVAL;
		goto out;
	}
	/* sops' IV stash: an unchanged string keeps its ciphertext. */
	if (!r && f.node->enc && f.node->type == SV_STR && f.node->plen == len &&
	    !sodium_memcmp(secbuf_data(sb->doc.plain, NULL) + f.node->poff, value, len))
		goto save;
	msg.msg[0] = 0;
	off = secbuf_len(sb->doc.plain);
	if (secbuf_append(sb->doc.plain, value, len)) {
		r = -BACKEND_ENOMEM;
		why_set(&msg, "out of locked memory");
		goto out;
	}
	if (!r) {
		f.node->dirty = 1;
		f.node->enc = 0;
		f.node->poff = off;
		f.node->plen = len;
	} else {
		struct sops_node *n = sops_scalar_new("", 0, SV_STR);

		if (!n) {
			r = -BACKEND_ENOMEM;
			goto out;
		}
		n->dirty = 1;
		n->quoted = 1;
		n->poff = off;
		n->plen = len;
		if ((r = insert_new(sb, key, n, &msg))) {
			if (r == -EINVAL)
				sops_node_free(n);
			r = errno_to_backend(r);
			goto out;
		}
	}
 save:
	r = errno_to_backend(save_doc(sb, &msg));
 out:
	/* Re-read from disk next time: what is in memory may be half-edited. */
	sops_doc_release(&sb->doc);
	sb->loaded = 0;
	pthread_rwlock_unlock(&sb->lock);
	if (r)
		why_set(why, "%s", why_str(&msg));
	return r;
}

static int sops_del(struct backend *be, const char *key, struct why *why)
{
	struct sops_backend *sb = sops_downcast(be);
	struct why msg = WHY_INIT;
	struct found f;
	int r;

	pthread_rwlock_wrlock(&sb->lock);
	if ((r = refresh(sb, &msg)) || (r = lookup(&sb->doc, key, &f, 0, &msg)))
		goto out;
	free(f.parent->items[f.index].key);
	sops_node_free(f.parent->items[f.index].val);
	memmove(&f.parent->items[f.index], &f.parent->items[f.index + 1],
		(f.parent->n - f.index - 1) * sizeof(f.parent->items[0]));
	f.parent->n--;
	r = errno_to_backend(save_doc(sb, &msg));
 out:
	sops_doc_release(&sb->doc);
	sb->loaded = 0;
	pthread_rwlock_unlock(&sb->lock);
	if (r)
		why_set(why, "%s", why_str(&msg));
	return r;
}

static int sops_create(const struct backend_ctx *ctx, const char *target, const char *const *recipients,
		       size_t n, struct why *why)
{
	unsigned char (*pks)[AGE_KEY_LEN] = NULL;
	struct sops_doc doc;
	struct obuf out = { 0 };
	struct why msg = WHY_INIT;	/* its reasons were cut at 299 bytes: kept so */
	char *path = NULL;
	size_t i;
	int r = 0;

	(void)ctx;
	if (!n)
		return why_fail(why, -BACKEND_EINVAL, "give at least one age recipient (--age age1...)");
	if (!(pks = calloc(n, sizeof(*pks))) || !(path = path_expand_home(target))) {
		free(pks);
		return -BACKEND_ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (age_recipient_parse(recipients[i], pks[i], &msg)) {
			why_set(why, "recipient '%.80s': %.299s", recipients[i], why_str(&msg));
			r = -BACKEND_EINVAL;
			goto out;
		}
	if (access(path, F_OK) == 0) {
		why_set(why, "'%s' exists already: harombe creates new files only", path);
		r = -BACKEND_EINVAL;
		goto out;
	}
	sops_doc_init(&doc, sops_format_for(path));
	r = sops_doc_create(&doc, (const unsigned char(*)[32])pks, n, &msg);
	if (!r)
		r = sops_emit(&doc, &out);
	sops_doc_release(&doc);
	if (!r)
		r = sops_write_atomic(path, out.p, out.len, NULL, 1, &msg);
	if (r) {
		why_set(why, "%.299s", msg.msg[0] ? msg.msg : strerror(-r));
		r = r == -EEXIST ? -BACKEND_EINVAL : errno_to_backend(r);
	}
 out:
	obuf_release(&out);
	free(pks);
	free(path);
	return r;
}

const struct backend_ops backend_sops = {
	.name = "sops",
	.caps = BACKEND_CAN_LIST | BACKEND_CAN_WRITE | BACKEND_PERSISTENT,
	.open = sops_open,
	.close = sops_close,
	.get = sops_get,
	.get_many = sops_get_many,
	.try_get_many_for = sops_try_get_many_for,
	.list = sops_list,
	.set = sops_set,
	.del = sops_del,
	.meta = sops_meta_op,
	.create = sops_create,
};
