#include "lib/compat.h"
#include "scan/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

struct report {
	enum report_format fmt;
	const struct scan *s;
	FILE *out;
	int color;
	json_object *results;	/* JSON findings or SARIF results */
	size_t n, scanned, skipped;
};

int report_new(enum report_format fmt, const struct scan *s, FILE *out, int color, struct report **rp)
{
	struct report *r = calloc(1, sizeof(*r));

	*rp = NULL;
	if (!r)
		return -ENOMEM;
	r->fmt = fmt;
	r->s = s;
	r->out = out;
	r->color = color && fmt == REPORT_TEXT;
	if (fmt != REPORT_TEXT && !(r->results = json_object_new_array())) {
		free(r);
		return -ENOMEM;
	}
	*rp = r;
	return 0;
}

void report_count(struct report *r, int scanned)
{
	if (scanned)
		r->scanned++;
	else
		r->skipped++;
}

size_t report_findings(const struct report *r)
{
	return r->n;
}

/* SARIF wants a URI: keep the path readable, escape the rest. */
static char *uri_of(const char *path)
{
	size_t n = strlen(path), i, o = 0;
	char *u = malloc(3 * n + 1);

	if (!u)
		return NULL;
	if (!strncmp(path, "./", 2))
		path += 2, n -= 2;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("/._-~", c))
			u[o++] = (char)c;
		else
			o += (size_t)sprintf(u + o, "%%%02X", c);
	}
	u[o] = 0;
	return u;
}

static int rule_index(const struct report *r, const char *id)
{
	struct scan_rule_info ri;
	size_t i, n = scan_rule_count(r->s);

	for (i = 0; i < n; i++)
		if (scan_rule_get(r->s, i, &ri) == 0 && !strcmp(ri.id, id))
			return (int)i;
	return -1;
}

const char *report_number(double v, char buf[32])
{
	/* The shortest text that reads back as v: 0.95, not 0.94999999999999996. */
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

static json_object *number(double v)
{
	char buf[32];

	return json_object_new_double_s(v, report_number(v, buf));
}

static void describe(char *buf, size_t n, const struct scan_finding *f)
{
	char extra[4400] = "", num[32];	/* a known value's label may be a path:line */

	if (f->marker && *f->marker)
		snprintf(extra, sizeof(extra), ", starts with \"%s\"", f->marker);
	if (f->label)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", known value %s", f->label);
	snprintf(buf, n, "%s (rule %s, confidence %s%s)", f->type, f->rule, report_number(f->confidence, num),
		 extra);
}

int report_add(struct report *r, const char *path, const char *commit, const char *fp,
	       const struct scan_finding *f)
{
	char what[4800];
	json_object *o;

	r->n++;
	describe(what, sizeof(what), f);
	if (r->fmt == REPORT_TEXT) {
		if (commit)
			fprintf(r->out, "%.12s:", commit);
		fprintf(r->out, "%s:%llu:%llu: %s%s%s\n", path, (unsigned long long)f->line,
			(unsigned long long)f->column, r->color ? "\033[1;31m" : "", what, r->color ? "\033[0m" : "");
		return ferror(r->out) ? -EIO : 0;
	}
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	if (r->fmt == REPORT_JSON) {
		json_object_object_add(o, "path", json_object_new_string(path));
		if (commit)
			json_object_object_add(o, "commit", json_object_new_string(commit));
		json_object_object_add(o, "line", json_object_new_int64((int64_t)f->line));
		json_object_object_add(o, "column", json_object_new_int64((int64_t)f->column));
		json_object_object_add(o, "offset", json_object_new_int64((int64_t)f->offset));
		json_object_object_add(o, "length", json_object_new_int64((int64_t)f->length));
		json_object_object_add(o, "rule", json_object_new_string(f->rule));
		json_object_object_add(o, "type", json_object_new_string(f->type));
		json_object_object_add(o, "confidence", number(f->confidence));
		if (fp)
			json_object_object_add(o, "fingerprint", json_object_new_string(fp));
		if (f->marker && *f->marker)
			json_object_object_add(o, "marker", json_object_new_string(f->marker));
		if (f->label)
			json_object_object_add(o, "label", json_object_new_string(f->label));
	} else {
		json_object *loc = json_object_new_object(), *phys = json_object_new_object(),
			    *art = json_object_new_object(), *reg = json_object_new_object(),
			    *locs = json_object_new_array(), *msg = json_object_new_object(),
			    *props = json_object_new_object();
		char *uri = uri_of(path);
		char text[4900];
		int idx = rule_index(r, f->rule);

		snprintf(text, sizeof(text), "Possible secret: %s. The value is not shown.", what);
		json_object_object_add(o, "ruleId", json_object_new_string(f->rule));
		if (idx >= 0)
			json_object_object_add(o, "ruleIndex", json_object_new_int(idx));
		json_object_object_add(o, "level", json_object_new_string(f->confidence >= 0.9 ? "error" : "warning"));
		json_object_object_add(msg, "text", json_object_new_string(text));
		json_object_object_add(o, "message", msg);
		json_object_object_add(art, "uri", json_object_new_string(uri ? uri : "unknown"));
		json_object_object_add(art, "uriBaseId", json_object_new_string("%SRCROOT%"));
		json_object_object_add(reg, "startLine", json_object_new_int64((int64_t)f->line));
		json_object_object_add(reg, "startColumn", json_object_new_int64((int64_t)f->column));
		json_object_object_add(phys, "artifactLocation", art);
		json_object_object_add(phys, "region", reg);
		json_object_object_add(loc, "physicalLocation", phys);
		json_object_array_add(locs, loc);
		json_object_object_add(o, "locations", locs);
		json_object_object_add(props, "confidence", number(f->confidence));
		json_object_object_add(props, "type", json_object_new_string(f->type));
		if (commit)
			json_object_object_add(props, "commit", json_object_new_string(commit));
		json_object_object_add(o, "properties", props);
		if (fp) {
			json_object *pf = json_object_new_object();

			json_object_object_add(pf, "harombe/v1", json_object_new_string(fp));
			json_object_object_add(o, "partialFingerprints", pf);
		}
		free(uri);
	}
	json_object_array_add(r->results, o);
	return 0;
}

