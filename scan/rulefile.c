#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include "lib/config.h"

/*
 * Rules made ready to run (compiled with PCRE2 and JIT into the scanner),
 * the allowlist, and the rules file: custom rules and allowlist entries,
 * from YAML (lib/config.h).
 */

/* ---- compiling and loading ---- */

static void rule_fail(char *err, size_t errlen, const char *where, const char *id, const char *what,
		      const char *re, int code, size_t off)
{
	PCRE2_UCHAR msg[256];

	pcre2_get_error_message(code, msg, sizeof(msg));
	snprintf(err, errlen, "%srule '%s': %s: %s at offset %zu of /%s/", where ? where : "", id, what,
		 (const char *)msg, off, re);
}

/* Compile c's regex with JIT and find its groups.  err may be NULL. */
static int compile_rule(struct crule *c, char *err, size_t errlen, const char *where)
{
	pcre2_code *code;
	int ecode, n;
	PCRE2_SIZE eoff;

	code = pcre2_compile((PCRE2_SPTR)c->r.re, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT, &ecode, &eoff,
			     NULL);
	if (!code) {
		if (err)
			rule_fail(err, errlen, where, c->r.id, "regex does not compile", c->r.re, ecode, eoff);
		return -EINVAL;
	}
	/* JIT is an optimisation: without it (no executable memory) the
	 * interpreter gives the same answers. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	n = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "secret");
	c->g_secret = n > 0 ? (uint32_t)n : 0;
	n = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "key");
	c->g_key = n > 0 ? (uint32_t)n : 0;
	/* the groups first, then the code: a thread that sees the code sees them */
	__atomic_store_n(&c->code, code, __ATOMIC_RELEASE);
	return 0;
}

/* A built-in rule is compiled when a prefilter first reports it: a filter
 * of a few lines compiles the two or three rules they touch, not all of
 * them (PCRE2 compile and JIT of every rule is ~4 ms).  The build compiles
 * every one of them once (scan/tools/hsdb-gen.c), so none fails here but
 * for want of memory. */
