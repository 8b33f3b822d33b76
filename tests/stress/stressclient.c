/*
 * stressclient: open/read/close cycles on every file of every view of one
 * or more harombefs mounts, from many threads, for a bounded time.
 *
 *   stressclient SECONDS THREADS GROUP=MOUNT[:PHASEFILE] ...
 *
 * Each GROUP gets THREADS threads.  At the start every file under MOUNT
 * (MOUNT/<view>/{env,docker.env,env.json,secrets/<NAME>}) is read until it
 * reads without error (the store is healthy then): that content is the
 * truth, and every later successful read must return exactly it.  PHASEFILE,
 * when given, holds the name of what is being done to the store right now
 * ("normal", "sealed", ...); it is re-read every 20 ms, and every cycle is
 * counted under the phase it started and ended in, or under "switching"
 * when the phase changed while it ran (whoever changes the phase writes
 * "switching" first and waits longer than 20 ms before touching the store).
 *
 * Output, one line per group and phase, then one per group:
 *   group=G phase=P opens=N ok=N wrong=N p50_us=.. p99_us=.. max_us=.. errors=EIO:3,ENOMEM:1
 * (errors counts failed opens by errno, and reads that failed after a
 * successful open as read_<errno>.)  With SAMPLES_DIR set, every open latency
 * is written to SAMPLES_DIR/<group>.<phase>.dat (one value in µs a line).
 * With READY_FILE set, that file is created once the truth is known and
 * the timed run starts.
 * Exit status: 0, or 1 when any read returned wrong content (the path and
 * the lengths are printed, never the content), 2 on usage or setup errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PHASES 32
#define MAX_GROUPS 8
#define MAX_ERRNO 140

struct file {
	char *path;
	unsigned char *truth;
	size_t len;
};

struct samples {
	double *v;
	size_t n, cap;
};

struct tally {
	unsigned long opens, ok, wrong;
	unsigned long open_err[MAX_ERRNO];
	unsigned long read_err[MAX_ERRNO];
	struct samples lat;
};

struct group {
	char name[64];
	char mount[1024];
	char phasefile[1024];
	struct file *files;
	size_t nfiles;
	int phase;		/* index into phases[], atomic */
};

struct worker {
	pthread_t t;
	struct group *g;
	unsigned int seed;
	struct tally tally[MAX_PHASES];
};

static struct group groups[MAX_GROUPS];
static int ngroups;
static char phases[MAX_PHASES][64];
static int nphases;
static pthread_mutex_t phase_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen[MAX_GROUPS][MAX_PHASES][MAX_ERRNO];	/* first failure reported */
static double start_us;
static volatile int stop;	/* written by main, read by workers: atomic accesses */
static double deadline_us;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q) {
		fprintf(stderr, "stressclient: out of memory\n");
		exit(2);
	}
	return q;
}

static int phase_index(const char *name)
{
	int i;

	pthread_mutex_lock(&phase_lock);
	for (i = 0; i < nphases; i++)
		if (!strcmp(phases[i], name))
			goto out;
	if (nphases == MAX_PHASES) {
		i = MAX_PHASES - 1;	/* folded into the last one */
		goto out;
	}
	snprintf(phases[nphases], sizeof(phases[0]), "%s", name);
	i = nphases++;
out:
	pthread_mutex_unlock(&phase_lock);
	return i;
}

static void add_file(struct group *g, const char *path)
{
	g->files = xrealloc(g->files, (g->nfiles + 1) * sizeof(*g->files));
	memset(&g->files[g->nfiles], 0, sizeof(g->files[0]));
	g->files[g->nfiles].path = strdup(path);
	g->nfiles++;
}

