/*
 * vaultbench: the measurements behind tests/bench/vault.sh.  Prints numbers,
 * never file contents or secret values.
 *
 *   vaultbench rtt URL TOKEN N
 *       N sequential GETs of URL over one keep-alive connection (libcurl);
 *       prints "p50_us=.. p99_us=.. n=N".
 *   vaultbench multi URL TOKEN N PAR
 *       N rounds of PAR parallel GETs of URL0..URL<PAR-1> (URL + the digit)
 *       with a libcurl multi handle and keep-alive: the floor a client can
 *       reach against this server; prints "p50_us=.. p99_us=.. n=N".
 *   vaultbench open FILE N
 *       N sequential open/read-to-EOF/close of FILE;
 *       prints "p50_us=.. p99_us=.. n=N errors=E".
 *   vaultbench burst FILE THREADS OPENS
 *       THREADS threads each do OPENS open/read/close of FILE at once;
 *       prints "opens=.. errors=.. wall_ms=..".
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
#include <curl/curl.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* With BENCH_SAMPLES=FILE, every sample (µs, one a line) is appended to
 * FILE too, for the latency plots of make bench. */
static void report(long long *t, int n, const char *extra)
{
	const char *path = getenv("BENCH_SAMPLES");
	FILE *f = path && *path ? fopen(path, "ae") : NULL;
	int i;

	for (i = 0; f && i < n; i++)
		fprintf(f, "%lld\n", t[i]);
	if (f)
		fclose(f);
	qsort(t, (size_t)n, sizeof(*t), cmp_ll);
	printf("p50_us=%lld p99_us=%lld n=%d%s\n", t[n / 2], t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
	       n, extra);
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return s * n;
}

static int rtt(const char *url, const char *token, int n)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char line[512];
	long long *t = calloc((size_t)n, sizeof(*t));
	long status = 0;
	int i;

	if (!h || !t)
		return 1;
	snprintf(line, sizeof(line), "X-Vault-Token: %s", token);
	hdr = curl_slist_append(hdr, line);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	for (i = -5; i < n; i++) {	/* 5 warm-up requests open the connection */
		long long t0 = now_us();

		if (curl_easy_perform(h) != CURLE_OK)
			return fprintf(stderr, "vaultbench: GET failed\n"), 1;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			return fprintf(stderr, "vaultbench: HTTP %ld\n", status), 1;
		if (i >= 0)
			t[i] = now_us() - t0;
	}
	report(t, n, "");
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(t);
	return 0;
}

static int multi(const char *url, const char *token, int n, int par)
{
	CURLM *m = curl_multi_init();
	CURL *h[64];
	struct curl_slist *hdr = NULL;
	char line[512], u[1024];
	long long *t = calloc((size_t)n, sizeof(*t));
	int i, k, running;

	if (!m || !t || par < 1 || par > 64)
		return 1;
	snprintf(line, sizeof(line), "X-Vault-Token: %s", token);
	hdr = curl_slist_append(hdr, line);
	for (k = 0; k < par; k++) {
		h[k] = curl_easy_init();
		snprintf(u, sizeof(u), "%s%d", url, k);
		curl_easy_setopt(h[k], CURLOPT_URL, u);
		curl_easy_setopt(h[k], CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h[k], CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h[k], CURLOPT_NOSIGNAL, 1L);
	}
	for (i = -5; i < n; i++) {
		long long t0 = now_us();
		CURLMsg *msg;
		int left;

		for (k = 0; k < par; k++)
			curl_multi_add_handle(m, h[k]);
		do {
			curl_multi_perform(m, &running);
			if (running)
				curl_multi_poll(m, NULL, 0, 1000, NULL);
		} while (running);
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
				return fprintf(stderr, "vaultbench: GET failed\n"), 1;
		for (k = 0; k < par; k++)
			curl_multi_remove_handle(m, h[k]);
		if (i >= 0)
			t[i] = now_us() - t0;
	}
	report(t, n, "");
	for (k = 0; k < par; k++)
		curl_easy_cleanup(h[k]);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	free(t);
	return 0;
}

static int read_all(const char *file)
{
	char buf[65536];
	ssize_t r;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return r < 0 ? -1 : 0;
}

static int opens(const char *file, int n)
{
	long long *t = calloc((size_t)n, sizeof(*t));
	char extra[64];
	int i, errors = 0;

	if (!t)
		return 1;
	read_all(file);	/* warm-up */
	for (i = 0; i < n; i++) {
		long long t0 = now_us();

		if (read_all(file) != 0)
			errors++;
		t[i] = now_us() - t0;
	}
	snprintf(extra, sizeof(extra), " errors=%d", errors);
	report(t, n, extra);
	free(t);
	return errors != 0;
}

struct worker {
	const char *file;
	int n;
	int errors;
	pthread_barrier_t *go;
};

static void *burst_worker(void *arg)
{
	struct worker *w = arg;
	int i;

	pthread_barrier_wait(w->go);
	for (i = 0; i < w->n; i++)
		if (read_all(w->file) != 0)
			w->errors++;
	return NULL;
}

static int burst(const char *file, int threads, int n)
{
	pthread_t *t = calloc((size_t)threads, sizeof(*t));
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_barrier_t go;
	long long t0;
	int i, errors = 0;

	if (!t || !w)
		return 1;
	pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ file, n, 0, &go };
		pthread_create(&t[i], NULL, burst_worker, &w[i]);
	}
	t0 = now_us();
	pthread_barrier_wait(&go);
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	printf("opens=%d errors=%d wall_ms=%lld\n", threads * n, errors, (now_us() - t0) / 1000);
	free(t);
	free(w);
	return errors != 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "rtt"))
		return rtt(argv[2], argv[3], atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "multi"))
		return multi(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "open"))
		return opens(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "burst"))
		return burst(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: vaultbench rtt URL TOKEN N | multi URL TOKEN N PAR | open FILE N | "
			"burst FILE THREADS OPENS\n");
	return 2;
}
