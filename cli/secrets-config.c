/*
 * The scan config of a tree (.harombe-scan.yaml, --config FILE): a rules
 * file (scan/scan.h) with two keys more, which harombe reads here and the
 * rules loader never sees:
 *   extend: { use_default: false }   the built-in rules off, only the file's
 *   allowlist: { stopwords: [...] }  a finding whose value holds one of these
 *                                    words (any case) is not reported
 * Their lines are blanked (spaces, newlines kept, so that the loader's
 * file:line:col stay right) before the rest goes to scan_load_rules_text.
 */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/why.h"
#include "scan/scan.h"

#define CONFIG_MAX (16u << 20)

static int last_line(const struct cfg_node *n)
{
	int m = n->line;
	size_t i;

	for (i = 0; i < n->n; i++) {
		int k = n->keys ? last_line(n->keys[i]) : 0, v = last_line(n->items[i]);

		if (k > m)
			m = k;
		if (v > m)
			m = v;
	}
	return m;
}

/* Offset of the first byte of line (1-based), or len. */
static size_t line_start(const char *t, size_t len, int line)
{
	size_t i = 0;

	while (--line > 0 && i < len) {
		const char *nl = memchr(t + i, '\n', len - i);

		i = nl ? (size_t)(nl - t) + 1 : len;
	}
	return i;
}

/* Blank key and its value, which must be in block style: the key first on
 * its line and the value ending before anything else. */
static int blank(char *t, size_t len, const struct cfg_node *key, const struct cfg_node *val, struct why *why)
{
	size_t b = line_start(t, len, key->line), e = line_start(t, len, last_line(val) + 1), i;

	for (i = b; i < b + (size_t)(key->col - 1) && i < len; i++)
		if (t[i] != ' ')
			return cfg_fail(why, key, "'%s' must start its line (block style)", key->text);
	for (i = b; i < e && i < len; i++)
		if (t[i] != '\n')
			t[i] = ' ';
	return 0;
}

static int key_index(const struct cfg_node *map, const char *name)
{
	size_t i;

	for (i = 0; map && map->kind == CFG_MAP && i < map->n; i++)
		if (!strcmp(map->keys[i]->text, name))
			return (int)i;
	return -1;
}

static int take(struct ctx *x, char *t, size_t len, const struct cfg_node *root, int *use_default, struct why *why)
{
	const struct cfg_node *ext, *allow, *stop;
	int k, r;

	*use_default = 1;
	if ((k = key_index(root, "extend")) >= 0) {
		ext = root->items[k];
		if (ext->kind != CFG_MAP)
			return cfg_fail(why, ext, "'extend' must be a mapping (use_default: true|false)");
		if (key_index(ext, "use_default") < 0 || ext->n != 1)
			return cfg_fail(why, ext, "'extend' takes use_default: true|false and nothing else");
		if ((r = cfg_get_bool(ext, "use_default", use_default, why)))
			return r;
		if ((r = blank(t, len, root->keys[k], ext, why)))
			return r;
	}
	if ((k = key_index(root, "allowlist")) < 0)
		return 0;
	allow = root->items[k];
	if (key_index(allow, "stopwords") < 0)
		return 0;
	stop = cfg_get(allow, "stopwords");
	if (stop->kind != CFG_SEQ)
		return cfg_fail(why, stop, "'stopwords' must be a list of words");
	for (size_t i = 0; i < stop->n; i++) {
		const struct cfg_node *w = stop->items[i];
		char **nv;

		if (w->kind != CFG_SCALAR || !w->text_len || strlen(w->text) != w->text_len)
			return cfg_fail(why, w, "a stop word is a non-empty word");
		if (!(nv = realloc(x->stopwords, (x->n_stopwords + 1) * sizeof(*nv))) ||
		    !(nv[x->n_stopwords] = strdup(w->text)))
			return why_fail(why, -ENOMEM, "out of memory");
		x->stopwords = nv;
		x->n_stopwords++;
	}
	/* allowlist: with only stopwords goes entirely (an empty mapping is not one) */
	if (allow->n == 1)
		return blank(t, len, root->keys[k], allow, why);
	return blank(t, len, allow->keys[key_index(allow, "stopwords")], stop, why);
}

static int disable_builtins(struct scan *s, char *err, size_t errlen)
{
	size_t i, n = scan_rule_count(s), cap = 64, used;
	struct scan_rule_info ri;
	char *text = malloc(cap);
	int r;

	if (!text)
		return -ENOMEM;
	used = (size_t)snprintf(text, cap, "disable: [");
	for (i = 0; i < n; i++) {
		size_t need;

		/* known values (--known) are the caller's own, not a default */
		if (scan_rule_get(s, i, &ri) || !ri.builtin || !strcmp(ri.id, "known_value"))
			continue;
		need = strlen(ri.id) + 3;
		if (used + need + 3 > cap) {
			char *nt = realloc(text, cap = 2 * (used + need + 3));

			if (!nt) {
				free(text);
				return -ENOMEM;
			}
			text = nt;
		}
		used += (size_t)snprintf(text + used, cap - used, "%s'%s'", used > 10 ? ", " : "", ri.id);
	}
	used += (size_t)snprintf(text + used, cap - used, "]\n");
	r = scan_load_rules_text(s, "(extend: use_default: false)", text, used, err, errlen);
	free(text);
	return r;
}

int secrets_load_config(struct ctx *x, const char *path)
{
	struct why why = WHY_INIT;
	struct cfg_node *root = NULL;
	char err[1024], *t = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0, use_default;

	if (fd < 0) {
		cli_error("secrets: cannot read the scan config '%s': %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (!(t = malloc(CONFIG_MAX + 1))) {
		close(fd);
		cli_error("secrets: out of memory");
		return EXIT_USAGE;
	}
	while (len < CONFIG_MAX && (n = read(fd, t + len, CONFIG_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	t[len] = 0;
	if (r || len == CONFIG_MAX) {
		cli_error("secrets: cannot read the scan config '%s': %s", path, r ? strerror(-r) : "over 16 MiB");
		free(t);
		return EXIT_USAGE;
	}
	if (cfg_parse(path, t, len, &root, &why) || take(x, t, len, root, &use_default, &why)) {
		cli_error("%s", why_str(&why));
		r = EXIT_USAGE;
	} else if ((!use_default && disable_builtins(x->s, err, sizeof(err))) ||
		   scan_load_rules_text(x->s, path, t, len, err, sizeof(err))) {
		cli_error("%s", err);
		r = EXIT_USAGE;
	}
	cfg_node_free(root);
	free(t);
	return r;
}

/* ASCII case-insensitive search of word in the value. */
static int holds(const unsigned char *v, size_t n, const char *word)
{
	size_t wl = strlen(word), i, k;

	for (i = 0; wl <= n && i + wl <= n; i++) {
		for (k = 0; k < wl && tolower(v[i + k]) == tolower((unsigned char)word[k]); k++)
			;
		if (k == wl)
			return 1;
	}
	return 0;
}

int secrets_has_stopword(const struct ctx *x, const unsigned char *v, size_t n)
{
	size_t i;

	for (i = 0; i < x->n_stopwords; i++)
		if (holds(v, n, x->stopwords[i]))
			return 1;
	return 0;
}
