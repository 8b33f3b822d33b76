#include "lib/compat.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend-internal.h"
#include "lib/secbuf.h"
#include "tests/unit/unit.h"

/*
 * The cache in front of a counting store: every get sleeps delay_ms, counts
 * itself, and returns "<key>:<generation>" or the error set in fail_rc.
 */

static struct {
	pthread_mutex_t lock;
	int gets;
	int gen;
	int fail_rc;
	unsigned int delay_ms;
} store = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int count_get(struct backend *be, const char *key, struct secbuf **out, struct why *why)
{
	char buf[600];
	int rc, gen;

	(void)be;
	pthread_mutex_lock(&store.lock);
	store.gets++;
	rc = store.fail_rc;
	gen = store.gen;
	pthread_mutex_unlock(&store.lock);
	if (store.delay_ms)
		usleep(store.delay_ms * 1000);
	if (rc) {
		why_set(why, "injected");
		return rc;
	}
	snprintf(buf, sizeof(buf), "%s:%d", key, gen);
	*out = secbuf_dup(buf, strlen(buf));
	return *out ? 0 : -BACKEND_ENOMEM;
}

static void count_close(struct backend *be)
{
	free(be);
}

static const struct backend_ops counting = {
	.name = "counting",
	.close = count_close,
	.get = count_get,
};

/* The same store, answering from memory. */
static const struct backend_ops counting_instant = {
	.name = "counting",
	.caps = BACKEND_INSTANT,
	.close = count_close,
	.get = count_get,
};

static struct backend *cache;

static void make_cache_of(const struct backend_ops *ops, uint64_t ttl, uint64_t stale)
{
	struct backend *inner = calloc(1, sizeof(*inner));

	ck_assert_ptr_nonnull(inner);
	inner->ops = ops;
	store.gets = 0;
	store.gen = 1;
	store.fail_rc = 0;
	store.delay_ms = 0;
	cache = inner;
	ck_assert_int_eq(backend_wrap_cache(&cache, ttl, stale), 0);
	ck_assert_ptr_ne(cache, inner);
}

static void make_cache(uint64_t ttl, uint64_t stale)
{
	make_cache_of(&counting, ttl, stale);
}

static void teardown(void)
{
	backend_close(cache);
	cache = NULL;
}

