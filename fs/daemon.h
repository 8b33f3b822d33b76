#ifndef DAEMON_H
#define DAEMON_H

/* The whole of harombefs: argument parsing, start-up, the FUSE loop and a
 * clean exit.  Kept apart from main() so that a test build can register an
 * extra backend first and then run exactly the same daemon. */
int harombefs_main(int argc, char *argv[]);

/* Exit statuses besides 0 (stopped), 1 (failed) and 2 (config error). */
#define HAROMBEFS_EXIT_RESTART 75	/* SIGQUIT: restart me on the stored connection */
#define HAROMBEFS_EXIT_NO_CONNECTION 76	/* --resume-only and nothing was passed */

#endif
