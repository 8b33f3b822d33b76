#ifndef AUDIT_H
#define AUDIT_H

#include <sys/types.h>
#include "config.h"

/*
 * The audit trail: JSON lines, one event per line, appended with a single
 * write() so that concurrent writers never interleave; a write cut short
 * (a full disk) is rolled back, and a partial last line left by a crash is
 * closed before the next record.  Every string is valid UTF-8 with control
 * characters escaped (jsonw_text_escape), whatever the caller's process
 * name holds.  The file is created 0600 and opened append-only; it and its
 * directory are reached without following a symlink and must be owned by
 * root (or our euid) and writable by nobody else (lib/trust.h); a
 * directory made here is 0700.  A record names containers, views, variable
 * names and secret keys; IT NEVER CARRIES A VALUE, and this API has no
 * field that could take one.
 */

struct audit;

/* Denials (access_denied with a caller) are rate-limited per caller uid:
 * the first AUDIT_DENY_BURST in each AUDIT_DENY_WINDOW_S seconds are
 * recorded one by one; the rest are counted and written as one record
 * with "suppressed": N once the window has passed or the log is closed.
 * AUDIT_DENY_SLOTS uids are followed at a time. */
#define AUDIT_DENY_BURST 10
#define AUDIT_DENY_WINDOW_S 60
#define AUDIT_DENY_SLOTS 64

struct audit_caller {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const char *command;	/* /proc/PID/comm, may be NULL */
};

struct audit_kv {
	const char *name;
	const char *str;	/* a string, or NULL to use num */
	double num;
};

struct audit_record {
	enum audit_event event;
	const char *source;		/* "harombefs", "harombe" */
	const char *container;
	const char *view;		/* "env", "secrets/NAME", ... */
	const char *const *names;	/* environment names */
	size_t n_names;
	const char *const *keys;	/* secret keys */
	size_t n_keys;
	const struct audit_caller *caller;
	const char *result;		/* "ok", "denied", "error" */
	const char *reason;		/* why it failed; NULL on success */
	const struct audit_kv *extra;
	size_t n_extra;
};

/* path NULL or enabled 0: a sink that drops everything.  events: bit mask
 * of enum audit_event to record.  0 or -errno with why filled. */
struct why;
int audit_open(const char *path, int enabled, unsigned int events, struct audit **out, struct why *why);
void audit_close(struct audit *a);
int audit_wants(const struct audit *a, enum audit_event ev);
/* 0, or -errno when the line could not be written (also logged once): no
 * part of it is left in the log.  A denial only counted (rate limit) is 0.
 * Safe from many threads. */
int audit_write(struct audit *a, const struct audit_record *rec);

#endif