/* get key and compare with "<key>:<gen>"; returns the backend result. */
static int get_is(const char *key, int gen)
{
	struct secbuf *sb = NULL;
	char want[600];
	int r = backend_get(cache, key, &sb, NULL);

	if (r)
		return r;
	snprintf(want, sizeof(want), "%s:%d", key, gen);
	ck_assert_msg(secbuf_equal(sb, want, strlen(want)), "%s: got '%s', want '%s'", key, secbuf_str(sb),
		      want);
	secbuf_free(sb);
	return 0;
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

START_TEST(test_name_is_the_store)
{
	make_cache(0, 0);
	ck_assert_str_eq(backend_name(cache), "counting");
}
END_TEST

START_TEST(test_default_fetches_every_time)
{
	make_cache(0, 0);
	ck_assert_int_eq(get_is("a", 1), 0);
	store.gen = 2;
	ck_assert_int_eq(get_is("a", 2), 0);
	ck_assert_int_eq(store.gets, 2);
	store.fail_rc = -BACKEND_EUNAVAIL;
	ck_assert_int_eq(get_is("a", 2), -BACKEND_EUNAVAIL);
}
END_TEST

/* An instant store with nothing to keep goes straight through (no flight,
 * no entry); with a TTL it is cached like any other. */
START_TEST(test_instant_store_passes_through)
{
	const char *keys[3] = { "a", "b", "a" };
	struct secbuf *outs[3] = { NULL, NULL, NULL };
	int rcs[3] = { 1, 1, 1 };
	struct why whys[3];
	size_t i;

	make_cache_of(&counting_instant, 0, 0);
	ck_assert_int_eq(backend_get_many(cache, 3, keys, outs, rcs, whys), 0);
	for (i = 0; i < 3; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%s:1", keys[i]);
		ck_assert_int_eq(rcs[i], 0);
		ck_assert(secbuf_equal(outs[i], want, strlen(want)));
		secbuf_free(outs[i]);
	}
	ck_assert_int_eq(store.gets, 3);
	store.gen = 2;
	ck_assert_int_eq(get_is("a", 2), 0);
	store.fail_rc = -BACKEND_ENOTFOUND;
	ck_assert_int_eq(backend_get_many(cache, 1, keys, outs, rcs, whys), -BACKEND_ENOTFOUND);
	ck_assert_int_eq(rcs[0], -BACKEND_ENOTFOUND);
	ck_assert_ptr_null(outs[0]);
	ck_assert_str_eq(whys[0].msg, "injected");
	teardown();

	make_cache_of(&counting_instant, 60000, 0);
	ck_assert_int_eq(get_is("a", 1), 0);
	store.gen = 2;
	ck_assert_int_eq(get_is("a", 1), 0);
	ck_assert_int_eq(store.gets, 1);
}
END_TEST

struct racer {
	const char *key;
	int rc;
};

/* Threads report instead of asserting: "<key>:1" or not. */
static void *race(void *arg)
{
	struct racer *r = arg;
	struct secbuf *sb = NULL;
	char want[64];

	snprintf(want, sizeof(want), "%s:1", r->key);
	r->rc = backend_get(cache, r->key, &sb, NULL);
	if (!r->rc && !secbuf_equal(sb, want, strlen(want)))
		r->rc = -EBADE;
	secbuf_free(sb);
	return NULL;
}

START_TEST(test_single_flight)
{
	pthread_t t[8];
	struct racer rs[8];
	int i;

	make_cache(0, 0);
	store.delay_ms = 300;
	for (i = 0; i < 8; i++) {
		rs[i].key = "shared";
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &rs[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(rs[i].rc, 0);
	}
	ck_assert_int_eq(store.gets, 1);
	/* nothing is kept with both durations 0 */
	ck_assert_int_eq(get_is("shared", 1), 0);
	ck_assert_int_eq(store.gets, 2);
}
END_TEST

START_TEST(test_get_many_duplicates)
{
	const char *keys[] = { "x", "y", "x" };
	struct secbuf *outs[3];
	int rcs[3];

	make_cache(0, 0);
	ck_assert_int_eq(backend_get_many(cache, 3, keys, outs, rcs, NULL), 0);
	ck_assert_int_eq(store.gets, 2);
	ck_assert(secbuf_equal(outs[0], "x:1", 3));
	ck_assert(secbuf_equal(outs[1], "y:1", 3));
	ck_assert(secbuf_equal(outs[2], "x:1", 3));
	secbuf_free(outs[0]);
	secbuf_free(outs[1]);
	secbuf_free(outs[2]);
}
END_TEST

START_TEST(test_ttl)
{
	make_cache(300, 0);
	ck_assert_int_eq(get_is("a", 1), 0);
	store.gen = 2;
	ck_assert_int_eq(get_is("a", 1), 0);	/* inside the TTL: cached */
	ck_assert_int_eq(store.gets, 1);
	sleep_ms(350);
	ck_assert_int_eq(get_is("a", 2), 0);
	ck_assert_int_eq(store.gets, 2);
	/* without stale_if_error an outage is an error once the TTL is over */
	sleep_ms(350);
	store.fail_rc = -BACKEND_ETIMEDOUT;
	ck_assert_int_eq(get_is("a", 2), -BACKEND_ETIMEDOUT);
}
END_TEST

START_TEST(test_stale_if_error)
{
	struct why why = { "" };
	struct secbuf *sb = NULL;

	make_cache(0, 400);
	ck_assert_int_eq(get_is("a", 1), 0);
	store.fail_rc = -BACKEND_EUNAVAIL;
	ck_assert_int_eq(get_is("a", 1), 0);	/* stale */
	store.fail_rc = -BACKEND_ETIMEDOUT;
	ck_assert_int_eq(get_is("a", 1), 0);
	ck_assert_int_eq(store.gets, 3);	/* it still asks every time */
	/* answers are not outages: never hidden behind an old value */
	store.fail_rc = -BACKEND_ENOTFOUND;
	ck_assert_int_eq(get_is("a", 1), -BACKEND_ENOTFOUND);
	store.fail_rc = -BACKEND_EDENIED;
	ck_assert_int_eq(get_is("a", 1), -BACKEND_EDENIED);
	store.fail_rc = -BACKEND_ETAMPERED;
	ck_assert_int_eq(get_is("a", 1), -BACKEND_ETAMPERED);
	/* past the window */
	sleep_ms(450);
	store.fail_rc = -BACKEND_EUNAVAIL;
	ck_assert_int_eq(backend_get(cache, "a", &sb, &why), -BACKEND_EUNAVAIL);
	ck_assert_ptr_null(sb);
	ck_assert_str_eq(why.msg, "injected");
	/* a key never fetched has nothing stale */
	ck_assert_int_eq(get_is("b", 1), -BACKEND_EUNAVAIL);
}
END_TEST

START_TEST(test_forget)
{
	make_cache(10000, 0);
	ck_assert_int_eq(get_is("github/token", 1), 0);
	ck_assert_int_eq(get_is("github/token#value", 1), 0);
	ck_assert_int_eq(get_is("github/token@3", 1), 0);
	ck_assert_int_eq(get_is("github/other", 1), 0);
	ck_assert_int_eq(store.gets, 4);
	store.gen = 2;
	backend_forget(cache, "github/token");
	ck_assert_int_eq(get_is("github/token", 2), 0);
	ck_assert_int_eq(get_is("github/token#value", 2), 0);
	ck_assert_int_eq(get_is("github/token@3", 2), 0);
	ck_assert_int_eq(get_is("github/other", 1), 0);	/* untouched */
	ck_assert_int_eq(store.gets, 7);
	store.gen = 3;
	backend_forget(cache, NULL);
	ck_assert_int_eq(get_is("github/other", 3), 0);
	backend_forget(NULL, "x");	/* NULL-safe */
}
END_TEST

static void *late_forget(void *arg)
{
	(void)arg;
	sleep_ms(100);
	pthread_mutex_lock(&store.lock);	/* count_get reads it in another thread */
	store.gen = 2;
	pthread_mutex_unlock(&store.lock);
	backend_forget(cache, "slow");
	return NULL;
}

/* A fetch that started before forget() is not shared with gets after it,
 * and its (older) result is not kept. */
START_TEST(test_forget_in_flight)
{
	pthread_t t, f;
	struct racer r = { "slow", 0 };

	make_cache(10000, 0);
	store.delay_ms = 300;
	ck_assert_int_eq(pthread_create(&t, NULL, race, &r), 0);
	ck_assert_int_eq(pthread_create(&f, NULL, late_forget, NULL), 0);
	pthread_join(f, NULL);
	ck_assert_int_eq(get_is("slow", 2), 0);	/* a new fetch, not the old flight */
	pthread_join(t, NULL);
	ck_assert_int_eq(r.rc, 0);	/* the first caller got the old value */
	ck_assert_int_eq(store.gets, 2);
	store.delay_ms = 0;
	ck_assert_int_eq(get_is("slow", 2), 0);	/* the new value is the cached one */
	ck_assert_int_eq(store.gets, 2);
}
END_TEST

/* ---- backend_try_get_many_for: from memory alone, all or nothing ---- */

static int try_ab(struct secbuf **outs, int *rcs)
{
	static const char *const keys[] = { "a", "b" };

	return backend_try_get_many_for(cache, NULL, 2, keys, outs, rcs, NULL);
}

START_TEST(test_try_answers_fresh_hits_only)
{
	struct secbuf *outs[2];
	int rcs[2];

	make_cache(300, 0);
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_EWOULDBLOCK);
	ck_assert_ptr_null(outs[0]);
	ck_assert_int_eq(store.gets, 0);	/* a try never fetches */
	ck_assert_int_eq(get_is("a", 1), 0);
	/* one key of two held: would block, and nothing is handed out */
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_EWOULDBLOCK);
	ck_assert_ptr_null(outs[0]);
	ck_assert_ptr_null(outs[1]);
	ck_assert_int_eq(get_is("b", 1), 0);
	ck_assert_int_eq(try_ab(outs, rcs), 0);
	ck_assert_int_eq(rcs[0], 0);
	ck_assert(secbuf_equal(outs[0], "a:1", 3));
	ck_assert(secbuf_equal(outs[1], "b:1", 3));
	secbuf_free(outs[0]);
	secbuf_free(outs[1]);
	ck_assert_int_eq(store.gets, 2);
	/* past cache_ttl: the store must be asked, so it would block */
	sleep_ms(350);
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_EWOULDBLOCK);
	ck_assert_int_eq(store.gets, 2);
}
END_TEST

