// SPDX-License-Identifier: MIT
/*
 * test_faults.c - running out of memory, injected.
 *
 * With CONFIG_HAKMEM_BACKEND_FAULT (debug_defconfig) the backend fails
 * the reservations these tests choose.  Every entry point must then
 * return NULL with errno ENOMEM (realloc leaving the block intact),
 * nothing may crash or abort, and once the faults stop the allocator must
 * work again.  In builds without the decorator the tests have nothing to
 * inject and say so on stderr.
 *
 * Linked with libhakmem.a: hak_fault_arm() is internal.  Check runs each
 * test in its own child process, so an armed fault never leaks into the
 * next test.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem.h>

#include "backend.h"
#include "internal.h"
#include "options.h"
#include "policy.h"
#include "testlib.h"

#if IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT)

/* The fault-injecting backend's hooks for tests (backends/fault.c). */
void hak_fault_arm(unsigned after, unsigned count);
unsigned long hak_fault_calls(void);

/* Every large entry point fails cleanly while reservations fail. */
START_TEST(large_requests_fail_with_enomem)
{
	char *small;
	void *p;

	small = hak_malloc(100);
	ck_assert_ptr_nonnull(small);
	memset(small, 0x5a, 100);

	hak_fault_arm(0, ~0u);
	errno = 0;
	ck_assert_ptr_null(hak_malloc(8 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_calloc(1, 16 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_aligned_alloc(2 * MiB, 3 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_realloc(small, 8 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq((unsigned char)small[i], 0x5a);

	/* The faults stop: everything works again. */
	hak_fault_arm(0, 0);
	p = hak_malloc(8 * MiB);
	ck_assert_ptr_nonnull(p);
	memset(p, 1, 8 * MiB);
	small = hak_realloc(small, 8 * MiB);
	ck_assert_ptr_nonnull(small);
	ck_assert_uint_eq((unsigned char)small[99], 0x5a);
	hak_free(p);
	hak_free(small);
}
END_TEST

/*
 * Small blocks until the superslabs already mapped are full and a new one
 * cannot be had: NULL with ENOMEM, the blocks handed out intact, and
 * allocation works again once reservations succeed.
 */
START_TEST(small_blocks_exhaust_then_recover)
{
	enum { MAX = 400000 };
	static void *b[MAX];
	size_t size = 3000;
	int n = 0, again = 0;

	hak_fault_arm(0, ~0u);
	errno = 0;
	while (n < MAX && (b[n] = hak_malloc(size))) {
		memset(b[n], n & 0xff, size);
		n++;
	}
	ck_assert_msg(n < MAX, "%d blocks and no failure: the fault never hit", n);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_ptr_null(hak_malloc(size));
	ck_assert_ptr_null(hak_calloc(10, size / 10));
	for (int i = 0; i < n; i++)
		ck_assert_uint_eq(((unsigned char *)b[i])[size - 1], (unsigned)(i & 0xff));

	hak_fault_arm(0, 0);
	for (again = 0; again < 1000; again++) {
		b[n + again] = hak_malloc(size);
		ck_assert_ptr_nonnull(b[n + again]);
	}
	for (int i = 0; i < n + again; i++)
		hak_free(b[i]);
}
END_TEST

/*
 * One reservation fails, each in turn: whichever it was, a mixed workload
 * sees NULL with ENOMEM or success, contents survive, and nothing breaks.
 * The page heap keeps the address space it reserved, so the blocks above
 * 1 MiB are given mappings of their own here (as the largest are), one
 * reservation each, so that every round reaches the armed one.
 */
START_TEST(each_single_fault_is_survived)
{
	static const size_t sizes[] = { 24, 700, 5000, 40000, 100000, 300000, MiB, 3 * MiB };
	enum { OPS = 600 };
	static void *p[OPS];
	static size_t len[OPS];
	int nulls = 0;

	ck_assert_int_eq(hak_option_set("policy", "fixed", "test"), 0);
	ck_assert_int_eq(hak_option_set("fixed.map_min", "1MiB", "test"), 0);
	hak_policy_init();
	for (unsigned n = 0; n < 24; n++) {
		unsigned long before = hak_fault_calls();

		hak_fault_arm(n, 1);
		for (int i = 0; i < OPS; i++) {
			size_t size = sizes[(i * 7 + n) % 8] + (size_t)i;

			errno = 0;
			switch (i % 4) {
			case 0:
				p[i] = hak_malloc(size);
				break;
			case 1:
				p[i] = hak_calloc(1, size);
				break;
			case 2:
				p[i] = hak_aligned_alloc(4096, size);
				break;
			default:
				p[i] = hak_malloc(size / 4 + 1);
				if (p[i]) {
					void *q;

					memset(p[i], (int)(i & 0xff), size / 4 + 1);
					q = hak_realloc(p[i], size);
					if (!q) {
						ck_assert_int_eq(errno, ENOMEM);
						hak_free(p[i]);
					}
					p[i] = q;
				}
				break;
			}
			len[i] = size;
			if (!p[i]) {
				ck_assert_int_eq(errno, ENOMEM);
				nulls++;
				continue;
			}
			((unsigned char *)p[i])[size - 1] = (unsigned char)i;
		}
		for (int i = 0; i < OPS; i++) {
			if (!p[i])
				continue;
			ck_assert_uint_eq(((unsigned char *)p[i])[len[i] - 1], (unsigned char)i);
			hak_free(p[i]);
		}
		hak_fault_arm(0, 0);
		/* Enough reservations happened for the armed one to be reached. */
		ck_assert_uint_gt(hak_fault_calls() - before, n);
	}
	ck_assert_int_gt(nulls, 0);
}
END_TEST

static void *alloc_in_thread(void *arg)
{
	void **out = arg;

	*out = hak_malloc(8 * MiB);
	return (void *)(intptr_t)(*out ? 0 : errno);
}

/* A thread that cannot get memory sees ENOMEM too, and exits cleanly. */
START_TEST(threads_see_enomem)
{
	void *p = (void *)1, *ret;

	hak_fault_arm(0, ~0u);
	ret = run_thread(alloc_in_thread, &p);
	ck_assert_ptr_null(p);
	ck_assert_int_eq((int)(intptr_t)ret, ENOMEM);
	hak_fault_arm(0, 0);
	ret = run_thread(alloc_in_thread, &p);
	ck_assert_ptr_nonnull(p);
	hak_free(p);
}
END_TEST

#else
START_TEST(large_requests_fail_with_enomem)
{
	fprintf(stderr, "built without CONFIG_HAKMEM_BACKEND_FAULT: nothing to inject\n");
}
END_TEST
START_TEST(small_blocks_exhaust_then_recover) { }
END_TEST
START_TEST(each_single_fault_is_survived) { }
END_TEST
START_TEST(threads_see_enomem) { }
END_TEST
#endif

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");

	add_tcase(s, "faults", 120, large_requests_fail_with_enomem,
		  small_blocks_exhaust_then_recover, each_single_fault_is_survived,
		  threads_see_enomem);
	return s;
}

TEST_MAIN(faults_suite)
