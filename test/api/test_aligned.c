/* SPDX-License-Identifier: MIT */
/*
 * test_aligned.c - the aligned entry points of the malloc family:
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc.
 *
 * Expectations are glibc 2.36's, so the suite passes against glibc alone.
 * Two of them are glibc-specific choices rather than standard text:
 *
 *  - aligned_alloc() and memalign() with an alignment that is not a power of
 *    two (0, 3, 24, ...) SUCCEED in glibc 2.36: the alignment is rounded up
 *    to the next power of two (0 counts as the minimum alignment).  glibc
 *    2.38 changed aligned_alloc() to fail with EINVAL, memalign() still
 *    rounds up.  This suite asserts the 2.36 behaviour that programs on this
 *    system were written against: a block aligned to the next power of two.
 *    (hak_aligned_alloc() is stricter and fails with EINVAL; see
 *    test_native_api.c.)
 *  - aligned_alloc() accepts a size that is not a multiple of the alignment
 *    (C17 dropped that requirement).
 *
 * The allocator is called through volatile function pointers so that the
 * compiler cannot reason about the builtins or warn about impossible sizes.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define MAX_ALIGN (128 * MiB)

static int (*volatile f_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile f_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile f_memalign)(size_t, size_t) = memalign;
static void *(*volatile f_valloc)(size_t) = valloc;
static void *(*volatile f_pvalloc)(size_t) = pvalloc;
static void *(*volatile f_realloc)(void *, size_t) = realloc;
static void (*volatile f_free)(void *) = free;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;

static const size_t sweep_sizes[] = { 0, 1, 15, 16, 17, 100, 4096, 100000, 3 * MiB };
#define NSIZES (sizeof(sweep_sizes) / sizeof(sweep_sizes[0]))

static size_t next_pow2(size_t a)
{
	size_t p = 1;

	while (p < a)
		p <<= 1;
	return p;
}

enum entry { E_POSIX_MEMALIGN, E_ALIGNED_ALLOC, E_MEMALIGN };
static const char *const entry_name[] = { "posix_memalign", "aligned_alloc", "memalign" };

static void *alloc_via(enum entry e, size_t align, size_t size)
{
	void *p = NULL;
	int r;

	switch (e) {
	case E_POSIX_MEMALIGN:
		r = f_posix_memalign(&p, align, size);
		ck_assert_msg(r == 0, "posix_memalign(%zu, %zu) = %d", align, size, r);
		return p;
	case E_ALIGNED_ALLOC:
		return f_aligned_alloc(align, size);
	case E_MEMALIGN:
		return f_memalign(align, size);
	}
	return NULL;
}

/*
 * All sizes of one alignment are live together, each filled with a pattern
 * and its slack up to the usable size written, then checked, so overlapping
 * blocks would show.
 */
static void sweep(enum entry e, size_t min_align)
{
	void *p[NSIZES];

	for (size_t a = min_align; a <= MAX_ALIGN; a *= 2) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t n = sweep_sizes[i], u;

			p[i] = alloc_via(e, a, n);
			ck_assert_msg(p[i] != NULL, "%s(%zu, %zu) failed", entry_name[e], a, n);
			ck_assert_msg(is_aligned(p[i], a), "%s(%zu, %zu) = %p is misaligned",
				      entry_name[e], a, n, p[i]);
			ck_assert_msg(is_aligned(p[i], 16),
				      "%s result %p not 16-byte aligned", entry_name[e], p[i]);
			u = f_usable(p[i]);
			ck_assert_msg(u >= n, "%s(%zu, %zu): usable size %zu", entry_name[e], a, n, u);
			fill(p[i], n, (unsigned)(a + i));
			touch_slack(p[i], n, u);
		}
		for (size_t i = 0; i < NSIZES; i++) {
			size_t n = sweep_sizes[i];

			ck_assert_msg(check_fill(p[i], n, (unsigned)(a + i)) == n,
				      "%s(%zu, %zu): block corrupted", entry_name[e], a,
				      sweep_sizes[i]);
		}
		for (size_t i = 0; i < NSIZES; i++)
			f_free(p[i]);
	}
}

START_TEST(posix_memalign_sweep)
{
	sweep(E_POSIX_MEMALIGN, sizeof(void *));
}
END_TEST

START_TEST(aligned_alloc_sweep)
{
	sweep(E_ALIGNED_ALLOC, 1);
}
END_TEST

START_TEST(memalign_sweep)
{
	sweep(E_MEMALIGN, 1);
}
END_TEST

