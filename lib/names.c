#include "compat.h"
#include "names.h"

#include <string.h>

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *names_check_container(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return "is empty";
	if (n > NAMES_CONTAINER_MAX)
		return "is longer than 64 characters";
	if (!is_alnum(s[0]))
		return "must start with a letter or digit";
	for (i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return "may contain only letters, digits, '_', '.' and '-'";
	return NULL;
}

const char *names_check_env(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return "is empty";
	if (n > NAMES_ENV_MAX)
		return "is longer than 255 characters";
	if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return "must start with a letter or '_' (a shell variable name)";
	for (i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_')
			return "may contain only letters, digits and '_' (a shell variable name)";
	return NULL;
}

const char *names_check_key(const char *s)
{
	size_t n = strlen(s), i, seg = 0;
	const char *hash = strchr(s, '#');
	size_t plen = hash ? (size_t)(hash - s) : n;

	if (n == 0)
		return "is empty";
	if (n > NAMES_KEY_MAX)
		return "is longer than 512 characters";
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "contains a control character";
	if (hash && (hash[1] == 0 || strchr(hash + 1, '#')))
		return "has an empty or repeated '#field'";
	if (plen == 0)
		return "has an empty path before '#'";
	if (s[0] == '/')
		return "starts with '/'";
	if (s[plen - 1] == '/')
		return "ends with '/'";
	for (i = 0; i <= plen; i++) {
		if (i == plen || s[i] == '/') {
			size_t len = i - seg;

			if (len == 0)
				return "has an empty segment ('//')";
			if ((len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return "has a '.' or '..' segment";
			seg = i + 1;
		}
	}
	return NULL;
}
