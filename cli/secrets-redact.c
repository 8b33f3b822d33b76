/* harombe secrets redact: a redacted copy of one file, to --output or
 * over the file itself (--in-place), never half-written. */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/secbuf.h"
#include "scan/scan.h"

int secrets_redact(struct ctx *x, int argc, char **argv)
{
	struct opts *o = x->o;
	const char *in, *target;
	char tmp[PATH_MAX];
	struct stat ist, ost;
	struct scan_stream *st = NULL;
	unsigned char *rb = NULL;
	int ifd = -1, ofd = -1, to_stdout = 0, made = 0, r = 0;
	long lr = 0;

	if (argc - optind != 1 || (!o->output && !o->in_place) || (o->output && o->in_place)) {
		cli_error("usage: harombe secrets redact FILE (--output OUT | --in-place)");
		return EXIT_USAGE;
	}
	in = argv[optind];
	target = o->in_place ? in : o->output;
	to_stdout = !strcmp(target, "-");
	x->path = in;
	if ((ifd = open(in, O_RDONLY | O_CLOEXEC)) < 0 || fstat(ifd, &ist) != 0 || !S_ISREG(ist.st_mode)) {
		cli_error("cannot read '%s': %s", in, ifd < 0 ? strerror(errno) : "not a regular file");
		r = EXIT_USAGE;
		goto out;
	}
	if (!o->in_place && !to_stdout && stat(target, &ost) == 0 && ost.st_dev == ist.st_dev &&
	    ost.st_ino == ist.st_ino) {
		cli_error("--output '%s' is the input file: use --in-place to change it", target);
		r = EXIT_USAGE;
		goto out;
	}
	if (to_stdout) {
		ofd = 1;
	} else {
		/* a temporary file beside the target, renamed over it when complete */
		const char *slash = strrchr(target, '/');
		int dl = slash ? (int)(slash - target) : 0;

		snprintf(tmp, sizeof(tmp), "%.*s%s.%s.harombe-XXXXXX", dl, target, slash ? "/" : "",
			 slash ? slash + 1 : target);
		if ((ofd = mkostemp(tmp, O_CLOEXEC)) < 0) {
			cli_error("cannot create a temporary file beside '%s': %s", target, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		made = 1;
		if (fchmod(ofd, ist.st_mode & 07777) != 0 ||
		    (o->in_place && geteuid() == 0 && fchown(ofd, ist.st_uid, ist.st_gid) != 0)) {
			cli_error("cannot set the mode of '%s': %s", tmp, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
	}
	x->out_fd = ofd;
	if (!(rb = secmem_alloc(READ_CHUNK)) || !(x->obuf = malloc(READ_CHUNK)) ||
	    scan_stream_new(x->s, secrets_on_output, secrets_on_filter_finding, x, &st)) {
		cli_error("cannot start the scanner");
		r = EXIT_USAGE;
		goto out;
	}
	for (;;) {
		ssize_t n = read(ifd, rb, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read '%s': %s", in, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		if (n == 0)
			break;
		if ((lr = scan_stream_write(st, rb, (size_t)n)))
			break;
	}
	if (lr || (lr = scan_stream_flush(st, SCAN_FLUSH_END)) < 0 || secrets_out_flush(x)) {
		cli_error("cannot write the redacted copy of '%s': %s", in,
			  strerror(x->werr ? -x->werr : (int)-lr));
		r = EXIT_USAGE;
		goto out;
	}
	if (!to_stdout) {
		char dir[PATH_MAX];
		const char *slash = strrchr(target, '/');
		int dfd;

		if (fsync(ofd) != 0 || rename(tmp, target) != 0) {
			cli_error("cannot replace '%s': %s", target, strerror(errno));
			r = EXIT_USAGE;
			goto out;
		}
		made = 0;	/* it is the target now */
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - target) + 1 : 1, slash ? target : ".");
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (!o->quiet)
		fprintf(stderr, "harombe: %s: %zu secret%s redacted%s%s\n", in, x->findings,
			x->findings == 1 ? "" : "s", to_stdout ? "" : ", written to ", to_stdout ? "" : target);
out:
	/* a failure leaves no half-written copy behind */
	if (made)
		unlink(tmp);
	if (ofd > 1)
		close(ofd);
	if (ifd >= 0)
		close(ifd);
	scan_stream_free(st);
	secmem_free(rb);
	free(x->obuf);
	x->obuf = NULL;
	return r;
}
