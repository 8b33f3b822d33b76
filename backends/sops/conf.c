#include "lib/compat.h"
#include "backends/sops/sopsfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "backends/sops/sops-internal.h"
#include "lib/why.h"

/*
 * .sops.yaml: where sops looks for it, and its creation_rules.  The text
 * is parsed by the SOPS YAML store (the one libyaml user in backends/) as
 * a plain document; only what a rule for age keys needs is read, and any
 * other key type is named in a refusal.
 */

char *sopsfile_find_config(const char *file)
{
	char dir[PATH_MAX], *slash, *out = NULL;

	if (!realpath(file, dir)) {
		/* A file that does not exist yet (encrypt -o): its directory. */
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", file);
		if ((slash = strrchr(tmp, '/')))
			*slash = 0;
		else
			snprintf(tmp, sizeof(tmp), ".");
		if (!realpath(slash == tmp ? "/" : tmp, dir))
			return NULL;
	} else if ((slash = strrchr(dir, '/'))) {
		slash[slash == dir] = 0;
	}
	for (;;) {
		if (asprintf(&out, "%s/.sops.yaml", strcmp(dir, "/") ? dir : "") < 0)
			return NULL;
		if (access(out, F_OK) == 0)
			return out;
		free(out);
		out = NULL;
		if (!strcmp(dir, "/") || !(slash = strrchr(dir, '/')))
			return NULL;
		slash[slash == dir] = 0;
	}
}

void sopsfile_rule_release(struct sopsfile_rule *r)
{
	size_t i;

	for (i = 0; i < r->nage; i++)
		free(r->age[i]);
	free(r->age);
	free(r->rule_arg);
	memset(r, 0, sizeof(*r));
}

static const char *str_of(const struct sops_node *n)
{
	return n && n->kind == SN_SCALAR && n->type != SV_NULL && n->text ? n->text : NULL;
}

static int add_age(struct sopsfile_rule *out, const char *s, size_t n)
{
	char **na;

	while (n && strchr(" \t\r\n", *s))
		s++, n--;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (!n)
		return 0;
	if (!(na = realloc(out->age, (out->nage + 1) * sizeof(*na))))
		return -ENOMEM;
	out->age = na;
	if (!(na[out->nage] = strndup(s, n)))
		return -ENOMEM;
	out->nage++;
	return 0;
}

/* age: "a, b" (sops splits on commas), or a list of them. */
static int read_age(struct sopsfile_rule *out, const struct sops_node *n, struct why *why)
{
	size_t i;
	int r;

	if (!n || (n->kind == SN_SCALAR && n->type == SV_NULL))
		return 0;
	if (n->kind == SN_SEQ) {
		for (i = 0; i < n->n; i++)
			if (n->items[i].val && n->items[i].val->kind != SN_COMMENT &&
			    (r = read_age(out, n->items[i].val, why)))
				return r;
		return 0;
	}
	if (!str_of(n))
		return why_fail(why, -EINVAL, ".sops.yaml: 'age' must be a string or a list of strings");
	{
		const char *s = n->text, *e;

		for (;;) {
			e = strchr(s, ',');
			if ((r = add_age(out, s, e ? (size_t)(e - s) : strlen(s))))
				return why_fail(why, r, "out of memory");
			if (!e)
				break;
			s = e + 1;
		}
	}
	return 0;
}

static int other_keys(const struct sops_node *m, int rule, struct why *why)
{
	static const char *const others[] = { "pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri",
					      "hckms", "hc_vault" };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(others); k++) {
		const struct sops_node *v = sops_map_get(m, others[k]);

		if (!v || (v->kind == SN_SCALAR && (v->type == SV_NULL || !v->len)) ||
		    (v->kind != SN_SCALAR && !v->n))
			continue;
		return why_fail(why, -ENOTSUP,
				".sops.yaml creation rule %d uses %s keys: harombe encrypts to age recipients only "
				"(use sops for %s, or a rule with age keys alone)", rule + 1, others[k], others[k]);
	}
	return 0;
}

