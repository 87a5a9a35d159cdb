// SPDX-License-Identifier: MIT
/*
 * test_static_backend.c - the static buffer backend's operations, called
 * directly (CONFIG_HAKMEM_BACKEND_STATIC; debug_defconfig compiles it in):
 * aligned, disjoint, zeroed reservations until the buffer is exhausted,
 * releases that merge back into one range, heads and tails released on
 * their own, first fit and extension in place.  What every backend
 * promises (threads reserving and releasing at once among it) is
 * test_backends.c's.  In builds without it the tests say so on stderr.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "internal.h"
#include "testlib.h"

/*
 * These count the buffer's free bytes exactly: they need a buffer that only
 * they use, which a build whose core runs on it (CONFIG_HAKMEM_USE_STATIC)
 * has not; test_backends.c's contract tests run there instead.
 */
#if IS_ENABLED(CONFIG_HAKMEM_BACKEND_STATIC) && !IS_ENABLED(CONFIG_HAKMEM_USE_STATIC)
/* The backend's own hook for tests (backends/static.c). */
size_t hak_static_free_bytes(void);

static const struct hak_backend_ops *ops;

/* Built for these tests, not necessarily the backend hakmem runs on. */
static void find_ops(void)
{
	ops = hak_backend_find("static");
	ck_assert_ptr_nonnull(ops);
}

static int zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i])
			return 0;
	return !p[n - 1];
}

START_TEST(reserve_until_full_then_merge_back)
{
	enum { MAX = 4096 };
	static char *b[MAX];
	size_t total = hak_static_free_bytes(), align = 2 * MiB;
	int n = 0;

	while (n < MAX && (b[n] = ops->reserve(2 * MiB, align))) {
		ck_assert_uint_eq((uintptr_t)b[n] % align, 0);
		ck_assert(zero(b[n], 2 * MiB));
		for (int j = 0; j < n; j++)
			ck_assert(b[n] >= b[j] + 2 * MiB || b[n] + 2 * MiB <= b[j]);
		memset(b[n], 0xee, 2 * MiB);	/* dirty it: reserved again, it must read zero */
		n++;
	}
	ck_assert_int_lt(n, MAX);
	ck_assert_int_ge((size_t)n * 2 * MiB, total - 2 * MiB);
	ck_assert_ptr_null(ops->reserve(2 * MiB, align));
	/* Release in an order that needs merging on both sides. */
	for (int i = 0; i < n; i += 2)
		ck_assert_int_eq(ops->release(b[i], 2 * MiB), 0);
	for (int i = 1; i < n; i += 2)
		ck_assert_int_eq(ops->release(b[i], 2 * MiB), 0);
	ck_assert_uint_eq(hak_static_free_bytes(), total);
	/* One range again: a single reservation of nearly all of it works. */
	char *all = ops->reserve(total - 4096, 4096);

	ck_assert_ptr_nonnull(all);
	ck_assert(zero(all, total - 4096));
	ck_assert_int_eq(ops->release(all, total - 4096), 0);
	ck_assert_uint_eq(hak_static_free_bytes(), total);
}
END_TEST

START_TEST(heads_tails_and_extension)
{
	size_t total = hak_static_free_bytes();
	char *a = ops->reserve(8 * MiB, 4096), *x, *y;

	ck_assert_ptr_nonnull(a);
	memset(a, 0x22, 8 * MiB);
	/* A head and a tail go back on their own, as the core trims them. */
	ck_assert_int_eq(ops->release(a, MiB), 0);
	ck_assert_int_eq(ops->release(a + 7 * MiB, MiB), 0);
	ck_assert_uint_eq(hak_static_free_bytes(), total - 6 * MiB);
	/* The middle grows back into the freed tail, which reads zero. */
	ck_assert_int_eq(ops->extend(a + MiB, 6 * MiB, 7 * MiB), 0);
	ck_assert(zero(a + 7 * MiB, MiB));
	ck_assert_uint_eq((unsigned char)a[MiB], 0x22);
	ck_assert_int_eq(ops->release(a + MiB, 7 * MiB), 0);
	ck_assert_uint_eq(hak_static_free_bytes(), total);

	/* First fit in an empty buffer: y lies right after x. */
	x = ops->reserve(MiB, 4096);
	y = ops->reserve(MiB, 4096);
	ck_assert_ptr_eq(y, x + MiB);
	ck_assert_int_ne(ops->extend(x, MiB, 2 * MiB), 0);	/* taken */
	ck_assert_int_eq(ops->release(y, MiB), 0);
	ck_assert_int_eq(ops->extend(x, MiB, 2 * MiB), 0);	/* free now */
	ck_assert_int_eq(ops->release(x, 2 * MiB), 0);
	ck_assert_uint_eq(hak_static_free_bytes(), total);
}
END_TEST

#else
START_TEST(reserve_until_full_then_merge_back)
{
	fprintf(stderr, "no static buffer of the tests' own in this build: nothing to test\n");
}
END_TEST
START_TEST(heads_tails_and_extension) { }
END_TEST
static void find_ops(void) { }
#endif

static Suite *static_suite(void)
{
	Suite *s = suite_create("static_backend");
	TCase *tc = add_tcase(s, "ops", 60, reserve_until_full_then_merge_back,
			      heads_tails_and_extension);

	tcase_add_checked_fixture(tc, find_ops, NULL);
	return s;
}

TEST_MAIN(static_suite)
