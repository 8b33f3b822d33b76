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
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/control.h"
#include "fs/fs.h"
#include "fs/handover.h"
#include "fs/harden.h"
#include "fs/keeper.h"
#include "lib/carry.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secbuf.h"
#include "lib/workq.h"

/* SYSCONFDIR comes from the Makefile (SYSCONFDIR at build time). */
#ifndef SYSCONFDIR
#error "SYSCONFDIR is not defined: build with the Makefile"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/harombe/harombe.yaml"
#define DEFAULT_WORKERS 16

struct hopts {
	char *config;
	int mount_only, resume_only, cleanup;
	char *pos[2];		/* [SOURCE] MOUNTPOINT */
	int npos;
};

static const struct fuse_opt hopt_spec[] = {
	{ "config=%s", offsetof(struct hopts, config), 0 },
	{ "--mount-only", offsetof(struct hopts, mount_only), 1 },
	{ "--resume-only", offsetof(struct hopts, resume_only), 1 },
	{ "--cleanup", offsetof(struct hopts, cleanup), 1 },
	FUSE_OPT_END
};

static int reload_pipe[2] = { -1, -1 };
static struct fuse_session *running;
static volatile sig_atomic_t restart_requested;

static void usage(const char *prog)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [-o config=FILE] [-f] [-s] [-d] [-o FUSE options]\n"
	       "       %s --mount-only | --cleanup [MOUNTPOINT] [-o config=FILE]\n"
	       "\n"
	       "Serve each container in harombe.yaml its own secrets as files that live only in\n"
	       "locked memory: MOUNTPOINT/<container>/{env,docker.env,env.json,secrets/<NAME>}.\n"
	       "\n"
	       "    -o config=FILE     harombe.yaml (default: $HAROMBE_CONFIG, else %s)\n"
	       "    -f                 stay in the foreground, log to stderr\n"
	       "    -s                 no open workers: a slow store then delays every caller\n"
	       "    -d                 FUSE debug output (implies -f)\n"
	       "    -o max_threads=N   workers for opens that wait on a store (default %d)\n"
	       "    --mount-only       mount, give the connection to systemd's fd store, exit\n"
	       "    --resume-only      serve only a connection passed in LISTEN_FDS (exit %d if none)\n"
	       "    --cleanup          after the service stopped: unmount unless it is to resume\n"
	       "    -h, --help         this text; -V, --version: versions\n"
	       "\n"
	       "SOURCE (as mount(8) passes it) becomes the fsname.  MOUNTPOINT defaults to\n"
	       "security.fs.mountpoint.  The mount is always ro, nosuid, nodev, noexec,\n"
	       "allow_other and default_permissions; mount(8)'s rw, dev, suid, exec, _netdev,\n"
	       "nofail, auto, noauto, user, users, defaults and x-* options are ignored.\n"
	       "In the background the process that mounted keeps the connection and restarts a\n"
	       "daemon that dies: readers wait and go on, and the new daemon adopts its Vault\n"
	       "leases, change counts and poll() waiters.  SIGHUP reloads the config; SIGUSR1\n"
	       "logs locked-memory use; SIGUSR2 drops every cached value; SIGQUIT restarts the\n"
	       "daemon on the same connection (exit %d); SIGINT and SIGTERM unmount and exit\n"
	       "(revoking the leases).\n"
	       "MOUNTPOINT.ctl is a control socket (root only) through which `harombe vault\n"
	       "rotate` and the other commands that change a secret drop its cached copies.\n"
	       "See harombefs(8).\n",
	       prog, prog, DEFAULT_CONFIG, DEFAULT_WORKERS, HAROMBEFS_EXIT_NO_CONNECTION,
	       HAROMBEFS_EXIT_RESTART);
}

/* Options mount(8) and mount.fuse3 pass that mean nothing here, or that
 * we override (the mount is always ro, nosuid, nodev, noexec). */
static int mount_option_ignored(const char *o)
{
	static const char *const words[] = { "rw", "ro", "dev", "suid", "exec", "nodev", "nosuid", "noexec",
					     "_netdev", "nofail", "auto", "noauto", "user", "users",
					     "nouser", "owner", "group", "defaults", "sync", "async" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcmp(o, words[i]))
			return 1;
	return !strncmp(o, "x-", 2) || !strncmp(o, "X-", 2) || !strncmp(o, "comment=", 8);
}

static int hopt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct hopts *ho = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (ho->npos >= 2) {
			fprintf(stderr, "harombefs: too many arguments at '%s' (see --help)\n", arg);
			return -1;
		}
		if (!(ho->pos[ho->npos] = strdup(arg)))
			return -1;
		ho->npos++;
		return 0;
	}
	if (key == FUSE_OPT_KEY_OPT && mount_option_ignored(arg))
		return 0;
	return 1;
}

