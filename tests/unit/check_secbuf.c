#include "lib/compat.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

static void setup_small(void)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(secmem_init(256 << 10, &err), 0);
}

START_TEST(test_arena_is_locked)
{
	struct secbuf *sb = secbuf_new(10);
	unsigned char vec = 0;
	long page = sysconf(_SC_PAGESIZE);
	void *pg;

	ck_assert_ptr_nonnull(sb);
	ck_assert(secmem_locked());
	pg = (void *)((uintptr_t)secbuf_data(sb, NULL) & ~(uintptr_t)(page - 1));
	/* resident (locked pages are always resident) */
	ck_assert_int_eq(mincore(pg, (size_t)page, &vec), 0);
	ck_assert(vec & 1);
	secbuf_free(sb);
}
END_TEST

START_TEST(test_init_twice_is_busy)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(secmem_init(128 << 10, &err), -EBUSY);
}
END_TEST

/* A freed block's first 16 bytes hold the free list's links; everything
 * else must be zero, and the old bytes must be gone. */
static void assert_wiped(const unsigned char *p, const char *was, size_t n)
{
	size_t i;

	ck_assert(memmem(p, n, was, n < 8 ? n : 8) == NULL);
	for (i = 16; i < n; i++)
		ck_assert_int_eq(p[i], 0);
}

START_TEST(test_free_wipes)
{
	static const char canary[] = "canary-value-123-and-more-bytes-here";
	struct secbuf *sb = secbuf_dup(canary, sizeof(canary));
	const unsigned char *p = secbuf_data(sb, NULL);

	/* p stays mapped (the arena), so we can look after the free. */
	secbuf_free(sb);
	assert_wiped(p, canary, sizeof(canary));
}
END_TEST

START_TEST(test_grow_copies_and_wipes_old)
{
	struct secbuf *sb = secbuf_new(4);
	const unsigned char *old;
	size_t len;

	ck_assert_int_eq(secbuf_append(sb, "abcd", 4), 0);
	old = secbuf_data(sb, NULL);
	ck_assert_int_eq(secbuf_append(sb, "efghijklmnop", 12), 0);
	ck_assert_ptr_ne(secbuf_data(sb, &len), old);
	ck_assert_uint_eq(len, 16);
	ck_assert_str_eq(secbuf_str(sb), "abcdefghijklmnop");
	assert_wiped(old, "abcd", 4);
	secbuf_free(sb);
}
END_TEST

START_TEST(test_exhaustion_fails_and_recovers)
{
	struct secbuf *bufs[64];
	struct secmem_stats st;
	size_t n = 0, i;

	while (n < ARRAY_SIZE(bufs) && (bufs[n] = secbuf_new(16 << 10)))
		n++;
	ck_assert_uint_lt(n, ARRAY_SIZE(bufs));	/* it did run out */
	ck_assert_uint_gt(n, 8);
	ck_assert_int_eq(errno, ENOMEM);
	secmem_get_stats(&st);
	ck_assert_uint_ge(st.failures, 1);
	for (i = 0; i < n; i++)
		secbuf_free(bufs[i]);
	secmem_get_stats(&st);
	ck_assert_uint_eq(st.in_use, 0);
	ck_assert_uint_eq(st.blocks, 0);
	/* everything coalesced back: one allocation of nearly all of it */
	bufs[0] = secbuf_new(st.capacity - 256);
	ck_assert_ptr_nonnull(bufs[0]);
	secbuf_free(bufs[0]);
}
END_TEST

START_TEST(test_fragmentation_coalesces)
{
	void *p[200];
	struct secmem_stats st;
	int i;

	for (i = 0; i < 200; i++)
		ck_assert_ptr_nonnull(p[i] = secmem_alloc((size_t)(i % 7) * 100 + 1));
	for (i = 0; i < 200; i += 2)
		secmem_free(p[i]);
	for (i = 1; i < 200; i += 2)
		secmem_free(p[i]);
	secmem_get_stats(&st);
	ck_assert_uint_eq(st.in_use, 0);
	ck_assert_ptr_nonnull(p[0] = secmem_alloc(st.capacity - 256));
	secmem_free(p[0]);
}
END_TEST

START_TEST(test_oversize_refused)
{
	struct secmem_stats st;

	secmem_get_stats(&st);
	ck_assert_ptr_null(secmem_alloc(st.capacity + 1));
	ck_assert_ptr_null(secbuf_new((size_t)-2));
}
END_TEST

static void *churn(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 20000; i++) {
		struct secbuf *sb = secbuf_new((size_t)(i % 50) * 20);

		if (!sb)
			return (void *)1;
		secbuf_append(sb, "x", 1);
		secbuf_free(sb);
	}
	return NULL;
}

START_TEST(test_threads_no_growth)
{
	pthread_t t[4];
	struct secmem_stats st;
	void *rc;
	int i;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &rc);
		ck_assert_ptr_null(rc);
	}
	secmem_get_stats(&st);
	ck_assert_uint_eq(st.in_use, 0);
	ck_assert_uint_eq(st.blocks, 0);
}
END_TEST

START_TEST(test_equal_and_clear)
{
	struct secbuf *sb = secbuf_dup("abc", 3);

	ck_assert(secbuf_equal(sb, "abc", 3));
	ck_assert(!secbuf_equal(sb, "abd", 3));
	ck_assert(!secbuf_equal(sb, "ab", 2));
	secbuf_clear(sb);
	ck_assert_uint_eq(secbuf_len(sb), 0);
	secbuf_free(sb);
	secbuf_free(NULL);
}
END_TEST

static Suite *secbuf_suite(void)
{
	Suite *s = suite_create("secbuf");
	TCase *tc = tcase_create("arena");

	tcase_add_checked_fixture(tc, setup_small, NULL);
	tcase_add_test(tc, test_arena_is_locked);
	tcase_add_test(tc, test_init_twice_is_busy);
	tcase_add_test(tc, test_free_wipes);
	tcase_add_test(tc, test_grow_copies_and_wipes_old);
	tcase_add_test(tc, test_exhaustion_fails_and_recovers);
	tcase_add_test(tc, test_fragmentation_coalesces);
	tcase_add_test(tc, test_oversize_refused);
	tcase_add_test(tc, test_threads_no_growth);
	tcase_add_test(tc, test_equal_and_clear);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(secbuf_suite)
