#include "lib/compat.h"
#include "fs/daemon.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/control.h"
#include "fs/fs.h"
#include "fs/harden.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/workq.h"

#define DEFAULT_CONFIG "/etc/harombe/harombe.yaml"
#define DEFAULT_WORKERS 16

struct hopts {
	char *config;
};

static const struct fuse_opt hopt_spec[] = {
	{ "config=%s", offsetof(struct hopts, config), 0 },
	FUSE_OPT_END
};

static int reload_pipe[2] = { -1, -1 };

static void usage(const char *prog)
{
	printf("usage: %s MOUNTPOINT [-o config=FILE] [-f] [-s] [-d] [-o FUSE options]\n"
	       "\n"
	       "Serve each container in harombe.yaml its own secrets as files that live only in\n"
	       "locked memory: MOUNTPOINT/<container>/{env,docker.env,env.json,secrets/<NAME>}.\n"
	       "\n"
	       "    -o config=FILE     harombe.yaml (default: $HAROMBE_CONFIG, else %s)\n"
	       "    -f                 stay in the foreground, log to stderr\n"
	       "    -s                 no open workers: a slow store then delays every caller\n"
	       "    -d                 FUSE debug output (implies -f)\n"
	       "    -o max_threads=N   workers for opens that wait on a store (default %d)\n"
	       "    -h, --help         this text; -V, --version: versions\n"
	       "\n"
	       "MOUNTPOINT defaults to security.fs.mountpoint.  The mount is always read-only,\n"
	       "allow_other and default_permissions.  SIGHUP reloads the config; SIGUSR1 logs\n"
	       "locked-memory use; SIGUSR2 drops every cached value; SIGINT and SIGTERM unmount\n"
	       "and exit.  MOUNTPOINT.ctl is a control socket (root only) through which\n"
	       "`harombe vault rotate` and the other commands that change a secret drop its\n"
	       "cached copies.\n",
	       prog, DEFAULT_CONFIG, DEFAULT_WORKERS);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

static void on_sighup(int sig)
{
	char c = 'r';
	int saved = errno;

	(void)sig;
	if (write(reload_pipe[1], &c, 1) < 0) {
		/* a reload is already pending */
	}
	errno = saved;
}

static void on_sigusr1(int sig)
{
	char c = 's';
	int saved = errno;

	(void)sig;
	if (write(reload_pipe[1], &c, 1) < 0) {
		/* a report is already pending */
	}
	errno = saved;
}

static void on_sigusr2(int sig)
{
	char c = 'f';
	int saved = errno;

	(void)sig;
	if (write(reload_pipe[1], &c, 1) < 0) {
		/* a forget is already pending */
	}
	errno = saved;
}

static void control_forget_cb(const char *key, void *arg)
{
	fs_forget(arg, key);
}

/* SIGHUP reloads, SIGUSR1 logs the memory figures and SIGUSR2 empties the
 * cache; all are handled here, outside the signal handler. */
static void *reload_thread(void *arg)
{
	struct harombefs *h = arg;
	char c;

	while (read(reload_pipe[0], &c, 1) == 1 && c != 'q') {
		if (c == 's') {
			fs_log_stats(h);
			continue;
		}
		if (c == 'f') {
			log_info("dropping every cached value (SIGUSR2)");
			fs_forget(h, NULL);
			continue;
		}
		notify_systemd("RELOADING=1");
		fs_reload(h);
		notify_systemd("READY=1");
	}
	return NULL;
}

/*
 * Background start: the parent waits until the child has mounted (or
 * failed) so that the exit status of `harombefs` tells the truth, and the
 * child's errors still reach the terminal.  Locks do not survive fork(),
 * so everything that locks memory happens in the child.
 */
static int daemon_fork(int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char status = 1;
		int st;

		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		if (status != 0)
			waitpid(pid, &st, 0);
		_exit(status == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static void daemon_ready(int fd)
{
	char ok = 0;
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
	if (write(fd, &ok, 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(fd);
}

int harombefs_main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct workq *workers = NULL;
	struct fuse_session *se = NULL;
	struct harombefs *h = NULL;
	struct hopts ho = { 0 };
	struct cfg_error ce = CFG_ERR_INIT;
	struct harombe_config *probe = NULL;
	struct sigaction sa;
	pthread_t reloader;
	struct control *ctl = NULL;
	char ctlpath[CONTROL_PATH_MAX] = "";
	sigset_t all, old;
	int ready_fd = -1, reloader_started = 0, mounted = 0, ret = 1, r;
	char err[768];
	const char *mnt;

	memset(&opts, 0, sizeof(opts));
	log_setup("harombefs", 0, LOG_INFO);
	if (fuse_opt_parse(&args, &ho, hopt_spec, NULL) != 0)
		return 2;
	if (fuse_parse_cmdline(&args, &opts) != 0) {
		fprintf(stderr, "harombefs: invalid arguments (see --help)\n");
		goto out_args;
	}
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("harombefs %s, libfuse %s\n", HAROMBE_VERSION, fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (opts.debug)
		log_setup("harombefs", 0, LOG_DEBUG);
	if (!ho.config) {
		const char *env = getenv("HAROMBE_CONFIG");

		ho.config = strdup(env && *env ? env : DEFAULT_CONFIG);
	}

	/* Reloads happen after the background daemon has left its working
	 * directory: keep the config's absolute path. */
	if (ho.config[0] != '/') {
		char *abs = realpath(ho.config, NULL);

		if (abs) {
			free(ho.config);
			ho.config = abs;
		}
	}
	/* Check the config before forking so that mistakes show at once. */
	if (config_load(ho.config, &probe, &ce) != 0) {
		fprintf(stderr, "harombefs: %s\n", ce.msg);
		ret = 2;
		goto out_args;
	}
	mnt = opts.mountpoint ? opts.mountpoint : probe->fs.mountpoint;
	if (!opts.mountpoint && !(opts.mountpoint = strdup(mnt)))
		goto out_args;
	config_free(probe);
	probe = NULL;

	if (!opts.foreground && daemon_fork(&ready_fd) != 0) {
		fprintf(stderr, "harombefs: cannot fork: %s\n", strerror(errno));
		goto out_args;
	}
	if (harden_process(err, sizeof(err)) != 0) {
		fprintf(stderr, "harombefs: %s\n", err);
		goto out_args;
	}
	/* Size the locked arena before anything allocates from it. */
	{
		struct harombe_config *c = NULL;

		if (config_load(ho.config, &c, &ce) != 0) {
			fprintf(stderr, "harombefs: %s\n", ce.msg);
			goto out_args;
		}
		r = secmem_init(c->fs.locked_memory, err, sizeof(err));
		config_free(c);
		if (r != 0) {
			fprintf(stderr, "harombefs: %s\n", err);
			goto out_args;
		}
	}
	if ((r = fs_new(ho.config, &h, err, sizeof(err))) != 0) {
		fprintf(stderr, "harombefs: %s\n", err);
		ret = r == -EINVAL ? 2 : 1;
		goto out_args;
	}

	/* Ours come first so that a user's -o fsname= still wins. */
	if (fuse_opt_insert_arg(&args, 1, "-oallow_other,default_permissions,ro,fsname=harombe,"
				"subtype=harombefs") != 0)
		goto out;
	se = fuse_session_new(&args, fs_operations(), sizeof(struct fuse_lowlevel_ops), h);
	if (!se) {
		fprintf(stderr, "harombefs: cannot start the FUSE session (see the message above)\n");
		goto out;
	}
	if (!opts.singlethread) {
		unsigned int n = opts.max_threads != 10 ? opts.max_threads : DEFAULT_WORKERS;

		if (workq_new(n, &workers) != 0) {
			fprintf(stderr, "harombefs: cannot start %u worker threads\n", n);
			goto out;
		}
	}
	if (fs_attach(h, se, workers) != 0) {
		fprintf(stderr, "harombefs: cannot start the invalidation thread\n");
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (pipe2(reload_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		goto out;
	fcntl(reload_pipe[0], F_SETFL, 0);	/* the reader blocks */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_sigusr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_sigusr2;
	sigaction(SIGUSR2, &sa, NULL);

	if (fuse_session_mount(se, opts.mountpoint) != 0) {
		fprintf(stderr, "harombefs: cannot mount on '%s'\n", opts.mountpoint);
		goto out;
	}
	mounted = 1;

	/* Helper threads must not take the signals meant for the FUSE loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	reloader_started = pthread_create(&reloader, NULL, reload_thread, h) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Without it harombefs still works; a rotation then reaches it only
	 * through SIGUSR2 or once cache_ttl has passed. */
	if (control_path(opts.mountpoint, ctlpath, sizeof(ctlpath)) != 0 ||
	    control_start(ctlpath, control_forget_cb, h, &ctl, err, sizeof(err)) != 0)
		log_warn("no control socket for %s: %s", opts.mountpoint,
			 ctlpath[0] ? err : "the path is too long");

	log_info("serving '%s' on %s (%s)", ho.config, opts.mountpoint,
		 workers ? "open workers on" : "single-threaded");
	notify_systemd("READY=1");
	if (ready_fd >= 0) {
		daemon_ready(ready_fd);
		ready_fd = -1;
		log_setup("harombefs", 1, opts.debug ? LOG_DEBUG : LOG_INFO);
	}

	/* One thread serves the FUSE loop: everything it does is in memory.
	 * libfuse's multi-threaded loop costs more per request than it gives
	 * on small machines; waiting on a store is what needs threads, and
	 * those opens go to the workers. */
	ret = fuse_session_loop(se);
	/* libfuse reports the signal that ended the loop as its result: a
	 * SIGTERM or SIGINT is the normal way to stop, not a failure. */
	if (!(ret == 0 || ret == SIGTERM || ret == SIGINT))
		log_err("the FUSE loop ended with %d (%s)", ret, strerror(ret < 0 ? -ret : ret));
	ret = !(ret == 0 || ret == SIGTERM || ret == SIGINT);
	notify_systemd("STOPPING=1");
	log_info("unmounting %s", opts.mountpoint);
out:
	control_stop(ctl);
	ctl = NULL;
	if (reloader_started) {
		char q = 'q';

		if (write(reload_pipe[1], &q, 1) == 1)
			pthread_join(reloader, NULL);
	}
	/* Workers may still be answering opens: let them finish while the
	 * session exists, then stop the invalidation thread, then unmount. */
	workq_free(workers);
	workers = NULL;
	if (h)
		fs_detach(h);
	if (se) {
		fuse_remove_signal_handlers(se);
		if (mounted)
			fuse_session_unmount(se);
		fuse_session_destroy(se);
	}
	fs_free(h);
out_args:
	if (ready_fd >= 0)
		close(ready_fd);
	config_free(probe);
	free(opts.mountpoint);
	free(ho.config);
	fuse_opt_free_args(&args);
	return ret;
}
