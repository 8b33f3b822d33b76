#ifndef SCAN_REPORT_H
#define SCAN_REPORT_H

#include <stdio.h>
#include "scan/scan.h"

/*
 * Findings of `harombe secrets scan` and `scan-git` as text (one line per
 * finding, as they come), JSON or SARIF 2.1.0 (one document at the end).
 * A finding is reported by rule, type, position and the public marker of
 * its format: never by value.
 */

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_SARIF };

struct report;

/* color: highlight text output (a terminal). */
int report_new(enum report_format fmt, const struct scan *s, FILE *out, int color, struct report **r);
/* path: the file ("-" for stdin); commit: the git commit, or NULL; fp: the
 * finding's fingerprint (scan/fingerprint.h), or NULL when there is none. */
int report_add(struct report *r, const char *path, const char *commit, const char *fp,
	       const struct scan_finding *f);
/* v as the shortest decimal that reads back as v ("0.95"); returns buf. */
const char *report_number(double v, char buf[32]);
/* Count a file that was scanned or skipped (binary, allowlisted). */
void report_count(struct report *r, int scanned);
/* Write what is collected (JSON, SARIF) and a summary.  0 or -errno. */
int report_finish(struct report *r);
size_t report_findings(const struct report *r);
void report_free(struct report *r);

#endif
