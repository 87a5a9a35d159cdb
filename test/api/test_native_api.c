/* SPDX-License-Identifier: MIT */
/*
 * test_native_api.c - the hak_* API of include/hakmem.h, and its mixing
 * with the malloc family: memory from one interface may be released,
 * resized and measured through the other.
 *
 * hak_aligned_alloc() follows its header: only powers of two are valid
 * alignments (0 is not one); anything else fails with EINVAL.  This differs
 * on purpose from glibc 2.36's aligned_alloc(), which rounds up (see
 * test_aligned.c).
 *
 * The functions are called through volatile pointers so that the compiler
 * cannot drop allocation/free pairs or warn about impossible sizes.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem.h>

#include "testlib.h"

static void *(*volatile h_malloc)(size_t) = hak_malloc;
static void *(*volatile h_malloc_site)(size_t, const void *) = hak_malloc_site;
static void *(*volatile h_calloc)(size_t, size_t) = hak_calloc;
static void *(*volatile h_realloc)(void *, size_t) = hak_realloc;
static void *(*volatile h_aligned_alloc)(size_t, size_t) = hak_aligned_alloc;
static void (*volatile h_free)(void *) = hak_free;
static size_t (*volatile h_usable)(const void *) = hak_usable_size;

static void *(*volatile f_malloc)(size_t) = malloc;
static void *(*volatile f_calloc)(size_t, size_t) = calloc;
static void *(*volatile f_realloc)(void *, size_t) = realloc;
static int (*volatile f_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile f_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile f_memalign)(size_t, size_t) = memalign;
static void (*volatile f_free)(void *) = free;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;

static const size_t sizes[] = {
	0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 48, 64, 100, 128, 255, 256, 500, 512, 1000,
	1024, 2000, 4095, 4096, 4097, 8000, 8192, 16384, 30000, 32767, 32768, 32769,
	50000, 65536, 100000, 131072, 262144, 500000, 1 * MiB, 2 * MiB - 1, 2 * MiB,
	2 * MiB + 1, 3 * MiB, 5 * MiB, 16 * MiB,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

START_TEST(version_string)
{
	const char *v = hak_version();

	ck_assert_msg(v != NULL, "hak_version() returned NULL");
	ck_assert_msg(strncmp(v, "0.1.0", 5) == 0, "hak_version() = \"%s\"", v);
	ck_assert_msg(strncmp(v, HAK_VERSION_STRING, strlen(HAK_VERSION_STRING)) == 0,
		      "library %s does not match header %s", v, HAK_VERSION_STRING);
	ck_assert(v[5] == '\0' || v[5] == ' ');
	ck_assert_ptr_eq(hak_version(), v);
}
END_TEST

START_TEST(hak_malloc_zero)
{
	enum { N = 128 };
	void *p[N];

	for (int i = 0; i < N; i++) {
		p[i] = h_malloc(0);
		ck_assert(p[i] != NULL);
		ck_assert(is_aligned(p[i], 16));
		for (int j = 0; j < i; j++)
			ck_assert_msg(p[i] != p[j], "hak_malloc(0) returned %p twice", p[i]);
	}
	for (int i = 0; i < N; i++)
		h_free(p[i]);
}
END_TEST

START_TEST(hak_malloc_sizes)
{
	void *p[NSIZES];

	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t u;

			p[i] = h_malloc(sizes[i]);
			ck_assert_msg(p[i] != NULL, "hak_malloc(%zu) failed", sizes[i]);
			ck_assert_msg(is_aligned(p[i], 16), "hak_malloc(%zu) = %p", sizes[i], p[i]);
			u = h_usable(p[i]);
			ck_assert_msg(u >= sizes[i], "hak_usable_size %zu < %zu", u, sizes[i]);
			fill(p[i], u, (unsigned)i);
		}
		for (size_t i = 0; i < NSIZES; i++) {
			size_t u = h_usable(p[i]);

			ck_assert_msg(check_fill(p[i], u, (unsigned)i) == u,
				      "hak_malloc(%zu) block corrupted", sizes[i]);
			h_free(p[i]);
		}
	}
}
END_TEST

START_TEST(hak_null_and_errors)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
	};

	ck_assert_uint_eq(h_usable(NULL), 0);
	errno = 4321;
	h_free(NULL);
	ck_assert_int_eq(errno, 4321);
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		ASSERT_ENOMEM(h_malloc(huge[i]));
		ASSERT_ENOMEM(h_malloc_site(huge[i], (const void *)h_malloc));
		ASSERT_ENOMEM(h_calloc(1, huge[i]));
		ASSERT_ENOMEM(h_realloc(NULL, huge[i]));
		ASSERT_ENOMEM(h_aligned_alloc(64, huge[i]));
	}
	ASSERT_ENOMEM(h_calloc(SIZE_MAX, 2));
	ASSERT_ENOMEM(h_calloc((size_t)1 << 32, (size_t)1 << 32));
	ASSERT_ENOMEM(h_aligned_alloc((size_t)1 << 63, 16));
}
END_TEST

START_TEST(hak_free_keeps_errno)
{
	for (size_t i = 0; i < NSIZES; i++) {
		void *a = h_malloc(sizes[i]), *b = h_calloc(1, sizes[i]);
		void *c = h_aligned_alloc(4096, sizes[i]);

		ck_assert(a && b && c);
		errno = 4321;
		h_free(a);
		h_free(b);
		h_free(c);
		ck_assert_msg(errno == 4321, "hak_free (size %zu) changed errno to %d",
			      sizes[i], errno);
	}
}
END_TEST

START_TEST(hak_calloc_zero_on_reuse)
{
	void *p[8];

	for (int round = 0; round < 10; round++) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t n = sizes[i];
			int cnt = n > 256 * KiB ? 2 : 8;

			for (int k = 0; k < cnt; k++) {
				p[k] = h_malloc(n);
				ck_assert(p[k] != NULL);
				memset(p[k], 0xAA, h_usable(p[k]));
			}
			for (int k = 0; k < cnt; k++)
				h_free(p[k]);
			for (int k = 0; k < cnt; k++) {
				size_t bad;

				p[k] = h_calloc(n, 1);
				ck_assert(p[k] != NULL);
				bad = first_nonzero(p[k], n);
				ck_assert_msg(bad == n, "hak_calloc(%zu) byte %zu not zero", n, bad);
			}
			for (int k = 0; k < cnt; k++)
				h_free(p[k]);
		}
	}
}
END_TEST

START_TEST(hak_realloc_contract)
{
	for (size_t a = 0; a < NSIZES; a += 2) {
		for (size_t b = 1; b < NSIZES; b += 2) {
			size_t from = sizes[a], to = sizes[b], keep = from < to ? from : to;
			void *p = h_malloc(from), *q;

			ck_assert(p != NULL);
			fill(p, from, (unsigned)(a + b));
			q = h_realloc(p, to);
			ck_assert_msg(q != NULL, "hak_realloc(%zu -> %zu) failed", from, to);
			ck_assert(is_aligned(q, 16));
			ck_assert(h_usable(q) >= to);
			ck_assert_msg(check_fill(q, keep, (unsigned)(a + b)) == keep,
				      "hak_realloc(%zu -> %zu) lost contents", from, to);
			/* And back (to 0 would free). */
			p = h_realloc(q, from ? from : 1);
			ck_assert(p != NULL);
			ck_assert_msg(check_fill(p, keep, (unsigned)(a + b)) == keep,
				      "hak_realloc(%zu -> %zu -> %zu) lost contents", from, to, from);
			h_free(p);
		}
	}

	void *p = h_realloc(NULL, 100);

	ck_assert(p != NULL && h_usable(p) >= 100);
	fill(p, 100, 1);
	ASSERT_ENOMEM(h_realloc(p, SIZE_MAX));
	ck_assert_uint_eq(check_fill(p, 100, 1), 100);
	ck_assert_msg(h_realloc(p, 0) == NULL, "hak_realloc(p, 0) frees and returns NULL");
	p = h_malloc(3 * MiB);
	ck_assert(p != NULL);
	ck_assert(h_realloc(p, 0) == NULL);
}
END_TEST