/* Many small aligned blocks live at once: no overlap, alignment kept. */
START_TEST(aligned_many_small)
{
	enum { N = 2000 };
	static void *p[N];
	static const size_t aligns[] = { 32, 64, 128, 256, 4096 };

	for (size_t k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
		size_t a = aligns[k];

		for (int i = 0; i < N; i++) {
			size_t n = 1 + (size_t)(i * 37) % (a < 1024 ? 3 * a : 600);

			p[i] = alloc_via((enum entry)(i % 3), a, n);
			ck_assert(p[i] != NULL);
			ck_assert_msg(is_aligned(p[i], a), "%p not aligned to %zu", p[i], a);
			fill(p[i], n, (unsigned)i);
		}
		for (int i = 0; i < N; i++) {
			size_t n = 1 + (size_t)(i * 37) % (a < 1024 ? 3 * a : 600);

			ck_assert_msg(check_fill(p[i], n, (unsigned)i) == n,
				      "aligned block %d (align %zu) corrupted", i, a);
		}
		for (int i = 0; i < N; i++)
			f_free(p[(i * 7) % N]);
	}
}
END_TEST

/* realloc of an aligned block keeps contents; the result is 16-aligned. */
START_TEST(aligned_realloc)
{
	static const size_t aligns[] = { 64, 4096, 65536, 2 * MiB };
	static const size_t sizes[] = { 10, 1000, 40000, 1 * MiB, 5 * MiB };

	for (size_t k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
				size_t from = sizes[i], to = sizes[j];
				size_t keep = from < to ? from : to;
				void *p = alloc_via(E_POSIX_MEMALIGN, aligns[k], from);

				ck_assert(p != NULL);
				fill(p, from, (unsigned)(k + i + j));
				p = f_realloc(p, to);
				ck_assert_msg(p != NULL, "realloc of aligned block failed");
				ck_assert(is_aligned(p, 16));
				ck_assert(f_usable(p) >= to);
				ck_assert_msg(check_fill(p, keep, (unsigned)(k + i + j)) == keep,
					      "realloc(align %zu, %zu -> %zu) lost contents",
					      aligns[k], from, to);
				f_free(p);
			}
		}
	}
}
END_TEST

START_TEST(posix_memalign_einval)
{
	static const size_t bad[] = {
		0, 1, 2, 4, 3, 12, 24, 40, 48, 96, 4097, 4104, 3 * 4096,
		((size_t)1 << 63) + 8, SIZE_MAX, SIZE_MAX - 7,
	};
	static const size_t sizes[] = { 0, 1, 100, 1 * MiB };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			void *out = (void *)(uintptr_t)0xdeadbeef;
			int r = f_posix_memalign(&out, bad[i], sizes[j]);

			ck_assert_msg(r == EINVAL, "posix_memalign(align %#zx, %zu) = %d, want EINVAL",
				      bad[i], sizes[j], r);
			ck_assert_msg(out == (void *)(uintptr_t)0xdeadbeef,
				      "posix_memalign(align %#zx) touched the output on failure",
				      bad[i]);
		}
	}
}
END_TEST

START_TEST(posix_memalign_enomem)
{
	static const size_t cases[][2] = {
		{ 16, SIZE_MAX }, { 16, SIZE_MAX - 4096 }, { 4096, SIZE_MAX - 4096 },
		{ 64, (size_t)PTRDIFF_MAX + 1 }, { 2 * MiB, (size_t)PTRDIFF_MAX },
		{ (size_t)1 << 63, 16 }, { (size_t)1 << 63, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *out = (void *)(uintptr_t)0xdeadbeef;
		int r = f_posix_memalign(&out, cases[i][0], cases[i][1]);

		ck_assert_msg(r == ENOMEM, "posix_memalign(%#zx, %#zx) = %d, want ENOMEM",
			      cases[i][0], cases[i][1], r);
		ck_assert_msg(out == (void *)(uintptr_t)0xdeadbeef,
			      "posix_memalign(%#zx, %#zx) touched the output on failure",
			      cases[i][0], cases[i][1]);
	}
}
END_TEST

START_TEST(aligned_alloc_memalign_enomem)
{
	static const size_t cases[][2] = {
		{ 1, SIZE_MAX }, { 16, SIZE_MAX }, { 16, SIZE_MAX - 4096 },
		{ 4096, SIZE_MAX - 4096 }, { 64, (size_t)PTRDIFF_MAX + 1 },
		{ 2 * MiB, (size_t)PTRDIFF_MAX }, { (size_t)1 << 63, 16 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int e = E_ALIGNED_ALLOC; e <= E_MEMALIGN; e++) {
			void *p;
			int err;

			errno = 0;
			p = alloc_via((enum entry)e, cases[i][0], cases[i][1]);
			err = errno;
			ck_assert_msg(p == NULL, "%s(%#zx, %#zx) = %p, want NULL", entry_name[e],
				      cases[i][0], cases[i][1], p);
			ck_assert_msg(err == ENOMEM, "%s(%#zx, %#zx): errno %d, want ENOMEM",
				      entry_name[e], cases[i][0], cases[i][1], err);
		}
	}
}
END_TEST

/* glibc 2.36: not-a-power-of-two alignments are rounded up (see the top). */
START_TEST(aligned_alloc_memalign_round_up)
{
	static const size_t aligns[] = { 0, 3, 5, 12, 24, 48, 100, 1000, 4097, 3 * MiB };
	static const size_t sizes[] = { 0, 1, 100, 5000, 1 * MiB };

	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			for (int e = E_ALIGNED_ALLOC; e <= E_MEMALIGN; e++) {
				size_t want = next_pow2(aligns[i]);
				void *p;

				errno = 0;
				p = alloc_via((enum entry)e, aligns[i], sizes[j]);
				ck_assert_msg(p != NULL,
					      "%s(%zu, %zu) failed (errno %d); glibc 2.36 rounds the "
					      "alignment up to %zu", entry_name[e], aligns[i],
					      sizes[j], errno, want);
				ck_assert_msg(is_aligned(p, want), "%s(%zu, %zu) = %p, not %zu-aligned",
					      entry_name[e], aligns[i], sizes[j], p, want);
				ck_assert(f_usable(p) >= sizes[j]);
				memset(p, 0x11, sizes[j]);
				f_free(p);
			}
		}
	}
}
END_TEST

