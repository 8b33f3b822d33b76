#include "lib/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "scan/scan.h"

/*
 * Scanner quality on a labelled corpus: recall on positives, false-positive
 * rate on negatives, and partial redactions.
 *
 *   scaneval [--min-recall R] [--max-fp F] [-v] CORPUS.jsonl
 *       items {"id", "label": "positive"|"negative", "rule", "text", "secrets": [...]}
 *       (tests/tools/gen-scan-corpus.py writes them)
 *   scaneval --upstream cases.json
 *       the scanner cases of the original project, with its labels and configs
 *
 * Each item's text is redacted through a stream, exactly as `harombe
 * secrets filter` does.  A positive counts as detected when every secret
 * is gone from the output; "partial" means a finding touched it but an
 * 8-byte run of it survived.  A negative counts as a false positive when
 * anything is found.  Exit status 1 when a target is missed.
 */

struct out {
	char *buf;
	size_t len, cap;
	size_t findings;
	char rules[256];
};

static int on_out(void *arg, const void *p, size_t n)
{
	struct out *o = arg;

	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *nb = realloc(o->buf, cap);

		if (!nb)
			return -ENOMEM;
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = 0;
	return 0;
}

static int on_find(void *arg, const struct scan_finding *f)
{
	struct out *o = arg;
	size_t l = strlen(o->rules);

	o->findings++;
	if (l + strlen(f->rule) + 2 < sizeof(o->rules))
		snprintf(o->rules + l, sizeof(o->rules) - l, "%s%s", l ? "," : "", f->rule);
	return 0;
}

static int redact(const struct scan *s, const char *text, size_t len, struct out *o)
{
	o->len = 0;
	o->findings = 0;
	o->rules[0] = 0;
	if (o->buf)
		o->buf[0] = 0;
	return scan_buffer(s, text, len, on_out, on_find, o);
}

/* Any 8-byte run of secret still in the output?  A run that the input has
 * outside the secret too (postgres_password: "password1") proves nothing:
 * only runs that belong to the secret alone count. */
static int survives(const struct out *o, const char *secret, const char *text)
{
	size_t n = strlen(secret), tn = strlen(text), i;
	char *rest;
	int left = 0;

	if (n < 8)
		return o->len && memmem(o->buf, o->len, secret, n) != NULL;
	rest = strdup(text);
	if (!rest)
		return 1;
	for (i = 0; i + n <= tn; i++)
		if (!memcmp(rest + i, secret, n))
			memset(rest + i, 1, n);
	for (i = 0; i + 8 <= n && !left; i++)
		if (memmem(o->buf, o->len, secret + i, 8) && !memmem(rest, tn, secret + i, 8))
			left = 1;
	free(rest);
	return left;
}

struct tally {
	char rule[64];
	size_t pos, hit, partial;
};

static struct scan *make_scan(double min_conf, size_t min_len, int entropy)
{
	struct scan_options so = SCAN_OPTIONS_INIT;
	struct scan *s;
	char err[512];

	so.min_confidence = min_conf;
	so.min_length = min_len;
	so.entropy = entropy;
	if (scan_new(&so, &s, err, sizeof(err)) || scan_compile(s, err, sizeof(err))) {
		fprintf(stderr, "scaneval: %s\n", err);
		exit(2);
	}
	return s;
}

static struct tally *tally_of(struct tally *t, size_t *nt, size_t cap, const char *name)
{
	size_t k;

	for (k = 0; k < *nt; k++)
		if (!strcmp(t[k].rule, name))
			return &t[k];
	if (*nt == cap)
		return NULL;
	memset(&t[*nt], 0, sizeof(t[0]));
	snprintf(t[*nt].rule, sizeof(t[0].rule), "%s", name);
	return &t[(*nt)++];
}

