#include "lib/compat.h"
#include "tests/mock/mock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend-internal.h"
#include "lib/config.h"
#include "lib/secbuf.h"

struct mock_backend {
	struct backend base;
	char *dir;
	unsigned long delay_ms;
};

static struct mock_backend *mock_downcast(struct backend *be)
{
	return (struct mock_backend *)be;
}

static int mock_open(const struct backend_ctx *ctx, const struct cfg_node *opts, struct backend **out,
		     struct why *err)
{
	struct mock_backend *m;
	const char *dir = NULL;
	unsigned long delay = 0;
	int r;

	(void)ctx;
	if ((r = cfg_get_str(opts, "mock_dir", &dir, err)) ||
	    (r = cfg_get_uint(opts, "mock_delay_ms", 600000, &delay, err)))
		return r;
	if (!dir)
		return cfg_fail(err, opts, "the mock provider needs 'mock_dir'");
	m = calloc(1, sizeof(*m));
	if (!m || !(m->dir = strdup(dir))) {
		free(m);
		return -ENOMEM;
	}
	m->delay_ms = delay;
	*out = &m->base;
	return 0;
}

static void mock_close(struct backend *be)
{
	struct mock_backend *m = mock_downcast(be);

	free(m->dir);
	free(m);
}

static void file_name(const struct mock_backend *m, const char *key, const char *suffix, char *buf,
		      size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "%s/", m->dir);

	for (; *key && o + 4 < len; key++) {
		if (*key == '/')
			o += (size_t)snprintf(buf + o, len - o, "%%2F");
		else if (*key == '#')
			o += (size_t)snprintf(buf + o, len - o, "%%23");
		else
			buf[o++] = *key;
	}
	buf[o] = 0;
	snprintf(buf + o, len - o, "%s", suffix);
}

static int read_err(const char *path)
{
	static const struct { const char *name; int err; } errs[] = {
		{ "ENOENT", BACKEND_ENOTFOUND }, { "EACCES", BACKEND_EDENIED },
		{ "EIO", BACKEND_EUNAVAIL },	  { "ETIMEDOUT", BACKEND_ETIMEDOUT },
		{ "EBADMSG", BACKEND_ETAMPERED }, { "EINVAL", BACKEND_EINVAL },
	};
	char text[32] = "";
	FILE *f = fopen(path, "re");
	size_t i;

	if (!f)
		return 0;
	if (!fgets(text, sizeof(text), f))
		text[0] = 0;
	fclose(f);
	text[strcspn(text, "\n")] = 0;
	for (i = 0; i < ARRAY_SIZE(errs); i++)
		if (!strcmp(text, errs[i].name))
			return -errs[i].err;
	return -BACKEND_EUNAVAIL;
}

/* mock_delay_ms, else the number in _delay_ms, else (for one key) in
 * KEY.delay_ms: a store that is slow for everyone or for one view. */
