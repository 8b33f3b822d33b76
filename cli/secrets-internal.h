#ifndef CLI_SECRETS_INTERNAL_H
#define CLI_SECRETS_INTERNAL_H

/*
 * What the files of `harombe secrets` share, and nothing outside cli/
 * includes: the options, the state of one run, the callbacks that turn a
 * finding into an alert, an audit record or a report line, and one entry
 * point per subcommand (each returns an exit status).
 */

#include <stddef.h>
#include <stdint.h>

#include "scan/scan.h"

struct cli;
struct audit;
struct report;

#define READ_CHUNK (64u << 10)
#define LOCKED_ARENA (8u << 20)

struct opts {
	struct scan_options so;
	const char *rules[16];
	size_t n_rules;
	const char *known[64];
	size_t n_known;
	const char *known_from[16];
	size_t n_known_from;
	const char *dirs[64];
	size_t n_dirs;
	const char *source;
	const char *audit_log;
	const char *output;
	const char *repo;
	unsigned long commits;
	long hold_ms;
	int in_place, quiet, stats, line_mode;	/* line_mode: -1 auto, 0 buffered, 1 lines */
	int with_type;
};

struct ctx {
	struct cli *c;
	struct opts *o;
	struct scan *s;
	struct audit *audit;
	struct report *rep;
	const char *path;	/* current file */
	const char *commit;
	uint64_t line_base;	/* scan-git: file line of the hunk's first line, minus one */
	size_t findings;
	int errors;
	/* output buffering (redacted text only) */
	int out_fd;
	char *obuf;
	size_t olen;
	int werr;
};

/* cli/secrets.c: the redacted output (buffered in x->obuf, written to x->out_fd). */
int secrets_out_flush(struct ctx *x);
int secrets_on_output(void *arg, const void *data, size_t len);
/* A finding in filter and redact: alert on stderr, audit leak_detected. */
int secrets_on_filter_finding(void *arg, const struct scan_finding *f);
/* A finding in scan and scan-git: a line of the report. */
int secrets_on_scan_finding(void *arg, const struct scan_finding *f);
/* REPORT_TEXT, REPORT_JSON or REPORT_SARIF, from --format. */
int secrets_report_format(const struct cli *c);
/* Seconds on the monotonic clock. */
double secrets_now_s(void);

/* One per subcommand; x is set up (scanner compiled, audit log open). */
int secrets_filter(struct ctx *x);			/* cli/secrets-filter.c */
int secrets_scan(struct ctx *x, int argc, char **argv);	/* cli/secrets-scan.c */
int secrets_scan_git(struct ctx *x);			/* cli/secrets-git.c */
int secrets_redact(struct ctx *x, int argc, char **argv);	/* cli/secrets-redact.c */
int secrets_rules(struct ctx *x);			/* cli/secrets-rules.c */

#endif
