#include "lib/compat.h"
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "lib/config.h"
#include "lib/jsonw.h"
#include "lib/when.h"

/*
 * harombe audit query | report: read the JSON-lines audit trail
 * (lib/audit.h; security.fs.audit_log) and filter or count it.  The trail
 * holds names and keys, never values, so nothing here can print a secret.
 */

struct filter {
	unsigned int events;	/* bit per enum audit_event; 0 = any */
	const char *secret;
	const char *container;
	const char *result;
	int64_t since, until;	/* ms; INT64_MIN / INT64_MAX when open */
};

enum group_by { BY_NONE, BY_CONTAINER, BY_SECRET, BY_EVENT };

struct group {
	char *name;
	unsigned long events, ok, error, denied;
	int64_t first, last;
};

struct groups {
	struct group *g;
	size_t n, cap;		/* open addressing, cap a power of two */
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct group *group_get(struct groups *gs, const char *name)
{
	size_t i;

	if ((gs->n + 1) * 2 > gs->cap) {
		struct groups bigger = { NULL, 0, gs->cap ? gs->cap * 2 : 64 };

		if (!(bigger.g = calloc(bigger.cap, sizeof(*bigger.g))))
			return NULL;
		for (i = 0; i < gs->cap; i++) {
			if (!gs->g[i].name)
				continue;
			size_t k = hash(gs->g[i].name) & (bigger.cap - 1);

			while (bigger.g[k].name)
				k = (k + 1) & (bigger.cap - 1);
			bigger.g[k] = gs->g[i];
		}
		free(gs->g);
		bigger.n = gs->n;
		*gs = bigger;
	}
	for (i = hash(name) & (gs->cap - 1); gs->g[i].name; i = (i + 1) & (gs->cap - 1))
		if (!strcmp(gs->g[i].name, name))
			return &gs->g[i];
	if (!(gs->g[i].name = strdup(name)))
		return NULL;
	gs->n++;
	return &gs->g[i];
}

static const char *str_of(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* --secret KEY: KEY itself, KEY#field, or (KEY ending in '/') anything below. */
static int secret_matches(const char *want, const char *key)
{
	size_t n = strlen(want);

	if (n && want[n - 1] == '/')
		return !strncmp(key, want, n);
	if (strncmp(key, want, n))
		return 0;
	return key[n] == 0 || key[n] == '#';
}

static int matches(const struct filter *f, json_object *o, int64_t t)
{
	const char *s;

	if (t < f->since || t > f->until)
		return 0;
	if (f->events) {
		size_t i;

		s = str_of(o, "event");
		for (i = 0; s && i < AUDIT_EVENT_COUNT; i++)
			if ((f->events & (1u << i)) && !strcmp(s, audit_event_names[i]))
				break;
		if (!s || i == AUDIT_EVENT_COUNT)
			return 0;
	}
	if (f->container && (!(s = str_of(o, "container")) || strcmp(s, f->container)))
		return 0;
	if (f->result && (!(s = str_of(o, "result")) || strcmp(s, f->result)))
		return 0;
	if (f->secret) {
		json_object *keys;
		size_t i, n;

		if (!json_object_object_get_ex(o, "keys", &keys) || !json_object_is_type(keys, json_type_array))
			return 0;
		n = json_object_array_length(keys);
		for (i = 0; i < n; i++) {
			json_object *k = json_object_array_get_idx(keys, i);

			if (json_object_is_type(k, json_type_string) &&
			    secret_matches(f->secret, json_object_get_string(k)))
				break;
		}
		if (i == n)
			return 0;
	}
	return 1;
}

static void count(struct group *g, json_object *o, int64_t t)
{
	const char *res = str_of(o, "result");

	g->events++;
	if (res && !strcmp(res, "ok"))
		g->ok++;
	else if (res && !strcmp(res, "denied"))
		g->denied++;
	else
		g->error++;
	if (!g->first || t < g->first)
		g->first = t;
	if (t > g->last)
		g->last = t;
}

static int tally(struct groups *gs, enum group_by by, const struct filter *f, json_object *o, int64_t t)
{
	struct group *g;
	const char *name;

	if (by == BY_SECRET) {
		json_object *keys;
		size_t i, n;

		if (!json_object_object_get_ex(o, "keys", &keys) || !json_object_is_type(keys, json_type_array) ||
		    !(n = json_object_array_length(keys))) {
			if (!(g = group_get(gs, "(none)")))
				return -ENOMEM;
			count(g, o, t);
			return 0;
		}
		for (i = 0; i < n; i++) {
			json_object *k = json_object_array_get_idx(keys, i);

			if (!json_object_is_type(k, json_type_string))
				continue;
			name = json_object_get_string(k);
			if (f->secret && !secret_matches(f->secret, name))
				continue;
			if (!(g = group_get(gs, name)))
				return -ENOMEM;
			count(g, o, t);
		}
		return 0;
	}
	name = str_of(o, by == BY_EVENT ? "event" : "container");
	if (!(g = group_get(gs, name ? name : "(none)")))
		return -ENOMEM;
	count(g, o, t);
	return 0;
}

/* A record's string as the terminal may show it: a control character
 * (ESC, newline, DEL, the C1 range), a byte that is not UTF-8 and '\\'
 * are written as visible escapes (\x1b, \n, \u009b, \\), so that a
 * process name set by a tenant cannot move the cursor, recolour or forge
 * lines.  The result lives until the eighth call after this one. */
static const char *vis(const char *s)
{
	static char ring[8][1024];
	static unsigned int next;
	char *out = ring[next++ % 8], *p = out, *end = out + sizeof(ring[0]) - 8;
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	uint32_t c;

	while (i < n && p < end) {
		k = jsonw_utf8_next(u + i, n - i, &c);
		if (!k || c < 0x20 || c == 0x7f || c == '\\') {
			if (c == '\n' && k)
				p += sprintf(p, "\\n");
			else if (c == '\\' && k)
				p += sprintf(p, "\\\\");
			else
				p += sprintf(p, "\\x%02x", u[i]);
			i++;
		} else if (c >= 0x80 && c <= 0x9f) {
			p += sprintf(p, "\\u%04x", (unsigned)c);
			i += k;
		} else {
			memcpy(p, u + i, k);
			p += k;
			i += k;
		}
	}
	if (i < n)
		p += sprintf(p, "...");
	*p = 0;
	return out;
}

/* json-c's rendering of a record, with what it leaves raw made safe: it
 * escapes the C0 controls but passes DEL, C1 controls and invalid UTF-8
 * through.  Those can only be inside strings, where \uXXXX is valid. */
static void put_json_safe(const char *js)
{
	const unsigned char *u = (const unsigned char *)js;
	size_t n = strlen(js), i = 0, k;
	uint32_t c;

	while (i < n) {
		k = jsonw_utf8_next(u + i, n - i, &c);
		if (!k) {
			fputs("\\ufffd", stdout);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029)
			printf("\\u%04x", (unsigned)c);
		else
			fwrite(u + i, 1, k, stdout);
		i += k;
	}
	putchar('\n');
}

static void print_row(json_object *o, int64_t t)
{
	char when[40], by[96] = "";
	const char *s;
	json_object *caller, *keys, *v;
	size_t i, n;

	when_format(t, when, sizeof(when));
	if (json_object_object_get_ex(o, "caller", &caller) && json_object_is_type(caller, json_type_object)) {
		int64_t uid = json_object_object_get_ex(caller, "uid", &v) ? json_object_get_int64(v) : -1;
		const char *cmd = str_of(caller, "command");

		snprintf(by, sizeof(by), "uid %lld%s%s%s", (long long)uid, cmd ? " (" : "", cmd ? vis(cmd) : "",
			 cmd ? ")" : "");
	} else if ((s = str_of(o, "source"))) {
		snprintf(by, sizeof(by), "%s", vis(s));
	}
	{
		const char *ev = str_of(o, "event"), *ct = str_of(o, "container"), *res = str_of(o, "result");

		printf("%-20s  %-20s  %-16s  %-6s  %-22s  ", when, ev ? vis(ev) : "?", ct ? vis(ct) : "-",
		       res ? vis(res) : "?", by);
	}
	if (json_object_object_get_ex(o, "keys", &keys) && json_object_is_type(keys, json_type_array) &&
	    (n = json_object_array_length(keys))) {
		for (i = 0; i < n; i++)
			printf("%s%s", i ? "," : "", vis(json_object_get_string(json_object_array_get_idx(keys, i))));
	} else {
		putchar('-');
	}
	if ((s = str_of(o, "action")) || (s = str_of(o, "view")))
		printf(" [%s]", vis(s));
	if ((s = str_of(o, "reason")))
		printf("  (%s)", vis(s));
	if (json_object_object_get_ex(o, "suppressed", &v))
		printf("  [%lld more not shown one by one]", (long long)json_object_get_int64(v));
	putchar('\n');
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void print_report(struct groups *gs, enum group_by by, int json, const struct filter *f)
{
	static const char *const by_name[] = { "", "container", "secret", "event" };
	struct group *list = calloc(gs->n + 1, sizeof(*list));
	char a[40], b[40];
	size_t i, n = 0, w = 5;

	if (!list)
		return;
	for (i = 0; i < gs->cap; i++)
		if (gs->g[i].name)
			list[n++] = gs->g[i];
	qsort(list, n, sizeof(*list), cmp_group);
	if (json) {
		when_format(f->since, a, sizeof(a));
		printf("{\"group_by\":\"%s\",\"since\":\"%s\"", by_name[by], a);
		if (f->until != INT64_MAX) {
			when_format(f->until, b, sizeof(b));
			printf(",\"until\":\"%s\"", b);
		}
		fputs(",\"groups\":[", stdout);
		for (i = 0; i < n; i++) {
			when_format(list[i].first, a, sizeof(a));
			when_format(list[i].last, b, sizeof(b));
			fputs(i ? ",{\"group\":" : "{\"group\":", stdout);
			cli_json_str(list[i].name);
			printf(",\"events\":%lu,\"ok\":%lu,\"error\":%lu,\"denied\":%lu,\"first\":\"%s\","
			       "\"last\":\"%s\"}",
			       list[i].events, list[i].ok, list[i].error, list[i].denied, a, b);
		}
		puts("]}");
	} else {
		for (i = 0; i < n; i++)
			if (strlen(vis(list[i].name)) > w)
				w = strlen(vis(list[i].name));
		printf("%-*s  %8s  %8s  %8s  %8s  %-20s  %s\n", (int)w, by == BY_CONTAINER ? "CONTAINER" :
		       by == BY_SECRET ? "SECRET" : "EVENT", "EVENTS", "OK", "ERROR", "DENIED", "FIRST", "LAST");
		for (i = 0; i < n; i++) {
			when_format(list[i].first, a, sizeof(a));
			when_format(list[i].last, b, sizeof(b));
			printf("%-*s  %8lu  %8lu  %8lu  %8lu  %-20s  %s\n", (int)w, vis(list[i].name), list[i].events,
			       list[i].ok, list[i].error, list[i].denied, a, b);
		}
	}
	free(list);
}

static int parse_events(const char *arg, unsigned int *mask)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	size_t i;
	int r = 0;

	if (!copy)
		return EXIT_BACKEND;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < AUDIT_EVENT_COUNT && strcmp(tok, audit_event_names[i]); i++)
			;
		if (i == AUDIT_EVENT_COUNT) {
			cli_error("unknown event '%s' (known: secret_read, secret_write, secret_delete, "
				  "secret_rotation, vault_authentication, injection_start, injection_complete, "
				  "access_denied, leak_detected)", tok);
			r = EXIT_USAGE;
		}
		*mask |= 1u << i;
	}
	free(copy);
	return r;
}