static void notify_systemd(const char *msg)
{
	handover_notify(msg, NULL, 0);
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

static void control_leases_cb(backend_lease_fn *each, void *each_arg, void *arg)
{
	fs_leases(arg, each, each_arg);
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
			fs_drop_cache(h);
			continue;
		}
		notify_systemd("RELOADING=1");
		fs_reload(h);
		notify_systemd("READY=1");
	}
	return NULL;
}

static void on_sigquit(int sig)
{
	(void)sig;
	restart_requested = 1;
	if (running)
		fuse_session_exit(running);
}

/*
 * Background start: the parent waits until the keeper reports that the
 * daemon serves (or why it cannot) so that the exit status of `harombefs`
 * tells the truth, and the daemon's errors still reach the terminal.
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
		unsigned char status = 1;
		int st;

		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		if (status != 0)
			waitpid(pid, &st, 0);
		_exit(status);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

/* Unmount on a clean stop.  Where the mount was made by someone else (the
 * keeper, systemd's ExecStartPre=) we may lack the right, or live in a
 * namespace of our own: they unmount. */
static void unmount(const char *mnt, int ours)
{
	if (!handover_mounted(mnt))
		return;
	if (umount2(mnt, MNT_DETACH) != 0 && (ours || (errno != EPERM && errno != EINVAL)))
		log_warn("cannot unmount '%s': %s", mnt, strerror(errno));
}

/* ExecStopPost=+harombefs --cleanup: systemd tells how the service ended.
 * A clean stop unmounts; so does a daemon that found no stored connection
 * (the mount is stale).  After a crash or SIGQUIT the mount stays: the
 * restart resumes it from the fd store. */
static int cleanup(const char *mnt)
{
	const char *result = getenv("SERVICE_RESULT"), *code = getenv("EXIT_CODE");
	const char *status = getenv("EXIT_STATUS");
	int stale = code && !strcmp(code, "exited") && status &&
		    atoi(status) == HAROMBEFS_EXIT_NO_CONNECTION;

	if (result && strcmp(result, "success") && !stale) {
		log_info("'%s' stays mounted for the restart to resume (service result %s)", mnt, result);
		return 0;
	}
	if (!handover_mounted(mnt))
		return 0;
	if (umount2(mnt, MNT_DETACH) != 0) {
		log_err("cannot unmount '%s': %s", mnt, strerror(errno));
		return 1;
	}
	log_info("unmounted '%s'", mnt);
	return 0;
}

/* ExecStartPre=+harombefs --mount-only: mount in the host's namespace, with
 * the privilege the sandboxed daemon does not have, and leave the
 * connection in systemd's fd store, which passes it to the daemon. */
static int mount_only(struct fuse_args *args, const char *mnt)
{
	struct why err = WHY_INIT;
	int ffd, ifd, r;

	if (!getenv("NOTIFY_SOCKET")) {
		log_err("--mount-only hands the connection to systemd's file descriptor store, "
			"and $NOTIFY_SOCKET is not set");
		return 1;
	}
	if (handover_mounted(mnt)) {
		log_info("'%s' is mounted already: the daemon resumes the stored connection", mnt);
		return 0;
	}
	if ((r = handover_mount(args, mnt, &ffd, &ifd, &err)) != 0) {
		log_err("%s", err.msg);
		return 1;
	}
	r = handover_store(ffd, ifd);
	close(ffd);
	close(ifd);
	if (r != 0) {
		log_err("cannot store the connection in systemd's file descriptor store "
			"(FileDescriptorStoreMax=, NotifyAccess=exec): %s", strerror(-r));
		unmount(mnt, 1);
		return 1;
	}
	return 0;
}