static void discover(struct group *g)
{
	static const char *const view_files[] = { "env", "docker.env", "env.json" };
	DIR *d = opendir(g->mount), *s;
	struct dirent *e, *f;
	char path[2048];
	size_t i;

	if (!d) {
		fprintf(stderr, "stressclient: cannot list %s: %s\n", g->mount, strerror(errno));
		exit(2);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		for (i = 0; i < sizeof(view_files) / sizeof(view_files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s/%s", g->mount, e->d_name, view_files[i]);
			add_file(g, path);
		}
		snprintf(path, sizeof(path), "%s/%s/secrets", g->mount, e->d_name);
		if (!(s = opendir(path)))
			continue;
		while ((f = readdir(s))) {
			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/secrets/%s", g->mount, e->d_name, f->d_name);
			add_file(g, path);
		}
		closedir(s);
	}
	closedir(d);
	if (!g->nfiles) {
		fprintf(stderr, "stressclient: no views under %s\n", g->mount);
		exit(2);
	}
}

/* Read a whole file: 0 and *out (malloc) or -errno (open) / -10000-errno (read). */
static int slurp(const char *path, unsigned char **out, size_t *len, size_t hint)
{
	size_t cap = hint ? hint + 1 : 4096, used = 0;
	unsigned char *buf = xrealloc(NULL, cap);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	for (;;) {
		if (used == cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			r = -10000 - errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = used;
	return 0;
}

static void learn_truth(struct group *g)
{
	size_t i;
	double until = now_us() + 15e6;
	int r;

	for (i = 0; i < g->nfiles; i++) {
		struct file *f = &g->files[i];

		while ((r = slurp(f->path, &f->truth, &f->len, 0)) != 0) {
			if (now_us() > until) {
				fprintf(stderr, "stressclient: %s never read cleanly at the start (last: %s)\n",
					f->path, strerror(r < -10000 ? -r - 10000 : -r));
				exit(2);
			}
			usleep(50000);
		}
	}
}

static void *phase_watcher(void *arg)
{
	char name[64];
	int i;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < ngroups; i++) {
			FILE *f;

			if (!groups[i].phasefile[0])
				continue;
			if (!(f = fopen(groups[i].phasefile, "re")))
				continue;
			if (fgets(name, sizeof(name), f)) {
				name[strcspn(name, "\n")] = 0;
				if (name[0])
					__atomic_store_n(&groups[i].phase, phase_index(name), __ATOMIC_RELEASE);
			}
			fclose(f);
		}
		usleep(20000);
	}
	return NULL;
}

static void sample(struct samples *s, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = v;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct group *g = w->g;
	int switching = phase_index("switching");
	unsigned char *buf;
	size_t len;
	int r;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED) && now_us() < deadline_us) {
		struct file *f = &g->files[rand_r(&w->seed) % g->nfiles];
		int ph = __atomic_load_n(&g->phase, __ATOMIC_ACQUIRE);
		struct tally *t;
		double t0 = now_us();

		r = slurp(f->path, &buf, &len, f->len);
		if (__atomic_load_n(&g->phase, __ATOMIC_ACQUIRE) != ph)
			ph = switching;
		t = &w->tally[ph];
		t->opens++;
		sample(&t->lat, now_us() - t0);
		if (r <= -10000) {
			t->read_err[(-r - 10000) % MAX_ERRNO]++;
			continue;
		}
		if (r < 0) {
			int e = -r % MAX_ERRNO;

			t->open_err[e]++;
			if (!__atomic_exchange_n(&seen[g - groups][ph][e], 1, __ATOMIC_RELAXED))
				fprintf(stderr, "stressclient: first %s of phase %s: %s at +%.1f s\n",
					strerrorname_np(e) ? strerrorname_np(e) : "E?", phases[ph], f->path,
					(t0 - start_us) / 1e6);
			continue;
		}
		if (len != f->len || memcmp(buf, f->truth, len) != 0) {
			t->wrong++;
			fprintf(stderr, "stressclient: WRONG CONTENT from %s: %zu bytes, expected %zu (%s)\n",
				f->path, len, f->len, len == f->len ? "same length, other bytes" : "length differs");
		} else {
			t->ok++;
		}
		free(buf);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void merge(struct tally *into, const struct tally *t)
{
	size_t i;

	into->opens += t->opens;
	into->ok += t->ok;
	into->wrong += t->wrong;
	for (i = 0; i < MAX_ERRNO; i++) {
		into->open_err[i] += t->open_err[i];
		into->read_err[i] += t->read_err[i];
	}
	for (i = 0; i < t->lat.n; i++)
		sample(&into->lat, t->lat.v[i]);
}

static void dump_samples(const char *group, const char *phase, const struct samples *s)
{
	const char *dir = getenv("SAMPLES_DIR");
	char path[2048];
	FILE *f;
	size_t i;

	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s.dat", dir, group, phase);
	if (!(f = fopen(path, "we")))
		return;
	for (i = 0; i < s->n; i++)
		fprintf(f, "%.1f\n", s->v[i]);
	fclose(f);
}

static void report(const char *group, const char *phase, struct tally *t)
{
	const char *sep = "";
	size_t n = t->lat.n, i;

	qsort(t->lat.v, n, sizeof(double), cmp_double);
	printf("group=%s phase=%s opens=%lu ok=%lu wrong=%lu p50_us=%.0f p99_us=%.0f max_us=%.0f errors=", group,
	       phase, t->opens, t->ok, t->wrong, n ? t->lat.v[n / 2] : 0, n ? t->lat.v[n * 99 / 100] : 0,
	       n ? t->lat.v[n - 1] : 0);
	for (i = 1; i < MAX_ERRNO; i++) {
		const char *name = strerrorname_np((int)i);

		if (t->open_err[i]) {
			printf("%s%s:%lu", sep, name ? name : "E?", t->open_err[i]);
			sep = ",";
		}
		if (t->read_err[i]) {
			printf("%sread_%s:%lu", sep, name ? name : "E?", t->read_err[i]);
			sep = ",";
		}
	}
	printf("%s\n", *sep ? "" : "none");
	dump_samples(group, phase, &t->lat);
}

int main(int argc, char **argv)
{
	struct worker *w;
	pthread_t watcher;
	long secs, threads, i, k;
	unsigned long wrong = 0;
	int gi, p;

	if (argc < 4) {
		fprintf(stderr, "usage: stressclient SECONDS THREADS GROUP=MOUNT[:PHASEFILE] ...\n");
		return 2;
	}
	secs = atol(argv[1]);
	threads = atol(argv[2]);
	if (secs <= 0 || threads <= 0 || argc - 3 > MAX_GROUPS) {
		fprintf(stderr, "stressclient: bad SECONDS, THREADS or too many groups\n");
		return 2;
	}
	phase_index("normal");
	for (i = 3; i < argc; i++) {
		struct group *g = &groups[ngroups++];
		char *eq = strchr(argv[i], '='), *colon;

		if (!eq) {
			fprintf(stderr, "stressclient: '%s' is not GROUP=MOUNT[:PHASEFILE]\n", argv[i]);
			return 2;
		}
		*eq = 0;
		snprintf(g->name, sizeof(g->name), "%s", argv[i]);
		if ((colon = strchr(eq + 1, ':'))) {
			*colon = 0;
			snprintf(g->phasefile, sizeof(g->phasefile), "%s", colon + 1);
		}
		snprintf(g->mount, sizeof(g->mount), "%s", eq + 1);
		discover(g);
		learn_truth(g);
		fprintf(stderr, "stressclient: %s: %zu files under %s\n", g->name, g->nfiles, g->mount);
	}

	w = calloc((size_t)(threads * ngroups), sizeof(*w));
	if (!w)
		return 2;
	start_us = now_us();
	deadline_us = start_us + (double)secs * 1e6;
	if (getenv("READY_FILE") && *getenv("READY_FILE")) {
		FILE *f = fopen(getenv("READY_FILE"), "we");

		if (f)
			fclose(f);
	}
	pthread_create(&watcher, NULL, phase_watcher, NULL);
	for (gi = 0, k = 0; gi < ngroups; gi++) {
		for (i = 0; i < threads; i++, k++) {
			w[k].g = &groups[gi];
			w[k].seed = (unsigned int)(k * 7919 + 17);
			pthread_create(&w[k].t, NULL, run, &w[k]);
		}
	}
	for (k = 0; k < threads * ngroups; k++)
		pthread_join(w[k].t, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(watcher, NULL);

	for (gi = 0; gi < ngroups; gi++) {
		struct tally total;

		memset(&total, 0, sizeof(total));
		for (p = 0; p < nphases; p++) {
			struct tally t;

			memset(&t, 0, sizeof(t));
			for (k = 0; k < threads * ngroups; k++)
				if (w[k].g == &groups[gi])
					merge(&t, &w[k].tally[p]);
			if (!t.opens)
				continue;
			merge(&total, &t);
			report(groups[gi].name, phases[p], &t);
			free(t.lat.v);
		}
		wrong += total.wrong;
		report(groups[gi].name, "all", &total);
		free(total.lat.v);
	}
	return wrong ? 1 : 0;
}
