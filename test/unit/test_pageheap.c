// SPDX-License-Identifier: MIT
/*
 * test/unit/test_pageheap.c - the page heap alone (core/pageheap.c):
 * runs of whole units, split, coalesced, grown and shrunk in place, moved
 * without a copy, decayed back to the OS oldest first, and what happens
 * when no memory can be had.
 *
 * Linked with libhakmem.a.  Check runs each test in a child process, so
 * each starts from the page heap the runner left (nothing large in it);
 * tests that need neighbours take them in a fresh region they fill in
 * order.  Whether pages are resident is read with mincore(2).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

#include "alloc.h"
#include "backend.h"
#include "init.h"
#include "large.h"
#include "options.h"
#include "pageheap.h"
#include "testlib.h"

#define UNIT HAK_PH_UNIT

/* The fault-injecting backend's hook for tests (backends/fault.c). */
void hak_fault_arm(unsigned after, unsigned count);

static const char site;

/* A run for @units units, its header filled as large.c would. */
static char *run(size_t units)
{
	struct hak_large_hdr *h;
	bool zero;
	char *p = hak_ph_alloc(units * UNIT, &h, &zero);

	ck_assert_ptr_nonnull(p);
	hak_large_hdr_init(h, units * UNIT, p, units * UNIT, &site, -1, HAK_LARGE_F_PAGES);
	return p;
}

static void give(char *p)
{
	ck_assert(hak_ph_free(p));
}

/*
 * Pages of [p, p + len) that are resident.  Without allocating: a malloc
 * here could reach a slow path where the policy decides again and puts
 * back the decay settings a test chose (see setup()).
 */
static size_t resident(const char *p, size_t len)
{
	static unsigned char v[64 * (4 << 20) / 4096];
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, in = 0;

	ck_assert_uint_le(n, sizeof(v));
	ck_assert_int_eq(mincore((void *)p, len, v), 0);
	for (size_t i = 0; i < n; i++)
		in += v[i] & 1;
	return in;
}

static void params(uint64_t delay_ms, size_t keep, size_t huge_min)
{
	struct hak_ph_params pp = { .delay_ms = delay_ms, .keep_bytes = keep, .huge_min = huge_min };

	hak_ph_set_params(&pp);
}

/*
 * No huge pages, so that residency counts in small pages and every run
 * comes from one kind of region; and nothing decays unless a test says
 * so.  The decay settings are the policy's: its next decide(), which any
 * slow path of malloc or free may ask for, puts back its own (the fixed
 * policy's 100 ms), so a test that depends on them sets them right before
 * it calls the page heap, which never asks.
 */
static void setup(void)
{
	hak_init();
	hak_opts.huge_pages = 0;
	params(3600 * 1000, SIZE_MAX, SIZE_MAX);
}

START_TEST(runs_are_whole_aligned_units)
{
	struct hak_large_hdr *h;
	bool zero;
	char *p = hak_ph_alloc(3 * MiB, &h, &zero);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % UNIT, 0);
	ck_assert_uint_eq(hak_ph_run_len(p), HAK_ALIGN_UP(3 * MiB, UNIT));
	ck_assert(zero);	/* fresh memory reads as zero */
	ck_assert(hak_ph_owns(p));
	ck_assert(hak_ph_owns(p + UNIT / 2));
	hak_large_hdr_init(h, 3 * MiB, p, hak_ph_run_len(p), &site, -1, HAK_LARGE_F_PAGES);
	/* The header is the page heap's, found from the block's address only. */
	ck_assert_ptr_eq(hak_ph_header(p), h);
	ck_assert_ptr_null(hak_ph_header(p + UNIT));
	memset(p, 0x55, 3 * MiB);
	give(p);
	ck_assert_ptr_null(hak_ph_header(p));
	ck_assert(!hak_ph_free(p));		/* a second free is refused */
	ck_assert(!hak_ph_free(p + 4096));	/* so is a pointer into a run */
}
END_TEST

START_TEST(a_freed_run_is_split_for_smaller_ones)
{
	struct hak_ph_stats a, b;
	char *p = run(4), *pin = run(1);
	char *q, *r;

	give(p);
	hak_ph_get_stats(&a);
	q = run(1);
	r = run(3);
	hak_ph_get_stats(&b);
	/* Both come out of the freed run; no new region, nothing fresh. */
	ck_assert(q >= p && q < p + 4 * UNIT);
	ck_assert(r >= p && r < p + 4 * UNIT);
	ck_assert_uint_eq(b.regions, a.regions);
	ck_assert_uint_eq(b.fresh, a.fresh);
	give(q);
	give(r);
	give(pin);
}
END_TEST

/*
 * The example of the design: a freed 11 MiB block next to a freed 8 MiB
 * one serves a 17 MiB request, with no system call and no page fault.
 */
