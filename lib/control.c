/* The control socket's protocol and client: the path next to a mountpoint,
 * connecting, and the forget requests `harombe` sends to harombefs. */
#include "compat.h"
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "why.h"

int control_path(const char *mountpoint, char *buf, size_t len)
{
	size_t n = strlen(mountpoint);

	while (n > 1 && mountpoint[n - 1] == '/')
		n--;
	if (mountpoint[0] != '/' || n <= 1)
		return -EINVAL;
	if (n + 5 > len || n + 5 > CONTROL_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, mountpoint, n);
	memcpy(buf + n, ".ctl", 5);
	return 0;
}

int control_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* Whoever answers must be harombefs: root, or the uid we run as (a
 * daemon of this same user).  The socket file's owner is checked too:
 * a socket someone else bound in a directory they could write is not the
 * daemon's, whoever holds it now. */
static int check_peer(int fd, const char *path, struct why *why)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct stat st;
	uid_t me = geteuid();

	if (lstat(path, &st) == 0 && st.st_uid != 0 && st.st_uid != me)
		return why_fail(why, -EPERM, "'%s' belongs to uid %u, not root%s: it is not harombefs's socket "
				"(an impostor bound it first)", path, (unsigned)st.st_uid, me ? " or this user" : "");
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || cl != sizeof(cred))
		return why_fail(why, -EPERM, "cannot tell who listens on '%s': %s", path, strerror(errno));
	if (cred.uid != 0 && cred.uid != me)
		return why_fail(why, -EPERM, "the process answering on '%s' runs as uid %u (pid %d), not root%s: "
				"it is not harombefs (an impostor holds the socket)", path, (unsigned)cred.uid,
				(int)cred.pid, me ? " or this user" : "");
	return 0;
}

int control_connect(const char *path, struct why *why)
{
	struct sockaddr_un sa;
	struct timeval tv = { 5, 0 };
	int fd, r;

	if ((r = control_addr(path, &sa)))
		return why_fail(why, r, "control socket path '%s' is too long", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return why_fail(why, -errno, "%s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		close(fd);
		return why_fail(why, r, "%s", strerror(-r));
	}
	if ((r = check_peer(fd, path, why))) {
		close(fd);
		return r;
	}
	return fd;
}

static int request(int fd, const char *msg, size_t len, struct why *why)
{
	char reply[256];
	ssize_t n;

	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		why_set(why, "cannot send: %s", strerror(errno));
		return -EIO;
	}
	n = recv(fd, reply, sizeof(reply) - 1, 0);
	if (n <= 0) {
		why_set(why, "%s", n < 0 ? strerror(errno) : "no answer");
		return -EIO;
	}
	reply[n] = 0;
	if (strcmp(reply, "ok") != 0) {
		why_set(why, "harombefs answered '%s'", reply);
		return !strcmp(reply, "error: denied") ? -EACCES : -EPROTO;
	}
	return 0;
}

int control_forget(const char *path, const char *const *keys, size_t n, struct why *why)
{
	char msg[CONTROL_MSG_MAX];
	size_t i;
	int fd, r = 0;

	fd = control_connect(path, why);
	if (fd < 0)
		return fd;
	if (!n)
		r = request(fd, "forget-all", 10, why);
	for (i = 0; i < n && !r; i++) {
		int len = snprintf(msg, sizeof(msg), "forget %s", keys[i]);

		if (len < 0 || (size_t)len >= sizeof(msg)) {
			why_set(why, "key is too long");
			r = -EINVAL;
			break;
		}
		r = request(fd, msg, (size_t)len, why);
	}
	close(fd);
	return r;
}

int control_leases(const char *path, char **out, struct why *why)
{
	char *reply = malloc(CONTROL_REPLY_MAX + 1);
	ssize_t n;
	int fd, r = 0;

	*out = NULL;
	if (!reply)
		return -ENOMEM;
	fd = control_connect(path, why);
	if (fd < 0) {
		free(reply);
		return fd;
	}
	if (send(fd, "leases", 6, MSG_NOSIGNAL) != 6) {
		r = -EIO;
		why_set(why, "cannot send: %s", strerror(errno));
	} else if ((n = recv(fd, reply, CONTROL_REPLY_MAX, 0)) <= 0) {
		r = -EIO;
		why_set(why, "%s", n < 0 ? strerror(errno) : "no answer");
	} else {
		reply[n] = 0;
		if (strncmp(reply, "ok\n", 3)) {
			why_set(why, "harombefs answered '%.200s'", reply);
			r = !strcmp(reply, "error: denied") ? -EACCES : -EPROTO;
		} else {
			memmove(reply, reply + 3, (size_t)n - 2);
			*out = reply;
			reply = NULL;
		}
	}
	close(fd);
	free(reply);
	return r;
}
