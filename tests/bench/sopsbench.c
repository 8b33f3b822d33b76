/*
 * sopsbench: the SOPS benchmark's timing tool (make bench-sops).
 *
 *   sopsbench gen FILE N RECIPIENT KEYFILE   a SOPS file with N keys bench/kNNNN
 *   sopsbench open VIEW N                    open+read+close VIEW N times
 *   sopsbench changed VIEW SOPSFILE N        N times: replace SOPSFILE by a
 *                                            fresh copy (new inode), then time
 *                                            the first open+read+close of VIEW
 * Prints "p50_us=... p99_us=... n=..." and never file contents.
 */
#include "lib/compat.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "backends/backend.h"
#include "lib/config.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double one_open(const char *view)
{
	char buf[65536];
	double t = now_us();
	int fd = open(view, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		perror(view);
		exit(1);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	if (n < 0) {
		perror("read");
		exit(1);
	}
	return now_us() - t;
}

/* With BENCH_SAMPLES=FILE, every sample (µs, one a line) is appended to
 * FILE too, for the latency plots of make bench. */
static void report(double *v, int n)
{
	const char *path = getenv("BENCH_SAMPLES");
	FILE *f = path && *path ? fopen(path, "ae") : NULL;
	int i;

	for (i = 0; f && i < n; i++)
		fprintf(f, "%.1f\n", v[i]);
	if (f)
		fclose(f);
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("p50_us=%.1f p99_us=%.1f n=%d\n", v[n / 2], v[(n * 99) / 100], n);
}

static void copy(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (in < 0 || out < 0) {
		perror("copy");
		exit(1);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(1);
	close(in);
	close(out);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "gen")) {
		struct why err = WHY_INIT;
		struct harombe_config *cfg;
		struct backend_ctx ctx = { 0 };
		struct backend *be;
		struct why why = { "" };
		const char *rcpt[] = { argv[4] };
		char text[1024];
		int i, n = atoi(argv[3]);

		snprintf(text, sizeof(text), "security:\n  credentials:\n    provider: sops\n"
			 "    secrets_file: %s\n    key_file: %s\n", argv[2], argv[5]);
		if (config_load_text("bench", text, strlen(text), &cfg, &err) ||
		    (ctx.cfg = cfg, backend_create(&ctx, argv[2], rcpt, 1, &why)) ||
		    backend_open(&ctx, &be, &err))
			return fprintf(stderr, "sopsbench: %s%s\n", err.msg, why.msg), 1;
		for (i = 0; i < n; i++) {
			char key[64], val[33];
			unsigned char raw[16];

			randombytes_buf(raw, sizeof(raw));
			sodium_bin2hex(val, sizeof(val), raw, sizeof(raw));
			snprintf(key, sizeof(key), "bench/k%04d", i);
			if (backend_set(be, key, val, 32, &why))
				return fprintf(stderr, "sopsbench: set %s: %s\n", key, why.msg), 1;
		}
		backend_close(be);
		config_free(cfg);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "open")) {
		int i, n = atoi(argv[3]);
		double *v = calloc((size_t)n, sizeof(*v));

		for (i = 0; i < 50; i++)
			one_open(argv[2]);
		for (i = 0; i < n; i++)
			v[i] = one_open(argv[2]);
		report(v, n);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "changed")) {
		int i, n = atoi(argv[4]);
		double *v = calloc((size_t)n, sizeof(*v));
		char orig[4096], tmp[4200];

		snprintf(orig, sizeof(orig), "%s.orig", argv[3]);
		snprintf(tmp, sizeof(tmp), "%s.next", argv[3]);
		copy(argv[3], orig);
		one_open(argv[2]);
		for (i = 0; i < n; i++) {
			copy(orig, tmp);
			if (rename(tmp, argv[3]) != 0)
				return perror("rename"), 1;
			v[i] = one_open(argv[2]);
		}
		report(v, n);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of sopsbench.c\n");
	return 2;
}
