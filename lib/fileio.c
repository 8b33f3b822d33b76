#include "compat.h"
#include "fileio.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secbuf.h"

#define READ_STEP 4096

int secbuf_read_fd(int fd, size_t max, struct secbuf **out)
{
	struct secbuf *sb;
	int r = 0;

	*out = NULL;
	if (!(sb = secbuf_new(READ_STEP < max ? READ_STEP : max + 1)))
		return -ENOMEM;
	for (;;) {
		unsigned char *p = secbuf_tail(sb, READ_STEP);
		ssize_t n;

		if (!p) {
			r = -ENOMEM;
			break;
		}
		n = read(fd, p, READ_STEP);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		secbuf_commit(sb, (size_t)n);
		if (secbuf_len(sb) > max) {
			r = -EFBIG;
			break;
		}
	}
	if (r) {
		secbuf_free(sb);
		return r;
	}
	*out = sb;
	return 0;
}

int fd_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t got = 0, cap = READ_STEP;
	char *buf = malloc(cap + 1), *nb;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (got == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			if (!(nb = realloc(buf, (cap *= 2) + 1))) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		free(buf);
		return -EFBIG;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			/* A non-blocking descriptor (a pipe set so by whoever
			 * shares it): wait until it drains. */
			struct pollfd pfd = { fd, POLLOUT, 0 };

			poll(&pfd, 1, -1);
			continue;
		}
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

char *path_expand_home(const char *p)
{
	const char *home;
	char *out;

	if (p[0] != '~' || (p[1] && p[1] != '/'))
		return strdup(p);
	home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/";
	}
	if (asprintf(&out, "%s%s", home, p + 1) < 0)
		return NULL;
	return out;
}
