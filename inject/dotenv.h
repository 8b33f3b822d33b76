#ifndef DOTENV_H
#define DOTENV_H

#include <stddef.h>

#include "lib/why.h"

/*
 * The .env dialect of `harombe vault import` and `vault export`.
 *
 * Reading accepts what real .env files contain: blank lines, '#' comment
 * lines, an optional "export " prefix, spaces around '=', unquoted values
 * (trimmed; " #" starts an inline comment), single-quoted values (literal
 * but for \' and \\), double-quoted values with escapes (\\ \" \' \$ \`
 * \n \r \t \a \b \f \v \0; any other backslash stays as it is), quoted
 * values spanning lines, an inline comment after a closing quote, CRLF
 * line ends and a UTF-8 BOM.  Nothing is expanded: "$HOME" is five bytes.
 * A key is a run of bytes other than blanks, '=', quotes and control
 * characters, or a double-quoted string with the value escapes.
 *
 * Writing quotes every value in double quotes and escapes \ " $ ` and
 * newline, CR and NUL, so reading what was written gives every key and
 * every value back byte for byte, whatever they hold.
 *
 * Errors name a line and say what is wrong; they NEVER QUOTE THE INPUT,
 * which is full of secrets.  Values live only in locked memory.
 */

struct secbuf;

struct dotenv_entry {
	char *key;		/* as written in the file (not secret) */
	struct secbuf *value;
	unsigned int line;	/* where the entry starts */
};

struct dotenv {
	struct dotenv_entry *e;
	size_t n, cap;
};

#define DOTENV_INIT { NULL, 0, 0 }

struct dotenv_error {
	unsigned int line;	/* 0 when the failure is not about a line */
	struct why why;		/* "line 12: unterminated double-quoted value (opened here)" */
};

/* Parse the whole text.  0, or -EINVAL with err (line and reason) and
 * nothing in out, or -ENOMEM (locked memory exhausted).  A key given
 * twice is an error. */
int dotenv_parse(const unsigned char *text, size_t len, struct dotenv *out, struct dotenv_error *err);
/* Wipes every value and frees everything; out can be reused after. */
void dotenv_release(struct dotenv *d);

/* Append one KEY="value" line to out (locked memory).  0 or -ENOMEM. */
int dotenv_write(struct secbuf *out, const char *key, const unsigned char *value, size_t len);

#endif
