#include "lib/compat.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/carry.h"
#include "lib/secbuf.h"
#include "lib/why.h"
#include "tests/unit/unit.h"

/* The region's layout, as lib/carry.c writes it: a header page whose
 * second 8 bytes are the slot size, then two slots, each starting with
 * magic, sequence number, length and hash. */
#define HDR 4096u

static void setup(void)
{
	struct why err = WHY_INIT;

	ck_assert_int_eq(secmem_init(1 << 20, &err), 0);
}

/* A successor's view of c's region: the same memory through another fd. */
static struct carry *successor(struct carry *c)
{
	struct why err = WHY_INIT;
	struct carry *n = NULL;

	ck_assert_int_eq(carry_open(dup(carry_fd(c)), 0, &n, &err), 0);
	ck_assert(carry_inherited(n));
	return n;
}

static int section_is(struct carry *c, const char *name, const char *want)
{
	struct secbuf *sb = carry_take(c, name);
	int same = sb && secbuf_len(sb) == strlen(want) && !memcmp(secbuf_str(sb), want, strlen(want));

	secbuf_free(sb);
	return same;
}

START_TEST(test_sections_pass_to_a_successor)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL, *n;
	unsigned long tv, tf;

	ck_assert_int_eq(carry_open(-1, 0, &c, &err), 0);
	ck_assert(!carry_inherited(c));
	ck_assert_ptr_null(carry_take(c, "vault"));
	tv = carry_claim(c, "vault");
	tf = carry_claim(c, "fs");
	ck_assert_int_eq(carry_put(c, "vault", tv, "one", 3), 0);
	ck_assert_int_eq(carry_put(c, "fs", tf, "counters", 8), 0);
	ck_assert_int_eq(carry_put(c, "vault", tv, "two", 3), 0);
	n = successor(c);
	ck_assert(section_is(n, "vault", "two"));
	ck_assert(section_is(n, "fs", "counters"));
	/* taken once: a reload's backend adopts nothing a second time */
	ck_assert_ptr_null(carry_take(n, "vault"));
	carry_free(n, 0);
	carry_free(c, 0);
}
END_TEST

START_TEST(test_stale_claim_writes_nothing)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL, *n;
	unsigned long old, cur;

	ck_assert_int_eq(carry_open(-1, 0, &c, &err), 0);
	old = carry_claim(c, "vault");
	ck_assert_int_eq(carry_put(c, "vault", old, "old gen", 7), 0);
	cur = carry_claim(c, "vault");
	ck_assert_int_eq(carry_put(c, "vault", cur, "new gen", 7), 0);
	ck_assert(carry_owns(c, "vault", cur));
	ck_assert(!carry_owns(c, "vault", old));
	ck_assert(!carry_owns(c, "vault", 0));
	ck_assert_int_eq(carry_put(c, "vault", old, "", 0), 0);	/* the old one closing */
	n = successor(c);
	ck_assert(section_is(n, "vault", "new gen"));
	carry_free(n, 0);
	carry_free(c, 0);
}
END_TEST

/* A daemon killed while writing snapshot N leaves snapshot N - 1. */
START_TEST(test_torn_write_leaves_the_previous_snapshot)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL, *n;
	unsigned char *m;
	uint64_t slot, zero = 0;
	struct stat st;
	unsigned long t;

	ck_assert_int_eq(carry_open(-1, 0, &c, &err), 0);
	t = carry_claim(c, "vault");
	ck_assert_int_eq(carry_put(c, "vault", t, "first", 5), 0);	/* seq 1: slot 1 */
	ck_assert_int_eq(carry_put(c, "vault", t, "second", 6), 0);	/* seq 2: slot 0 */
	ck_assert_int_eq(fstat(carry_fd(c), &st), 0);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, carry_fd(c), 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	memcpy(&slot, m + 16, sizeof(slot));
	/* Writing seq 3 into slot 1: its seq zeroed, its body half new. */
	memcpy(m + HDR + slot + 8, &zero, sizeof(zero));
	memset(m + HDR + slot + 56, 'x', 16);
	n = successor(c);
	ck_assert(section_is(n, "vault", "second"));
	carry_free(n, 0);
	/* A body that does not match its hash is not taken either. */
	m[HDR + 56 + 20] ^= 1;
	n = successor(c);
	ck_assert_ptr_null(carry_take(n, "vault"));
	carry_free(n, 0);
	munmap(m, (size_t)st.st_size);
	carry_free(c, 0);
}
END_TEST

START_TEST(test_too_big_keeps_the_last_snapshot)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL, *n;
	static char big[CARRY_SLOT_MIN];
	unsigned long t;

	ck_assert_int_eq(carry_open(-1, CARRY_SLOT_MIN, &c, &err), 0);
	t = carry_claim(c, "vault");
	ck_assert_int_eq(carry_put(c, "vault", t, "fits", 4), 0);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(carry_put(c, "vault", t, big, sizeof(big)), -ENOSPC);
	n = successor(c);
	ck_assert(section_is(n, "vault", "fits"));
	carry_free(n, 0);
	carry_free(c, 0);
}
END_TEST

START_TEST(test_wipe_leaves_nothing)
{
	struct why err = WHY_INIT;
	struct carry *c = NULL, *n;
	int fd;
	unsigned long t;

	ck_assert_int_eq(carry_open(-1, 0, &c, &err), 0);
	t = carry_claim(c, "vault");
	ck_assert_int_eq(carry_put(c, "vault", t, "lease", 5), 0);
	fd = dup(carry_fd(c));
	carry_free(c, 1);
	ck_assert_int_eq(carry_open(fd, 0, &n, &err), 0);
	ck_assert_ptr_null(carry_take(n, "vault"));
	carry_free(n, 0);
}
END_TEST

START_TEST(test_records_round_trip)
{
	struct secbuf *sb = secbuf_new(64);
	struct carry_rd rd;
	size_t len;
	const char *p;

	ck_assert_int_eq(carry_w_u64(sb, 42), 0);
	ck_assert_int_eq(carry_w_str(sb, "c1"), 0);
	ck_assert_int_eq(carry_w_bytes(sb, "a\0b", 3), 0);
	carry_rd_init(&rd, sb);
	ck_assert_uint_eq(carry_r_u64(&rd), 42);
	ck_assert_str_eq(carry_r_str(&rd), "c1");
	p = carry_r_bytes(&rd, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert(!memcmp(p, "a\0b", 3));
	ck_assert(!carry_rd_more(&rd));
	ck_assert_uint_eq(carry_r_u64(&rd), 0);
	ck_assert(rd.bad);
	secbuf_free(sb);
}
END_TEST

static Suite *carry_suite(void)
{
	Suite *s = suite_create("carry");
	TCase *tc = tcase_create("region");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_sections_pass_to_a_successor);
	tcase_add_test(tc, test_stale_claim_writes_nothing);
	tcase_add_test(tc, test_torn_write_leaves_the_previous_snapshot);
	tcase_add_test(tc, test_too_big_keeps_the_last_snapshot);
	tcase_add_test(tc, test_wipe_leaves_nothing);
	tcase_add_test(tc, test_records_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(carry_suite)