int cli_audit_group(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "event", required_argument, NULL, 'e' },   { "secret", required_argument, NULL, 's' },
		{ "container", required_argument, NULL, 'c' }, { "result", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 'S' },   { "until", required_argument, NULL, 'U' },
		{ "group-by", required_argument, NULL, 'g' }, { "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	struct filter f = { 0, NULL, NULL, NULL, INT64_MIN, INT64_MAX };
	struct groups gs = { 0 };
	enum group_by by = BY_NONE;
	const char *log = NULL, *since = NULL;
	int64_t now = when_now_ms();
	unsigned long lineno = 0, bad = 0, first_bad = 0, shown = 0;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t len;
	FILE *in = NULL;
	int opt, r, report;

	if (argc < 2 || (strcmp(argv[1], "query") && strcmp(argv[1], "report"))) {
		static const char *const cmds[] = { "query", "report", NULL };

		if (argc >= 2) {
			cli_unknown_command("audit", argv[1], cmds);
			return EXIT_USAGE;
		}
		cli_help(stderr, "audit", NULL);
		return EXIT_USAGE;
	}
	report = !strcmp(argv[1], "report");
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			if ((r = parse_events(optarg, &f.events)))
				return r;
			break;
		case 's':
			f.secret = optarg;
			break;
		case 'c':
			f.container = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "ok") && strcmp(optarg, "error") && strcmp(optarg, "denied")) {
				cli_error("--result must be ok, error or denied, not '%s'", optarg);
				return EXIT_USAGE;
			}
			f.result = optarg;
			break;
		case 'S':
		case 'U':
			if (when_parse_user(optarg, now, opt == 'S' ? &f.since : &f.until)) {
				cli_error("--%s '%s' is not a time (2024-01-31, 2024-01-31T10:00:00Z) or a time ago "
					  "(30m, 12h, 7d)", opt == 'S' ? "since" : "until", optarg);
				return EXIT_USAGE;
			}
			if (opt == 'S')
				since = optarg;
			break;
		case 'g':
			by = !strcmp(optarg, "container") ? BY_CONTAINER : !strcmp(optarg, "secret") ? BY_SECRET :
			     !strcmp(optarg, "event") ? BY_EVENT : BY_NONE;
			if (by == BY_NONE) {
				cli_error("--group-by must be container, secret or event, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			log = optarg;
			break;
		case 'h':
			cli_help(stdout, "audit", argv[1]);
			return 0;
		default:
			cli_bad_option("audit", argv[1], argv[optind], longopts, opt == ':');
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("unexpected argument '%s'", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (report && (!since || by == BY_NONE)) {
		cli_error("audit report needs --since T and --group-by container|secret|event");
		return EXIT_USAGE;
	}
	if (f.since > f.until) {
		cli_error("--since is later than --until");
		return EXIT_USAGE;
	}
	if (!log) {
		if ((r = cli_config(c)))
			return r;
		if (!c->cfg->audit.enabled)
			cli_error("note: auditing is off in %s (security.audit.enabled: false)", c->cfg->path);
		log = c->cfg->fs.audit_log;
	}
	if (!(in = fopen(log, "re"))) {
		cli_error("cannot read the audit log '%s': %s", log, strerror(errno));
		return EXIT_USAGE;
	}
	if (!report && !c->json)
		printf("%-20s  %-20s  %-16s  %-6s  %-22s  %s\n", "TIME", "EVENT", "CONTAINER", "RESULT", "BY", "KEYS");
	r = 0;
	while ((len = getline(&line, &cap, in)) > 0) {
		json_object *o;
		const char *t;
		int64_t ms;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (!len)
			continue;
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object) || !(t = str_of(o, "time")) ||
		    when_parse_iso(t, &ms) != 0 || !str_of(o, "event")) {
			if (!bad++)
				first_bad = lineno;
			json_object_put(o);
			continue;
		}
		if (matches(&f, o, ms)) {
			shown++;
			if (report) {
				if (tally(&gs, by, &f, o, ms)) {
					cli_error("out of memory");
					r = EXIT_BACKEND;
				}
			} else if (c->json) {
				put_json_safe(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
										     JSON_C_TO_STRING_NOSLASHESCAPE));
			} else {
				print_row(o, ms);
			}
		}
		json_object_put(o);
		if (r)
			break;
	}
	if (ferror(in)) {
		cli_error("error reading '%s': %s", log, strerror(errno));
		r = EXIT_USAGE;
	}
	fclose(in);
	free(line);
	if (bad == 1)
		cli_error("warning: skipped line %lu of '%s': not an audit record", first_bad, log);
	else if (bad)
		cli_error("warning: skipped %lu lines of '%s' that are not audit records (first: line %lu)", bad,
			  log, first_bad);
	if (!r && report)
		print_report(&gs, by, c->json, &f);
	for (i = 0; i < gs.cap; i++)
		free(gs.g[i].name);
	free(gs.g);
	if (r)
		return r;
	return shown ? 0 : EXIT_NEGATIVE;
}
