/*
 * A gateway that redacts a tool's output with libharombe-scan.
 *
 *   cc -o scan-example scan-example.c $(pkg-config --cflags --libs harombe-scan)
 *   some-tool | ./scan-example
 *
 * It copies stdin to stdout with secrets replaced by [REDACTED:type], and
 * reports each finding on stderr by type and position, never by value.
 */
#include <stdio.h>
#include <unistd.h>
#include <harombe/scan.h>

static int out(void *arg, const void *data, size_t len)
{
	(void)arg;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int found(void *arg, const struct scan_finding *f)
{
	(void)arg;
	fprintf(stderr, "redacted %s (rule %s, confidence %.2f) at line %llu\n", f->type, f->rule,
		f->confidence, (unsigned long long)f->line);
	return 0;
}

int main(void)
{
	struct scan_options opts = SCAN_OPTIONS_INIT;
	struct scan *s;
	struct scan_stream *st;
	char err[512], buf[65536];
	ssize_t n;

	opts.replacement = "[REDACTED:{type}]";
	if (scan_new(&opts, &s, err, sizeof(err)) || scan_compile(s, err, sizeof(err))) {
		fprintf(stderr, "scan-example: %s\n", err);
		return 2;
	}
	if (scan_stream_new(s, out, found, NULL, &st))
		return 2;
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (scan_stream_write(st, buf, (size_t)n))
			return 2;
		/* emit complete lines now: the next tool call should not wait */
		if (scan_stream_flush(st, SCAN_FLUSH_LINES) < 0)
			return 2;
		fflush(stdout);
	}
	if (scan_stream_flush(st, SCAN_FLUSH_END) < 0)
		return 2;
	scan_stream_free(st);
	scan_free(s);
	return 0;
}