START_TEST(hak_aligned_alloc_sweep)
{
	static const size_t asizes[] = { 0, 1, 15, 16, 17, 100, 4096, 100000, 3 * MiB };
	void *p[sizeof(asizes) / sizeof(asizes[0])];

	for (size_t a = 1; a <= 128 * MiB; a *= 2) {
		for (size_t i = 0; i < sizeof(asizes) / sizeof(asizes[0]); i++) {
			size_t u;

			p[i] = h_aligned_alloc(a, asizes[i]);
			ck_assert_msg(p[i] != NULL, "hak_aligned_alloc(%zu, %zu) failed", a, asizes[i]);
			ck_assert_msg(is_aligned(p[i], a) && is_aligned(p[i], 16),
				      "hak_aligned_alloc(%zu, %zu) = %p", a, asizes[i], p[i]);
			u = h_usable(p[i]);
			ck_assert(u >= asizes[i]);
			fill(p[i], asizes[i], (unsigned)(a + i));
			touch_slack(p[i], asizes[i], u);
		}
		for (size_t i = 0; i < sizeof(asizes) / sizeof(asizes[0]); i++) {
			size_t u = asizes[i];

			ck_assert_msg(check_fill(p[i], u, (unsigned)(a + i)) == u,
				      "hak_aligned_alloc(%zu, %zu) block corrupted", a, asizes[i]);
			/* Alternate the release path. */
			if (i & 1)
				f_free(p[i]);
			else
				h_free(p[i]);
		}
	}
}
END_TEST

