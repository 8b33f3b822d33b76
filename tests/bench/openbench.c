/*
 * openbench: open + read to EOF + close of one file, timed per cycle.
 *   openbench FILE THREADS CYCLES_PER_THREAD
 * Prints: "threads=T ops=N p50_us=.. p99_us=.. ops_per_s=.." (one line);
 * with BENCH_SAMPLES=FILE it also appends every cycle's µs to FILE.
 * Each cycle is what `cat FILE` does to the file; a cycle that fails or
 * reads nothing aborts the run (a benchmark of errors is no benchmark).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static long cycles;

struct worker {
	pthread_t t;
	double *lat;
	int failed;
	long at;
	char why[160];
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static __thread char why[160];

static int cycle(char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0) {
		snprintf(why, sizeof(why), "open: %s", strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, len)) > 0)
		total += n;
	if (n < 0)
		snprintf(why, sizeof(why), "read after %zd bytes: %s", total, strerror(errno));
	else if (total == 0)
		snprintf(why, sizeof(why), "read returned end of file at offset 0");
	close(fd);
	return n < 0 || total == 0 ? -1 : 0;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	static __thread char buf[65536];
	long i;

	for (i = 0; i < cycles / 10 + 100; i++)	/* warm up */
		if (cycle(buf, sizeof(buf)) != 0)
			goto fail;
	for (i = 0; i < cycles; i++) {
		double t0 = now_us();

		if (cycle(buf, sizeof(buf)) != 0)
			goto fail;
		w->lat[i] = now_us() - t0;
	}
	return NULL;
fail:
	w->failed = 1;
	w->at = i;
	memcpy(w->why, why, sizeof(w->why));
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long threads, i, n;
	struct worker *w;
	double *all, t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: openbench FILE THREADS CYCLES_PER_THREAD\n");
		return 2;
	}
	path = argv[1];
	threads = atol(argv[2]);
	cycles = atol(argv[3]);
	w = calloc((size_t)threads, sizeof(*w));
	for (i = 0; i < threads; i++)
		w[i].lat = calloc((size_t)cycles, sizeof(double));
	t0 = now_us();
	for (i = 0; i < threads; i++)
		pthread_create(&w[i].t, NULL, run, &w[i]);
	for (i = 0; i < threads; i++)
		pthread_join(w[i].t, NULL);
	t1 = now_us();
	n = threads * cycles;
	all = malloc((size_t)n * sizeof(double));
	for (i = 0; i < threads; i++) {
		if (w[i].failed) {
			fprintf(stderr, "openbench: cycle %ld on %s failed: %s\n", w[i].at, path, w[i].why);
			return 1;
		}
		memcpy(all + i * cycles, w[i].lat, (size_t)cycles * sizeof(double));
	}
	/* With BENCH_SAMPLES=FILE, every cycle's time (µs, one a line) is
	 * appended to FILE too, for the latency plots of make bench. */
	if (getenv("BENCH_SAMPLES") && *getenv("BENCH_SAMPLES")) {
		FILE *f = fopen(getenv("BENCH_SAMPLES"), "ae");

		for (i = 0; f && i < n; i++)
			fprintf(f, "%.1f\n", all[i]);
		if (f)
			fclose(f);
	}
	qsort(all, (size_t)n, sizeof(double), cmp);
	/* warm-up time is included in t1 - t0; ops/s from the timed part only */
	double sum = 0;
	for (i = 0; i < n; i++)
		sum += all[i];
	printf("threads=%ld ops=%ld p50_us=%.1f p99_us=%.1f ops_per_s=%.0f\n", threads, n,
	       all[n / 2], all[n * 99 / 100], (double)n / (sum / (double)threads / 1e6));
	(void)t1;
	(void)t0;
	return 0;
}
