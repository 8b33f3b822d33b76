#include "lib/compat.h"
#include "backends/vault/vault-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

/*
 * Pure helpers of the Vault backend: keys ("path@N#field"), RFC 3339
 * times, Go-style booleans and loopback URLs.  No state, no I/O.
 */

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int vault_key_parse_read(const char *key, struct vault_key *k, struct why *why)
{
	size_t n = strlen(key);
	char buf[sizeof(k->path)];
	int r;

	if (!backend_key_whole(key))
		return vault_key_parse(key, k, why);
	if (n - 1 >= sizeof(buf))
		return why_fail(why, -BACKEND_EINVAL, "key '%s' has no usable path", key);
	memcpy(buf, key, n - 1);
	buf[n - 1] = 0;
	if ((r = vault_key_parse(buf, k, why)))
		return r;
	k->whole = 1;
	return 0;
}

int vault_key_parse(const char *key, struct vault_key *k, struct why *why)
{
	const char *hash = strchr(key, '#');
	size_t plen = hash ? (size_t)(hash - key) : strlen(key);
	char *at, *q;

	memset(k, 0, sizeof(*k));
	if (!plen || plen >= sizeof(k->path))
		return why_fail(why, -BACKEND_EINVAL, "key '%s' has no usable path", key);
	memcpy(k->path, key, plen);
	if (hash) {
		if (!hash[1] || strlen(hash + 1) >= sizeof(k->field))
			return why_fail(why, -BACKEND_EINVAL, "key '%s' has an empty field after '#'", key);
		snprintf(k->field, sizeof(k->field), "%s", hash + 1);
	}
	q = strstr(k->path, "?version=");
	at = strrchr(k->path, '@');
	if (q) {
		if (!all_digits(q + 9))
			return why_fail(why, -BACKEND_EINVAL, "key '%s': '?version=' needs a number", key);
		k->version = strtoll(q + 9, NULL, 10);
		*q = 0;
	} else if (at && all_digits(at + 1)) {
		k->version = strtoll(at + 1, NULL, 10);
		*at = 0;
	}
	if (!k->path[0] || k->path[strlen(k->path) - 1] == '/')
		return why_fail(why, -BACKEND_EINVAL, "key '%s' has no usable path", key);
	if (k->version < 0 || k->version > 1000000000LL)
		return why_fail(why, -BACKEND_EINVAL, "key '%s': version out of range", key);
	if ((q || at) && k->version == 0 && (q || all_digits(at + 1)))
		return why_fail(why, -BACKEND_EINVAL, "key '%s': versions start at 1", key);
	return 0;
}

int vault_parse_time(const char *s, long long *out)
{
	struct tm tm;
	const char *p;
	long long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -EINVAL;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 3600LL + mm * 60LL) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (long long)t - off;
	return 0;
}

int vault_parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -EINVAL;
}

int vault_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int lo = 0;

	if (!u)
		return 0;
	if (!curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_HOST, &host, 0) && host) {
		struct in_addr a4;
		struct in6_addr a6;
		size_t len = strlen(host);

		if (!strcasecmp(host, "localhost"))
			lo = 1;
		else if (inet_pton(AF_INET, host, &a4) == 1)
			lo = (ntohl(a4.s_addr) >> 24) == 127;
		else if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
			host[len - 1] = 0;
			lo = inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
		}
	}
	curl_free(host);
	curl_url_cleanup(u);
	return lo;
}