START_TEST(hak_aligned_alloc_einval)
{
	static const size_t bad[] = {
		0, 3, 5, 6, 12, 24, 48, 100, 4097, 3 * MiB, ((size_t)1 << 63) + 1, SIZE_MAX,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *p;
		int e;

		errno = 0;
		p = h_aligned_alloc(bad[i], 64);
		e = errno;
		ck_assert_msg(p == NULL, "hak_aligned_alloc(%#zx, 64) = %p, want NULL", bad[i], p);
		ck_assert_msg(e == EINVAL, "hak_aligned_alloc(%#zx, 64): errno %d, want EINVAL",
			      bad[i], e);
	}
}
END_TEST

START_TEST(hak_malloc_site_contract)
{
	const void *site_ret = __builtin_return_address(0);
	const void *sites[] = { NULL, site_ret, (const void *)h_malloc, (const void *)&sites };
	void *p[NSIZES];

	for (size_t s = 0; s < sizeof(sites) / sizeof(sites[0]); s++) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t u;

			p[i] = h_malloc_site(sizes[i], sites[s]);
			ck_assert_msg(p[i] != NULL, "hak_malloc_site(%zu) failed", sizes[i]);
			ck_assert(is_aligned(p[i], 16));
			u = h_usable(p[i]);
			ck_assert(u >= sizes[i]);
			ck_assert_uint_eq(f_usable(p[i]), u);
			fill(p[i], u, (unsigned)(s * 100 + i));
		}
		for (size_t i = 0; i < NSIZES; i++) {
			size_t u = h_usable(p[i]);

			ck_assert(check_fill(p[i], u, (unsigned)(s * 100 + i)) == u);
			switch ((i + s) % 3) {
			case 0:
				h_free(p[i]);
				break;
			case 1:
				f_free(p[i]);
				break;
			default:
				p[i] = h_realloc(p[i], sizes[i] * 2 + 1);
				ck_assert(p[i] != NULL);
				ck_assert(check_fill(p[i], sizes[i], (unsigned)(s * 100 + i)) ==
					  sizes[i]);
				f_free(p[i]);
			}
		}
	}
}
END_TEST