START_TEST(free_neighbours_coalesce)
{
	size_t a_units = HAK_ALIGN_UP(11 * MiB, UNIT) / UNIT, b_units = HAK_ALIGN_UP(8 * MiB, UNIT) / UNIT;
	char *a = run(a_units), *b = run(b_units), *pin = run(1), *c;
	struct hak_ph_stats s0, s1;
	struct rusage r0, r1;

	ck_assert_ptr_eq(b, a + a_units * UNIT);	/* one after the other */
	memset(a, 1, a_units * UNIT);
	memset(b, 2, b_units * UNIT);
	give(a);
	give(b);
	hak_ph_get_stats(&s0);
	getrusage(RUSAGE_SELF, &r0);
	c = run(HAK_ALIGN_UP(17 * MiB, UNIT) / UNIT);
	ck_assert_ptr_eq(c, a);
	memset(c, 3, 17 * MiB);
	getrusage(RUSAGE_SELF, &r1);
	hak_ph_get_stats(&s1);
	ck_assert_uint_eq(s1.regions, s0.regions);
	ck_assert_uint_eq(s1.fresh, s0.fresh);
	ck_assert_uint_eq(s1.decayed, s0.decayed);
	/* Its pages were all still there: a fault or two at most (the test's own). */
	ck_assert_int_lt(r1.ru_minflt - r0.ru_minflt, 16);
	give(c);
	give(pin);
}
END_TEST

START_TEST(committed_memory_is_taken_first)
{
	char *a = run(2), *x = run(1), *b = run(5), *y = run(1);
	char *c;

	give(a);	/* a stretch of 2 ... */
	give(b);	/* ... and one of 5 (and the region's rest after y) */
	/* Both committed: the shortest that holds it. */
	c = run(2);
	ck_assert_ptr_eq(c, a);
	give(c);
	c = run(4);
	ck_assert_ptr_eq(c, b);
	give(c);
	/* a's stretch returned to the OS, b's still committed: b's, though longer. */
	if (hak_backend->caps & HAK_BACKEND_CAN_RETURN) {
		c = run(5);
		ck_assert_ptr_eq(c, b);
		params(0, SIZE_MAX, SIZE_MAX);
		hak_ph_tick();
		params(3600 * 1000, SIZE_MAX, SIZE_MAX);
		give(c);
		c = run(2);
		ck_assert_ptr_eq(c, b);
		give(c);
	}
	give(x);
	give(y);
}
END_TEST

START_TEST(runs_grow_and_shrink_in_place)
{
	char *a = run(2), *b, *c;

	memset(a, 7, 2 * UNIT);
	/* The units after it are free (the region's rest): it grows there. */
	ck_assert_uint_eq(hak_ph_resize(a, 3 * UNIT + 1), 4 * UNIT);
	ck_assert_uint_eq(hak_ph_run_len(a), 4 * UNIT);
	ck_assert_uint_eq((unsigned char)a[2 * UNIT - 1], 7);
	/* It shrinks by giving its last units back: the next run takes them. */
	ck_assert_uint_eq(hak_ph_resize(a, UNIT), UNIT);
	b = run(3);
	ck_assert_ptr_eq(b, a + UNIT);
	/* Now its neighbour is taken: it cannot grow where it stands. */
	ck_assert_uint_eq(hak_ph_resize(a, 2 * UNIT), 0);
	ck_assert_uint_eq(hak_ph_run_len(a), UNIT);
	c = run(1);
	give(b);
	give(a);
	give(c);
}
END_TEST

START_TEST(runs_move_without_a_copy)
{
	char *a = run(2), *pin = run(1), *q;
	struct hak_large_hdr *h;
	struct hak_ph_stats s;

	for (size_t i = 0; i < 2 * UNIT; i += 4096)
		a[i] = (char)(i >> 12);
	q = hak_ph_move(a, 5 * UNIT, &h);
	if (!q && !hak_backend->move) {
		give(a);
		give(pin);
		return;	/* a backend that cannot move pages: realloc copies */
	}
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(q, a);
	ck_assert_uint_eq(hak_ph_run_len(q), 5 * UNIT);
	for (size_t i = 0; i < 2 * UNIT; i += 4096)
		ck_assert_int_eq(q[i], (char)(i >> 12));
	/* The old run is free, and empty: its pages went with the block. */
	ck_assert_ptr_null(hak_ph_header(a));
	ck_assert_uint_eq(resident(a, 2 * UNIT), 0);
	hak_ph_get_stats(&s);
	ck_assert_uint_ge(s.moved, 2 * UNIT);
	hak_large_hdr_init(h, 5 * UNIT, q, 5 * UNIT, &site, -1, HAK_LARGE_F_PAGES);
	give(q);
	give(pin);
}
END_TEST

