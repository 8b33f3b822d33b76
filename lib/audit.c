#include "compat.h"
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "log.h"
#include "trust.h"
#include "why.h"

/* Repeated denials of one uid: the first AUDIT_DENY_BURST in each
 * AUDIT_DENY_WINDOW_S are recorded one by one, the rest counted and
 * written as one summary ("suppressed": N) when the window has passed or
 * the log is closed.  AUDIT_DENY_SLOTS uids are followed at once; a new
 * one takes the slot of the oldest window (whose count is written first). */
struct deny_slot {
	uid_t uid;
	int used;
	time_t start;		/* CLOCK_MONOTONIC seconds */
	unsigned long count, suppressed;
	struct timespec first;	/* CLOCK_REALTIME of the first suppressed denial */
	char source[16];
};

struct audit {
	int fd;			/* -1: disabled */
	unsigned int events;
	int warned;
	int check_end;		/* close a partial last line before the next record */
	char *path;
	pthread_mutex_t lock;	/* one record at a time from this process */
	struct deny_slot deny[AUDIT_DENY_SLOTS];
	unsigned long deny_pending;	/* slots with suppressed > 0 */
	time_t when_sec;		/* the second when[] spells (lock) */
	char when[32];			/* "YYYY-MM-DDTHH:MM:SS", made once a second */
};

static int audit_write_locked(struct audit *a, const struct audit_record *rec);

/* The log's directory, opened by a walk from '/' that follows no symlink.
 * Each directory on the way must be trusted (lib/trust.h); the log's own
 * directory strictly (no sticky exception), and it is created 0700 when
 * missing.  The directory's descriptor, or -errno with why. */
static int open_dir(const char *path, const char **base, struct why *why)
{
	char buf[PATH_MAX], cur[PATH_MAX] = "/", *p, *next, *slash;
	struct stat st;
	int fd, r;

	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return why_fail(why, -errno, "cannot resolve audit log '%s': %s", path, strerror(errno));
		if (snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= (int)sizeof(buf))
			return why_fail(why, -ENAMETOOLONG, "audit log path is too long");
	} else if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		return why_fail(why, -ENAMETOOLONG, "audit log path is too long");
	}
	*base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return why_fail(why, -EINVAL, "audit log '%s' names no file", path);
	slash = strrchr(buf, '/');
	slash[slash == buf] = 0;
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return why_fail(why, -errno, "cannot open '/': %s", strerror(errno));
	for (p = buf + 1;; p = next + 1) {
		int nfd, last;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		next = strchr(p, '/');
		if (next)
			*next = 0;
		last = !next || !next[1 + strspn(next + 1, "/")];
		/* fd (cur) is above the log's own directory. */
		if (fstat(fd, &st) != 0) {
			r = -errno;
			goto fail;
		}
		if ((r = trust_check_stat(&st, cur, 1, "audit log", path, why)))
			goto fail;
		if (!strcmp(p, "..") || !strcmp(p, ".")) {
			r = why_fail(why, -EINVAL, "audit log '%s': '.' and '..' are not allowed in its path", path);
			goto fail;
		}
		nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && last) {
			if (mkdirat(fd, p, 0700) != 0 && errno != EEXIST) {
				r = -errno;
				why_set(why, "cannot create audit log directory '%s': %s", buf, strerror(errno));
				goto fail;
			}
			nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			r = -errno;
			if (errno == ELOOP || errno == ENOTDIR)
				why_set(why, "audit log: refusing '%s': '%s' is a symlink or not a directory", path, buf);
			else
				why_set(why, "cannot open audit log directory '%s': %s", buf, strerror(errno));
			goto fail;
		}
		close(fd);
		fd = nfd;
		snprintf(cur, sizeof(cur), "%s", buf);
		if (!next)
			break;
		*next = '/';
	}
	/* The log's own directory: nobody else may write it, sticky or not. */
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if ((r = trust_check_stat(&st, cur, 0, "audit log", path, why)))
		goto fail;
	return fd;
fail:
	if (!why_str(why)[0])
		why_set(why, "cannot open audit log '%s': %s", path, strerror(-r));
	close(fd);
	return r;
}

/* A line cut short by a crash (or a writer that could not roll back) is
 * closed, so that the next record starts a line of its own.  Other
 * processes write under LOCK_SH; this runs under LOCK_EX. */
