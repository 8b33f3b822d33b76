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
#include "scan/scanconf.h"

struct cli;
struct audit;
struct report;
struct fpset;
struct json_object;

#define READ_CHUNK (256u << 10)	/* reads, and filter's output buffer */
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
	/* scan and scan-git */
	const char *config;		/* --config FILE: instead of the discovered .harombe-scan.yaml */
	const char *baseline;		/* --baseline FILE */
	const char *write_baseline;	/* --write-baseline FILE */
	const char *ignore_file;	/* --ignore-file FILE: instead of ROOT/.harombeignore */
	const char *since;		/* scan-git --since DATE */
	int no_config;			/* --no-config: no discovered config or ignore file */
	int no_gitignore;		/* scan --recursive: ignored files too */
	int no_inline_allow;		/* --no-inline-allow */
	int all_refs, staged, pre_commit;	/* scan-git --all, --staged, --pre-commit */
	int color;			/* -1 auto, 0 never, 1 always */
	int exit_on_error;		/* status when an input could not be read (2) */
	unsigned int threads;		/* scan, scan-git --threads: 0 = the default (secrets_threads) */
};

/* cli/secrets-found.c: the findings of one input (a file, a hunk), from the
 * scanner (pend) to their verdicts (v), made where the input can still be
 * read back (a worker thread), then reported in input order. */
enum found_verdict { FOUND_REPORT, FOUND_ALLOWED, FOUND_STOPPED };
struct found_item {
	struct scan_finding f;
	enum found_verdict verdict;
	char *fp;		/* its fingerprint, or NULL */
};
struct found_batch {
	struct scan_finding *pend;
	size_t n_pend, cap_pend;
	uint64_t line_base;	/* scan-git: file line of the hunk's first line, minus one */
	struct found_item *v;
	size_t n, cap;
};

struct ctx {
	struct cli *c;
	struct opts *o;
	struct scan *s;
	struct audit *audit;
	struct report *rep;
	const char *path;	/* filter, redact: the input, for alerts */
	size_t findings;	/* reported */
	int errors;
	size_t n_allowed, n_baselined, n_stopped;
	struct scanconf conf;	/* the scan config's extend and stopwords */
	size_t n_commits;	/* scan-git: seen so far, for the progress line */
	struct fpset *baseline, *ignore;
	struct json_object *wb;	/* --write-baseline: the findings to write */
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
/* Where the bytes of one input can be read back: buf, whose buf[0] is the
 * input's offset base (piped stdin: a window of its last bytes; a hunk, a
 * whole text: base 0), else the file fd (pread); neither (buf NULL, fd -1):
 * nothing is read back.  It travels with its input, not in the shared ctx:
 * worker threads judge several inputs at once. */
struct found_input {
	const unsigned char *buf;
	size_t buflen;
	uint64_t base;
	int fd;
};

/* cli/secrets-found.c.  A finding in scan and scan-git waits in a
 * found_batch (the scanner's finding callback; arg is the batch) until its
 * input is done, or until piped stdin's window moves on.
 * secrets_found_judge then marks the ones marked inline (reading their line
 * back from in; a line no longer in a window is not read) or holding a stop
 * word, and makes the others' fingerprints: it only reads x, so worker
 * threads may run it at once, and it may run more than once on a batch.
 * secrets_found_apply, on one thread, in input order, leaves out those in
 * the baseline or ignore file and reports the rest.  0 or -errno. */
int secrets_on_scan_finding(void *arg, const struct scan_finding *f);
int secrets_found_judge(const struct ctx *x, const char *path, struct found_batch *b, const struct found_input *in);
int secrets_found_apply(struct ctx *x, const char *path, const char *commit, struct found_batch *b);
void secrets_found_batch_release(struct found_batch *b);

/* cli/secrets-pool.c: inputs worked on by worker threads and handed back
 * in the order they were submitted, so that the report is the same bytes
 * whatever the number of threads.  work runs on a worker thread (with one
 * thread: in spool_submit itself); done runs on the submitting thread, in
 * submit order, from spool_submit, spool_wait or spool_free.  At most
 * window items are in flight: spool_submit waits for room. */
struct spool;
typedef void spool_fn(void *arg, void *item);
int spool_new(unsigned int threads, size_t window, spool_fn *work, spool_fn *done, void *arg, struct spool **out);
void spool_submit(struct spool *p, void *item);
/* Wait until every item submitted is done. */
void spool_wait(struct spool *p);
void spool_free(struct spool *p);	/* spool_wait, then stop the threads; NULL-safe */
/* The default of --threads: the online CPUs, at most SECRETS_THREADS_DEFAULT_MAX,
 * and no more than RLIMIT_MEMLOCK leaves locked memory for.  And the locked
 * arena n threads need. */
#define SECRETS_THREADS_MAX 64
#define SECRETS_THREADS_DEFAULT_MAX 8
#define SECRETS_THREAD_ARENA (2u << 20)
unsigned int secrets_threads_default(void);
size_t secrets_arena_size(unsigned int threads);
/* Read --baseline, --ignore-file or ROOT/.harombeignore (root NULL: none).
 * Then write --write-baseline, say what was left out; free.  Exit status. */
int secrets_found_setup(struct ctx *x, const char *root);
int secrets_found_finish(struct ctx *x);
void secrets_found_release(struct ctx *x);
/* cli/secrets-config.c: load a scan config (a rules file with extend:
 * use_default and allowlist: stopwords).  0 or an exit status, said. */
int secrets_load_config(struct ctx *x, const char *path);
/* Colour and progress on stderr/stdout: --color, NO_COLOR, TERM=dumb. */
int secrets_color(const struct ctx *x, int fd);
int secrets_progress_ok(const struct ctx *x);
/* The exit status of scan and scan-git from findings and errors. */
int secrets_exit(const struct ctx *x);
/* REPORT_TEXT, REPORT_JSON or REPORT_SARIF, from --format. */
int secrets_report_format(const struct cli *c);
/* Seconds on the monotonic clock. */
double secrets_now_s(void);

/* One per subcommand; x is set up (scanner compiled, audit log open). */
int secrets_filter(struct ctx *x, int argc, char **argv);	/* cli/secrets-filter.c */
int secrets_scan(struct ctx *x, int argc, char **argv);	/* cli/secrets-scan.c */
int secrets_scan_git(struct ctx *x, int argc, char **argv);	/* cli/secrets-git.c */
int secrets_redact(struct ctx *x, int argc, char **argv);	/* cli/secrets-redact.c */
int secrets_rules(struct ctx *x);			/* cli/secrets-rules.c */

#endif