/* harombefs without -f: mount, then keep the connection (keeper.h). */
static int background(struct fuse_args *args, char **argv, const char *config, const char *mnt)
{
	struct keeper k = { .argv = argv, .config = config, .mountpoint = mnt, .carry_fd = -1 };
	struct why err = WHY_INIT;
	int ready_fd = -1, r;

	if (daemon_fork(&ready_fd) != 0) {
		fprintf(stderr, "harombefs: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	if (harden_process(&err) != 0 ||
	    handover_mount(args, mnt, &k.fuse_fd, &k.init_fd, &err) != 0) {
		fprintf(stderr, "harombefs: %s\n", err.msg);
		close(ready_fd);
		return 1;
	}
	k.ready_fd = ready_fd;
	r = keeper_run(&k);
	return r;
}

/*
 * What this daemon carries to the next (lib/carry.h): the region passed
 * with the connection, or a new one put in the same store.  None when no
 * store would keep it (a plain foreground daemon: its leases are revoked
 * at exit, as before), or when only systemd's fd store would and the
 * kernel has no memfd_secret (systemd would hold a memfd nobody locks
 * while no daemon runs).  Takes fd.
 */
static struct carry *carry_start(int fd, size_t slot, int under_keeper)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL;
	int r;

	if (fd < 0 && !getenv("NOTIFY_SOCKET"))
		return NULL;
	if (fd >= 0 && carry_open(fd, slot, &c, &err) != 0) {
		/* Another format (an upgrade across one): what it held is lost
		 * (its leases run out at their TTL), and a new region replaces it. */
		log_warn("%s: not adopted; starting a new one", err.msg);
		err.msg[0] = 0;
		handover_notify("FDSTOREREMOVE=1\nFDNAME=" HANDOVER_CARRY, NULL, 0);
	}
	if (!c && carry_open(-1, slot, &c, &err) != 0) {
		log_warn("%s: a restart mints new Vault leases and counts changes from 0", err.msg);
		return NULL;
	}
	if (carry_inherited(c))
		return c;
	if (!under_keeper && !carry_is_secret(c)) {
		log_warn("no memfd_secret: systemd's fd store would keep leases in memory nobody locks, so a "
			 "restart mints new ones (the keeper of a background harombefs locks it)");
		carry_free(c, 1);
		return NULL;
	}
	if ((r = handover_store_carry(carry_fd(c))) != 0) {
		log_warn("cannot store the carried state beside the connection (%s): a restart mints new "
			 "Vault leases", strerror(-r));
		carry_free(c, 1);
		return NULL;
	}
	return c;
}

