/* harombe secrets filter: stdin (or the FILEs named, one after the other)
 * to stdout through the scanner, redacted, line by line when the input is a
 * pipe or a terminal.  Inline allow markers mean nothing here: the text
 * comes from tools, not from reviewers. */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/secbuf.h"
#include "scan/scan.h"

static void print_stats(struct ctx *x, const struct scan_stream_stats *ss, double secs)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr,
		"harombe: stats: bytes_in %llu bytes_out %llu findings %llu redactions %llu seconds %.3f "
		"max_rss_kib %ld\n",
		(unsigned long long)ss->bytes_in, (unsigned long long)ss->bytes_out,
		(unsigned long long)ss->findings, (unsigned long long)ss->redactions, secs, ru.ru_maxrss);
}

static int want_lines(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return 1;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(fd);
}

/* Two threads for a stream when this process may run on two CPUs: the
 * rules on one, the entropy pass on the other (scan_stream_set_threads). */
static unsigned int filter_threads(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return CPU_COUNT(&set) >= 2 ? 2 : 1;
}

/* A pipe on either side is widened to 1 MiB (fs.pipe-max-size, the most an
 * unprivileged process may ask; never narrowed).  With the default 64 KiB,
 * the tool, the filter and the reader take turns waking each other for
 * every 64 KiB: cat | filter | cat ran at ~300 MB/s on two CPUs, and at
 * ~450 MB/s with 1 MiB pipes (a file in and out: ~480).  If the kernel
 * refuses (the user's pipe quota), the pipe stays as it is. */
#define FILTER_PIPE (1 << 20)

static void widen_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fcntl(fd, F_GETPIPE_SZ) < FILTER_PIPE)
		(void)fcntl(fd, F_SETPIPE_SZ, FILTER_PIPE);
}

static int filter_fd(struct ctx *x, int fd, const char *name)
{
	struct opts *o = x->o;
	struct scan_stream *st = NULL;
	struct scan_stream_stats ss;
	struct pollfd pfd = { fd, POLLIN, 0 };
	unsigned char *rb = NULL;
	long held = 0, r = 0;
	int lines = o->line_mode < 0 ? want_lines(1) : o->line_mode;
	double t0 = secrets_now_s();

	x->path = name;
	widen_pipe(fd);
	widen_pipe(1);
	if (!(x->obuf = malloc(READ_CHUNK))) {
		cli_error("cannot allocate the output buffer");
		r = -ENOMEM;
		goto out;
	}
	x->out_fd = 1;
	if ((r = scan_stream_new(x->s, secrets_on_output, secrets_on_filter_finding, x, &st))) {
		cli_error("cannot start the scanner: %s", strerror((int)-r));
		goto out;
	}
	(void)scan_stream_set_threads(st, filter_threads());
	for (;;) {
		ssize_t n;

		if (lines) {
			int pr = poll(&pfd, 1, held > 0 ? (int)o->hold_ms : -1);

			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				/* the input paused with a partial line: let it out */
				if ((r = scan_stream_flush(st, SCAN_FLUSH_ALL)) < 0 || (r = secrets_out_flush(x)))
					break;
				held = 0;
				continue;
			}
		}
		/* straight into the stream's locked window: no copy */
		if ((r = scan_stream_room(st, &rb)) < 0)
			break;
		n = read(fd, rb, (size_t)r);
		r = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			cli_error("secrets filter: cannot read %s%s%s: %s", fd ? "'" : "", name, fd ? "'" : "",
				  strerror(errno));
			break;
		}
		if (n == 0) {
			if ((r = scan_stream_flush(st, SCAN_FLUSH_END)) >= 0)
				r = secrets_out_flush(x);
			break;
		}
		if ((r = scan_stream_commit(st, (size_t)n)))
			break;
		if (lines) {
			/* more already waiting: read it before deciding what to emit */
			if (poll(&pfd, 1, 0) == 1 && !(pfd.revents & (POLLHUP | POLLERR)))
				continue;
			if ((held = scan_stream_flush(st, SCAN_FLUSH_LINES)) < 0) {
				r = held;
				break;
			}
			if ((r = secrets_out_flush(x)))
				break;
		}
	}
	if (r < 0 && !x->werr && r != -EPIPE)
		cli_error("filter failed: %s", strerror((int)-r));
	if (o->stats && st) {
		scan_stream_stats(st, &ss);
		print_stats(x, &ss, secrets_now_s() - t0);
	}
out:
	scan_stream_free(st);
	free(x->obuf);
	x->obuf = NULL;
	if (x->werr == -EPIPE)
		return 0;
	return r < 0 ? EXIT_USAGE : 0;
}

int secrets_filter(struct ctx *x, int argc, char **argv)
{
	int i, r = 0;

	if (optind >= argc)
		return filter_fd(x, 0, "stdin");
	for (i = optind; i < argc && !r; i++) {
		int fd = strcmp(argv[i], "-") ? open(argv[i], O_RDONLY | O_CLOEXEC) : 0;

		if (fd < 0) {
			cli_error("secrets filter: cannot open '%s': %s", argv[i], strerror(errno));
			return EXIT_USAGE;
		}
		r = filter_fd(x, fd, fd ? argv[i] : "stdin");
		if (fd)
			close(fd);
	}
	return r;
}
