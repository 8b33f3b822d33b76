#include "lib/compat.h"
#include "fs/keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/daemon.h"
#include "fs/handover.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/why.h"

#define MAX_FDS 8

struct kstate {
	struct keeper *k;
	char exe[PATH_MAX];
	char addr[64];		/* $NOTIFY_SOCKET for the daemon: "@harombefs-keeper/..." */
	int sock, sfd;
	pid_t server;		/* 0: none running */
	int ready_once;		/* the first daemon reported READY=1 */
	int stopping;		/* SIGTERM/SIGINT received */
	struct timespec started;	/* of the current or last daemon */
	long delay_ms;		/* before the next start; grows while it keeps dying */
	int pending;		/* a start is due when the delay has passed */
	char **argv;		/* the daemon's: k->argv and "-f" */
	char *env_blob;		/* the environment, in locked memory */
	char **envp;		/* env_blob's strings, then extra[] */
	size_t nenv;
	char extra[7][PATH_MAX + 32];
	void *carry_map;	/* k->carry_fd mapped and locked */
	size_t carry_len;
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

void detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (chdir("/") != 0)
		log_warn("cannot chdir to /: %s", strerror(errno));
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}

static void tell_parent(struct kstate *ks, unsigned char status)
{
	if (ks->k->ready_fd < 0)
		return;
	if (write(ks->k->ready_fd, &status, 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(ks->k->ready_fd);
	ks->k->ready_fd = -1;
}

/* The daemon's own socket address: abstract, random, and only the current
 * daemon's messages are taken (checked by SCM_CREDENTIALS). */
static int notify_open(struct kstate *ks)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char rnd[8];
	int one = 1;
	size_t len;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	snprintf(ks->addr, sizeof(ks->addr), "@harombefs-keeper/%d/%02x%02x%02x%02x%02x%02x%02x%02x",
		 (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	len = strlen(ks->addr);
	memcpy(sa.sun_path, ks->addr, len);
	sa.sun_path[0] = 0;
	ks->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ks->sock < 0)
		return -errno;
	if (setsockopt(ks->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
	    bind(ks->sock, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)))
		return -errno;
	return 0;
}

/* Names the keeper sets for its daemons; the caller's own are dropped. */
static int env_ours(const char *e)
{
	static const char *const names[] = { "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET=",
					     "HAROMBEFS_KEEPER=", "HAROMBEFS_MOUNTPOINT=", "HAROMBEFS_CONFIG=" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strncmp(e, names[i], strlen(names[i])))
			return 1;
	return 0;
}

/*
 * The environment the daemons are started with may hold secrets
 * (VAULT_TOKEN, SOPS_AGE_KEY, HAROMBE_SECRET_*, `env:NAME` references).  A
 * daemon moves what it uses into locked memory and wipes its environment;
 * the keeper, which lives as long as the mount and starts every daemon,
 * does the same with all of it: one block of locked memory, and the
 * original strings wiped.  0 or -errno.
 */
static int env_take(struct kstate *ks)
{
	extern char **environ;
	struct why err = WHY_INIT;
	char *p;
	size_t n = 0, total = 0, i, k = 0;
	int r;

	for (i = 0; environ && environ[i]; i++, n++)
		total += strlen(environ[i]) + 1;
	if ((r = secmem_init(total + SECMEM_MIN_SIZE, &err)) != 0) {
		log_err("%s", err.msg);
		return r;
	}
	ks->env_blob = secmem_alloc(total + 1);
	ks->envp = calloc(n + ARRAY_SIZE(ks->extra) + 1, sizeof(*ks->envp));
	if (!ks->env_blob || !ks->envp)
		return -ENOMEM;
	p = ks->env_blob;
	for (i = 0; i < n; i++) {
		size_t len = strlen(environ[i]);

		if (!env_ours(environ[i])) {
			memcpy(p, environ[i], len + 1);
			ks->envp[k++] = p;
			p += len + 1;
		}
		explicit_bzero(environ[i], len);
	}
	ks->nenv = k;
	clearenv();
	return 0;
}

/*
 * vfork(): the child runs in our memory until it execs, so it sees the
 * locked environment itself (the arena is MADV_WIPEONFORK: a fork() would
 * see zeros) and no copy of it is made outside locked memory.  The child
 * does only system calls, on values prepared here.
 */
static void spawn(struct kstate *ks)
{
	struct keeper *k = ks->k;
	char *digits;
	sigset_t none;
	size_t i;
	pid_t p;

	ks->pending = 0;
	clock_gettime(CLOCK_MONOTONIC, &ks->started);
	snprintf(ks->extra[0], sizeof(ks->extra[0]), "LISTEN_FDS=%d", k->carry_fd >= 0 ? 3 : 2);
	snprintf(ks->extra[1], sizeof(ks->extra[1]), "LISTEN_FDNAMES=%s:%s%s", HANDOVER_FUSE, HANDOVER_INIT,
		 k->carry_fd >= 0 ? ":" HANDOVER_CARRY : "");
	snprintf(ks->extra[2], sizeof(ks->extra[2]), "NOTIFY_SOCKET=%s", ks->addr);
	snprintf(ks->extra[3], sizeof(ks->extra[3]), "HAROMBEFS_KEEPER=%s", ks->ready_once ? "respawn" : "first");
	snprintf(ks->extra[4], sizeof(ks->extra[4]), "LISTEN_PID=");
	snprintf(ks->extra[5], sizeof(ks->extra[5]), "HAROMBEFS_MOUNTPOINT=%s", k->mountpoint);
	snprintf(ks->extra[6], sizeof(ks->extra[6]), "HAROMBEFS_CONFIG=%s", k->config);
	for (i = 0; i < ARRAY_SIZE(ks->extra); i++)
		ks->envp[ks->nenv + i] = ks->extra[i];
	ks->envp[ks->nenv + i] = NULL;
	digits = ks->extra[4] + strlen("LISTEN_PID=");
	sigemptyset(&none);

	p = vfork();
	if (p == 0) {
		int a = fcntl(k->fuse_fd, F_DUPFD, 10), b = fcntl(k->init_fd, F_DUPFD, 10);
		int c = k->carry_fd >= 0 ? fcntl(k->carry_fd, F_DUPFD, 10) : -1;
		unsigned int v = (unsigned int)getpid(), len = 0, j;
		char tmp[16];

		if (a < 0 || b < 0 || dup2(a, 3) != 3 || dup2(b, 4) != 4 ||
		    (k->carry_fd >= 0 && (c < 0 || dup2(c, 5) != 5)))
			_exit(126);
		close(a);
		close(b);
		if (c >= 0)
			close(c);
		do
			tmp[len++] = (char)('0' + v % 10);
		while ((v /= 10) && len < sizeof(tmp));
		for (j = 0; j < len; j++)
			digits[j] = tmp[len - 1 - j];
		digits[len] = 0;
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(ks->exe, ks->argv, ks->envp);
		/* The installed binary is gone (uninstalled?): run the one we are. */
		execve("/proc/self/exe", ks->argv, ks->envp);
		_exit(127);
	}
	if (p < 0) {
		log_err("cannot start the daemon: vfork: %s", strerror(errno));
		ks->pending = 1;
		ks->delay_ms = KEEPER_DELAY_MAX_MS;
		return;
	}
	ks->server = p;
}

static void store(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

/*
 * The carried state holds credentials (lease data, a Vault token).  In
 * memfd_secret memory the kernel never swaps it; a plain memfd (kernels
 * without it) is locked by the daemon's mapping only while a daemon lives,
 * so the keeper maps and locks it too, and it stays locked in between.
 */
static void keep_carry(struct kstate *ks, int fd)
{
	struct stat st;

	if (ks->carry_map)
		munmap(ks->carry_map, ks->carry_len);
	ks->carry_map = NULL;
	store(&ks->k->carry_fd, fd);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0)
		return;
	ks->carry_len = (size_t)st.st_size;
	ks->carry_map = mmap(NULL, ks->carry_len, PROT_READ, MAP_SHARED, fd, 0);
	if (ks->carry_map == MAP_FAILED) {
		ks->carry_map = NULL;
		log_warn("cannot map the daemon's carried state to lock it: %s", strerror(errno));
		return;
	}
	(void)madvise(ks->carry_map, ks->carry_len, MADV_DONTDUMP);
	(void)madvise(ks->carry_map, ks->carry_len, MADV_DONTFORK);
	if (syscall(SYS_mlock, ks->carry_map, ks->carry_len) != 0)
		log_warn("cannot lock the daemon's carried state in memory: %s", strerror(errno));
}

static void on_message(struct kstate *ks)
{
	char buf[4096], *save = NULL, *line;
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	struct ucred cred = { 0 };
	int fds[MAX_FDS], nfds = 0, fdstore = 0, fdremove = 0, i;
	const char *name = NULL;
	ssize_t n;

	n = recvmsg(ks->sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return;
	buf[n] = 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(cred)))
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		else if (c->cmsg_type == SCM_RIGHTS) {
			int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (i = 0; i < cnt && nfds < MAX_FDS; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	if (!ks->server || cred.pid != ks->server)
		goto out;	/* not from our daemon */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "READY=1") && !ks->ready_once) {
			ks->ready_once = 1;
			tell_parent(ks, 0);
			detach_stdio();
			log_setup("harombefs", 1, log_get_level());
		} else if (!strcmp(line, "FDSTORE=1")) {
			fdstore = 1;
		} else if (!strcmp(line, "FDSTOREREMOVE=1")) {
			fdremove = 1;
		} else if (!strncmp(line, "FDNAME=", 7)) {
			name = line + 7;
		}
	}
	if (fdstore && nfds == 1 && name && !strcmp(name, HANDOVER_FUSE)) {
		store(&ks->k->fuse_fd, fds[0]);
		nfds = 0;
	} else if (fdstore && nfds == 1 && name && !strcmp(name, HANDOVER_INIT)) {
		store(&ks->k->init_fd, fds[0]);
		nfds = 0;
	} else if (fdstore && nfds == 1 && name && !strcmp(name, HANDOVER_CARRY)) {
		keep_carry(ks, fds[0]);
		nfds = 0;
	} else if (fdremove && name && !strcmp(name, HANDOVER_CARRY)) {
		keep_carry(ks, -1);
	} else if (fdremove && name && !strcmp(name, HANDOVER_FUSE)) {
		store(&ks->k->fuse_fd, -1);
	} else if (fdremove && name && !strcmp(name, HANDOVER_INIT)) {
		store(&ks->k->init_fd, -1);
	}
	/* What is left (BARRIER=1's descriptor, anything unknown) is
	 * closed: for a barrier, that is the answer. */
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void unmount(struct kstate *ks)
{
	if (handover_mounted(ks->k->mountpoint) && umount2(ks->k->mountpoint, MNT_DETACH) != 0)
		log_warn("cannot unmount '%s': %s", ks->k->mountpoint, strerror(errno));
}

static void forward(struct kstate *ks, int sig)
{
	if (ks->server > 0)
		kill(ks->server, sig);
}

/* The daemon ended: 0 to carry on, else the keeper's exit status + 1. */
static int on_exit_status(struct kstate *ks, int st)
{
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

	ks->server = 0;
	if (!ks->ready_once) {
		/* It never served: the start failed, and it said why. */
		unmount(ks);
		code = code == 0 ? 1 : code > 2 ? 1 : code;
		tell_parent(ks, (unsigned char)code);
		return code + 1;
	}
	if (code == 0 || ks->stopping) {
		log_info("the daemon stopped (%s %d); the keeper exits",
			 WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? code : WTERMSIG(st));
		unmount(ks);
		return 1;
	}
	if (ks->k->fuse_fd < 0 || ks->k->init_fd < 0) {
		log_err("the daemon died (%s %d) after giving up its connection: not restarting",
			WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? code : WTERMSIG(st));
		unmount(ks);
		return 2;
	}
	/* A daemon that keeps dying is started less and less often, but
	 * never given up on: giving up would kill the connection, and every
	 * container holding a view would need a restart once it is fixed. */
	if (ms_since(&ks->started) > KEEPER_STABLE_MS || code == HAROMBEFS_EXIT_RESTART)
		ks->delay_ms = 0;
	else
		ks->delay_ms = ks->delay_ms ? ks->delay_ms * 2 : KEEPER_DELAY_MIN_MS;
	if (ks->delay_ms > KEEPER_DELAY_MAX_MS)
		ks->delay_ms = KEEPER_DELAY_MAX_MS;
	log_warn("the daemon died (%s %d); starting it again on the same connection%s",
		 WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? code : WTERMSIG(st),
		 ks->delay_ms ? " after a delay" : "");
	ks->pending = 1;
	return 0;
}

int keeper_run(struct keeper *k)
{
	struct kstate ks = { .k = k, .sock = -1, .sfd = -1 };
	sigset_t set;
	ssize_t n;
	int r, ret = 1;

	n = readlink("/proc/self/exe", ks.exe, sizeof(ks.exe) - 1);
	if (n <= 0) {
		log_err("cannot find our own binary: %s", strerror(errno));
		goto out;
	}
	ks.exe[n] = 0;
	for (n = 0; k->argv[n]; n++)
		;
	ks.argv = calloc((size_t)n + 2, sizeof(*ks.argv));
	if (!ks.argv)
		goto out;
	memcpy(ks.argv, k->argv, (size_t)n * sizeof(*ks.argv));
	ks.argv[n] = "-f";
	if (env_take(&ks) != 0) {
		log_err("cannot keep the environment in locked memory");
		goto out;
	}
	if ((r = notify_open(&ks)) != 0) {
		log_err("cannot open the keeper's notification socket: %s", strerror(-r));
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ks.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (ks.sfd < 0) {
		log_err("cannot open a signalfd: %s", strerror(errno));
		goto out;
	}
	spawn(&ks);
	if (!ks.server)
		goto out;
	for (;;) {
		struct pollfd p[2] = { { ks.sock, POLLIN, 0 }, { ks.sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		int st, timeout = -1;
		pid_t w;

		if (ks.pending) {
			long left = ks.delay_ms - ms_since(&ks.started);

			/* The delay counts from the last start. */
			if (left <= 0) {
				spawn(&ks);
				continue;
			}
			timeout = (int)left;
		}
		if (poll(p, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			goto out;
		}
		if (p[0].revents & POLLIN)
			on_message(&ks);
		if (!(p[1].revents & POLLIN) || read(ks.sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			ks.stopping = 1;
			if (!ks.server) {
				unmount(&ks);
				ret = 0;
				goto out;
			}
			forward(&ks, (int)si.ssi_signo);
			break;
		case SIGHUP:
		case SIGUSR1:
		case SIGUSR2:
		case SIGQUIT:
			forward(&ks, (int)si.ssi_signo);
			break;
		case SIGCHLD:
			while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
				if (w != ks.server)
					continue;
				/* Drain what it said before it died: a
				 * FDSTOREREMOVE decides whether it may
				 * come back. */
				while (recv(ks.sock, NULL, 0, MSG_PEEK | MSG_DONTWAIT) >= 0)
					on_message(&ks);
				if ((r = on_exit_status(&ks, st)) != 0) {
					ret = r - 1;
					goto out;
				}
			}
			break;
		}
	}
out:
	tell_parent(&ks, 1);
	if (ks.server > 0) {
		kill(ks.server, SIGTERM);
		waitpid(ks.server, NULL, 0);
	}
	if (ks.sfd >= 0)
		close(ks.sfd);
	if (ks.sock >= 0)
		close(ks.sock);
	if (k->fuse_fd >= 0)
		close(k->fuse_fd);
	if (k->init_fd >= 0)
		close(k->init_fd);
	keep_carry(&ks, -1);
	secmem_free(ks.env_blob);
	free(ks.envp);
	free(ks.argv);
	return ret;
}
