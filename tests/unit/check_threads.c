#include "lib/compat.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "backends/backend-internal.h"
#include "lib/config.h"
#include "lib/secbuf.h"
#include "lib/workq.h"
#include "tests/mock/mock.h"
#include "tests/unit/unit.h"
#include "tests/unit/vaultsrv.h"

/*
 * The threaded parts, driven hard from many threads at once: the work
 * queue, the cache's single flight (with forget() racing it), and the Vault
 * backend's HTTP worker shared by concurrent batches while its renewal
 * thread runs.  Each test asserts what every thread got; `make check-tsan`
 * runs this binary under ThreadSanitizer, which is what these tests are
 * really for: a data race fails the run even when every value was right.
 */

#define THREADS 8

/* ---- workq ---- */

struct wq_state {
	struct workq *q;
	unsigned long ran;		/* atomic */
	unsigned long requeued;		/* atomic */
	unsigned long sum;		/* atomic: sum of job arguments */
};

static struct wq_state wq;

static void job(void *arg)
{
	__atomic_add_fetch(&wq.sum, (unsigned long)(uintptr_t)arg, __ATOMIC_RELAXED);
	__atomic_add_fetch(&wq.ran, 1, __ATOMIC_RELAXED);
}

/* A job that queues another from inside a worker (as a retry would). */
static void job_requeue(void *arg)
{
	if (workq_push(wq.q, job, arg) == 0)
		__atomic_add_fetch(&wq.requeued, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&wq.ran, 1, __ATOMIC_RELAXED);
}

/* 2000 jobs, every 100th of which requeues itself once. */
static void *producer(void *arg)
{
	long i, failed = 0;

	(void)arg;
	for (i = 1; i <= 2000; i++)
		failed += workq_push(wq.q, i % 100 ? job : job_requeue, (void *)(uintptr_t)1) != 0;
	return (void *)(intptr_t)failed;
}

START_TEST(test_workq_many_producers)
{
	pthread_t t[THREADS];
	long i;

	memset(&wq, 0, sizeof(wq));
	ck_assert_int_eq(workq_new(3, &wq.q), 0);
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i), 0);
	for (i = 0; i < THREADS; i++) {
		void *failed;

		pthread_join(t[i], &failed);
		ck_assert_ptr_null(failed);
	}
	/* Let the requeued jobs be queued and run: a push once workq_free has
	 * begun is refused (-ESHUTDOWN), by design. */
	for (i = 0; i < 2000 && __atomic_load_n(&wq.ran, __ATOMIC_RELAXED) < THREADS * 2000 + THREADS * 20; i++)
		usleep(5000);
	workq_free(wq.q);	/* runs what is still queued */
	ck_assert_uint_eq(wq.requeued, THREADS * 20);
	ck_assert_uint_eq(wq.ran, THREADS * 2000 + wq.requeued);
	/* every job but the requeuing ones adds 1 */
	ck_assert_uint_eq(wq.sum, THREADS * 2000 - THREADS * 20 + wq.requeued);
}
END_TEST

/* ---- the cache's single flight, over the mock store ---- */

static char store_dir[64];
static struct harombe_config *cfg;
static struct backend *be;

