#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>

/*
 * The small file chores every layer has: reading a descriptor to its end
 * into locked memory, writing a whole buffer, and "~/" in paths.  Each
 * exists once, here.
 */

struct secbuf;

/* Read fd to its end into a new locked buffer (at most max bytes; more is
 * -EFBIG).  EINTR is retried.  0 and *out, or -errno (-ENOMEM: locked
 * memory exhausted) and *out = NULL.  fd is left open. */
int secbuf_read_fd(int fd, size_t max, struct secbuf **out);

/* The same into ordinary memory, for what is not secret (a config,
 * ciphertext, a state file): a malloc()ed copy of the whole file with a
 * NUL after its len bytes.  0, -EFBIG past max bytes, or -errno. */
int fd_read_all(int fd, size_t max, char **out, size_t *len);

/* write(2) all n bytes, retrying EINTR and short writes, and waiting in
 * poll(2) on EAGAIN (a descriptor made non-blocking by whoever shares it).  0 or -errno. */
int fd_write_all(int fd, const void *p, size_t n);

/* A copy of path with a leading "~" or "~/" replaced by $HOME (or the
 * passwd entry's home when HOME is unset or empty); other paths are
 * copied as they are.  NULL on ENOMEM. */
char *path_expand_home(const char *path);

#endif
