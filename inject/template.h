#ifndef TEMPLATE_H
#define TEMPLATE_H

#include <stddef.h>

/*
 * Templates: the files of a view that other programs already read (an
 * app.ini, a .pgpass, a .netrc), rendered from a small, logic-less
 * language that a Vault Agent or consul-template user recognises:
 *
 *   text {{ secret "db/creds#password" }} text
 *   {{ secret "db/creds#password" | pgpass }}      an escaping filter
 *   {{ secret "api/cert" | base64 | json }}        filters chain, left to right
 *   {{ "{{" }}                                     a literal string
 *   {{ secret "db/creds" | json }}                 the whole secret, one JSON object
 *
 * A key must be one of its container's declared secrets (the values of
 * `secrets:`); anything else is refused at load with file:line:column.
 * The one exception is a whole secret: a path that is not declared itself
 * but some "path#field" is, with json as its action's first filter.  Its
 * key in template_keys() is then "path#" (backends/backend.h): the store
 * returns a JSON object, written as it is (json does not quote it again;
 * later filters apply to its text).
 * Text outside the actions is copied as it is.  A value with no filter is
 * inserted byte for byte (for a PEM file or an nginx include); each filter
 * writes the value so that the target's parser reads back exactly its
 * bytes and nothing around it, or refuses the value when the target cannot
 * carry it (the reason names the filter, never the value):
 *
 *   sh      '...' (POSIX single quotes, ' as '\'').  Refuses NUL.
 *   json    "..." (a JSON string).  Refuses invalid UTF-8.
 *   yaml    "..." (a YAML double-quoted scalar; \n \t \xNN \uXXXX for every
 *           non-printable character).  Refuses invalid UTF-8.
 *   toml    "..." (a TOML basic string; \uXXXX for controls).  Refuses
 *           invalid UTF-8.
 *   ini     bare, for `key = VALUE` lines (Python's configparser and its
 *           kin strip and split lines; nothing is quoted).  Refuses control
 *           characters, invalid UTF-8, and leading or trailing white space.
 *           Python's ConfigParser() interpolates '%': read such files with
 *           interpolation=None (or RawConfigParser).
 *   xml     & < > " ' \t \n \r as character references, for text and
 *           attribute values.  Refuses other C0 controls, U+FFFE, U+FFFF and
 *           invalid UTF-8, which XML 1.0 cannot hold.
 *   url     percent-encoding of every byte but A-Z a-z 0-9 - . _ ~
 *   base64  RFC 4648 with padding.
 *   pgpass  libpq's .pgpass field: \ : * # escaped with a backslash.
 *           Refuses NUL, CR and LF.
 *   netrc   a bare .netrc token.  Refuses the empty value, white space,
 *           NUL, and a leading " or #.
 *   dotenv  "..." with \\ \" \$ \` \n \r \0, as harombe's .env files.
 *
 * The quotes are part of the filter's output: write `password = {{ secret
 * "x" | toml }}`, not `password = "{{ ... }}"`.
 */

struct secbuf;
struct template;
struct why;

enum template_filter {
	TEMPLATE_RAW = 0,
	TEMPLATE_SH,
	TEMPLATE_JSON,
	TEMPLATE_YAML,
	TEMPLATE_TOML,
	TEMPLATE_INI,
	TEMPLATE_XML,
	TEMPLATE_URL,
	TEMPLATE_BASE64,
	TEMPLATE_PGPASS,
	TEMPLATE_NETRC,
	TEMPLATE_DOTENV,
	TEMPLATE_FILTER_COUNT
};

#define TEMPLATE_MAX_TEXT (1u << 20)	/* bytes of template text */
#define TEMPLATE_MAX_ACTIONS 4096
#define TEMPLATE_MAX_FILTERS 4		/* in one action's chain */

/* Where the text came from, for file:line:column in errors.  A source
 * file: file, and line/col 0.  Inline text: the config file and the
 * position of its YAML scalar; errors then say where inside the text. */
struct template_origin {
	const char *file;
	int line, col;
	const char *what;	/* "template 'app.ini' of container 'browser'" */
};

/*
 * Parse text.  allowed[0..n_allowed) are the keys it may name (the
 * container's secrets), names[i] what allowed[i] is called in the view.
 * The text is also checked for credentials (lib/credshape.h): a template
 * holds references, never secrets.  0 and *out, or -EINVAL with why
 * ("FILE:LINE:COL: ..."), or -ENOMEM.
 */
int template_parse(const struct template_origin *o, const char *text, size_t len,
		   const char *const *allowed, const char *const *names, size_t n_allowed,
		   struct template **out, struct why *why);
void template_free(struct template *t);

/* The keys the template uses, each once, in order of first use, and their
 * names in the view: the request for inject_fetch(). */
size_t template_nkeys(const struct template *t);
const char *const *template_keys(const struct template *t);
const char *const *template_names(const struct template *t);
/* Same text and keys. */
int template_equal(const struct template *a, const struct template *b);

/* Render with values[i] the value of template_keys(t)[i], into new locked
 * memory.  0 and *out, or -EINVAL (a filter refused a value: why says which
 * key and filter), -EFBIG (over max bytes) or -ENOMEM. */
int template_render(const struct template *t, struct secbuf *const *values, size_t max,
		    struct secbuf **out, struct why *why);

/* One filter on one value, appended to out.  0, -EINVAL with why (what the
 * target cannot carry), or -ENOMEM. */
int template_escape(enum template_filter f, const unsigned char *v, size_t len, struct secbuf *out,
		    struct why *why);
/* "sh", ...; NULL for TEMPLATE_RAW.  By name: the filter, or -1. */
const char *template_filter_name(enum template_filter f);
int template_filter_find(const char *name, size_t len);

#endif
