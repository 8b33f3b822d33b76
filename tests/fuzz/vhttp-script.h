#ifndef VHTTP_SCRIPT_H
#define VHTTP_SCRIPT_H

#include <stddef.h>

/*
 * A stand-in for backends/vault/vhttp.c (fuzzing only): every request is answered
 * from a script instead of the network, in the order requests are made.
 * The script is a list of answers separated by "\n--\n"; an answer is
 * "NNN BODY" (HTTP status NNN, the rest is the body) or one letter for a
 * transport failure: C (connect), T (timeout), I (reset or truncated),
 * S (TLS), B (too big), M (locked memory), O (other).  When the script
 * runs out, every request fails to connect.  The clock stands still, so a
 * backoff never fits a deadline and nothing sleeps.
 *
 * Every request is checked as it arrives: a path that is not "/v1/..." of
 * printable ASCII without spaces, a token header that is not one
 * "X-Vault-Token: " line, or a body that is not JSON aborts.
 */

void vhttp_script_set(const unsigned char *script, size_t len);
/* Requests made since the last vhttp_script_set(). */
size_t vhttp_script_requests(void);

#endif