START_TEST(decay_returns_memory_after_the_delay)
{
	char *a = run(2), *pin = run(1);
	struct hak_ph_stats s;

	memset(a, 9, 2 * UNIT);
	give(a);
	hak_ph_tick();
	ck_assert_uint_eq(resident(a, 2 * UNIT), 2 * UNIT / 4096);	/* kept: the delay is an hour */
	hak_ph_get_stats(&s);
	ck_assert_uint_eq(s.dirty, 2 * UNIT);
	params(0, SIZE_MAX, SIZE_MAX);
	hak_ph_tick();
	ck_assert_uint_eq(resident(a, 2 * UNIT), 0);
	hak_ph_get_stats(&s);
	ck_assert_uint_eq(s.dirty, 0);
	ck_assert_uint_ge(s.decayed, 2 * UNIT);
	/* Taken again, it is a miss at its age, and reads as zero. */
	char *b = run(2);
	struct hak_large_hdr *h;
	bool zero;

	give(b);
	b = hak_ph_alloc(2 * UNIT, &h, &zero);
	ck_assert_ptr_eq(b, a);
	ck_assert(zero);
	hak_ph_get_stats(&s);
	uint64_t miss = 0;

	for (unsigned i = 0; i < HAK_PH_AGE_BUCKETS; i++)
		miss += s.miss[i];
	ck_assert_uint_ge(miss, 2 * UNIT);
	hak_large_hdr_init(h, 2 * UNIT, b, 2 * UNIT, &site, -1, HAK_LARGE_F_PAGES);
	give(b);
	give(pin);
}
END_TEST

START_TEST(over_the_budget_the_oldest_go_first)
{
	char *a = run(1), *x = run(1), *b = run(1), *y = run(1);

	memset(a, 1, UNIT);
	memset(b, 2, UNIT);
	give(a);
	usleep(20 * 1000);	/* the clock is coarse: a few ticks apart */
	give(b);
	params(3600 * 1000, UNIT, SIZE_MAX);
	hak_ph_tick();
	ck_assert_uint_eq(resident(a, UNIT), 0);
	ck_assert_uint_eq(resident(b, UNIT), UNIT / 4096);
	give(x);
	give(y);
}
END_TEST

START_TEST(fault_fails_cleanly_and_keeps_what_is_out)
{
	char *a = run(1), *b;
	struct hak_large_hdr *h;
	bool zero;

	if (!IS_ENABLED(CONFIG_HAKMEM_BACKEND_FAULT)) {
		give(a);
		return;	/* no fault injection in this build */
	}
	memset(a, 0x42, UNIT);
	hak_fault_arm(0, ~0u);	/* every reservation fails from now on */
	b = hak_ph_alloc((size_t)8 << 30, &h, &zero);	/* more than any region holds */
	ck_assert_ptr_null(b);
	errno = 0;
	ck_assert_ptr_null(hak_malloc((size_t)8 << 30));
	ck_assert_int_eq(errno, ENOMEM);
	hak_fault_arm(0, 0);
	for (size_t i = 0; i < UNIT; i += 4096)
		ck_assert_int_eq(a[i], 0x42);
	b = run(2);	/* and it works again */
	give(b);
	give(a);
}
END_TEST

/*
 * Under RLIMIT_AS no large region can be reserved: a request that fits
 * the limit still gets a region of its own size, one that does not gets
 * NULL and ENOMEM, and nothing already allocated is lost.
 */