static int eval_corpus(const char *path, double min_recall, double max_fp, int verbose)
{
	struct tally t[160], syn[64];
	size_t nt = 0, nsyn = 0, pos = 0, hit = 0, partial = 0, neg = 0, fp = 0, i;
	size_t hashes = 0, hash_fp = 0, near = 0, near_red = 0;
	struct out o = { 0 };
	struct scan *s = make_scan(0.7, 16, 1);
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	double recall, fprate;

	if (!f) {
		fprintf(stderr, "scaneval: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		json_object *it = json_tokener_parse(line), *v;
		const char *id, *label, *rule, *text, *syntax;
		size_t k, ns;

		if (!it)
			continue;
		id = json_object_object_get_ex(it, "id", &v) ? json_object_get_string(v) : "?";
		label = json_object_object_get_ex(it, "label", &v) ? json_object_get_string(v) : "";
		rule = json_object_object_get_ex(it, "rule", &v) ? json_object_get_string(v) :
		       json_object_object_get_ex(it, "format", &v) ? json_object_get_string(v) : "";
		syntax = json_object_object_get_ex(it, "syntax", &v) ? json_object_get_string(v) : "";
		text = json_object_object_get_ex(it, "text", &v) ? json_object_get_string(v) : "";
		if (redact(s, text, strlen(text), &o)) {
			fprintf(stderr, "scaneval: %s: scan failed\n", id);
			return 2;
		}
		if (!strcmp(label, "hash")) {
			hashes++;
			if (o.findings) {
				hash_fp++;
				printf("  FLAGGED hash %s: %s\n", id, o.rules);
			}
		} else if (!strcmp(label, "near_miss")) {
			near++;
			near_red += o.findings > 0;
			if (verbose)
				printf("  near miss %s: %s\n", id, o.findings ? "redacted" : "passed");
		} else if (!strcmp(label, "negative")) {
			neg++;
			if (o.findings) {
				fp++;
				if (verbose)
					printf("  false positive %s: %s\n", id, o.rules);
			}
		} else {
			struct tally *tr = tally_of(t, &nt, ARRAY_SIZE(t), rule);
			struct tally *ts = *syntax ? tally_of(syn, &nsyn, ARRAY_SIZE(syn), syntax) : NULL;
			int ok = 1, part = 0;

			json_object_object_get_ex(it, "secrets", &v);
			ns = v ? json_object_array_length(v) : 0;
			for (k = 0; k < ns; k++) {
				const char *sec = json_object_get_string(json_object_array_get_idx(v, k));

				if (survives(&o, sec, text)) {
					ok = 0;
					if (o.findings)
						part = 1;
				}
			}
			pos++;
			hit += ok;
			partial += part;
			if (tr) {
				tr->pos++;
				tr->hit += ok;
				tr->partial += part;
			}
			if (ts) {
				ts->pos++;
				ts->hit += ok;
				ts->partial += part;
			}
			if (!ok && verbose)
				printf("  %s %s (found: %s)\n", part ? "partial" : "missed", id, o.findings ? o.rules : "-");
		}
		json_object_put(it);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	free(o.buf);
	scan_free(s);
	recall = pos ? (double)hit / (double)pos : 1;
	fprate = neg ? (double)fp / (double)neg : 0;
	printf("scanner quality: %s\n", path);
	printf("  positives %zu, detected %zu: recall %.2f%% (target >= %.2f%%)\n", pos, hit, 100 * recall,
	       100 * min_recall);
	printf("  partial redactions: %zu (target 0)\n", partial);
	printf("  negatives %zu, flagged %zu: false-positive rate %.2f%% (target <= %.2f%%)\n", neg, fp,
	       100 * fprate, 100 * max_fp);
	if (hashes)
		printf("  hashes, digests, UUIDs, commit ids, integrity strings %zu, flagged %zu (target 0)\n", hashes,
		       hash_fp);
	if (near)
		printf("  near misses (documented example keys, wrong lengths) %zu, redacted %zu: %.1f%% (reported, no target)\n",
		       near, near_red, 100.0 * (double)near_red / (double)near);
	printf("  per %s:\n", nsyn ? "format" : "rule");
	for (i = 0; i < nt; i++)
		printf("    %-28s %4zu/%-4zu %6.2f%%%s\n", t[i].rule, t[i].hit, t[i].pos,
		       t[i].pos ? 100.0 * (double)t[i].hit / (double)t[i].pos : 0,
		       t[i].partial ? "  PARTIAL" : "");
	if (nsyn)
		printf("  per syntax:\n");
	for (i = 0; i < nsyn; i++)
		printf("    %-28s %4zu/%-4zu %6.2f%%%s\n", syn[i].rule, syn[i].hit, syn[i].pos,
		       syn[i].pos ? 100.0 * (double)syn[i].hit / (double)syn[i].pos : 0,
		       syn[i].partial ? "  PARTIAL" : "");
	return recall >= min_recall && fprate <= max_fp && partial == 0 && hash_fp == 0 ? 0 : 1;
}

/* ---- the original project's cases ---- */

static int eval_upstream(const char *path, int verbose)
{
	json_object *doc = json_object_from_file(path), *v, *cfg;
	size_t i, n, counts[2][2] = { { 0 } }, info = 0, info_hit = 0;
	struct out o = { 0 };
	struct scan *cache[8] = { 0 };
	double keys[8][3];
	size_t nc = 0;

	if (!doc) {
		fprintf(stderr, "scaneval: cannot parse %s\n", path);
		return 2;
	}
	n = json_object_array_length(doc);
	for (i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(doc, i);
		const char *comp, *expect, *strength, *text, *id;
		double mc = 0.7, ml = 16, en = 1;
		struct scan *s = NULL;
		size_t k;
		int want, got, counted;

		comp = json_object_object_get_ex(it, "component", &v) ? json_object_get_string(v) : "";
		if (strcmp(comp, "scanner"))
			continue;
		id = json_object_object_get_ex(it, "id", &v) ? json_object_get_string(v) : "?";
		expect = json_object_object_get_ex(it, "expect", &v) ? json_object_get_string(v) : "";
		strength = json_object_object_get_ex(it, "assertion_strength", &v) ? json_object_get_string(v) : "";
		text = json_object_object_get_ex(it, "input", &v) ? json_object_get_string(v) : "";
		if (json_object_object_get_ex(it, "config", &cfg)) {
			if (json_object_object_get_ex(cfg, "min_confidence", &v))
				mc = json_object_get_double(v);
			if (json_object_object_get_ex(cfg, "min_length", &v))
				ml = json_object_get_double(v);
			if (json_object_object_get_ex(cfg, "enable_entropy_detection", &v))
				en = json_object_get_boolean(v);
		}
		for (k = 0; k < nc && !s; k++)
			if (keys[k][0] == mc && keys[k][1] == ml && keys[k][2] == en)
				s = cache[k];
		if (!s) {
			s = make_scan(mc, (size_t)ml, (int)en);
			if (nc < ARRAY_SIZE(cache)) {
				cache[nc] = s;
				keys[nc][0] = mc;
				keys[nc][1] = ml;
				keys[nc][2] = en;
				nc++;
			}
		}
		if (redact(s, text, strlen(text), &o))
			return 2;
		got = o.findings > 0;
		want = !strcmp(expect, "detected");
		counted = (!strcmp(strength, "strict") || !strcmp(strength, "aggregate")) &&
			  (want || !strcmp(expect, "not_detected"));
		if (counted) {
			counts[want][got]++;
			if (verbose && want != got)
				printf("  %s %s (%s): expected %s, found %s\n", id, strength, expect,
				       want ? "a finding" : "nothing", got ? o.rules : "nothing");
		} else {
			info++;
			info_hit += got;
			if (verbose)
				printf("  info %s (%s, %s): %s\n", id, strength, expect, got ? o.rules : "nothing");
		}
		for (k = 0; k < nc; k++)
			if (cache[k] == s)
				break;
		if (k == nc)
			scan_free(s);
	}
	printf("original project's scanner cases: %s\n", path);
	printf("  labelled detected:     %zu, found %zu (recall %.2f%%)\n", counts[1][0] + counts[1][1], counts[1][1],
	       100.0 * (double)counts[1][1] / (double)(counts[1][0] + counts[1][1]));
	printf("  labelled not_detected: %zu, flagged %zu (false-positive rate %.2f%%)\n",
	       counts[0][0] + counts[0][1], counts[0][1],
	       100.0 * (double)counts[0][1] / (double)(counts[0][0] + counts[0][1]));
	printf("  unlabelled (docs, probes, adversarial): %zu, with findings %zu\n", info, info_hit);
	for (i = 0; i < nc; i++)
		scan_free(cache[i]);
	free(o.buf);
	json_object_put(doc);
	return 0;
}

/* ---- benign text: every finding is a false positive ---- */

struct benign {
	const char *text;
	size_t len;
	size_t findings, hashlike;
	int verbose;
	const char *path;
	char rules[64][32];
	size_t rule_n[64];
	size_t nr;
};

/* A finding on something that must pass: hex of a hash length, a UUID, an
 * integrity string (sha256-, sha512-) or a digest (sha256:). */
static int hash_like(const char *p, size_t n, const char *before)
{
	size_t i, hex = 0;

	for (i = 0; i < n; i++)
		hex += strchr("0123456789abcdefABCDEF", p[i]) != NULL;
	if (hex == n && (n == 32 || n == 40 || n == 56 || n == 64 || n == 96 || n == 128))
		return 1;
	if (n == 36 && hex == 32 && p[8] == '-' && p[13] == '-' && p[18] == '-' && p[23] == '-')
		return 1;
	return strstr(before, "sha256-") || strstr(before, "sha384-") || strstr(before, "sha512-") ||
	       strstr(before, "sha256:") || strstr(before, "sha1-");
}

static int on_benign(void *arg, const struct scan_finding *f)
{
	struct benign *b = arg;
	size_t i, a = f->offset > 60 ? (size_t)f->offset - 60 : 0, e = (size_t)(f->offset + f->length);
	char before[80];

	b->findings++;
	for (i = 0; i < b->nr; i++)
		if (!strcmp(b->rules[i], f->rule))
			break;
	if (i == b->nr && b->nr < 64)
		snprintf(b->rules[b->nr++], sizeof(b->rules[0]), "%s", f->rule);
	if (i < 64)
		b->rule_n[i]++;
	snprintf(before, sizeof(before), "%.*s", (int)((size_t)f->offset - a), b->text + a);
	if (e <= b->len && hash_like(b->text + f->offset, (size_t)f->length, before))
		b->hashlike++;
	if (b->verbose && e <= b->len) {
		size_t ctx_end = e + 40 < b->len ? e + 40 : b->len;

		printf("  %s %s:%llu: ", f->rule, b->path, (unsigned long long)f->offset);
		for (i = a; i < ctx_end; i++)
			putchar(b->text[i] == '\n' ? '|' : (b->text[i] < 32 ? '.' : b->text[i]));
		putchar('\n');
	}
	return 0;
}

/* scaneval --benign [--max-per-10mb N] FILE...: findings per file and per
 * 10 MB; exit 1 when over the bound or when any is on a hash, a digest, a
 * UUID or an integrity string. */
static int eval_benign(char **paths, int n, double max_per_10mb, int verbose)
{
	struct scan *s = make_scan(0.7, 16, 1);
	size_t total = 0, found = 0, hashlike = 0;
	int i, rc = 0;

	for (i = 0; i < n; i++) {
		struct benign b = { 0 };
		FILE *f = fopen(paths[i], "r");
		char *text;
		long sz;
		size_t k;

		if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
			fprintf(stderr, "scaneval: cannot read %s\n", paths[i]);
			return 2;
		}
		text = malloc((size_t)sz + 1);
		if (!text || fread(text, 1, (size_t)sz, f) != (size_t)sz) {
			fprintf(stderr, "scaneval: cannot read %s\n", paths[i]);
			return 2;
		}
		fclose(f);
		b.text = text;
		b.len = (size_t)sz;
		b.verbose = verbose;
		b.path = paths[i];
		if (scan_buffer(s, text, b.len, NULL, on_benign, &b)) {
			fprintf(stderr, "scaneval: %s: scan failed\n", paths[i]);
			return 2;
		}
		printf("  %-40s %10zu bytes %5zu findings", paths[i], b.len, b.findings);
		for (k = 0; k < b.nr; k++)
			printf(" %s:%zu", b.rules[k], b.rule_n[k]);
		putchar('\n');
		total += b.len;
		found += b.findings;
		hashlike += b.hashlike;
		free(text);
	}
	scan_free(s);
	printf("benign corpus: %zu bytes, %zu findings: %.2f per 10 MB (target <= %.2f); on hashes, digests, UUIDs, "
	       "integrity strings: %zu (target 0)\n", total, found, total ? (double)found * 1e7 / (double)total : 0,
	       max_per_10mb, hashlike);
	if (total && (double)found * 1e7 / (double)total > max_per_10mb)
		rc = 1;
	if (hashlike)
		rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	double min_recall = 0.99, max_fp = 0.01;
	const char *upstream = NULL, *corpus = NULL;
	int i, verbose = 0, benign = 0;
	double max_per_10mb = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "--benign"))
			benign = 1;
		else if (!strcmp(argv[i], "--max-per-10mb") && i + 1 < argc)
			max_per_10mb = atof(argv[++i]);
		else if (benign)
			break;
		else if (!strcmp(argv[i], "--upstream") && i + 1 < argc)
			upstream = argv[++i];
		else if (!strcmp(argv[i], "--min-recall") && i + 1 < argc)
			min_recall = atof(argv[++i]);
		else if (!strcmp(argv[i], "--max-fp") && i + 1 < argc)
			max_fp = atof(argv[++i]);
		else
			corpus = argv[i];
	}
	if (upstream)
		return eval_upstream(upstream, verbose);
	if (benign)
		return eval_benign(argv + i, argc - i, max_per_10mb, verbose);
	if (!corpus) {
		fprintf(stderr, "usage: scaneval [-v] [--min-recall R] [--max-fp F] CORPUS.jsonl | --upstream cases.json |\n"
				"       --benign [--max-per-10mb N] FILE...\n");
		return 2;
	}
	return eval_corpus(corpus, min_recall, max_fp, verbose);
}
