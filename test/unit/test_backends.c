// SPDX-License-Identifier: MIT
/*
 * test_backends.c - the contract of include/hakmem_backend.h, run against
 * every source of memory in the registry (mmap, static) and against the
 * backend the allocator runs on when decorators stack over its source
 * (fault over mmap): each test is a loop over them.  What a backend's caps
 * promise is checked; a hook it leaves NULL is skipped.  What one backend
 * does beyond the contract (the static buffer's first fit, fault
 * injection) has its own test program.
 *
 * Linked with libhakmem.a, so the registry is readable and the ops are
 * callable directly.  Check runs each test in its own child process.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "init.h"
#include "internal.h"
#include "testlib.h"

HAK_SECTION_BOUNDS(const struct hak_backend *, hak_backends);

/* The static buffer's own hook (backends/static.c). */
size_t hak_static_free_bytes(void);

/*
 * What a test knows of a backend beyond its caps.  The static buffer
 * counts what it has left, and clears what it lends again although its
 * decommit keeps the bytes (so it has no HAK_BACKEND_ZEROED).  The
 * reference folds away when the backend is not built.
 */
static const struct known {
	const char *name;
	size_t (*free_bytes)(void);
	bool clears;
} known[] = {
	{ "static", IS_ENABLED(CONFIG_HAKMEM_BACKEND_STATIC) ? hak_static_free_bytes : NULL, true },
};

/* The sources of memory, then the active backend when decorators stack over its source. */
static const struct hak_backend_ops *subject[16];
static int nsubjects;

static void find_subjects(void)
{
	const struct hak_backend *const *b = __start_hak_backends;
	bool stacked = true;

	hak_init();
	for (; b < __stop_hak_backends && nsubjects < 15; b++) {
		if (!(*b)->ops)
			continue;
		subject[nsubjects++] = (*b)->ops;
		stacked &= (*b)->ops != hak_backend;
	}
	if (stacked)
		subject[nsubjects++] = hak_backend;
}

static const struct hak_backend_ops *ops;
static const struct known *be;
static size_t page, free_at_start;
static bool fresh_zero;

/* Loop index @i: the i-th subject. */
static void pick(int i)
{
	static const struct known none;

	ops = subject[i];
	page = ops->page_size();
	be = &none;
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (!strcmp(known[k].name, ops->name))
			be = &known[k];
	free_at_start = be->free_bytes ? be->free_bytes() : 0;
	fresh_zero = (ops->caps & HAK_BACKEND_ZEROED) || be->clears;
}

/* Every byte lent is back, where the backend can tell. */
static void nothing_lent(void)
{
	if (be->free_bytes)
		ck_assert_uint_eq(be->free_bytes(), free_at_start);
}

/* @size bytes at @align, usable at once, filled with @seed. */
static char *take(size_t size, size_t align, unsigned seed)
{
	char *p = ops->reserve(size, align);

	ck_assert_msg(p != NULL, "%s: reserve(%zu, %zu) failed", ops->name, size, align);
	ck_assert_msg(is_aligned(p, align), "%s: %p not aligned to %zu", ops->name, p, align);
	if (fresh_zero)
		ck_assert_uint_eq(first_nonzero(p, size), size);
	fill(p, size, seed);
	return p;
}

START_TEST(page_size_is_a_power_of_two)
{
	pick(_i);
	ck_assert_uint_ge(page, 4096);
	ck_assert(!(page & (page - 1)));
	ck_assert_ptr_nonnull(ops->name);
	ck_assert(ops->reserve && ops->decommit && ops->release && ops->page_size);
}
END_TEST

/* Ranges of every alignment, all live together: aligned, disjoint, kept apart. */
START_TEST(reservations_are_aligned_and_disjoint)
{
	static const size_t aligns[] = { 1, 16, 512 };	/* in pages */
	static const size_t sizes[] = { 1, 3, 64, 257 };
	enum { N = sizeof(aligns) / sizeof(aligns[0]) * sizeof(sizes) / sizeof(sizes[0]) };
	char *p[N];
	size_t len[N];

	pick(_i);
	for (unsigned i = 0; i < N; i++) {
		len[i] = sizes[i % 4] * page;
		p[i] = take(len[i], aligns[i / 4] * page, i);
	}
	for (unsigned i = 0; i < N; i++) {
		ck_assert_msg(check_fill(p[i], len[i], i) == len[i], "%s: range %u overwritten",
			      ops->name, i);
		ck_assert_int_eq(ops->release(p[i], len[i]), 0);
	}
	nothing_lent();
}
END_TEST

/* [@p + @off, + @len) still holds what take(..., @seed) wrote there. */
static void kept(const char *p, size_t off, size_t len, unsigned seed)
{
	static char want[16 * 65536];

	ck_assert_uint_le(off + len, sizeof(want));
	fill(want, off + len, seed);
	ck_assert_msg(!memcmp(p + off, want + off, len), "%s: contents lost", ops->name);
}

/* A head and a tail go back on their own, as the core trims them. */
START_TEST(heads_and_tails_are_released_alone)
{
	char *p;

	pick(_i);
	p = take(8 * page, page, 1);
	ck_assert_int_eq(ops->release(p, page), 0);
	ck_assert_int_eq(ops->release(p + 6 * page, 2 * page), 0);
	kept(p, page, 5 * page, 1);
	ck_assert_int_eq(ops->release(p + page, 5 * page), 0);
	nothing_lent();
}
END_TEST

