#ifndef DAEMON_H
#define DAEMON_H

/* The whole of harombefs: argument parsing, start-up, the FUSE loop and a
 * clean exit.  Kept apart from main() so that a test build can register an
 * extra backend first and then run exactly the same daemon. */
int harombefs_main(int argc, char *argv[]);

#endif
