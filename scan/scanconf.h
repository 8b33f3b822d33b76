#ifndef SCAN_SCANCONF_H
#define SCAN_SCANCONF_H

#include <stddef.h>

/*
 * A tree's scan config (.harombe-scan.yaml, secrets scan --config FILE): a
 * rules file (scan_load_rules_text) with two keys more, taken here so that
 * the rules loader never sees them:
 *   extend: { use_default: false }   the built-in rules off
 *   allowlist: { stopwords: [...] }  values that hold one of these words
 * Not part of libharombe-scan: the harombe command's.
 */

struct scan;

struct scanconf {
	int use_default;	/* 1 unless extend.use_default is false */
	char **stopwords;	/* as written; matched ASCII case-insensitively */
	size_t n_stopwords;
};

#define SCANCONF_INIT { 1, NULL, 0 }

/* Take the two keys out of text (untrusted; NUL-terminated, len bytes):
 * their lines become spaces, newlines kept, so that positions in what
 * scan_load_rules_text says later stay right.  0, or -EINVAL / -ENOMEM with
 * "name:line:col: ..." in err. */
int scanconf_take(const char *name, char *text, size_t len, struct scanconf *out, char *err, size_t errlen);
void scanconf_release(struct scanconf *c);
/* For use_default 0: turn off every built-in rule but known_value (the
 * caller's --known values).  Before scan_compile.  0 or -errno, err said. */
int scanconf_disable_builtins(struct scan *s, char *err, size_t errlen);
/* 1 when the value holds a stop word. */
int scanconf_has_stopword(const struct scanconf *c, const unsigned char *v, size_t n);

#endif
