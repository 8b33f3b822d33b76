#include "compat.h"
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "log.h"
#include "why.h"

struct audit {
	int fd;			/* -1: disabled */
	unsigned int events;
	int warned;
	char *path;
};

static int ensure_dir(const char *path, struct why *why)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return why_fail(why, -ENAMETOOLONG, "audit log path is too long");
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;

		why_set(why, "cannot create audit log directory '%s': %s", dir, strerror(e));
		return -e;
	}
	return 0;
}

int audit_open(const char *path, int enabled, unsigned int events, struct audit **out, struct why *why)
{
	struct audit *a = calloc(1, sizeof(*a));
	struct stat st;
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->events = events;
	if (!path || !enabled) {
		*out = a;
		return 0;
	}
	if (!(a->path = strdup(path))) {
		free(a);
		return -ENOMEM;
	}
	if ((r = ensure_dir(path, why)) != 0)
		goto fail;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		r = -errno;
		why_set(why, "cannot open audit log '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		why_set(why, "audit log '%s' is not a regular file", path);
		goto fail;
	}
	/* An existing log that others can read is tightened, not trusted. */
	if ((st.st_mode & 077) && fchmod(a->fd, st.st_mode & 0600) != 0) {
		r = -errno;
		why_set(why, "audit log '%s' is readable by others and cannot be made 0600: %s", path, strerror(errno));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	audit_close(a);
	return r;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

int audit_wants(const struct audit *a, enum audit_event ev)
{
	return a && a->fd >= 0 && (a->events & (1u << ev));
}

/* One audit line, built in place: a stack buffer, moved to the heap only
 * for an unusually long record. */
struct line {
	char *p;
	size_t len, cap;
	int heap, failed;
	char stack[2048];
};

static void reserve(struct line *l, size_t more)
{
	char *n;
	size_t cap;

	if (l->failed || l->len + more <= l->cap)
		return;
	cap = (l->len + more) * 2;
	n = l->heap ? realloc(l->p, cap) : malloc(cap);
	if (!n) {
		l->failed = 1;
		return;
	}
	if (!l->heap)
		memcpy(n, l->p, l->len);
	l->p = n;
	l->cap = cap;
	l->heap = 1;
}

static void raw(struct line *l, const char *s, size_t n)
{
	reserve(l, n);
	if (l->failed)
		return;
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void str(struct line *l, const char *s)
{
	size_t n = strlen(s), e = jsonw_escaped_len((const unsigned char *)s, n);

	reserve(l, e + 2);
	if (l->failed)
		return;
	l->p[l->len++] = '"';
	l->len = (size_t)((char *)jsonw_escape((unsigned char *)l->p + l->len, (const unsigned char *)s, n) - l->p);
	l->p[l->len++] = '"';
}

static void key(struct line *l, const char *k)
{
	raw(l, ",", !l->failed && l->len && l->p[l->len - 1] != '{');
	str(l, k);
	raw(l, ":", 1);
}

static void kv_str(struct line *l, const char *k, const char *v)
{
	key(l, k);
	str(l, v);
}

static void kv_num(struct line *l, const char *k, double v)
{
	char num[64];
	int n = snprintf(num, sizeof(num), "%.15g", v);

	key(l, k);
	raw(l, num, (size_t)n);
}

static void kv_strs(struct line *l, const char *k, const char *const *v, size_t n)
{
	size_t i;

	key(l, k);
	raw(l, "[", 1);
	for (i = 0; i < n; i++) {
		raw(l, ",", i > 0);
		str(l, v[i] ? v[i] : "");
	}
	raw(l, "]", 1);
}

int audit_write(struct audit *a, const struct audit_record *rec)
{
	struct line l = { .len = 0, .cap = sizeof(l.stack) };
	struct timespec ts;
	struct tm tm;
	char when[64];
	size_t i;
	ssize_t w;
	int r = 0;

	if (!audit_wants(a, rec->event))
		return 0;
	l.p = l.stack;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);

	raw(&l, "{", 1);
	kv_str(&l, "time", when);
	kv_str(&l, "event", audit_event_names[rec->event]);
	if (rec->source)
		kv_str(&l, "source", rec->source);
	if (rec->container)
		kv_str(&l, "container", rec->container);
	if (rec->view)
		kv_str(&l, "view", rec->view);
	if (rec->names)
		kv_strs(&l, "names", rec->names, rec->n_names);
	if (rec->keys)
		kv_strs(&l, "keys", rec->keys, rec->n_keys);
	if (rec->caller) {
		key(&l, "caller");
		raw(&l, "{", 1);
		kv_num(&l, "pid", rec->caller->pid);
		kv_num(&l, "uid", rec->caller->uid);
		kv_num(&l, "gid", rec->caller->gid);
		if (rec->caller->command)
			kv_str(&l, "command", rec->caller->command);
		raw(&l, "}", 1);
	}
	for (i = 0; i < rec->n_extra; i++) {
		if (rec->extra[i].str)
			kv_str(&l, rec->extra[i].name, rec->extra[i].str);
		else
			kv_num(&l, rec->extra[i].name, rec->extra[i].num);
	}
	kv_str(&l, "result", rec->result ? rec->result : "ok");
	if (rec->reason)
		kv_str(&l, "reason", rec->reason);
	raw(&l, "}\n", 2);
	if (l.failed) {
		r = -ENOMEM;
		goto out;
	}
	w = write(a->fd, l.p, l.len);
	if (w != (ssize_t)l.len) {
		r = w < 0 ? -errno : -EIO;
		if (!__atomic_exchange_n(&a->warned, 1, __ATOMIC_RELAXED))
			log_err("cannot write audit log '%s': %s", a->path, strerror(-r));
	}
out:
	if (l.heap)
		free(l.p);
	return r;
}