/* free(hak_malloc(n)), hak_free(malloc(n)) and every other pairing. */
START_TEST(mix_with_libc)
{
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];
		void *p;
		size_t u;

		p = h_malloc(n);
		ck_assert(p != NULL);
		ck_assert_uint_eq(f_usable(p), h_usable(p));
		memset(p, 1, n);
		f_free(p);

		p = f_malloc(n);
		ck_assert(p != NULL);
		u = f_usable(p);
		ck_assert_uint_eq(h_usable(p), u);
		memset(p, 2, u);
		h_free(p);

		p = f_calloc(1, n);
		ck_assert(p != NULL);
		ck_assert_uint_eq(first_nonzero(p, n), n);
		h_free(p);

		p = h_calloc(n, 1);
		ck_assert(p != NULL);
		ck_assert_uint_eq(first_nonzero(p, n), n);
		f_free(p);

		/* realloc across interfaces keeps contents. */
		p = f_malloc(n);
		ck_assert(p != NULL);
		fill(p, n, 3);
		p = h_realloc(p, n + 1000);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, n, 3), n);
		p = f_realloc(p, n / 2 + 1);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, n / 2, 3), n / 2);
		h_free(p);

		p = h_malloc(n);
		ck_assert(p != NULL);
		fill(p, n, 4);
		p = f_realloc(p, 2 * n + 1);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, n, 4), n);
		h_free(p);

		/* Aligned blocks from either side. */
		ck_assert_int_eq(f_posix_memalign(&p, 4096, n), 0);
		ck_assert(h_usable(p) >= n);
		memset(p, 5, n);
		h_free(p);
		p = f_aligned_alloc(1 * MiB, n);
		ck_assert(p != NULL && is_aligned(p, 1 * MiB));
		ck_assert(h_usable(p) >= n);
		h_free(p);
		p = f_memalign(64, n);
		ck_assert(p != NULL);
		h_free(p);
		p = h_aligned_alloc(2 * MiB, n);
		ck_assert(p != NULL && is_aligned(p, 2 * MiB));
		ck_assert_uint_eq(f_usable(p), h_usable(p));
		p = f_realloc(p, n + 64);
		ck_assert(p != NULL);
		h_free(p);
	}
}
END_TEST

/* hak_malloc in one thread, hak_free/free in another. */
struct mix_arg {
	void **blocks;
	size_t *len;
	int n;
	int bad;
};

static void *mix_consumer(void *a)
{
	struct mix_arg *m = a;

	for (int i = 0; i < m->n; i++) {
		if (check_fill(m->blocks[i], m->len[i], (unsigned)i) != m->len[i])
			m->bad++;
		if (i & 1)
			hak_free(m->blocks[i]);
		else
			free(m->blocks[i]);
	}
	return NULL;
}

START_TEST(mix_across_threads)
{
	enum { N = 4000 };
	static void *blocks[N];
	static size_t len[N];
	struct mix_arg m = { blocks, len, N, 0 };

	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++) {
			len[i] = sizes[(size_t)(i * 7 + round) % 32]; /* up to 50000 */
			blocks[i] = (i % 3) ? h_malloc(len[i]) : f_malloc(len[i]);
			ck_assert(blocks[i] != NULL);
			fill(blocks[i], len[i], (unsigned)i);
		}
		m.bad = 0;
		run_thread(mix_consumer, &m);
		ck_assert_msg(m.bad == 0, "%d blocks corrupted across threads", m.bad);
	}
}
END_TEST

static Suite *native_suite(void)
{
	Suite *s = suite_create("native_api");

	add_tcase(s, "basic", 60, version_string, hak_malloc_zero, hak_malloc_sizes,
		  hak_null_and_errors, hak_free_keeps_errno, hak_calloc_zero_on_reuse,
		  hak_realloc_contract, hak_malloc_site_contract);
	add_tcase(s, "aligned", 60, hak_aligned_alloc_sweep, hak_aligned_alloc_einval);
	add_tcase(s, "mixing", 60, mix_with_libc, mix_across_threads);
	return s;
}

TEST_MAIN(native_suite)
