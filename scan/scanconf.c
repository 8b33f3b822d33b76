/*
 * A tree's scan config: the keys harombe reads itself (extend.use_default,
 * allowlist.stopwords) taken out of the text before the rules loader sees
 * it, their lines blanked so that positions stay right.  See scanconf.h.
 */
#include "lib/compat.h"
#include "scan/scanconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/why.h"
#include "scan/scan.h"

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

static int take(struct scanconf *c, char *t, size_t len, const struct cfg_node *root, struct why *why)
{
	const struct cfg_node *ext, *allow, *stop;
	int k, r;

	c->use_default = 1;
	if ((k = key_index(root, "extend")) >= 0) {
		ext = root->items[k];
		if (ext->kind != CFG_MAP)
			return cfg_fail(why, ext, "'extend' must be a mapping (use_default: true|false)");
		if (key_index(ext, "use_default") < 0 || ext->n != 1)
			return cfg_fail(why, ext, "'extend' takes use_default: true|false and nothing else");
		if ((r = cfg_get_bool(ext, "use_default", &c->use_default, why)))
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
		if (!(nv = realloc(c->stopwords, (c->n_stopwords + 1) * sizeof(*nv))))
			return why_fail(why, -ENOMEM, "out of memory");
		c->stopwords = nv;
		if (!(nv[c->n_stopwords] = strdup(w->text)))
			return why_fail(why, -ENOMEM, "out of memory");
		c->n_stopwords++;
	}
	/* allowlist: with only stopwords goes entirely (an empty mapping is not one) */
	if (allow->n == 1)
		return blank(t, len, root->keys[k], allow, why);
	return blank(t, len, allow->keys[key_index(allow, "stopwords")], stop, why);
}

int scanconf_disable_builtins(struct scan *s, char *err, size_t errlen)
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

		/* known values (--known) are the caller's own, not a default;
		 * encoded_secret is no rule of its own: it is what the rules
		 * that are on find in decoded text, and goes with them */
		if (scan_rule_get(s, i, &ri) || !ri.builtin || !strcmp(ri.id, "known_value") ||
		    !strcmp(ri.id, "encoded_secret"))
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

int scanconf_take(const char *name, char *text, size_t len, struct scanconf *out, char *err, size_t errlen)
{
	struct why why = WHY_INIT;
	struct cfg_node *root = NULL;
	int r;

	if ((r = cfg_parse(name, text, len, &root, &why)) == 0)
		r = take(out, text, len, root, &why);
	if (r)
		snprintf(err, errlen, "%s", why_str(&why));
	cfg_node_free(root);
	return r;
}

void scanconf_release(struct scanconf *c)
{
	size_t i;

	for (i = 0; i < c->n_stopwords; i++)
		free(c->stopwords[i]);
	free(c->stopwords);
	c->stopwords = NULL;
	c->n_stopwords = 0;
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

int scanconf_has_stopword(const struct scanconf *c, const unsigned char *v, size_t n)
{
	size_t i;

	for (i = 0; i < c->n_stopwords; i++)
		if (holds(v, n, c->stopwords[i]))
			return 1;
	return 0;
}
