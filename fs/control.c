#include "lib/compat.h"
#include "fs/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/why.h"

struct control {
	int fd;			/* listening socket */
	int stop[2];		/* a byte here ends the thread */
	char *path;
	control_forget_fn *fn;
	void *arg;
	pthread_mutex_t lock;		/* leases_fn, leases_arg */
	control_leases_fn *leases_fn;
	void *leases_arg;
	pthread_t thread;
	int started;
};

struct lease_text {
	char *buf;
	size_t len;
};

static void lease_line(const char *scope, const char *path, long long ttl_left, unsigned int renewals,
		       long long idle_s, void *arg)
{
	struct lease_text *t = arg;
	int n;

	if (t->len >= CONTROL_REPLY_MAX)
		return;
	n = snprintf(t->buf + t->len, CONTROL_REPLY_MAX + 1 - t->len, "%s\t%s\t%lld\t%u\t%lld\n",
		     scope, path, ttl_left, renewals, idle_s);
	if (n > 0 && t->len + (size_t)n <= CONTROL_REPLY_MAX)
		t->len += (size_t)n;
	else
		t->len = CONTROL_REPLY_MAX;	/* full: the rest is left out */
}

/* "leases": one reply, "ok\n" and a line per lease. */
static void serve_leases(struct control *ctl, int fd)
{
	struct lease_text t = { malloc(CONTROL_REPLY_MAX + 1), 3 };
	control_leases_fn *fn;
	void *arg;

	if (!t.buf) {
		(void)send(fd, "error: out of memory", 20, MSG_NOSIGNAL);
		return;
	}
	memcpy(t.buf, "ok\n", 3);
	pthread_mutex_lock(&ctl->lock);
	fn = ctl->leases_fn;
	arg = ctl->leases_arg;
	pthread_mutex_unlock(&ctl->lock);
	if (fn)
		fn(lease_line, &t, arg);
	while (t.len > 3 && t.len == CONTROL_REPLY_MAX && t.buf[t.len - 1] != '\n')
		t.len--;	/* never a cut line */
	(void)send(fd, t.buf, t.len, MSG_NOSIGNAL);
	free(t.buf);
}

void control_set_leases(struct control *ctl, control_leases_fn *fn, void *arg)
{
	if (!ctl)
		return;
	pthread_mutex_lock(&ctl->lock);
	ctl->leases_fn = fn;
	ctl->leases_arg = arg;
	pthread_mutex_unlock(&ctl->lock);
}

/* One request on a connection; the reply goes back on it. */
static void serve_one(struct control *ctl, int fd, const char *msg, size_t len)
{
	const char *reply = "ok";
	char key[CONTROL_MSG_MAX];

	if (len == 6 && !memcmp(msg, "leases", 6)) {
		serve_leases(ctl, fd);
		return;
	} else if (len == 4 && !memcmp(msg, "ping", 4)) {
		/* nothing to do */
	} else if (len == 10 && !memcmp(msg, "forget-all", 10)) {
		log_info("control: dropping every cached value");
		ctl->fn(NULL, ctl->arg);
	} else if (len > 7 && len < sizeof(key) + 7 && !memcmp(msg, "forget ", 7) && !memchr(msg, 0, len)) {
		memcpy(key, msg + 7, len - 7);
		key[len - 7] = 0;
		log_info("control: dropping cached copies of '%s'", key);
		ctl->fn(key, ctl->arg);
	} else {
		reply = "error: unknown request (forget KEY, forget-all, leases, ping)";
	}
	(void)send(fd, reply, strlen(reply), MSG_NOSIGNAL);
}

