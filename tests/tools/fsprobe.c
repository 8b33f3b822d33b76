/*
 * fsprobe: small measurements the integration tests need and no stock tool
 * gives.  It prints numbers and counts, never file contents.
 *
 *   fsprobe hammer THREADS CYCLES FILE EXPECT_FILE
 *       THREADS threads each open/read-to-EOF/close FILE CYCLES times and
 *       compare the bytes with EXPECT_FILE (read once, kept in memory).
 *       Prints "ok=N errors=N mismatches=N"; exit 0 only when all matched.
 *   fsprobe cachestat FILE
 *       Pages of FILE in the page cache (cachestat(2)); prints "cached=N".
 *   fsprobe holdopen N FILE
 *       Opens FILE up to N times without closing; prints "opened=K errno=E"
 *       (E is the first failure's errno name or 0), closes them all, then
 *       opens once more and prints "reopen=ok" or "reopen=ERRNO".
 *   fsprobe fstatread FILE
 *       open, fstat, one read(st_size) like bash `source`: prints
 *       "size=S read=R eof=1" when a second read returns 0.
 *   fsprobe loop STOPFILE COUNTFILE FILE EXPECT_FILE
 *       Reads FILE over and over until STOPFILE exists, alternately like
 *       cat (read to EOF) and like bash `source` (fstat, read st_size,
 *       read EOF), comparing with EXPECT_FILE; writes the number of good
 *       reads to COUNTFILE now and then.  Prints "ok=N errors=N
 *       mismatches=N enotconn=N first_error=E@STEP"; exit 0 only when
 *       every read matched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

struct cachestat_range {
	unsigned long long off, len;
};
struct cachestat {
	unsigned long long nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static char *expect;
static size_t expect_len;
static const char *path;
static long cycles;

struct result {
	long ok, errors, mismatches;
};

static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, buf + got, cap - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void *hammer(void *arg)
{
	struct result *r = arg;
	size_t cap = expect_len + 4096;
	char *buf = malloc(cap);
	long i;

	for (i = 0; buf && i < cycles; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0) {
			r->errors++;
			continue;
		}
		n = read_all(fd, buf, cap);
		close(fd);
		if (n < 0)
			r->errors++;
		else if ((size_t)n != expect_len || memcmp(buf, expect, expect_len) != 0)
			r->mismatches++;
		else
			r->ok++;
	}
	if (buf) {
		memset(buf, 0, cap);
		free(buf);
	}
	return NULL;
}

static int cmd_hammer(int argc, char **argv)
{
	long threads, i;
	pthread_t *t;
	struct result *res, sum = { 0, 0, 0 };
	int fd;
	struct stat st;

	if (argc != 6)
		return 2;
	threads = atol(argv[2]);
	cycles = atol(argv[3]);
	path = argv[4];
	fd = open(argv[5], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return perror(argv[5]), 2;
	expect_len = (size_t)st.st_size;
	expect = malloc(expect_len + 1);
	if (!expect || read_all(fd, expect, expect_len) != (ssize_t)expect_len)
		return 2;
	close(fd);
	t = calloc((size_t)threads, sizeof(*t));
	res = calloc((size_t)threads, sizeof(*res));
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, hammer, &res[i]);
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		sum.ok += res[i].ok;
		sum.errors += res[i].errors;
		sum.mismatches += res[i].mismatches;
	}
	memset(expect, 0, expect_len);
	free(expect);
	free(t);
	free(res);
	printf("ok=%ld errors=%ld mismatches=%ld\n", sum.ok, sum.errors, sum.mismatches);
	return sum.errors || sum.mismatches || sum.ok != threads * cycles;
}

static int cmd_cachestat(int argc, char **argv)
{
	struct cachestat_range range = { 0, 0 };
	struct cachestat cs;
	int fd;

	if (argc != 3)
		return 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0)
		return perror(argv[2]), 2;
	memset(&cs, 0, sizeof(cs));
	if (syscall(SYS_cachestat, fd, &range, &cs, 0) != 0)
		return perror("cachestat"), 2;
	close(fd);
	printf("cached=%llu\n", cs.nr_cache);
	return 0;
}

static int cmd_holdopen(int argc, char **argv)
{
	long n, i, k = 0;
	int *fds, first = 0, fd;

	if (argc != 4)
		return 2;
	n = atol(argv[2]);
	fds = calloc((size_t)n, sizeof(*fds));
	for (i = 0; i < n; i++) {
		fds[i] = open(argv[3], O_RDONLY);
		if (fds[i] < 0) {
			first = errno;
			break;
		}
		k++;
	}
	printf("opened=%ld errno=%s\n", k, first ? strerrorname_np(first) : "0");
	for (i = 0; i < k; i++)
		close(fds[i]);
	fd = open(argv[3], O_RDONLY);
	printf("reopen=%s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
	if (fd >= 0)
		close(fd);
	free(fds);
	return 0;
}

static int cmd_fstatread(int argc, char **argv)
{
	struct stat st;
	char *buf, extra[16];
	ssize_t n, m;
	int fd;

	if (argc != 3)
		return 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return perror(argv[2]), 1;
	buf = malloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	m = read(fd, extra, sizeof(extra));
	printf("size=%lld read=%zd eof=%d\n", (long long)st.st_size, n, m == 0);
	memset(buf, 0, (size_t)st.st_size);
	free(buf);
	close(fd);
	return 0;
}

static int cmd_loop(int argc, char **argv)
{
	long ok = 0, errors = 0, mismatches = 0, enotconn = 0, i;
	int first = 0, fd, cfd;
	const char *first_at = "", *at;
	struct stat st;
	char *buf, count[32], extra[16];
	size_t cap;

	if (argc != 6)
		return 2;
	fd = open(argv[5], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return perror(argv[5]), 2;
	expect_len = (size_t)st.st_size;
	expect = malloc(expect_len + 1);
	if (!expect || read_all(fd, expect, expect_len) != (ssize_t)expect_len)
		return 2;
	close(fd);
	cfd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (cfd < 0)
		return perror(argv[3]), 2;
	/* Room for st_size as stat() reports it without an open handle. */
	cap = expect_len + (2u << 20);
	buf = malloc(cap);
	for (i = 0; buf && access(argv[2], F_OK) != 0; i++) {
		ssize_t n = -1;

		at = "open";
		fd = open(argv[4], O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && i % 2 == 0) {
			at = "read";
			n = read_all(fd, buf, cap);
		} else if (fd >= 0 && (at = "fstat", errno = EFBIG, fstat(fd, &st) == 0) &&
			   (size_t)st.st_size < cap) {
			at = "read";
			n = read(fd, buf, (size_t)st.st_size);
			if (n >= 0 && (at = "read-eof", read(fd, extra, sizeof(extra)) != 0))
				n = -1;
		}
		if (n < 0) {
			if (!first) {
				first = errno;
				first_at = at;
			}
			errors++;
			enotconn += errno == ENOTCONN;
		} else if ((size_t)n != expect_len || memcmp(buf, expect, expect_len) != 0) {
			mismatches++;
		} else {
			ok++;
		}
		if (fd >= 0)
			close(fd);
		if (i % 50 == 0) {
			int len = snprintf(count, sizeof(count), "%ld\n", ok);

			if (pwrite(cfd, count, (size_t)len, 0) != len || ftruncate(cfd, len) != 0)
				return perror(argv[3]), 2;
		}
	}
	close(cfd);
	if (buf) {
		memset(buf, 0, cap);
		free(buf);
	}
	memset(expect, 0, expect_len);
	free(expect);
	printf("ok=%ld errors=%ld mismatches=%ld enotconn=%ld first_error=%s%s%s\n", ok, errors,
	       mismatches, enotconn, first ? strerrorname_np(first) : "0", first ? "@" : "", first_at);
	return errors || mismatches || !ok;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "loop"))
		return cmd_loop(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "hammer"))
		return cmd_hammer(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "cachestat"))
		return cmd_cachestat(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "holdopen"))
		return cmd_holdopen(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "fstatread"))
		return cmd_fstatread(argc, argv);
	fprintf(stderr, "usage: fsprobe hammer|cachestat|holdopen|fstatread|loop ...\n");
	return 2;
}
