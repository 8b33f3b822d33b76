#ifndef SCAN_FINGERPRINT_H
#define SCAN_FINGERPRINT_H

#include <stddef.h>

/*
 * A finding's fingerprint: "RULE:PATH:HASH", where HASH is 32 hex digits of
 * Argon2id (libsodium crypto_pwhash) over the secret's bytes, salted with a
 * BLAKE2b hash of a fixed domain string, the rule and the path.  It is the
 * same in JSON (fingerprint), SARIF (partialFingerprints) and the files
 * that list the findings to leave alone (a baseline, .harombeignore).  The
 * value is never stored; recovering a short one from HASH costs one Argon2id
 * run per guess.  docs/scanner.md says why this hash and not a keyed BLAKE2b.
 *
 * A fingerprint set (struct fpset) is what a baseline or an ignore file
 * holds: strings, looked up whole.
 */

#define FINGERPRINT_HASH_HEX 32
#define FINGERPRINT_MAX 4200	/* rule (64) + path (PATH_MAX) + hash, with room */

/* Fill out (FINGERPRINT_MAX bytes).  0, or -ENOMEM / -ENAMETOOLONG. */
int fingerprint_make(const char *rule, const char *path, const void *value, size_t len, char *out);

struct fpset;

struct fpset *fpset_new(void);
void fpset_free(struct fpset *set);	/* NULL-safe */
/* Add a copy of fp.  0 or -ENOMEM. */
int fpset_add(struct fpset *set, const char *fp);
/* 1 when fp is in the set (NULL-safe: an absent set has nothing). */
int fpset_has(struct fpset *set, const char *fp);
size_t fpset_count(const struct fpset *set);

/* Read a baseline: JSON, the one --write-baseline writes or a --format
 * json report ({"findings": [{"fingerprint": "..."}]}).  Untrusted bytes.
 * 0, or -EINVAL with a sentence in err naming the file. */
int fpset_load_baseline(struct fpset *set, const char *name, const char *text, size_t len, char *err,
			size_t errlen);
/* Read an ignore file: one fingerprint a line; blank lines and lines that
 * start with '#' are skipped, spaces around a line trimmed.  Untrusted. */
int fpset_load_ignore(struct fpset *set, const char *text, size_t len);

#endif
