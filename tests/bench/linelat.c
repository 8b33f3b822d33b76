#include "lib/compat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Line latency through a filter: the time from writing one line into its
 * stdin to reading that line (redacted) from its stdout, with the filter's
 * output a pipe, as an agent gateway would read it.
 *
 *   linelat N COMMAND [ARGS...]       prints p50, p90, p99 and max in µs
 *
 * Every tenth line carries a (generated, fake) secret.  The first line is
 * written as soon as the filter is started, so its time includes the
 * filter's start-up (loading and compiling its rules): it is reported on
 * its own, and the statistics are over the lines after it.
 */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int in[2], out[2], i, n;
	double *lat, first;
	pid_t pid;
	char line[256], buf[4096];

	if (argc < 3 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: linelat N COMMAND [ARGS...]\n");
		return 2;
	}
	if (pipe(in) || pipe(out) || !(lat = calloc((size_t)n, sizeof(*lat))))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srand(7);
	for (i = 0; i < n; i++) {
		size_t len, got = 0;
		double t0;

		if (i % 10 == 9) {
			char tok[37];
			int k;

			for (k = 0; k < 36; k++)
				tok[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rand() % 62];
			tok[36] = 0;
			len = (size_t)snprintf(line, sizeof(line), "step %d: export GITHUB_TOKEN=gh%s_%s\n", i, "p", tok);
		} else {
			len = (size_t)snprintf(line, sizeof(line),
					       "2024-05-01T12:00:00Z INFO [worker-%d] request %d completed in %d ms\n",
					       i % 8, i, rand() % 900);
		}
		t0 = now_us();
		if (write(in[1], line, len) != (ssize_t)len)
			return 1;
		/* read until the newline of this line comes back */
		for (;;) {
			ssize_t r = read(out[0], buf + got, sizeof(buf) - got);

			if (r <= 0) {
				fprintf(stderr, "linelat: the filter closed its output after %d lines\n", i);
				return 1;
			}
			got += (size_t)r;
			if (buf[got - 1] == '\n')
				break;
		}
		lat[i] = now_us() - t0;
		/* a pause between lines, as a tool that prints as it goes */
		if (i % 50 == 0)
			usleep(1000);
	}
	close(in[1]);
	waitpid(pid, NULL, 0);
	if (n < 2) {
		printf("lines %d first %.0f us\n", n, lat[0]);
		free(lat);
		return 0;
	}
	first = lat[0];
	n--;
	qsort(lat + 1, (size_t)n, sizeof(*lat), cmp);
	printf("lines %d p50 %.0f p90 %.0f p99 %.0f max %.0f us first %.0f us\n", n, lat[1 + n / 2],
	       lat[1 + n * 9 / 10], lat[1 + n * 99 / 100], lat[n], first);
	free(lat);
	return 0;
}
