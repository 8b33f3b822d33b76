#ifndef AUDIT_H
#define AUDIT_H

#include <sys/types.h>
#include "config.h"

/*
 * The audit trail: JSON lines, one event per line, appended with a single
 * write() so that concurrent writers never interleave.  The file is created
 * 0600 and opened append-only.  A record names containers, views, variable
 * names and secret keys; IT NEVER CARRIES A VALUE, and this API has no
 * field that could take one.
 */

struct audit;

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
/* 0, or -errno when the line could not be written (also logged once). */
int audit_write(struct audit *a, const struct audit_record *rec);

#endif