START_TEST(valloc_page_aligned)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 100000, 3 * MiB };
	void *p[sizeof(sizes) / sizeof(sizes[0])];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = f_valloc(sizes[i]);
		ck_assert_msg(p[i] != NULL, "valloc(%zu) failed", sizes[i]);
		ck_assert_msg(is_aligned(p[i], page), "valloc(%zu) = %p not page-aligned",
			      sizes[i], p[i]);
		ck_assert(f_usable(p[i]) >= sizes[i]);
		fill(p[i], f_usable(p[i]), (unsigned)i);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert(check_fill(p[i], f_usable(p[i]), (unsigned)i) == f_usable(p[i]));
		f_free(p[i]);
	}
}
END_TEST

START_TEST(pvalloc_rounds_to_page)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 100000, 3 * MiB + 1 };
	void *p[sizeof(sizes) / sizeof(sizes[0])];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t want = (sizes[i] + page - 1) / page * page;

		p[i] = f_pvalloc(sizes[i]);
		ck_assert_msg(p[i] != NULL, "pvalloc(%zu) failed", sizes[i]);
		ck_assert_msg(is_aligned(p[i], page), "pvalloc(%zu) = %p not page-aligned",
			      sizes[i], p[i]);
		/* glibc's pvalloc(0) does not promise a whole page. */
		ck_assert_msg(f_usable(p[i]) >= want, "pvalloc(%zu): usable %zu < %zu",
			      sizes[i], f_usable(p[i]), want);
		fill(p[i], f_usable(p[i]), (unsigned)i);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert(check_fill(p[i], f_usable(p[i]), (unsigned)i) == f_usable(p[i]));
		f_free(p[i]);
	}
}
END_TEST

START_TEST(valloc_pvalloc_enomem)
{
	static const size_t sizes[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096, SIZE_MAX - 2 * MiB,
		(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p;
		int e;

		errno = 0;
		p = f_valloc(sizes[i]);
		e = errno;
		ck_assert_msg(p == NULL && e == ENOMEM, "valloc(%#zx) = %p errno %d, want NULL/ENOMEM",
			      sizes[i], p, e);
		errno = 0;
		p = f_pvalloc(sizes[i]);
		e = errno;
		ck_assert_msg(p == NULL && e == ENOMEM, "pvalloc(%#zx) = %p errno %d, want NULL/ENOMEM",
			      sizes[i], p, e);
	}
}
END_TEST

static Suite *aligned_suite(void)
{
	Suite *s = suite_create("aligned");

	add_tcase(s, "sweep", 90, posix_memalign_sweep, aligned_alloc_sweep, memalign_sweep,
		  aligned_many_small, aligned_realloc);
	add_tcase(s, "errors", 30, posix_memalign_einval, posix_memalign_enomem,
		  aligned_alloc_memalign_enomem, aligned_alloc_memalign_round_up);
	add_tcase(s, "page", 30, valloc_page_aligned, pvalloc_rounds_to_page, valloc_pvalloc_enomem);
	return s;
}

TEST_MAIN(aligned_suite)
