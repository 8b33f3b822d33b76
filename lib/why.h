#ifndef WHY_H
#define WHY_H

#include "compat.h"

/*
 * Why something failed: the one reason type of every layer.  A function
 * that can fail returns 0 or -errno and, when the caller passed a struct
 * why, says in it what failed and where ("file:line:col: ...", "vault:
 * HTTP 403 on 'secret/data/x'").  A reason never holds a secret value.
 * Callers own the struct (on the stack, WHY_INIT); there is nothing to free.
 */
struct why {
	char msg[2048];	/* room for a reason with its lists (the identities tried) and paths */
};

#define WHY_INIT { { 0 } }

/* Set the reason (printf-style) and return rc, so that a failure reads
 * `return why_fail(why, -EINVAL, "'%s' is not a key", key);`.  why may be
 * NULL: rc is returned all the same. */
int why_fail(struct why *why, int rc, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Set the reason (printf-style), for a failure whose status is returned
 * elsewhere.  NULL-safe. */
void why_set(struct why *why, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Put "context: " before the reason already there (or set it to
 * "context" when there is none). */
void why_prefix(struct why *why, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* The reason, or "" when none was given; never NULL. */
static inline const char *why_str(const struct why *why)
{
	return why ? why->msg : "";
}

/* ": reason" when there is one, else "": for "what failed%s" messages. */
static inline const char *why_sep(const struct why *why)
{
	return why && why->msg[0] ? ": " : "";
}

#endif