/* The daemon proper: serve a connection, passed or mounted here. */
static int serve(struct fuse_args *args, struct fuse_cmdline_opts *opts, const char *config,
		 const char *mnt, int resume_only)
{
	struct workq *workers = NULL;
	struct fuse_session *se = NULL;
	struct harombefs *h = NULL;
	struct why ce = WHY_INIT;
	struct sigaction sa;
	pthread_t reloader;
	struct control *ctl = NULL;
	char ctlpath[CONTROL_PATH_MAX] = "";
	sigset_t all, old;
	const char *keeper = getenv("HAROMBEFS_KEEPER");
	int under_keeper = keeper != NULL, reloader_started = 0, ffd = -1, ifd = -1, cfd = -1, passed, ret = 1, r;
	struct carry *carry = NULL;
	struct why err = WHY_INIT;
	char devfd[32];

	if (keeper && !strcmp(keeper, "respawn"))
		log_setup("harombefs", 1, opts->debug ? LOG_DEBUG : LOG_INFO);
	unsetenv("HAROMBEFS_KEEPER");
	passed = handover_listen(&ffd, &ifd, &cfd, &err);
	if (passed < 0) {
		log_err("%s", err.msg);
		return 1;
	}
	if (!passed && resume_only) {
		log_err("--resume-only: no FUSE connection was passed (LISTEN_FDS); '%s' is stale "
			"and is unmounted by ExecStopPost=", mnt);
		return HAROMBEFS_EXIT_NO_CONNECTION;
	}
	if (harden_process(&err) != 0) {
		log_err("%s", err.msg);
		goto out;
	}
	/* Size the locked arena before anything allocates from it. */
	{
		struct harombe_config *c = NULL;

		if (config_load(config, &c, &ce) != 0) {
			log_err("%s", ce.msg);
			ret = 2;
			goto out;
		}
		r = secmem_init(c->fs.locked_memory, &ce);
		if (r == 0)
			carry = carry_start(cfd, c->fs.locked_memory / 4, under_keeper);
		cfd = -1;
		config_free(c);
		if (r != 0) {
			log_err("%s", ce.msg);
			goto out;
		}
	}
	if ((r = fs_new(config, carry, &h, &err)) != 0) {
		log_err("%s", err.msg);
		ret = r == -EINVAL ? 2 : 1;
		goto out;
	}
	/* The control socket comes before the mount, so that whoever sees the
	 * mount can tell us about a rotation.  Without it harombefs still
	 * works; a rotation then reaches it only through SIGUSR2 or once
	 * cache_ttl has passed.  But a name taken by someone else stops the
	 * start: that is an impostor waiting for our clients. */
	if (control_path(mnt, ctlpath, sizeof(ctlpath)) != 0)
		log_warn("no control socket for %s: the path is too long", mnt);
	else if ((r = control_start(ctlpath, control_forget_cb, h, &ctl, &ce)) == -EADDRINUSE) {
		/* Someone else holds our socket's name: `harombe vault rotate`
		 * would tell them, not us, and believe their answer. */
		log_err("control socket: %s", ce.msg);
		goto out;
	} else if (r != 0) {
		log_warn("no control socket for %s: %s", mnt, ce.msg);
	}
	control_set_leases(ctl, control_leases_cb, h);
	if (!passed && handover_mount(args, mnt, &ffd, &ifd, &err) != 0) {
		log_err("%s", err.msg);
		goto out;
	}
	se = fuse_session_new(args, fs_operations(), sizeof(struct fuse_lowlevel_ops), h);
	if (!se) {
		log_err("cannot start the FUSE session (see the message above)");
		goto out;
	}
	if (!opts->singlethread) {
		unsigned int n = opts->max_threads != 10 ? opts->max_threads : DEFAULT_WORKERS;

		if (workq_new(n, &workers) != 0) {
			log_err("cannot start %u worker threads", n);
			goto out;
		}
	}
	if (fs_attach(h, se, workers) != 0) {
		log_err("cannot start the invalidation thread");
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
	/* No SA_RESTART: the loop's read() must return to see the exit. */
	sa.sa_handler = on_sigquit;
	sa.sa_flags = 0;
	running = se;
	sigaction(SIGQUIT, &sa, NULL);

	/* The session serves the connection's descriptor as libfuse's
	 * "/dev/fd/N" mountpoint; the mount itself was made by handover_mount
	 * (here, in the keeper or in ExecStartPre=). */
	snprintf(devfd, sizeof(devfd), "/dev/fd/%d", ffd);
	if (fuse_session_mount(se, devfd) != 0) {
		log_err("cannot serve the FUSE connection of '%s'", mnt);
		goto out;
	}
	ffd = -1;	/* the session owns it now */
	if ((r = handover_resume(se, ifd, &err)) != 0) {
		log_err("%s", err.msg);
		goto out;
	}
	/* A passed connection is in its store already: storing it again
	 * would leave a moment with none. */
	r = passed ? 0 : handover_store(fuse_session_fd(se), ifd);
	if (r != 0 && r != -ENOENT)
		log_warn("the connection is not in a file descriptor store (%s): a crash of this daemon "
			 "leaves '%s' dead", strerror(-r), mnt);

	/* Helper threads must not take the signals meant for the FUSE loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	reloader_started = pthread_create(&reloader, NULL, reload_thread, h) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	log_info("serving '%s' on %s (%s%s)", config, mnt, workers ? "open workers on" : "single-threaded",
		 passed ? ", resumed connection" : "");
	notify_systemd("READY=1");
	if (under_keeper && strcmp(keeper, "respawn")) {
		detach_stdio();
		log_setup("harombefs", 1, opts->debug ? LOG_DEBUG : LOG_INFO);
	}

	/* One thread serves the FUSE loop: everything it does is in memory.
	 * libfuse's multi-threaded loop costs more per request than it gives
	 * on small machines; waiting on a store is what needs threads, and
	 * those opens go to the workers. */
	ret = fuse_session_loop(se);
	/* libfuse reports the signal that ended the loop as its result: a
	 * SIGTERM or SIGINT is the normal way to stop, not a failure. */
	if (!(ret == 0 || ret == SIGTERM || ret == SIGINT) && !restart_requested)
		log_err("the FUSE loop ended with %d (%s)", ret, strerror(ret < 0 ? -ret : ret));
	ret = !(ret == 0 || ret == SIGTERM || ret == SIGINT);
	if (restart_requested) {
		/* SIGQUIT: the keeper or systemd starts a new daemon on the
		 * connection we leave in the store. */
		log_info("stopping for a restart on the same connection");
		ret = HAROMBEFS_EXIT_RESTART;
	} else {
		notify_systemd("STOPPING=1");
		log_info("unmounting %s", mnt);
	}
out:
	control_stop(ctl);
	ctl = NULL;
	running = NULL;
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
	/* A restart leaves the leases to the next daemon; a stop revokes them
	 * (fs_free) and wipes what would have been carried. */
	carry_set_handover(carry, ret == HAROMBEFS_EXIT_RESTART);
	if (ret != HAROMBEFS_EXIT_RESTART && ifd >= 0) {
		handover_unstore();
		unmount(mnt, !passed);
	}
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	fs_free(h);
	carry_free(carry, ret != HAROMBEFS_EXIT_RESTART && ifd >= 0);
	if (cfd >= 0)
		close(cfd);
	if (ffd >= 0)
		close(ffd);
	if (ifd >= 0)
		close(ifd);
	return ret;
}

int harombefs_main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct hopts ho = { 0 };
	struct why ce = WHY_INIT;
	struct harombe_config *probe = NULL;
	char *mnt = NULL, fsopt[64 + 256];
	int ret = 1, i;

	memset(&opts, 0, sizeof(opts));
	log_setup("harombefs", 0, LOG_INFO);
	if (fuse_opt_parse(&args, &ho, hopt_spec, hopt_proc) != 0) {
		ret = 2;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &opts) != 0) {
		fprintf(stderr, "harombefs: invalid arguments (see --help)\n");
		goto out;
	}
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("harombefs %s, libfuse %s\n", HAROMBE_VERSION, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (opts.debug)
		log_setup("harombefs", 0, LOG_DEBUG);
	if (!ho.config) {
		const char *env = getenv("HAROMBE_CONFIG");

		ho.config = strdup(env && *env ? env : DEFAULT_CONFIG);
	}
	/* Reloads, and the daemons the keeper starts, run after the
	 * background process has left its working directory: keep the
	 * config's absolute path. */
	if (getenv("HAROMBEFS_KEEPER") && getenv("HAROMBEFS_CONFIG")) {
		free(ho.config);
		ho.config = strdup(getenv("HAROMBEFS_CONFIG"));
	} else if (ho.config && ho.config[0] != '/') {
		char *abs = realpath(ho.config, NULL);

		if (abs) {
			free(ho.config);
			ho.config = abs;
		}
	}
	unsetenv("HAROMBEFS_CONFIG");
	if (!ho.config)
		goto out;
	if (ho.npos)
		mnt = strdup(ho.pos[ho.npos - 1]);
	if ((ho.cleanup || ho.mount_only) && mnt && mnt[0] != '/') {
		fprintf(stderr, "harombefs: MOUNTPOINT '%s' must be an absolute path\n", mnt);
		ret = 2;
		goto out;
	}
	if (ho.cleanup && mnt) {
		ret = cleanup(mnt);
		goto out;
	}

	/* Check the config before anything else so that mistakes show at once. */
	if (config_load(ho.config, &probe, &ce) != 0) {
		fprintf(stderr, "harombefs: %s\n", ce.msg);
		ret = 2;
		goto out;
	}
	if (!mnt && !(mnt = strdup(probe->fs.mountpoint)))
		goto out;
	if (getenv("HAROMBEFS_KEEPER") && getenv("HAROMBEFS_MOUNTPOINT")) {
		/* The keeper's daemon: the mountpoint as the keeper resolved it. */
		free(mnt);
		mnt = strdup(getenv("HAROMBEFS_MOUNTPOINT"));
	} else if (!ho.mount_only && !ho.cleanup && !getenv("LISTEN_FDS")) {
		/* Never on a passed connection: resolving the path would stat
		 * the mount, which waits for us to serve it. */
		char *abs = realpath(mnt, NULL);

		if (!abs) {
			fprintf(stderr, "harombefs: bad mount point '%s': %s\n", mnt, strerror(errno));
			goto out;
		}
		free(mnt);
		mnt = abs;
	}
	unsetenv("HAROMBEFS_MOUNTPOINT");
	if (!mnt)
		goto out;
	config_free(probe);
	probe = NULL;
	if (ho.cleanup) {
		ret = cleanup(mnt);
		goto out;
	}

	/* Ours come first so that a user's -o fsname= still wins; the flags
	 * come last so that nothing overrides them. */
	if (ho.npos == 2 && (strchr(ho.pos[0], ',') || strlen(ho.pos[0]) > 255)) {
		fprintf(stderr, "harombefs: SOURCE '%s' must be at most 255 bytes, without ','\n", ho.pos[0]);
		ret = 2;
		goto out;
	}
	snprintf(fsopt, sizeof(fsopt), "-ofsname=%s", ho.npos == 2 ? ho.pos[0] : "harombe");
	if (fuse_opt_insert_arg(&args, 1, fsopt) != 0 ||
	    fuse_opt_add_arg(&args, "-oro,nosuid,nodev,noexec,allow_other,default_permissions,subtype=harombefs") != 0)
		goto out;

	if (ho.mount_only)
		ret = mount_only(&args, mnt);
	else if (!opts.foreground)
		ret = background(&args, argv, ho.config, mnt);
	else
		ret = serve(&args, &opts, ho.config, mnt, ho.resume_only);
out:
	config_free(probe);
	free(opts.mountpoint);
	free(mnt);
	free(ho.config);
	for (i = 0; i < ho.npos; i++)
		free(ho.pos[i]);
	fuse_opt_free_args(&args);
	return ret;
}