static json_object *text_obj(const char *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "text", json_object_new_string(t));
	return o;
}

static json_object *sarif_doc(struct report *r)
{
	json_object *doc = json_object_new_object(), *runs = json_object_new_array(),
		    *run = json_object_new_object(), *tool = json_object_new_object(),
		    *driver = json_object_new_object(), *rules = json_object_new_array();
	size_t i, n = scan_rule_count(r->s);

	for (i = 0; i < n; i++) {
		struct scan_rule_info ri;
		json_object *rule, *props, *tags, *conf;
		char help[512], sev[16];

		if (scan_rule_get(r->s, i, &ri))
			continue;
		rule = json_object_new_object();
		props = json_object_new_object();
		tags = json_object_new_array();
		conf = json_object_new_object();
		json_object_object_add(rule, "id", json_object_new_string(ri.id));
		json_object_object_add(rule, "name", json_object_new_string(ri.id));
		json_object_object_add(rule, "shortDescription", text_obj(ri.description));
		json_object_object_add(rule, "fullDescription", text_obj(ri.description));
		snprintf(help, sizeof(help),
			 "A %s was found. Revoke or rotate it, remove it from the file and its history, "
			 "and keep it in the secret store instead.", ri.type);
		json_object_object_add(rule, "help", text_obj(help));
		json_object_object_add(conf, "level", json_object_new_string(ri.confidence >= 0.9 ? "error" : "warning"));
		json_object_object_add(rule, "defaultConfiguration", conf);
		json_object_array_add(tags, json_object_new_string("security"));
		json_object_array_add(tags, json_object_new_string("secret"));
		json_object_object_add(props, "tags", tags);
		json_object_object_add(props, "precision",
				       json_object_new_string(ri.confidence >= 0.9 ? "high" : "medium"));
		snprintf(sev, sizeof(sev), "%.1f", ri.confidence >= 0.9 ? 9.0 : 7.0);
		json_object_object_add(props, "security-severity", json_object_new_string(sev));
		json_object_object_add(rule, "properties", props);
		json_object_array_add(rules, rule);
	}
	json_object_object_add(driver, "name", json_object_new_string("harombe"));
	json_object_object_add(driver, "version", json_object_new_string(SCAN_VERSION));
	json_object_object_add(driver, "semanticVersion", json_object_new_string(SCAN_VERSION));
	json_object_object_add(driver, "rules", rules);
	json_object_object_add(tool, "driver", driver);
	json_object_object_add(run, "tool", tool);
	json_object_object_add(run, "results", json_object_get(r->results));
	json_object_array_add(runs, run);
	json_object_object_add(doc, "$schema", json_object_new_string("https://json.schemastore.org/sarif-2.1.0.json"));
	json_object_object_add(doc, "version", json_object_new_string("2.1.0"));
	json_object_object_add(doc, "runs", runs);
	return doc;
}

int report_finish(struct report *r)
{
	json_object *doc;

	if (r->fmt == REPORT_TEXT) {
		fflush(r->out);
		return ferror(r->out) ? -EIO : 0;
	}
	if (r->fmt == REPORT_JSON) {
		json_object *sum = json_object_new_object();

		doc = json_object_new_object();
		json_object_object_add(doc, "version", json_object_new_string(SCAN_VERSION));
		json_object_object_add(doc, "findings", json_object_get(r->results));
		json_object_object_add(sum, "files", json_object_new_int64((int64_t)r->scanned));
		json_object_object_add(sum, "skipped", json_object_new_int64((int64_t)r->skipped));
		json_object_object_add(sum, "findings", json_object_new_int64((int64_t)r->n));
		json_object_object_add(doc, "summary", sum);
	} else {
		doc = sarif_doc(r);
	}
	fputs(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
	      r->out);
	fputc('\n', r->out);
	json_object_put(doc);
	fflush(r->out);
	return ferror(r->out) ? -EIO : 0;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	json_object_put(r->results);
	free(r);
}