static void put_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", store_dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void mock_open_cached(unsigned int delay_ms, uint64_t ttl_ms)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	char yaml[512];
	int i;

	snprintf(store_dir, sizeof(store_dir), "/tmp/harombe-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(store_dir));
	for (i = 0; i < 4; i++) {
		char name[32], value[64];

		snprintf(name, sizeof(name), "k%%2F%d", i);
		snprintf(value, sizeof(value), "value-of-k/%d", i);
		put_file(name, value);
	}
	snprintf(yaml, sizeof(yaml), "security:\n  credentials:\n    provider: mock\n    mock_dir: %s\n"
				      "    mock_delay_ms: %u\n", store_dir, delay_ms);
	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &cfg, &err), 0);
	ctx.cfg = cfg;
	ctx.source = "test";
	ck_assert_msg(backend_open(&ctx, &be, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(backend_wrap_cache(&be, ttl_ms, 0), 0);
}

static void mock_close(void)
{
	char cmd[128];

	backend_close(be);
	config_free(cfg);
	be = NULL;
	cfg = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t gets_logged(void)
{
	char path[256], line[128];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/_gets", store_dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

struct reader {
	pthread_t t;
	int rounds;
	int bad;		/* wrong value or unexpected error */
	int forgetter;
};

static void *read_keys(void *arg)
{
	struct reader *r = arg;
	const char *keys[4] = { "k/0", "k/1", "k/2", "k/3" };
	struct secbuf *outs[4];
	int rcs[4], i, k;

	for (i = 0; i < r->rounds; i++) {
		if (r->forgetter) {
			backend_forget(be, i % 2 ? "k/1" : NULL);
			usleep(500);
			continue;
		}
		if (backend_get_many(be, 4, keys, outs, rcs, NULL) != 0) {
			r->bad++;
			continue;
		}
		for (k = 0; k < 4; k++) {
			char want[64];

			snprintf(want, sizeof(want), "value-of-%s", keys[k]);
			if (!secbuf_equal(outs[k], want, strlen(want)))
				r->bad++;
			secbuf_free(outs[k]);
		}
	}
	return NULL;
}

static void run_readers(int rounds, int with_forgetter)
{
	struct reader r[THREADS + 1];
	int i, n = THREADS + (with_forgetter ? 1 : 0);

	memset(r, 0, sizeof(r));
	for (i = 0; i < n; i++) {
		r[i].rounds = rounds;
		r[i].forgetter = i == THREADS;
		ck_assert_int_eq(pthread_create(&r[i].t, NULL, read_keys, &r[i]), 0);
	}
	for (i = 0; i < n; i++) {
		pthread_join(r[i].t, NULL);
		ck_assert_msg(r[i].bad == 0, "reader %d got %d wrong results", i, r[i].bad);
	}
}

/* Concurrent gets of the same keys from a slow store share fetches. */
START_TEST(test_single_flight_shares)
{
	struct secmem_stats before, after;

	secmem_get_stats(&before);
	mock_open_cached(30, 0);
	put_file("_gets", "");
	run_readers(10, 0);
	/* 8 threads x 10 rounds x 4 keys = 320 gets; a flight lasts 30 ms, so
	 * the threads of one round share it: far fewer fetches than gets */
	ck_assert_msg(gets_logged() < 320 / 2, "%zu fetches for 320 gets", gets_logged());
	mock_close();
	secmem_get_stats(&after);
	ck_assert_uint_eq(after.in_use, before.in_use);
}
END_TEST

/* forget() racing fetches, joins and a ttl cache: every caller still gets
 * the right value and nothing leaks. */
START_TEST(test_forget_races_flights)
{
	struct secmem_stats before, after;

	secmem_get_stats(&before);
	mock_open_cached(2, 50);
	run_readers(200, 1);
	mock_close();
	secmem_get_stats(&after);
	ck_assert_uint_eq(after.in_use, before.in_use);
}
END_TEST

/* ---- the Vault backend's HTTP worker, shared by concurrent batches ---- */

static void server_start(void)
{
	vaultsrv_start(NULL);
}

/* The test server's API as root, with libcurl: the body of the answer in
 * out (NUL-terminated, truncated to len), the HTTP status returned. */
struct api_buf {
	char *p;
	size_t len, used;
};

static size_t api_write(char *data, size_t size, size_t n, void *arg)
{
	struct api_buf *b = arg;
	size_t take = size * n;

	if (take > b->len - 1 - b->used)
		take = b->len - 1 - b->used;
	memcpy(b->p + b->used, data, take);
	b->used += take;
	b->p[b->used] = 0;
	return size * n;
}

static long api(const char *method, const char *path, const char *body, char *out, size_t len)
{
	struct api_buf b = { out, len, 0 };
	struct curl_slist *h = curl_slist_append(NULL, "X-Vault-Token: " VAULTSRV_ROOT_TOKEN);
	char url[256];
	long status = 0;
	CURL *c = curl_easy_init();

	ck_assert_ptr_nonnull(c);
	out[0] = 0;
	snprintf(url, sizeof(url), "%s%s", vaultsrv_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

/* The string value of "name": "..." in a small JSON answer. */
static void json_field(const char *json, const char *name, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", name);
	p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no %s in the answer", name);
	p = strchr(p + strlen(pat), '"');
	ck_assert_ptr_nonnull(p);
	e = strchr(++p, '"');
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_lt((size_t)(e - p), len);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
}

static unsigned long count_requests(const char *what)
{
	char stats[8192], pat[128];
	const char *p;

	ck_assert_int_eq(api("GET", "/_test/stats", NULL, stats, sizeof(stats)), 200);
	snprintf(pat, sizeof(pat), "\"%s\":", what);
	p = strstr(stats, pat);
	return p ? strtoul(p + strlen(pat), NULL, 10) : 0;
}

struct vclient {
	pthread_t t;
	int id;
	int bad;
	char why[300];
};

static void *vault_client(void *arg)
{
	struct vclient *c = arg;
	const char *keys[5] = { "t/a", "t/b", "t/c#f1", "t/c#f2", "t/a" };
	const char *want[5] = { "A", "B", "one", "two", "A" };
	struct why whys[5];
	struct secbuf *outs[5];
	int rcs[5], i, k;

	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0;; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= 4)
			break;
		if (c->id == 0) {
			/* a writer beside the readers, on keys of its own */
			char v[32];
			struct why why = { "" };

			snprintf(v, sizeof(v), "w%d", i);
			if (backend_set(be, "t/written", v, strlen(v), &why) != 0) {
				c->bad++;
				snprintf(c->why, sizeof(c->why), "set: %.200s", why.msg);
			}
			continue;
		}
		if (backend_get_many(be, 5, keys, outs, rcs, whys) != 0) {
			for (k = 0; k < 5 && !rcs[k]; k++)
				;
			c->bad++;
			snprintf(c->why, sizeof(c->why), "get %s: %s", keys[k], whys[k].msg);
			continue;
		}
		for (k = 0; k < 5; k++) {
			if (!secbuf_equal(outs[k], want[k], strlen(want[k])))
				c->bad++;
			secbuf_free(outs[k]);
		}
	}
	return NULL;
}

/* Four seconds of batches from 7 threads and writes from an 8th, with an
 * AppRole token that lives 2 s (at most 3 s): the renewal thread renews
 * and logs in again while the batches run, all through one HTTP worker. */
START_TEST(test_vault_concurrent_batches)
{
	struct why err = WHY_INIT;
	struct backend_ctx ctx = { 0 };
	struct why why = { "" };
	struct vclient c[THREADS];
	const char *fields[] = { "f1", "f2" };
	const void *values[] = { "one", "two" };
	size_t lens[] = { 3, 3 };
	char yaml[768], answer[2048], role_id[128], secret_id[128];
	int i;

	ck_assert_int_eq(api("POST", "/_test/policy", "{\"name\": \"app\", \"rules\": {\"secret/*\": "
			     "[\"read\", \"create\", \"update\", \"patch\"], \"sys/*\": [\"read\"]}}",
			     answer, sizeof(answer)), 204);
	ck_assert_int_eq(api("POST", "/v1/auth/approle/role/unit", "{\"token_policies\": \"app\", "
			     "\"token_ttl\": \"2s\", \"token_max_ttl\": \"3s\"}", answer, sizeof(answer)), 204);
	ck_assert_int_eq(api("GET", "/v1/auth/approle/role/unit/role-id", NULL, answer, sizeof(answer)), 200);
	json_field(answer, "role_id", role_id, sizeof(role_id));
	ck_assert_int_eq(api("POST", "/v1/auth/approle/role/unit/secret-id", "{}", answer, sizeof(answer)), 200);
	json_field(answer, "secret_id", secret_id, sizeof(secret_id));
	setenv("UNIT_SECRET_ID", secret_id, 1);
	ck_assert_int_eq(api("POST", "/_test/stats/reset", "{}", answer, sizeof(answer)), 204);
	snprintf(yaml, sizeof(yaml), "security:\n  credentials:\n    provider: vault\n    vault_url: %s\n"
				      "    timeout: 10s\n    max_connections: 4\n    role_id: %s\n"
				      "    secret_id: env:UNIT_SECRET_ID\n", vaultsrv_url, role_id);
	ck_assert_int_eq(config_load_text("t.yaml", yaml, strlen(yaml), &cfg, &err), 0);
	ctx.cfg = cfg;
	ctx.source = "test";
	ctx.daemon = 1;		/* the renewal thread runs beside the requests */
	ck_assert_msg(backend_open(&ctx, &be, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(backend_wrap_cache(&be, 0, 0), 0);
	ck_assert_msg(backend_set(be, "t/a", "A", 1, &why) == 0, "%s", why.msg);
	ck_assert_msg(backend_set(be, "t/b", "B", 1, &why) == 0, "%s", why.msg);
	ck_assert_int_eq(backend_set_fields(be, "t/c", 2, fields, values, lens, &why), 0);

	memset(c, 0, sizeof(c));
	for (i = 0; i < THREADS; i++) {
		c[i].id = i;
		ck_assert_int_eq(pthread_create(&c[i].t, NULL, vault_client, &c[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(c[i].t, NULL);
		ck_assert_msg(c[i].bad == 0, "client %d: %d bad results (%s)", i, c[i].bad, c[i].why);
	}
	/* the token of the first login ran out twice over: the renewal thread
	 * renewed it or logged in again while the batches ran */
	ck_assert_uint_ge(count_requests("POST auth/approle/login") + count_requests("POST auth/token/renew-self"),
			  3);
	backend_close(be);
	config_free(cfg);
	be = NULL;
	cfg = NULL;
}
END_TEST

static Suite *threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("workq");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_workq_many_producers);
	suite_add_tcase(s, tc);
	tc = tcase_create("cache");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_single_flight_shares);
	tcase_add_test(tc, test_forget_races_flights);
	suite_add_tcase(s, tc);
	tc = tcase_create("vault");
	tcase_add_unchecked_fixture(tc, server_start, vaultsrv_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_vault_concurrent_batches);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *suite_with_mock(void)
{
	if (backend_register(&backend_mock) != 0) {
		fprintf(stderr, "check_threads: cannot register the mock store\n");
		exit(1);
	}
	return threads_suite();
}

UNIT_MAIN(suite_with_mock)
