#ifndef NAMES_H
#define NAMES_H

#include <stddef.h>

/*
 * The names harombe accepts from config and command lines.  Each check
 * returns NULL when the name is fine, or a short reason ("contains '..'")
 * that the caller puts after the name's location.
 */

#define NAMES_CONTAINER_MAX 64
#define NAMES_ENV_MAX 255
#define NAMES_KEY_MAX 512

/* A container (view) name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes;
 * it becomes a directory name, so "." and ".." are impossible by shape. */
const char *names_check_container(const char *s);
/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes. */
const char *names_check_env(const char *s);
/* A secret key: "path" or "path#field"; segments separated by '/', none
 * empty, none "." or "..", no leading or trailing '/', printable ASCII or
 * UTF-8 without control characters, at most 512 bytes. */
const char *names_check_key(const char *s);

#endif