static int rule_matches(const char *re, const char *path, int rule, int *match, struct why *why)
{
	pcre2_code *code;
	pcre2_match_data *md;
	PCRE2_SIZE eo;
	int ec, rc;

	if (!(code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec,
				   &eo, NULL)))
		return why_fail(why, -EINVAL, ".sops.yaml creation rule %d: path_regex does not compile (offset %zu)",
				rule + 1, (size_t)eo);
	if (!(md = pcre2_match_data_create_from_pattern(code, NULL))) {
		pcre2_code_free(code);
		return why_fail(why, -ENOMEM, "out of memory");
	}
	rc = pcre2_match(code, (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	*match = rc >= 0;
	return 0;
}

static int read_rule(const struct sops_node *m, int idx, struct sopsfile_rule *out, struct why *why)
{
	static const char *const rules[] = { "unencrypted_suffix", "encrypted_suffix", "unencrypted_regex",
					     "encrypted_regex", "unencrypted_comment_regex",
					     "encrypted_comment_regex" };
	const struct sops_node *groups = sops_map_get(m, "key_groups"), *moe;
	size_t i, nrules = 0;
	int r;

	out->index = idx;
	if ((r = other_keys(m, idx, why)) || (r = read_age(out, sops_map_get(m, "age"), why)))
		return r;
	if (groups && groups->kind == SN_SEQ) {
		size_t ng = 0;

		for (i = 0; i < groups->n; i++) {
			const struct sops_node *g = groups->items[i].val;

			if (!g || g->kind == SN_COMMENT)
				continue;
			if (g->kind != SN_MAP)
				return why_fail(why, -EINVAL, ".sops.yaml creation rule %d: a key group is not a map",
						idx + 1);
			if ((r = other_keys(g, idx, why)) || (r = read_age(out, sops_map_get(g, "age"), why)))
				return r;
			ng++;
		}
		if (ng > 1)
			return why_fail(why, -ENOTSUP,
					".sops.yaml creation rule %d has %zu key groups (Shamir secret sharing), which "
					"harombe does not support", idx + 1, ng);
	} else if (groups && !(groups->kind == SN_SCALAR && groups->type == SV_NULL)) {
		return why_fail(why, -EINVAL, ".sops.yaml creation rule %d: key_groups must be a list", idx + 1);
	}
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		const char *v = str_of(sops_map_get(m, rules[i]));

		if (!v || !*v)
			continue;
		if (nrules++)
			return why_fail(why, -EINVAL, ".sops.yaml creation rule %d: more than one of the "
					"*_suffix / *_regex settings", idx + 1);
		out->rule_key = rules[i];
		if (!(out->rule_arg = strdup(v)))
			return why_fail(why, -ENOMEM, "out of memory");
	}
	moe = sops_map_get(m, "mac_only_encrypted");
	out->mac_only_encrypted = str_of(moe) && (!strcmp(moe->text, "true") || !strcmp(moe->text, "True"));
	return 0;
}

int sopsfile_rules_match(const char *text, size_t len, const char *rel_path, struct sopsfile_rule *out,
			 struct why *why)
{
	struct sops_doc doc;
	struct why msg = WHY_INIT;
	const struct sops_node *rules;
	size_t i;
	int r, idx = 0;

	memset(out, 0, sizeof(*out));
	if (len > SOPSFILE_CONF_MAX)
		return why_fail(why, -EINVAL, ".sops.yaml is larger than %u bytes", SOPSFILE_CONF_MAX);
	if (memchr(text, 0, len))
		return why_fail(why, -EINVAL, ".sops.yaml has a NUL byte");
	sops_doc_init(&doc, SOPS_FMT_YAML);
	doc.plaintext = 1;
	if ((r = doc.store->parse(&doc, text, len, &msg))) {
		why_set(why, ".sops.yaml: %.300s", why_str(&msg));
		goto out;
	}
	rules = doc.nbranches ? sops_map_get(doc.branches[0], "creation_rules") : NULL;
	if (!rules || rules->kind != SN_SEQ) {
		r = why_fail(why, -ENOENT, ".sops.yaml has no creation_rules");
		goto out;
	}
	for (i = 0; i < rules->n; i++) {
		const struct sops_node *m = rules->items[i].val;
		const char *re;
		int match = 1;

		if (!m || m->kind == SN_COMMENT)
			continue;
		if (m->kind != SN_MAP) {
			r = why_fail(why, -EINVAL, ".sops.yaml: creation rule %d is not a map", idx + 1);
			goto out;
		}
		re = str_of(sops_map_get(m, "path_regex"));
		if (!re)
			re = str_of(sops_map_get(m, "filename_regex"));
		if (re && *re && (r = rule_matches(re, rel_path, idx, &match, why)))
			goto out;
		if (match) {
			r = read_rule(m, idx, out, why);
			goto out;
		}
		idx++;
	}
	r = why_fail(why, -ENOENT, "no creation rule of .sops.yaml matches '%s'", rel_path);
 out:
	sops_doc_release(&doc);
	if (r)
		sopsfile_rule_release(out);
	return r;
}
