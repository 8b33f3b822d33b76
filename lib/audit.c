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
#include <json-c/json.h>

#include "log.h"

struct audit {
	int fd;			/* -1: disabled */
	unsigned int events;
	int warned;
	char *path;
};

static int ensure_dir(const char *path, char *errbuf, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return snprintf(errbuf, errlen, "audit log path is too long"), -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;

		snprintf(errbuf, errlen, "cannot create audit log directory '%s': %s", dir, strerror(e));
		return -e;
	}
	return 0;
}

int audit_open(const char *path, int enabled, unsigned int events, struct audit **out, char *errbuf,
	       size_t errlen)
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
	if ((r = ensure_dir(path, errbuf, errlen)) != 0)
		goto fail;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "cannot open audit log '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(errbuf, errlen, "audit log '%s' is not a regular file", path);
		goto fail;
	}
	/* An existing log that others can read is tightened, not trusted. */
	if ((st.st_mode & 077) && fchmod(a->fd, st.st_mode & 0600) != 0) {
		r = -errno;
		snprintf(errbuf, errlen, "audit log '%s' is readable by others and cannot be made 0600: %s",
			 path, strerror(errno));
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

static json_object *str_array(const char *const *v, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i] ? v[i] : ""));
	return arr;
}

int audit_write(struct audit *a, const struct audit_record *rec)
{
	json_object *o;
	struct timespec ts;
	struct tm tm;
	char when[64];
	const char *line;
	size_t len, i;
	char *buf;
	ssize_t w;
	int r = 0;

	if (!audit_wants(a, rec->event))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);

	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "event", json_object_new_string(audit_event_names[rec->event]));
	if (rec->source)
		json_object_object_add(o, "source", json_object_new_string(rec->source));
	if (rec->container)
		json_object_object_add(o, "container", json_object_new_string(rec->container));
	if (rec->view)
		json_object_object_add(o, "view", json_object_new_string(rec->view));
	if (rec->names)
		json_object_object_add(o, "names", str_array(rec->names, rec->n_names));
	if (rec->keys)
		json_object_object_add(o, "keys", str_array(rec->keys, rec->n_keys));
	if (rec->caller) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "pid", json_object_new_int64(rec->caller->pid));
		json_object_object_add(c, "uid", json_object_new_int64(rec->caller->uid));
		json_object_object_add(c, "gid", json_object_new_int64(rec->caller->gid));
		if (rec->caller->command)
			json_object_object_add(c, "command", json_object_new_string(rec->caller->command));
		json_object_object_add(o, "caller", c);
	}
	for (i = 0; i < rec->n_extra; i++) {
		const struct audit_kv *kv = &rec->extra[i];

		json_object_object_add(o, kv->name,
				       kv->str ? json_object_new_string(kv->str) : json_object_new_double(kv->num));
	}
	json_object_object_add(o, "result", json_object_new_string(rec->result ? rec->result : "ok"));
	if (rec->reason)
		json_object_object_add(o, "reason", json_object_new_string(rec->reason));

	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(line);
	buf = malloc(len + 1);
	if (!buf) {
		json_object_put(o);
		return -ENOMEM;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	w = write(a->fd, buf, len + 1);
	if (w != (ssize_t)(len + 1)) {
		r = w < 0 ? -errno : -EIO;
		if (!__atomic_exchange_n(&a->warned, 1, __ATOMIC_RELAXED))
			log_err("cannot write audit log '%s': %s", a->path, strerror(-r));
	}
	free(buf);
	json_object_put(o);
	return r;
}
