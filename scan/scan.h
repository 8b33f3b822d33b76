#ifndef HAROMBE_SCAN_H
#define HAROMBE_SCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * libharombe-scan: find credentials in text and redact them.
 *
 * A struct scan is built once (scan_new, optionally scan_load_rules and
 * scan_add_known, then scan_compile) and is read-only afterwards: any number
 * of threads may run streams on it at once.  A struct scan_stream is one
 * input (a tool's stdout, a file) and belongs to one thread.
 *
 * Findings name a rule, a type, a confidence and a position.  THEY NEVER
 * CARRY THE SECRET: the only bytes of it a finding exposes are the public
 * format marker of its rule ("ghp_", "AKIA"), and only when the value starts
 * with it.  Input bytes are copied into locked memory (mlock, MADV_DONTDUMP)
 * and wiped when the stream lets go of them.
 *
 * Every function returns 0 (or a count) on success and -errno on failure;
 * where an err buffer is given it receives a sentence saying what failed and
 * where (file:line:col for rule files).
 */

#define SCAN_VERSION "0.1.0"

struct scan;
struct scan_stream;

struct scan_options {
	double min_confidence;		/* report findings at or above this (0.7) */
	size_t min_length;		/* generic detections (entropy, key=value) need this many bytes (16) */
	int entropy;			/* 1: look for high-entropy strings */
	const char *replacement;	/* "[REDACTED]"; "{type}" in it expands to the finding's type */
	size_t locked_memory;		/* 0: the library's default arena (8 MiB) */
};

#define SCAN_OPTIONS_INIT { 0.7, 16, 1, "[REDACTED]", 0 }

struct scan_finding {
	const char *rule;		/* "github_token", "high_entropy", "known_value", custom ids */
	const char *type;		/* "github_token", "password", "private_key", ... */
	const char *label;		/* a known value's name, else NULL */
	const char *marker;		/* public format marker ("ghp_") or "" */
	double confidence;		/* 0..1 */
	uint64_t offset;		/* of the secret, in bytes from the start of the stream */
	uint64_t length;		/* of the secret (the redacted span) */
	uint64_t line;			/* 1-based line of offset */
	uint64_t column;		/* 1-based byte column of offset */
};

/* Output and finding callbacks: return 0 to go on; anything else stops the
 * stream, and the calling function returns it. */
typedef int scan_output_fn(void *arg, const void *data, size_t len);
typedef int scan_finding_fn(void *arg, const struct scan_finding *f);

/* A scanner with the built-in rules.  opts NULL means SCAN_OPTIONS_INIT. */
int scan_new(const struct scan_options *opts, struct scan **out, char *err, size_t errlen);
/* Add custom rules and allowlist entries from a YAML file (see
 * docs/scanner.md).  Before scan_compile only. */
int scan_load_rules(struct scan *s, const char *path, char *err, size_t errlen);
/* The same from memory; name is used in error messages. */
int scan_load_rules_text(struct scan *s, const char *name, const char *text, size_t len, char *err,
			 size_t errlen);
/* A value that must never appear in the output, in any of its common
 * encodings (raw, base64, base64url, hex, URL-encoded).  It is copied into
 * locked memory; the caller keeps (and wipes) its own copy.  label names it
 * in findings ("GITHUB_TOKEN"); it must not be the value.  Values shorter
 * than SCAN_KNOWN_MIN bytes are refused with -EINVAL. */
#define SCAN_KNOWN_MIN 4
#define SCAN_KNOWN_MAX 16384
int scan_add_known(struct scan *s, const void *value, size_t len, const char *label, char *err,
		   size_t errlen);
/* Build the matchers.  After this the scanner is read-only. */
int scan_compile(struct scan *s, char *err, size_t errlen);
void scan_free(struct scan *s);				/* NULL-safe; wipes known values */

/* 1 when path is on the allowlist of the rule file (never scanned). */
int scan_path_allowed(const struct scan *s, const char *path);

/* Streams.  out may be NULL (scan only) and found may be NULL (redact only). */
int scan_stream_new(const struct scan *s, scan_output_fn *out, scan_finding_fn *found, void *arg,
		    struct scan_stream **st);
/* Feed bytes.  Output is produced when enough input has arrived to be
 * sure nothing in it continues past the end; call scan_stream_flush to
 * push out what is held back. */
int scan_stream_write(struct scan_stream *st, const void *data, size_t len);
/* The same without a copy: read straight into the stream's locked window.
 * scan_stream_room processes the window first if it is full, then points
 * *p at its free space and returns how many bytes fit (> 0), or -errno;
 * scan_stream_commit(st, n) then adds the n bytes written there (0, or
 * -EINVAL when n is more than fit). */
long scan_stream_room(struct scan_stream *st, unsigned char **p);
int scan_stream_commit(struct scan_stream *st, size_t n);

enum scan_flush {
	SCAN_FLUSH_LINES,	/* emit complete lines; hold a partial line or an open PEM block */
	SCAN_FLUSH_ALL,		/* emit everything (the input paused); what continues later stays redacted */
	SCAN_FLUSH_END,		/* end of input */
};
/* Returns the number of bytes still held back (>= 0), or -errno. */
long scan_stream_flush(struct scan_stream *st, enum scan_flush how);
void scan_stream_free(struct scan_stream *st);		/* wipes the window; NULL-safe */
/* Let the stream use up to n threads (1, the default, or 2): with 2, the
 * entropy and decoding pass over a large window runs on a second thread
 * while the rules run on the caller's.  The findings are the same.  The
 * thread starts with the first window big enough to share (32 KiB of new
 * input) and ends with the stream.  0 or -EINVAL. */
int scan_stream_set_threads(struct scan_stream *st, unsigned int n);

struct scan_stream_stats {
	uint64_t bytes_in, bytes_out, findings, redactions;
};
void scan_stream_stats(const struct scan_stream *st, struct scan_stream_stats *out);

/* One buffer, start to end: scan_stream_new + write + flush(END). */
int scan_buffer(const struct scan *s, const void *data, size_t len, scan_output_fn *out,
		scan_finding_fn *found, void *arg);

/* The rules, for listings and reports (SARIF). */
struct scan_rule_info {
	const char *id;
	const char *type;
	const char *description;
	double confidence;
	int builtin;
	const char *regex;		/* PCRE2 syntax; NULL for high_entropy and known_value */
};
size_t scan_rule_count(const struct scan *s);
int scan_rule_get(const struct scan *s, size_t i, struct scan_rule_info *out);

#endif