START_TEST(address_space_limit)
{
	char *keep = hak_malloc(3 * MiB);
	struct rlimit rl;
	size_t rss, vsz;
	char *p;

	ck_assert_ptr_nonnull(keep);
	memset(keep, 0x24, 3 * MiB);
	ck_assert_int_eq(getrlimit(RLIMIT_AS, &rl), 0);
	ck_assert_int_eq(statm(&rss, &vsz), 0);
	rl.rlim_cur = vsz + 48 * MiB;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	p = hak_malloc(12 * MiB);	/* no 64 MiB region: one of its own size */
	ck_assert_ptr_nonnull(p);
	memset(p, 1, 12 * MiB);
	errno = 0;
	ck_assert_ptr_null(hak_malloc(200 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	for (size_t i = 0; i < 3 * MiB; i += 4096)
		ck_assert_int_eq(keep[i], 0x24);
	hak_free(p);
	hak_free(keep);
}
END_TEST

/*
 * Zeroing a block of freed memory by giving its pages back: whole pages go
 * (they read as zero and are no longer resident), the partial last page is
 * written, and nothing past the size asked for is touched.
 */
START_TEST(zeroing_gives_whole_pages_back)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 2 * UNIT - 100;
	char *p = run(2);

	memset(p, 0x77, 2 * UNIT);
	ck_assert_uint_eq(resident(p, 2 * UNIT), 2 * UNIT / page);
	ck_assert(hak_ph_zero(p, size));
	for (size_t i = 0; i < size; i++)
		ck_assert_int_eq(p[i], 0);
	for (size_t i = size; i < 2 * UNIT; i++)
		ck_assert_int_eq(p[i], 0x77);
	/* Reading the zeroed pages above mapped them again, but not as memory
	 * of their own: give them back once more and look before reading. */
	ck_assert(hak_ph_zero(p, size));
	ck_assert_uint_eq(resident(p, HAK_ALIGN_DOWN(size, page)), 0);
	give(p);
}
END_TEST

static uint64_t stat(const char *name)
{
	uint64_t v = 0;

	if (hak_stat_get(name, &v))
		v = 0;
	return v;
}

/* Bytes every @step of [p, p + size), and the last, read as zero. */
static void zeros_at(const char *p, size_t size, size_t step)
{
	for (size_t i = 0; i < size; i += step)
		ck_assert_int_eq(p[i], 0);
	ck_assert_int_eq(p[size - 1], 0);
}

/*
 * A call site that fills what calloc gives it gets zeros written after its
 * first block given back came back touched; one that touches a few pages
 * keeps having pages given back.  Blocks read as zero either way (the
 * second site's are read on one page in 16: reading a page counts as
 * touching it).
 */
START_TEST(zeroing_learns_what_a_site_touches)
{
	static const char filler, toucher;
	size_t size = 3 * MiB;
	uint64_t back0 = stat("calloc.large.given_back"), wrote0 = stat("calloc.large.written");
	uint64_t back1, wrote1;

	for (int i = 0; i < 8; i++) {
		char *p = hak_alloc_zeroed(1, size, &filler);

		ck_assert_ptr_nonnull(p);
		zeros_at(p, size, 512);
		memset(p, 0x31, size);
		hak_free(p);
	}
	back1 = stat("calloc.large.given_back");
	wrote1 = stat("calloc.large.written");
	if (IS_ENABLED(CONFIG_HAKMEM_STATS)) {
		/* The first block was fresh; the next was given back; then
		 * writes (the first probe would be the 16th). */
		ck_assert_uint_eq(back1 - back0, 1);
		ck_assert_uint_eq(wrote1 - wrote0, 6);
	}
	for (int i = 0; i < 8; i++) {
		char *p = hak_alloc_zeroed(1, size, &toucher);

		ck_assert_ptr_nonnull(p);
		zeros_at(p, size, 16 * 4096 + 8);
		p[size / 2] = 1;
		hak_free(p);
	}
	if (IS_ENABLED(CONFIG_HAKMEM_STATS)) {
		/* The first may be fresh memory: the filler's last block may
		 * still sit in this thread's BigCache. */
		ck_assert_uint_eq(stat("calloc.large.written"), wrote1);
		ck_assert_uint_ge(stat("calloc.large.given_back") - back1, 7);
	}
}
END_TEST

static Suite *pageheap_suite(void)
{
	Suite *s = suite_create("pageheap");
	TCase *runs, *decay, *zeroing, *oom;

	runs = add_tcase(s, "runs", 60, runs_are_whole_aligned_units,
			 a_freed_run_is_split_for_smaller_ones, free_neighbours_coalesce,
			 committed_memory_is_taken_first, runs_grow_and_shrink_in_place,
			 runs_move_without_a_copy);
	decay = add_tcase(s, "decay", 60);
	/* The static backend cannot give pages back (no HAK_BACKEND_CAN_RETURN). */
	if (hak_backend->caps & HAK_BACKEND_CAN_RETURN) {
		tcase_add_test(decay, decay_returns_memory_after_the_delay);
		tcase_add_test(decay, over_the_budget_the_oldest_go_first);
	}
	zeroing = add_tcase(s, "zeroing", 60);
	if ((hak_backend->caps & HAK_BACKEND_CAN_RETURN) && hak_backend->resident) {
		tcase_add_test(zeroing, zeroing_gives_whole_pages_back);
		/* A build that guards every large block maps each one. */
		if (!HAK_HARDEN_GUARD)
			tcase_add_test(zeroing, zeroing_learns_what_a_site_touches);
	}
	oom = add_tcase(s, "out of memory", 60, fault_fails_cleanly_and_keeps_what_is_out,
			address_space_limit);
	tcase_add_checked_fixture(runs, setup, NULL);
	tcase_add_checked_fixture(decay, setup, NULL);
	tcase_add_checked_fixture(zeroing, setup, NULL);
	tcase_add_checked_fixture(oom, setup, NULL);
	return s;
}

TEST_MAIN(pageheap_suite)
