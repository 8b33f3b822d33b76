#ifndef VAULT_INTERNAL_H
#define VAULT_INTERNAL_H

/* Pure helpers of the Vault backend, shared with its unit tests. */

#include <stddef.h>

struct why;

/* A parsed key: "path", "path#field", "path@N", "path@N#field", and
 * "path?version=N" in place of "path@N". */
struct vault_key {
	char path[513];
	char field[513];	/* "" = none given */
	long long version;	/* 0 = latest */
};

/* 0, or -EINVAL with why. */
int vault_key_parse(const char *key, struct vault_key *k, struct why *why);

/* RFC 3339 ("2018-03-22T02:24:06.945319214Z", "...-04:00") to Unix
 * seconds; 0 and *out, or -EINVAL. */
int vault_parse_time(const char *s, long long *out);

/* Go's strconv.ParseBool, as the vault CLI reads VAULT_SKIP_VERIFY:
 * 1 or 0, or -EINVAL. */
int vault_parse_bool(const char *s);

/* Is the host of a URL a loopback address (localhost, 127/8, ::1)? */
int vault_url_is_loopback(const char *url);

#endif