int scan_rule_ready(const struct scan *s, const struct crule *c)
{
	struct scan *ms = (struct scan *)s;	/* the lazy part of a read-only scanner */
	int r = 0;

	if (__atomic_load_n(&c->code, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&ms->lazy_lock);
	if (!c->code && compile_rule((struct crule *)c, NULL, 0, NULL))
		r = -ENOMEM;
	pthread_mutex_unlock(&ms->lazy_lock);
	return r;
}

/* Add r to s->rules; a custom rule is compiled now (its errors belong to
 * its file), a built-in one on first use.  err gets the reason on failure. */
static int add_rule(struct scan *s, const struct rule *r, int builtin, struct crule **out, char *err,
		    size_t errlen, const char *where)
{
	struct crule *c;
	int rc;

	if (s->n_rules >= SCAN_MAX_RULES) {
		snprintf(err, errlen, "%stoo many rules (at most %u)", where ? where : "", SCAN_MAX_RULES);
		return -E2BIG;
	}
	if (s->n_rules == s->cap_rules) {
		size_t cap = s->cap_rules ? s->cap_rules * 2 : 64;
		struct crule *nr = realloc(s->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		s->rules = nr;
		s->cap_rules = cap;
	}
	c = &s->rules[s->n_rules];
	memset(c, 0, sizeof(*c));
	c->r = *r;
	c->builtin = builtin;
	if (!builtin && (rc = compile_rule(c, err, errlen, where)))
		return rc;
	s->n_rules++;
	if (out)
		*out = c;
	return 0;
}

int scan_rules_add(struct scan *s, const struct rule *r, int builtin, struct crule **out, char *err,
		   size_t errlen)
{
	return add_rule(s, r, builtin, out, err, errlen, NULL);
}

int scan_allowed_secret(const struct scan *s, const unsigned char *p, size_t n, pcre2_match_data *md)
{
	size_t i;

	for (i = 0; i < s->n_allow_re; i++)
		if (pcre2_match(s->allow_re[i], p, n, 0, 0, md, NULL) >= 0)
			return 1;
	return 0;
}

int scan_path_allowed(const struct scan *s, const char *path)
{
	pcre2_match_data *md;
	size_t i;
	int hit = 0;

	if (!s->n_allow_path)
		return 0;
	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return 0;
	for (i = 0; i < s->n_allow_path && !hit; i++)
		hit = pcre2_match(s->allow_path[i], (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	return hit;
}

/* ---- the rules file ---- */

static int valid_id(const char *id)
{
	size_t i;

	if (!*id || strlen(id) > 64)
		return 0;
	for (i = 0; id[i]; i++)
		if (!islower((unsigned char)id[i]) && !isdigit((unsigned char)id[i]) && id[i] != '_' &&
		    id[i] != '-')
			return 0;
	return 1;
}

static int compile_list(const struct cfg_node *seq, const char *what, pcre2_code ***out, size_t *n,
			struct why *cerr)
{
	size_t i;

	if (!seq || cfg_is_null(seq))
		return 0;
	if (seq->kind != CFG_SEQ)
		return cfg_fail(cerr, seq, "'%s' must be a list of regular expressions", what), -EINVAL;
	for (i = 0; i < seq->n; i++) {
		const struct cfg_node *it = seq->items[i];
		pcre2_code **arr, *re;
		PCRE2_UCHAR msg[256];
		PCRE2_SIZE eoff;
		int ecode;

		if (it->kind != CFG_SCALAR)
			return cfg_fail(cerr, it, "'%s' entries must be strings", what), -EINVAL;
		re = pcre2_compile((PCRE2_SPTR)it->text, it->text_len, 0, &ecode, &eoff, NULL);
		if (!re) {
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			return cfg_fail(cerr, it, "%s regex does not compile: %s at offset %zu", what,
					(const char *)msg, (size_t)eoff), -EINVAL;
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
		arr = realloc(*out, (*n + 1) * sizeof(*arr));
		if (!arr) {
			pcre2_code_free(re);
			return -ENOMEM;
		}
		arr[(*n)++] = re;
		*out = arr;
	}
	return 0;
}

static int load_rule(struct scan *s, const struct cfg_node *m, struct why *cerr)
{
	static const char *const known[] = { "id", "regex", "type", "description", "confidence",
					     "keywords", "secret_group", NULL };
	const char *id = NULL, *re = NULL, *type = NULL, *desc = NULL;
	const struct cfg_node *kw, *conf, *grp;
	struct rule r = { 0 };
	struct crule *c;
	char where[320], err[512];
	double confidence = 0.8;
	unsigned long group = 0;
	size_t i;
	int rc;

	if (m->kind != CFG_MAP)
		return cfg_fail(cerr, m, "each rule must be a mapping with id and regex"), -EINVAL;
	cfg_warn_unknown(m, "rule", known);
	if (cfg_get_str(m, "id", &id, cerr) || cfg_get_str(m, "regex", &re, cerr) ||
	    cfg_get_str(m, "type", &type, cerr) || cfg_get_str(m, "description", &desc, cerr))
		return -EINVAL;
	if (!id)
		return cfg_fail(cerr, m, "rule without 'id'"), -EINVAL;
	if (!valid_id(id))
		return cfg_fail(cerr, cfg_get(m, "id"), "rule id '%s' must be lower case letters, digits, _ and -",
				id), -EINVAL;
	if (!re || !*re)
		return cfg_fail(cerr, m, "rule '%s' has no 'regex'", id), -EINVAL;
	for (i = 0; i < s->n_rules; i++)
		if (!strcmp(s->rules[i].r.id, id))
			return cfg_fail(cerr, cfg_get(m, "id"), "rule id '%s' is already used", id), -EINVAL;
	if ((conf = cfg_get(m, "confidence")) && !cfg_is_null(conf)) {
		char *end;

		if (conf->kind != CFG_SCALAR)
			return cfg_fail(cerr, conf, "confidence must be a number"), -EINVAL;
		confidence = strtod(conf->text, &end);
		if (end == conf->text || *end || confidence < 0 || confidence > 1)
			return cfg_fail(cerr, conf, "confidence must be a number from 0 to 1, not '%s'",
					conf->text), -EINVAL;
	}
	if ((grp = cfg_get(m, "secret_group")) && cfg_get_uint(m, "secret_group", 100, &group, cerr))
		return -EINVAL;
	r.id = id;
	r.type = type ? type : id;
	r.desc = desc ? desc : "custom rule";
	r.confidence = confidence;
	r.re = re;
	r.back = 0;
	snprintf(where, sizeof(where), "%s:%d:%d: ", m->file, m->line, m->col);
	if ((rc = add_rule(s, &r, 0, &c, err, sizeof(err), where))) {
		snprintf(cerr->msg, sizeof(cerr->msg), "%s", err);
		return rc;
	}
	/* the table's strings belong to the config tree: copy them */
	c->own_id = strdup(id);
	c->own_type = strdup(r.type);
	c->own_desc = strdup(r.desc);
	c->own_re = strdup(re);
	if (!c->own_id || !c->own_type || !c->own_desc || !c->own_re)
		return -ENOMEM;
	c->r.id = c->own_id;
	c->r.type = c->own_type;
	c->r.desc = c->own_desc;
	c->r.re = c->own_re;
	if (group) {
		uint32_t count;

		pcre2_pattern_info(c->code, PCRE2_INFO_CAPTURECOUNT, &count);
		if (group > count)
			return cfg_fail(cerr, grp, "rule '%s': secret_group %lu, but the regex has %u groups", id,
					group, count), -EINVAL;
		c->g_secret = (uint32_t)group;
	}
	kw = cfg_get(m, "keywords");
	if (kw && !cfg_is_null(kw)) {
		if (kw->kind != CFG_SEQ)
			return cfg_fail(cerr, kw, "keywords must be a list of strings"), -EINVAL;
		c->keywords = calloc(kw->n ? kw->n : 1, sizeof(char *));
		if (!c->keywords)
			return -ENOMEM;
		for (i = 0; i < kw->n; i++) {
			if (kw->items[i]->kind != CFG_SCALAR || !kw->items[i]->text_len)
				return cfg_fail(cerr, kw->items[i], "keywords must be non-empty strings"), -EINVAL;
			if (!(c->keywords[i] = strdup(kw->items[i]->text)))
				return -ENOMEM;
			c->n_keywords++;
		}
	}
	c->fullscan = c->n_keywords == 0;
	return 0;
}

static int load_tree(struct scan *s, const struct cfg_node *root, struct why *cerr)
{
	static const char *const known[] = { "rules", "allowlist", "disable", NULL };
	static const char *const aknown[] = { "regexes", "paths", NULL };
	const struct cfg_node *rules, *allow, *dis;
	size_t i, j;
	int r;

	if (root->kind != CFG_MAP)
		return cfg_fail(cerr, root, "a rules file is a mapping (rules:, allowlist:, disable:)"), -EINVAL;
	cfg_warn_unknown(root, "rules file", known);
	rules = cfg_get(root, "rules");
	if (rules && !cfg_is_null(rules)) {
		if (rules->kind != CFG_SEQ)
			return cfg_fail(cerr, rules, "'rules' must be a list"), -EINVAL;
		for (i = 0; i < rules->n; i++)
			if ((r = load_rule(s, rules->items[i], cerr)))
				return r;
	}
	allow = cfg_get(root, "allowlist");
	if (allow && !cfg_is_null(allow)) {
		if (allow->kind != CFG_MAP)
			return cfg_fail(cerr, allow, "'allowlist' must be a mapping (regexes:, paths:)"), -EINVAL;
		cfg_warn_unknown(allow, "allowlist", aknown);
		if ((r = compile_list(cfg_get(allow, "regexes"), "allowlist", &s->allow_re, &s->n_allow_re, cerr)) ||
		    (r = compile_list(cfg_get(allow, "paths"), "path", &s->allow_path, &s->n_allow_path, cerr)))
			return r;
	}
	dis = cfg_get(root, "disable");
	if (dis && !cfg_is_null(dis)) {
		if (dis->kind != CFG_SEQ)
			return cfg_fail(cerr, dis, "'disable' must be a list of rule ids"), -EINVAL;
		for (i = 0; i < dis->n; i++) {
			const struct cfg_node *it = dis->items[i];
			int found = 0;

			if (it->kind != CFG_SCALAR)
				return cfg_fail(cerr, it, "'disable' entries must be rule ids"), -EINVAL;
			for (j = 0; j < s->n_rules; j++) {
				if (!strcmp(s->rules[j].r.id, it->text)) {
					s->rules[j].disabled = 1;
					found = 1;
				}
			}
			if (!found && strcmp(it->text, "high_entropy"))
				return cfg_fail(cerr, it, "no rule named '%s' to disable (harombe secrets rules lists them)",
						it->text), -EINVAL;
			if (!strcmp(it->text, "high_entropy"))
				s->opt.entropy = 0;
		}
	}
	return 0;
}

int scan_load_rules_text(struct scan *s, const char *name, const char *text, size_t len, char *err,
			 size_t errlen)
{
	struct why cerr = WHY_INIT;
	struct cfg_node *root = NULL;
	int r;

	if (s->compiled) {
		snprintf(err, errlen, "%s: rules must be loaded before the scanner is compiled", name);
		return -EBUSY;
	}
	if ((r = cfg_parse(name, text, len, &root, &cerr)) == 0)
		r = load_tree(s, root, &cerr);
	if (r)
		snprintf(err, errlen, "%s", cerr.msg[0] ? cerr.msg : strerror(-r));
	cfg_node_free(root);
	return r;
}

int scan_load_rules(struct scan *s, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open rules file '%s': %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		close(fd);
		snprintf(err, errlen, "rules file '%s' is not a regular file of at most 16 MiB", path);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	text[got] = 0;
	r = scan_load_rules_text(s, path, text, got, err, errlen);
	free(text);
	return r;
}
