#ifndef CREDSHAPE_H
#define CREDSHAPE_H

#include <stddef.h>

/*
 * A small, conservative detector for credentials written where a reference
 * belongs (harombe.yaml, command-line arguments).  It knows the common token
 * formats and asks for context before trusting entropy.  The full scanner
 * lives in scan/; this one must stay dependency-free because lib/ sits
 * below everything.  Results are labels ("GitHub token"), never the value.
 */

/* The kind of credential the text contains, or NULL. */
const char *credshape_known(const char *s, size_t len);
/* The same, plus rules that use the key the value is stored under
 * (password:, api_key:, ...) and, when in_env is set, entropy. */
const char *credshape_value(const char *key, const char *s, size_t len, int in_env);
/* Shannon entropy in bits per byte. */
double credshape_entropy(const char *s, size_t len);
/* A path or a vault reference ("github/token", "~/.vault-token"). */
int credshape_is_reference(const char *s, size_t len);

#endif
