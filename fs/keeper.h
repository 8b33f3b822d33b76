#ifndef KEEPER_H
#define KEEPER_H

/*
 * The keeper: what a background harombefs (mount(8), fstab, a systemd mount
 * unit) becomes after it has mounted.  It holds the connection (handover.h),
 * runs the daemon that serves it as a child (the same binary with -f,
 * passed the descriptors in LISTEN_FDS and a private $NOTIFY_SOCKET, as
 * systemd would), and starts a new one when that child dies without a clean
 * stop: kill -9, a crash, or SIGQUIT (restart on purpose, e.g. after an
 * upgrade).  It parses no request and never touches the mount while the
 * daemon runs; the environment it starts daemons with, which may hold
 * secrets, it keeps in locked memory and wipes from its own.  Beside the
 * connection it holds the daemon's carried state (FDNAME=carry: leases,
 * change counters, poll registrations), which the daemon keeps current in
 * place: the keeper maps it only to lock it in memory, reads none of it,
 * and passes it to the next daemon, so that even a kill -9 loses nothing.
 *
 * Signals: SIGTERM and SIGINT stop the daemon (it unmounts) and then the
 * keeper; SIGHUP, SIGUSR1, SIGUSR2 and SIGQUIT are passed to the daemon.  A daemon
 * that dies after running KEEPER_STABLE_MS is started again at once; one
 * that keeps dying sooner, after a delay that doubles from
 * KEEPER_DELAY_MIN_MS up to KEEPER_DELAY_MAX_MS.  Callers wait meanwhile.
 */

#define KEEPER_STABLE_MS 10000
#define KEEPER_DELAY_MIN_MS 100
#define KEEPER_DELAY_MAX_MS 30000

struct keeper {
	char **argv;		/* the daemon's argv; "-f" is added */
	const char *config;	/* absolute paths, which the daemon gets in */
	const char *mountpoint;	/* $HAROMBEFS_CONFIG and $HAROMBEFS_MOUNTPOINT */
	int fuse_fd, init_fd;	/* the connection (taken: the keeper closes them) */
	int carry_fd;		/* what the daemons carry (lib/carry.h), -1 until one stores it */
	int ready_fd;		/* one status byte to the waiting parent, then closed */
};

/* Runs until the daemon stops for good; returns the process's exit status. */
int keeper_run(struct keeper *k);

/* Stdio to /dev/null and the directory to /, once nobody reads the
 * terminal any more: the keeper, and a daemon under it after READY=1. */
void detach_stdio(void);

#endif