static void close_partial_line(struct audit *a)
{
	struct stat st;
	char last;

	flock(a->fd, LOCK_EX);
	if (fstat(a->fd, &st) == 0 && st.st_size > 0 && pread(a->fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n') {
		if (write(a->fd, "\n", 1) == 1)
			log_warn("audit log '%s' ended in a partial line; closed it", a->path);
		else
			goto out;	/* still full: try again next time */
	}
	a->check_end = 0;
out:
	flock(a->fd, LOCK_SH);
}

int audit_open(const char *path, int enabled, unsigned int events, struct audit **out, struct why *why)
{
	struct audit *a = calloc(1, sizeof(*a));
	const char *base;
	struct stat st;
	int dfd, r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->events = events;
	pthread_mutex_init(&a->lock, NULL);
	if (!path || !enabled) {
		*out = a;
		return 0;
	}
	if (!(a->path = strdup(path))) {
		audit_close(a);
		return -ENOMEM;
	}
	if ((dfd = open_dir(path, &base, why)) < 0) {
		r = dfd;
		goto fail;
	}
	a->fd = openat(dfd, base, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	r = -errno;
	close(dfd);
	if (a->fd < 0) {
		if (r == -ELOOP)
			why_set(why, "audit log: refusing '%s': it is a symlink", path);
		else
			why_set(why, "cannot open audit log '%s': %s", path, strerror(-r));
		goto fail;
	}
	if (fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		why_set(why, "audit log '%s' is not a regular file", path);
		goto fail;
	}
	/* O_NONBLOCK was only for the open (a FIFO planted there). */
	fcntl(a->fd, F_SETFL, O_APPEND);
	if ((r = trust_check_stat(&st, path, 0, "audit log", path, why)))
		goto fail;
	/* An existing log that others can read is tightened, not trusted. */
	if ((st.st_mode & 077) && fchmod(a->fd, st.st_mode & 0600) != 0) {
		r = -errno;
		why_set(why, "audit log '%s' is readable by others and cannot be made 0600: %s", path, strerror(errno));
		goto fail;
	}
	a->check_end = 1;
	flock(a->fd, LOCK_SH);
	close_partial_line(a);
	flock(a->fd, LOCK_UN);
	*out = a;
	return 0;
fail:
	audit_close(a);
	return r;
}

/* The summary of one slot's suppressed denials (a->lock held). */
static void deny_flush(struct audit *a, struct deny_slot *d)
{
	char msg[160], since[40];
	struct tm tm;
	struct audit_kv extra[3] = {
		{ "uid", NULL, (double)d->uid }, { "suppressed", NULL, (double)d->suppressed }, { "since", since, 0 },
	};
	struct audit_record rec = {
		.event = AUDIT_ACCESS_DENIED, .source = d->source[0] ? d->source : NULL, .result = "denied",
		.reason = msg, .extra = extra, .n_extra = 3,
	};

	if (!d->suppressed)
		return;
	gmtime_r(&d->first.tv_sec, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(msg, sizeof(msg), "%lu more denials of uid %u not recorded one by one (at most %d in %d s per uid)",
		 d->suppressed, (unsigned)d->uid, AUDIT_DENY_BURST, AUDIT_DENY_WINDOW_S);
	d->suppressed = 0;
	a->deny_pending--;
	(void)audit_write_locked(a, &rec);
}

/* Write the summaries of windows that have passed (all of them: force). */
static void deny_flush_due(struct audit *a, time_t now, int force)
{
	size_t i;

	for (i = 0; i < AUDIT_DENY_SLOTS && a->deny_pending; i++)
		if (a->deny[i].used && a->deny[i].suppressed && (force || now - a->deny[i].start >= AUDIT_DENY_WINDOW_S))
			deny_flush(a, &a->deny[i]);
}

/* 1 when this denial is only counted (a->lock held). */
static int deny_limited(struct audit *a, const struct audit_record *rec, time_t now)
{
	struct deny_slot *d = NULL, *oldest = &a->deny[0];
	size_t i;

	for (i = 0; i < AUDIT_DENY_SLOTS; i++) {
		if (a->deny[i].used && a->deny[i].uid == rec->caller->uid) {
			d = &a->deny[i];
			break;
		}
		if (!a->deny[i].used || (oldest->used && a->deny[i].start < oldest->start))
			oldest = &a->deny[i];
	}
	if (!d) {
		d = oldest;
		deny_flush(a, d);
		memset(d, 0, sizeof(*d));
		d->used = 1;
		d->uid = rec->caller->uid;
		d->start = now;
	}
	if (now - d->start >= AUDIT_DENY_WINDOW_S) {
		deny_flush(a, d);
		d->start = now;
		d->count = 0;
	}
	if (++d->count <= AUDIT_DENY_BURST)
		return 0;
	if (!d->suppressed++) {
		clock_gettime(CLOCK_REALTIME, &d->first);
		snprintf(d->source, sizeof(d->source), "%s", rec->source ? rec->source : "");
		a->deny_pending++;
	}
	return 1;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0) {
		pthread_mutex_lock(&a->lock);
		deny_flush_due(a, 0, 1);
		pthread_mutex_unlock(&a->lock);
		close(a->fd);
	}
	pthread_mutex_destroy(&a->lock);
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
	size_t n = strlen(s), e = jsonw_text_len((const unsigned char *)s, n);

	reserve(l, e + 2);
	if (l->failed)
		return;
	l->p[l->len++] = '"';
	l->len = (size_t)((char *)jsonw_text_escape((unsigned char *)l->p + l->len, (const unsigned char *)s, n) - l->p);
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
	int n;

	/* pid, uid, gid: whole numbers, written without printf's floating
	 * point (what "%.15g" gives for them, at a fraction of the cost). */
	if (v >= 0 && v < 1e15 && v == (double)(unsigned long long)v) {
		unsigned long long u = (unsigned long long)v;
		char *p = num + sizeof(num);

		do
			*--p = (char)('0' + u % 10);
		while ((u /= 10));
		n = (int)(num + sizeof(num) - p);
		memmove(num, p, (size_t)n);
	} else {
		n = snprintf(num, sizeof(num), "%.15g", v);
	}

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

/* Append one whole line, or nothing: a short write (a full disk) is
 * rolled back to where the line began, or, when another process wrote
 * after it, the line is closed before the next record.  a->lock held. */
static int append_line(struct audit *a, const char *p, size_t len)
{
	struct stat st;
	ssize_t w;
	int r = 0;

	flock(a->fd, LOCK_SH);
	if (a->check_end)
		close_partial_line(a);
	do
		w = write(a->fd, p, len);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)len)
		goto out;
	r = w < 0 ? -errno : -ENOSPC;
	if (w > 0) {
		char tail[4096];
		size_t n = (size_t)w < sizeof(tail) ? (size_t)w : sizeof(tail);

		flock(a->fd, LOCK_EX);
		if (fstat(a->fd, &st) == 0 && st.st_size >= w &&
		    pread(a->fd, tail, n, st.st_size - (off_t)n) == (ssize_t)n &&
		    !memcmp(tail, p + w - (ssize_t)n, n) && ftruncate(a->fd, st.st_size - w) == 0)
			a->check_end = 0;
		else
			a->check_end = 1;
		flock(a->fd, LOCK_SH);
	}
out:
	flock(a->fd, LOCK_UN);
	return r;
}

int audit_write(struct audit *a, const struct audit_record *rec)
{
	struct timespec now;
	int r;

	if (!audit_wants(a, rec->event))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&a->lock);
	if (a->deny_pending)
		deny_flush_due(a, now.tv_sec, 0);
	if (rec->event == AUDIT_ACCESS_DENIED && rec->caller && deny_limited(a, rec, now.tv_sec))
		r = 0;
	else
		r = audit_write_locked(a, rec);
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* Build the line and append it (a->lock held). */
static int audit_write_locked(struct audit *a, const struct audit_record *rec)
{
	struct line l = { .len = 0, .cap = sizeof(l.stack) };
	struct timespec ts;
	struct tm tm;
	char when[64];
	size_t i;
	int r = 0;

	l.p = l.stack;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!a->when[0] || ts.tv_sec != a->when_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(a->when, sizeof(a->when), "%Y-%m-%dT%H:%M:%S", &tm);
		a->when_sec = ts.tv_sec;
	}
	snprintf(when, sizeof(when), "%s.%03ldZ", a->when, ts.tv_nsec / 1000000);

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
	if ((r = append_line(a, l.p, l.len)) != 0 && !a->warned) {
		a->warned = 1;
		log_err("cannot write audit log '%s': %s", a->path, strerror(-r));
	}
out:
	if (l.heap)
		free(l.p);
	return r;
}