static void *slow_get(void *arg)
{
	(void)arg;
	ck_assert_int_eq(get_is("a", 1), 0);
	return NULL;
}

/* A key being fetched is not waited for. */
START_TEST(test_try_does_not_wait_for_a_flight)
{
	struct secbuf *outs[2];
	struct timespec t0, t1;
	pthread_t th;
	int rcs[2];

	make_cache(1000, 0);
	store.delay_ms = 400;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_get, NULL), 0);
	sleep_ms(50);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_EWOULDBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 200);
	pthread_join(th, NULL);
}
END_TEST

/* An instant store answers a try as a get; a store with no try at all
 * always would block. */
START_TEST(test_try_instant_store)
{
	struct secbuf *outs[2];
	int rcs[2];

	make_cache_of(&counting_instant, 0, 0);
	ck_assert_int_eq(try_ab(outs, rcs), 0);
	ck_assert(secbuf_equal(outs[1], "b:1", 3));
	secbuf_free(outs[0]);
	secbuf_free(outs[1]);
	ck_assert_int_eq(store.gets, 2);
	store.fail_rc = -BACKEND_ENOTFOUND;	/* an answer, not a would-block */
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_ENOTFOUND);
	ck_assert_int_eq(rcs[1], -BACKEND_ENOTFOUND);
	ck_assert_ptr_null(outs[0]);
}
END_TEST