/* Decommitted pages are usable again; their neighbours keep what they held. */
START_TEST(decommit_keeps_the_range)
{
	char *p;

	pick(_i);
	p = take(16 * page, page, 2);
	ck_assert_int_eq(ops->decommit(p + 4 * page, 8 * page), 0);
	if ((ops->caps & HAK_BACKEND_CAN_RETURN) && ops->resident)
		ck_assert_int_eq(ops->resident(p + 4 * page, 8 * page), 0);
	if (ops->caps & HAK_BACKEND_ZEROED)
		ck_assert_uint_eq(first_nonzero(p + 4 * page, 8 * page), 8 * page);
	memset(p + 4 * page, 0x77, 8 * page);
	kept(p, 0, 4 * page, 2);
	kept(p, 12 * page, 4 * page, 2);
	ck_assert_int_eq(ops->release(p, 16 * page), 0);
	nothing_lent();
}
END_TEST

/* A range grows back into its own tail, just released. */
START_TEST(extend_grows_in_place)
{
	char *p;

	pick(_i);
	if (!ops->extend)
		return;
	p = take(8 * page, page, 3);
	ck_assert_int_eq(ops->release(p + 4 * page, 4 * page), 0);
	ck_assert_int_eq(ops->extend(p, 4 * page, 8 * page), 0);
	kept(p, 0, 4 * page, 3);
	if (ops->caps & HAK_BACKEND_ZEROED)
		ck_assert_uint_eq(first_nonzero(p + 4 * page, 4 * page), 4 * page);
	memset(p + 4 * page, 0x33, 4 * page);
	ck_assert_int_eq(ops->extend(p, 8 * page, 8 * page), 0);
	ck_assert_int_eq(ops->release(p, 8 * page), 0);
	nothing_lent();
}
END_TEST

/* The pages change places; the first range stays reserved and reads zero. */
START_TEST(move_takes_the_pages_along)
{
	char *from, *to;
	int r;

	pick(_i);
	if (!ops->move)
		return;
	from = take(8 * page, page, 4);
	to = take(8 * page, page, 5);
	r = ops->move(from, 8 * page, to);
	if (r == -ENOSYS)
		fprintf(stderr, "%s: move not supported by this kernel\n", ops->name);
	else
		ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(check_fill(r ? from : to, 8 * page, 4), 8 * page);
	if (!r)
		ck_assert_uint_eq(first_nonzero(from, 8 * page), 8 * page);
	ck_assert_int_eq(ops->release(from, 8 * page), 0);
	ck_assert_int_eq(ops->release(to, 8 * page), 0);
	nothing_lent();
}
END_TEST

/* A guard page faults, in a child; the parent releases it like any other page. */
START_TEST(protect_makes_a_guard_page)
{
	bool faulted;
	char *p;
	pid_t pid;
	int status;

	pick(_i);
	if (!ops->protect)
		return;
	p = take(4 * page, page, 6);
	ck_assert_int_eq(ops->protect(p + 3 * page, page), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		*(volatile char *)(p + 3 * page) = 1;
		_exit(0);
	}
	status = wait_child(pid);
	faulted = status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	/* A sanitizer's handler reports the fault and exits instead. */
	faulted |= status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0;
#endif
	ck_assert_msg(faulted, "%s: writing a guard page did not fault (status %d)", ops->name,
		      status);
	kept(p, 0, 3 * page, 6);
	ck_assert_int_eq(ops->release(p, 4 * page), 0);
	nothing_lent();
}
END_TEST

static void *churn(void *arg)
{
	uintptr_t bad = 0;
	uint64_t rs = (uintptr_t)arg;

	for (int i = 0; i < 2000; i++) {
		uint64_t r = rnd(&rs);
		size_t size = (r % 64 + 1) * page;
		unsigned char *p = ops->reserve(size, page << (r >> 8) % 4);

		if (!p)
			continue;
		for (size_t k = 0; fresh_zero && k < size; k += page)
			bad |= p[k] != 0;
		memset(p, (int)(uintptr_t)arg, size);
		for (size_t k = 0; k < size; k += page)
			bad |= p[k] != (unsigned char)(uintptr_t)arg;
		ops->release(p, size);
	}
	return (void *)bad;
}

/* Threads reserving and releasing at once never share a byte. */
START_TEST(threads_do_not_overlap)
{
	pthread_t t[4];
	void *bad;

	pick(_i);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_ptr_null(bad);
	}
	nothing_lent();
}
END_TEST

static Suite *backends_suite(void)
{
	const TTest *tests[] = {
		page_size_is_a_power_of_two, reservations_are_aligned_and_disjoint,
		heads_and_tails_are_released_alone, decommit_keeps_the_range,
		extend_grows_in_place, move_takes_the_pages_along, protect_makes_a_guard_page,
		threads_do_not_overlap,
	};
	Suite *s = suite_create("backends");
	TCase *tc = add_tcase(s, "contract", 60);

	find_subjects();
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		tcase_add_loop_test(tc, tests[i], 0, nsubjects);
	return s;
}

TEST_MAIN(backends_suite)