static void serve(struct control *ctl, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct timeval tv = { 2, 0 };
	char msg[CONTROL_MSG_MAX];
	ssize_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warn("control: refused a request from uid %d (pid %d): only root and uid %d may ask",
			 cl == sizeof(cred) ? (int)cred.uid : -1, cl == sizeof(cred) ? (int)cred.pid : -1,
			 (int)geteuid());
		(void)send(fd, "error: denied", 13, MSG_NOSIGNAL);
		return;
	}
	/* A client that stops talking does not hold the control thread. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while ((n = recv(fd, msg, sizeof(msg), MSG_TRUNC)) > 0) {
		if ((size_t)n > sizeof(msg)) {
			(void)send(fd, "error: request too long", 23, MSG_NOSIGNAL);
			continue;
		}
		serve_one(ctl, fd, msg, (size_t)n);
	}
}

static void *control_thread(void *arg)
{
	struct control *ctl = arg;
	struct pollfd p[2] = { { ctl->fd, POLLIN, 0 }, { ctl->stop[0], POLLIN, 0 } };

	for (;;) {
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("control: poll failed: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(ctl, c);
		close(c);
	}
	return NULL;
}

int control_start(const char *path, control_forget_fn *fn, void *arg, struct control **out, struct why *why)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa;
	struct why lw = WHY_INIT;
	struct stat st;
	sigset_t all, old;
	mode_t um;
	int r, live;

	*out = NULL;
	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		return -ENOMEM;
	}
	ctl->fd = ctl->stop[0] = ctl->stop[1] = -1;
	pthread_mutex_init(&ctl->lock, NULL);
	ctl->fn = fn;
	ctl->arg = arg;
	if ((r = control_addr(path, &sa))) {
		why_set(why, "control socket path '%s' is too long", path);
		goto fail;
	}
	/* Replace a socket of ours nobody answers on; never one a live daemon
	 * uses, and never one someone else made: whoever holds the path would
	 * be told our rotations and could answer for us. */
	if (lstat(path, &st) == 0 && st.st_uid != 0 && st.st_uid != geteuid()) {
		why_set(why, "'%s' is taken by uid %u (a %s harombefs did not make); refusing to start: remove "
			"it, and keep the mountpoint in a directory only root can write", path, (unsigned)st.st_uid,
			S_ISSOCK(st.st_mode) ? "socket" : "file");
		r = -EADDRINUSE;
		goto fail;
	}
	live = control_connect(path, &lw);
	if (live >= 0) {
		close(live);
		why_set(why, "another harombefs listens on '%s'", path);
		r = -EALREADY;
		goto fail;
	}
	if (live == -EPERM) {
		why_set(why, "%s; refusing to start", why_str(&lw));
		r = -EADDRINUSE;
		goto fail;
	}
	if (live == -ECONNREFUSED && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	ctl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || pipe2(ctl->stop, O_CLOEXEC) != 0) {
		r = -errno;
		why_set(why, "cannot create the control socket: %s", strerror(errno));
		goto fail;
	}
	um = umask(077);
	r = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(um);
	if (r != 0 && errno == EADDRINUSE) {
		/* Taken between the check and the bind (or a file we could not
		 * remove): someone else's. */
		why_set(why, "'%s' is taken by a file harombefs did not make; refusing to start: remove it, and keep "
			"the mountpoint in a directory only root can write", path);
		r = -EADDRINUSE;
		goto fail;
	}
	if (r != 0 || chmod(path, 0600) != 0 || listen(ctl->fd, 8) != 0) {
		r = -errno;
		why_set(why, "cannot listen on '%s': %s", path, strerror(errno));
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&ctl->thread, NULL, control_thread, ctl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		why_set(why, "cannot start the control thread: %s", strerror(-r));
		unlink(path);
		goto fail;
	}
	ctl->started = 1;
	*out = ctl;
	return 0;
fail:
	control_stop(ctl);
	return r;
}

void control_stop(struct control *ctl)
{
	if (!ctl)
		return;
	if (ctl->started) {
		char q = 'q';

		if (write(ctl->stop[1], &q, 1) == 1)
			pthread_join(ctl->thread, NULL);
		unlink(ctl->path);
	}
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->stop[0] >= 0)
		close(ctl->stop[0]);
	if (ctl->stop[1] >= 0)
		close(ctl->stop[1]);
	free(ctl->path);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}