/* A store that holds its values (a decrypted SOPS file) answers from its
 * own memory: what it answers is kept as a fetch's answer would be. */
static int tries;

static int count_try(struct backend *be, const char *scope, size_t n, const char *const *keys,
		     struct secbuf **outs, int *rcs, struct why *whys)
{
	size_t i;

	(void)scope;
	(void)whys;
	tries++;
	if (store.fail_rc)
		return -BACKEND_EWOULDBLOCK;
	for (i = 0; i < n; i++) {
		char buf[600];

		snprintf(buf, sizeof(buf), "%s:%d", keys[i], store.gen);
		outs[i] = secbuf_dup(buf, strlen(buf));
		rcs[i] = outs[i] ? 0 : -BACKEND_ENOMEM;
	}
	(void)be;
	return 0;
}

static const struct backend_ops counting_try = {
	.name = "counting",
	.close = count_close,
	.get = count_get,
	.try_get_many_for = count_try,
};

START_TEST(test_try_asks_the_store_and_keeps_its_answer)
{
	struct secbuf *outs[2];
	int rcs[2];

	tries = 0;
	make_cache_of(&counting_try, 0, 400);
	ck_assert_int_eq(try_ab(outs, rcs), 0);
	ck_assert(secbuf_equal(outs[0], "a:1", 3));
	secbuf_free(outs[0]);
	secbuf_free(outs[1]);
	ck_assert_int_eq(tries, 1);
	ck_assert_int_eq(store.gets, 0);
	/* the store now unreachable: stale_if_error serves what the try got */
	store.gen = 2;
	store.fail_rc = -BACKEND_EUNAVAIL;
	ck_assert_int_eq(get_is("a", 1), 0);
	ck_assert_int_eq(try_ab(outs, rcs), -BACKEND_EWOULDBLOCK);
}
END_TEST

START_TEST(test_values_are_wiped_and_freed)
{
	struct secmem_stats before, after;
	char key[32];
	int i;

	secmem_get_stats(&before);
	make_cache(10000, 10000);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(get_is(key, 1), 0);
	}
	secmem_get_stats(&after);
	ck_assert_uint_gt(after.in_use, before.in_use);	/* values live in locked memory */
	backend_close(cache);
	cache = NULL;
	secmem_get_stats(&after);
	ck_assert_uint_eq(after.in_use, before.in_use);
	ck_assert_uint_eq(after.blocks, before.blocks);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_name_is_the_store);
	tcase_add_test(tc, test_default_fetches_every_time);
	tcase_add_test(tc, test_instant_store_passes_through);
	tcase_add_test(tc, test_single_flight);
	tcase_add_test(tc, test_get_many_duplicates);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_stale_if_error);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_forget_in_flight);
	tcase_add_test(tc, test_values_are_wiped_and_freed);
	tcase_add_test(tc, test_try_answers_fresh_hits_only);
	tcase_add_test(tc, test_try_does_not_wait_for_a_flight);
	tcase_add_test(tc, test_try_instant_store);
	tcase_add_test(tc, test_try_asks_the_store_and_keeps_its_answer);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(cache_suite)