static void mock_sleep(const struct mock_backend *m, const char *key)
{
	char path[4096], text[32];
	unsigned long ms = m->delay_ms;
	FILE *f;

	snprintf(path, sizeof(path), "%s/_delay_ms", m->dir);
	f = fopen(path, "re");
	if (!f) {
		file_name(m, key, ".delay_ms", path, sizeof(path));
		f = fopen(path, "re");
	}
	if (f) {
		if (fgets(text, sizeof(text), f))
			ms = strtoul(text, NULL, 10);
		fclose(f);
	}
	if (ms) {
		struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

static int mock_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	struct mock_backend *m = mock_downcast(be);
	char path[4096];
	struct secbuf *sb;
	unsigned char *p;
	ssize_t n;
	int fd, r;

	mock_sleep(m, key);
	/* Count fetches when asked (key names only), so tests can prove
	 * that lookup, getattr and readdir never reach the store. */
	snprintf(path, sizeof(path), "%s/_gets", m->dir);
	if (access(path, F_OK) == 0) {
		FILE *g = fopen(path, "ae");

		if (g) {
			fprintf(g, "%s\n", key);
			fclose(g);
		}
	}
	snprintf(path, sizeof(path), "%s/_all.err", m->dir);
	if ((r = read_err(path)) != 0) {
		why_set(why, "mock store fails every key");
		return r;
	}
	file_name(m, key, ".err", path, sizeof(path));
	if ((r = read_err(path)) != 0) {
		why_set(why, "mock store fails '%s'", key);
		return r;
	}
	file_name(m, key, "", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		why_set(why, "no mock file for '%s'", key);
		return -BACKEND_ENOTFOUND;
	}
	sb = secbuf_new(64);
	if (!sb) {
		close(fd);
		return -BACKEND_ENOMEM;
	}
	for (;;) {
		if (!(p = secbuf_tail(sb, 4096))) {
			r = -BACKEND_ENOMEM;
			break;
		}
		n = read(fd, p, 4096);
		if (n <= 0) {
			r = n < 0 ? -BACKEND_EUNAVAIL : 0;
			break;
		}
		secbuf_commit(sb, (size_t)n);
	}
	close(fd);
	if (r) {
		secbuf_free(sb);
		return r;
	}
	*out = sb;
	return 0;
}

static int mock_list(struct backend *be, const char *prefix, backend_list_fn *fn, void *arg,
		     struct why *why)
{
	struct mock_backend *m = mock_downcast(be);
	DIR *d;
	struct dirent *e;
	char key[1024];
	int r = 0;

	snprintf(key, sizeof(key), "%s/_all.err", m->dir);
	if ((r = read_err(key)) != 0)
		return why_fail(why, r, "mock store fails every key");
	d = opendir(m->dir);
	if (!d)
		return why_fail(why, -BACKEND_EUNAVAIL, "cannot open mock dir");
	while (!r && (e = readdir(d))) {
		size_t i, o = 0;

		if (e->d_name[0] == '.' || e->d_name[0] == '_' || strstr(e->d_name, ".err"))
			continue;
		for (i = 0; e->d_name[i] && o + 1 < sizeof(key); i++) {
			if (!strncmp(e->d_name + i, "%2F", 3)) {
				key[o++] = '/';
				i += 2;
			} else if (!strncmp(e->d_name + i, "%23", 3)) {
				key[o++] = '#';
				i += 2;
			} else {
				key[o++] = e->d_name[i];
			}
		}
		key[o] = 0;
		if (!strncmp(key, prefix, strlen(prefix)))
			r = fn(key, arg);
	}
	closedir(d);
	return r;
}

static int mock_set(struct backend *be, const char *key, const void *value, size_t len,
		    struct why *why)
{
	char path[4096];
	int fd, r;
	ssize_t w;

	snprintf(path, sizeof(path), "%s/_all.err", mock_downcast(be)->dir);
	if ((r = read_err(path)) != 0)
		return why_fail(why, r, "mock store fails every key");
	file_name(mock_downcast(be), key, "", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return why_fail(why, -BACKEND_EUNAVAIL, "cannot write mock file");
	w = write(fd, value, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -BACKEND_EUNAVAIL;
}

static int mock_del(struct backend *be, const char *key, struct why *why)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/_all.err", mock_downcast(be)->dir);
	if ((r = read_err(path)) != 0)
		return why_fail(why, r, "mock store fails every key");
	file_name(mock_downcast(be), key, "", path, sizeof(path));
	if (unlink(path) != 0)
		return why_fail(why, -BACKEND_ENOTFOUND, "no mock file for '%s'", key);
	return 0;
}

/* The file's mtime is when the value last changed (tests set it with
 * touch -d); the store keeps no versions. */
static int mock_meta(struct backend *be, const char *key, struct backend_meta *out,
		     struct why *why)
{
	struct mock_backend *m = mock_downcast(be);
	char path[4096];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), "%s/_all.err", m->dir);
	if ((r = read_err(path)) != 0)
		return why_fail(why, r, "mock store fails every key");
	file_name(m, key, ".err", path, sizeof(path));
	if ((r = read_err(path)) != 0)
		return why_fail(why, r, "mock store fails '%s'", key);
	snprintf(path, sizeof(path), "%s/_nometa", m->dir);
	if (access(path, F_OK) == 0)
		return why_fail(why, -BACKEND_ENOTSUP, "mock store without metadata");
	file_name(m, key, "", path, sizeof(path));
	if (stat(path, &st) != 0)
		return why_fail(why, -BACKEND_ENOTFOUND, "no mock file for '%s'", key);
	out->version = 0;
	out->created = 0;
	out->updated = (long long)st.st_mtime;
	return 0;
}

const struct backend_ops backend_mock = {
	.name = "mock",
	.caps = BACKEND_CAN_LIST | BACKEND_CAN_WRITE | BACKEND_PERSISTENT,
	.open = mock_open,
	.close = mock_close,
	.get = mock_get,
	.list = mock_list,
	.set = mock_set,
	.del = mock_del,
	.meta = mock_meta,
};
