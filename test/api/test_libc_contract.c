/* SPDX-License-Identifier: MIT */
/*
 * test_libc_contract.c - the malloc family's contract, as a program linked
 * with -lhakmem (or run under LD_PRELOAD) sees it.
 *
 * Covers malloc, calloc, realloc, reallocarray, free, malloc_usable_size and
 * the C23 free_sized/free_aligned_sized.  The aligned entry points live in
 * test_aligned.c, the hak_* API in test_native_api.c.
 *
 * Every expectation here is also what glibc 2.36 does, so the suite passes
 * when run against glibc alone; hakmem must behave the same.
 *
 * The allocator is called through volatile function pointers: the compiler
 * knows the builtin malloc family and may otherwise delete malloc/free pairs,
 * fold errno reads across free(), or warn about the deliberately impossible
 * sizes used below.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static void *(*volatile f_malloc)(size_t) = malloc;
static void *(*volatile f_calloc)(size_t, size_t) = calloc;
static void *(*volatile f_realloc)(void *, size_t) = realloc;
static void *(*volatile f_reallocarray)(void *, size_t, size_t) = reallocarray;
static void (*volatile f_free)(void *) = free;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;
static void *(*volatile f_aligned_alloc)(size_t, size_t) = aligned_alloc;

/* C23 functions glibc 2.36 lacks; looked up at run time (see free_sized tests). */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);

/* A live block: allocated, usable size checked and fully written. */
static void *checked_malloc(size_t n, unsigned seed)
{
	void *p = f_malloc(n);
	size_t u;

	ck_assert_msg(p != NULL, "malloc(%zu) failed", n);
	ck_assert_msg(is_aligned(p, 16), "malloc(%zu) = %p not 16-byte aligned", n, p);
	u = f_usable(p);
	ck_assert_msg(u >= n, "malloc_usable_size %zu < request %zu", u, n);
	fill(p, u, seed);
	return p;
}

/* ---- malloc ---------------------------------------------------------- */

START_TEST(malloc_zero_distinct)
{
	enum { N = 256 };
	void *p[N];

	for (int i = 0; i < N; i++) {
		p[i] = f_malloc(0);
		ck_assert_msg(p[i] != NULL, "malloc(0) returned NULL");
		ck_assert_msg(is_aligned(p[i], 16), "malloc(0) = %p not 16-byte aligned", p[i]);
		for (int j = 0; j < i; j++)
			ck_assert_msg(p[i] != p[j], "malloc(0) returned %p twice", p[i]);
	}
	for (int i = 0; i < N; i++)
		f_free(p[i]);
	/* And again after the frees: still unique while live. */
	for (int i = 0; i < N; i++)
		p[i] = f_malloc(0);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < i; j++)
			ck_assert(p[i] != NULL && p[i] != p[j]);
	for (int i = N - 1; i >= 0; i--)
		f_free(p[i]);
}
END_TEST

/*
 * Every size from 0 to 4 KiB, then a geometric sweep to 4 MiB with each
 * point's neighbours.  Blocks are kept live in windows so that overlapping
 * blocks would corrupt each other's patterns.
 */
#define WINDOW 48

static size_t sweep_sizes(size_t *out, size_t max)
{
	size_t n = 0;

	for (size_t s = 0; s <= 4096; s++)
		out[n++] = s;
	for (size_t s = 4096; s <= 4 * MiB && n + 3 <= max; s += s / 8) {
		out[n++] = s - 1;
		out[n++] = s;
		out[n++] = s + 1;
	}
	for (int k = 13; k <= 22 && n + 2 <= max; k++) {
		out[n++] = ((size_t)1 << k) - 16;
		out[n++] = ((size_t)1 << k) + 16;
	}
	return n;
}

START_TEST(malloc_size_sweep)
{
	static size_t sizes[8192];
	size_t n = sweep_sizes(sizes, sizeof(sizes) / sizeof(sizes[0]));
	void *live[WINDOW];
	size_t usable[WINDOW];

	for (size_t base = 0; base < n; base += WINDOW) {
		size_t cnt = n - base < WINDOW ? n - base : WINDOW;

		for (size_t i = 0; i < cnt; i++) {
			live[i] = checked_malloc(sizes[base + i], (unsigned)(base + i));
			usable[i] = f_usable(live[i]);
		}
		for (size_t i = 0; i < cnt; i++) {
			size_t bad = check_fill(live[i], usable[i], (unsigned)(base + i));

			ck_assert_msg(bad == usable[i],
				      "block of %zu (usable %zu) at %p corrupted at offset %zu",
				      sizes[base + i], usable[i], live[i], bad);
			ck_assert_msg(f_usable(live[i]) == usable[i],
				      "malloc_usable_size changed for a live block");
		}
		for (size_t i = 0; i < cnt; i++)
			f_free(live[i]);
	}
}
END_TEST

START_TEST(malloc_impossible_sizes)
{
	static const size_t sizes[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096, SIZE_MAX - 2 * MiB,
		(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4096,
		(size_t)1 << 62,
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		void *p = f_malloc(sizes[i]);
		int e = errno;

		ck_assert_msg(p == NULL, "malloc(%#zx) = %p, want NULL", sizes[i], p);
		ck_assert_msg(e == ENOMEM, "malloc(%#zx): errno %d, want ENOMEM", sizes[i], e);
	}
	/* Still working afterwards. */
	f_free(checked_malloc(100, 1));
	f_free(checked_malloc(3 * MiB, 2));
}
END_TEST

/* ---- calloc ---------------------------------------------------------- */

START_TEST(calloc_overflow_and_huge)
{
	static const size_t pairs[][2] = {
		/* nmemb * size overflows */
		{ SIZE_MAX, 2 }, { 2, SIZE_MAX }, { (size_t)1 << 32, (size_t)1 << 32 },
		{ SIZE_MAX / 2 + 1, 2 }, { (size_t)1 << 33, (size_t)1 << 31 },
		{ SIZE_MAX / 3 + 1, 3 }, { 65537, SIZE_MAX / 65536 },
		/* fits in size_t but impossible */
		{ 1, SIZE_MAX }, { SIZE_MAX, 1 }, { 1, (size_t)PTRDIFF_MAX + 1 },
		{ (size_t)1 << 31, (size_t)1 << 32 }, { 16, (size_t)PTRDIFF_MAX / 8 },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		errno = 0;
		void *p = f_calloc(pairs[i][0], pairs[i][1]);
		int e = errno;

		ck_assert_msg(p == NULL, "calloc(%#zx, %#zx) = %p, want NULL",
			      pairs[i][0], pairs[i][1], p);
		ck_assert_msg(e == ENOMEM, "calloc(%#zx, %#zx): errno %d, want ENOMEM",
			      pairs[i][0], pairs[i][1], e);
	}
}
END_TEST

START_TEST(calloc_zero_sizes)
{
	void *a = f_calloc(0, 0), *b = f_calloc(0, 100), *c = f_calloc(100, 0);

	ck_assert(a != NULL && b != NULL && c != NULL);
	ck_assert(a != b && b != c && a != c);
	ck_assert(is_aligned(a, 16) && is_aligned(b, 16) && is_aligned(c, 16));
	f_free(a);
	f_free(b);
	f_free(c);
}
END_TEST

/*
 * calloc must return zeroed memory also when it hands back a block that was
 * just freed dirty (small classes, reused large blocks, cached mappings).
 */
static const size_t zero_sizes[] = {
	1, 8, 15, 16, 24, 32, 48, 64, 100, 128, 256, 500, 512, 1000, 1024, 2048,
	4000, 4096, 8192, 16384, 30000, 32768, 32769, 65536, 100000, 131072,
	262144, 1 * MiB, 1 * MiB + 1, 4 * MiB,
};

START_TEST(calloc_zero_on_reuse)
{
	enum { MAXK = 64 };
	void *blk[MAXK];

	for (int round = 0; round < 12; round++) {
		for (size_t s = 0; s < sizeof(zero_sizes) / sizeof(zero_sizes[0]); s++) {
			size_t n = zero_sizes[s];
			int k = n <= 4096 ? MAXK : n <= 131072 ? 16 : 3;

			for (int i = 0; i < k; i++) {
				blk[i] = f_malloc(n);
				ck_assert(blk[i] != NULL);
				memset(blk[i], 0xAA, f_usable(blk[i]));
			}
			for (int i = 0; i < k; i++)
				f_free(blk[(i * 7 + round) % k]); /* 7 is coprime to every k */
			for (int i = 0; i < k; i++) {
				/* Alternate how the product is split. */
				size_t nmemb = (i & 1) && n % 8 == 0 ? n / 8 : n;
				size_t each = n / nmemb;
				size_t bad;

				blk[i] = f_calloc(nmemb, each);
				ck_assert_msg(blk[i] != NULL, "calloc(%zu, %zu) failed", nmemb, each);
				bad = first_nonzero(blk[i], n);
				ck_assert_msg(bad == n,
					      "calloc(%zu, %zu) (round %d) byte %zu is %#x, not zero",
					      nmemb, each, round, bad,
					      ((unsigned char *)blk[i])[bad]);
				memset(blk[i], 0xAA, f_usable(blk[i]));
			}
			for (int i = k - 1; i >= 0; i--)
				f_free(blk[i]);
		}
	}
}
END_TEST

/* ---- realloc --------------------------------------------------------- */

static const size_t re_sizes[] = {
	1, 8, 16, 24, 100, 1000, 4096, 16000, 32768, 32769, 65536, 100000,
	1 * MiB, 3 * MiB, 8 * MiB,
};

START_TEST(realloc_keeps_contents)
{
	size_t ns = sizeof(re_sizes) / sizeof(re_sizes[0]);

	for (size_t a = 0; a < ns; a++) {
		for (size_t b = 0; b < ns; b++) {
			size_t from = re_sizes[a], to = re_sizes[b];
			size_t keep = from < to ? from : to, bad;
			unsigned seed = (unsigned)(a * 31 + b);
			/* A neighbour so that in-place growth has something to bump into. */
			void *guard = checked_malloc(from, seed + 1000);
			void *p = f_malloc(from), *q;

			ck_assert(p != NULL);
			fill(p, from, seed);
			q = f_realloc(p, to);
			ck_assert_msg(q != NULL, "realloc(%zu -> %zu) failed", from, to);
			ck_assert_msg(is_aligned(q, 16), "realloc result %p not 16-byte aligned", q);
			ck_assert_msg(f_usable(q) >= to, "realloc(%zu -> %zu): usable %zu",
				      from, to, f_usable(q));
			bad = check_fill(q, keep, seed);
			ck_assert_msg(bad == keep,
				      "realloc(%zu -> %zu) lost contents at offset %zu",
				      from, to, bad);
			fill(q, f_usable(q), seed + 7);
			bad = check_fill(guard, f_usable(guard), seed + 1000);
			ck_assert_msg(bad == f_usable(guard), "realloc(%zu -> %zu) clobbered a neighbour",
				      from, to);
			f_free(q);
			f_free(guard);
		}
	}
}
END_TEST

START_TEST(realloc_step_by_step)
{
	/* Grow one byte at a time, then by doubling, then shrink back. */
	unsigned char *p = NULL;
	size_t n;

	for (n = 1; n <= 5000; n++) {
		p = f_realloc(p, n);
		ck_assert(p != NULL);
		p[n - 1] = (unsigned char)(n * 13);
		if (n % 97 == 0)
			for (size_t i = 0; i < n; i++)
				ck_assert_msg(p[i] == (unsigned char)((i + 1) * 13),
					      "byte %zu lost at size %zu", i, n);
	}
	fill(p, 5000, 5);
	for (n = 5000; n <= 32 * MiB; n *= 2) {
		p = f_realloc(p, n * 2);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, 5000, 5), 5000);
		memset(p + n, 0x5c, n);
	}
	for (; n >= 4096; n /= 3) {
		p = f_realloc(p, n);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, 4096 < n ? 4096 : n, 5), 4096 < n ? 4096 : n);
	}
	f_free(p);
}
END_TEST

START_TEST(realloc_null_is_malloc)
{
	static const size_t sizes[] = { 0, 1, 16, 100, 4096, 40000, 1 * MiB, 5 * MiB };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = f_realloc(NULL, sizes[i]);

		ck_assert_msg(p != NULL, "realloc(NULL, %zu) failed", sizes[i]);
		ck_assert(is_aligned(p, 16));
		ck_assert(f_usable(p) >= sizes[i]);
		memset(p, 0x33, f_usable(p));
		f_free(p);
	}
}
END_TEST

/* glibc: realloc(p, 0) with p != NULL frees p and returns NULL. */
START_TEST(realloc_zero_frees)
{
	static const size_t sizes[] = { 1, 100, 4096, 100000, 2 * MiB };

	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = checked_malloc(sizes[i], 9);

			ck_assert_msg(f_realloc(p, 0) == NULL,
				      "realloc(p, 0) must free p and return NULL (glibc)");
		}
	}
}
END_TEST

START_TEST(realloc_failure_leaves_block)
{
	static const size_t from[] = { 10, 100, 4000, 40000, 1 * MiB, 5 * MiB };
	static const size_t to[] = {
		SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
		(size_t)1 << 62,
	};

	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		void *p = checked_malloc(from[i], 77);
		size_t u = f_usable(p);

		for (size_t j = 0; j < sizeof(to) / sizeof(to[0]); j++) {
			errno = 0;
			void *q = f_realloc(p, to[j]);
			int e = errno;

			ck_assert_msg(q == NULL, "realloc(%zu -> %#zx) = %p, want NULL",
				      from[i], to[j], q);
			ck_assert_msg(e == ENOMEM, "realloc(%zu -> %#zx): errno %d, want ENOMEM",
				      from[i], to[j], e);
			ck_assert_msg(check_fill(p, u, 77) == u,
				      "failed realloc damaged the block");
			ck_assert(f_usable(p) == u);
		}
		/* The block is still owned and resizable. */
		p = f_realloc(p, from[i] * 2);
		ck_assert(p != NULL);
		ck_assert_uint_eq(check_fill(p, from[i], 77), from[i]);
		f_free(p);
	}
	ASSERT_ENOMEM(f_realloc(NULL, SIZE_MAX));
}
END_TEST

START_TEST(reallocarray_contract)
{
	unsigned char *p = f_reallocarray(NULL, 10, 10);

	ck_assert(p != NULL);
	fill(p, 100, 3);
	p = f_reallocarray(p, 1000, 100);
	ck_assert(p != NULL);
	ck_assert_uint_eq(check_fill(p, 100, 3), 100);
	fill(p, 100000, 4);

	static const size_t ovf[][2] = {
		{ SIZE_MAX, 2 }, { (size_t)1 << 32, (size_t)1 << 32 }, { 3, SIZE_MAX / 2 },
		{ SIZE_MAX / 2 + 1, 2 }, { 1, SIZE_MAX },
	};
	for (size_t i = 0; i < sizeof(ovf) / sizeof(ovf[0]); i++) {
		errno = 0;
		void *q = f_reallocarray(p, ovf[i][0], ovf[i][1]);
		int e = errno;

		ck_assert_msg(q == NULL, "reallocarray(p, %#zx, %#zx) = %p, want NULL",
			      ovf[i][0], ovf[i][1], q);
		ck_assert_msg(e == ENOMEM, "reallocarray overflow: errno %d, want ENOMEM", e);
		ck_assert_msg(check_fill(p, 100000, 4) == 100000,
			      "failed reallocarray damaged the block");
	}
	ASSERT_ENOMEM(f_reallocarray(NULL, SIZE_MAX, SIZE_MAX));
	p = f_reallocarray(p, 10, 10);
	ck_assert(p != NULL);
	ck_assert_uint_eq(check_fill(p, 100, 4), 100);
	f_free(p);
}
END_TEST

/* ---- free and malloc_usable_size ------------------------------------- */

START_TEST(usable_size_null)
{
	ck_assert_uint_eq(f_usable(NULL), 0);
}
END_TEST

START_TEST(free_null)
{
	for (int i = 0; i < 1000; i++)
		f_free(NULL);
	f_free(checked_malloc(10, 1));
}
END_TEST

START_TEST(free_keeps_errno)
{
	static const size_t sizes[] = {
		0, 1, 16, 100, 1024, 4096, 32768, 32769, 100000, 1 * MiB, 16 * MiB, 64 * MiB,
	};
	enum { N = 2000 };
	static void *many[N];
	size_t ns = sizeof(sizes) / sizeof(sizes[0]);
	int e;

	errno = 1234;
	f_free(NULL);
	e = errno;
	ck_assert_int_eq(e, 1234);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < ns; i++) {
			void *p = checked_malloc(sizes[i], 1);
			void *c = f_calloc(1, sizes[i]);
			void *a = f_aligned_alloc(4096, sizes[i]);

			ck_assert(c != NULL && a != NULL);
			errno = 1234;
			f_free(p);
			e = errno;
			ck_assert_msg(e == 1234, "free(malloc(%zu)) changed errno to %d", sizes[i], e);
			errno = 1234;
			f_free(c);
			e = errno;
			ck_assert_msg(e == 1234, "free(calloc(1, %zu)) changed errno to %d", sizes[i], e);
			errno = 1234;
			f_free(a);
			e = errno;
			ck_assert_msg(e == 1234, "free(aligned_alloc(4096, %zu)) changed errno to %d",
				      sizes[i], e);
		}
		/*
		 * Many frees in a row, then frees after a pause: these reach the
		 * slow paths that return memory to the OS.
		 */
		for (int i = 0; i < N; i++)
			many[i] = checked_malloc(sizes[i % 8], 2);
		errno = 1234;
		for (int i = 0; i < N; i++)
			f_free(many[i]);
		e = errno;
		ck_assert_msg(e == 1234, "a run of frees changed errno to %d", e);
		for (int i = 0; i < 64; i++)
			many[i] = checked_malloc(i % 2 ? 200 : 2 * MiB, 3);
		usleep(30 * 1000);
		errno = 1234;
		for (int i = 0; i < 64; i++)
			f_free(many[i]);
		e = errno;
		ck_assert_msg(e == 1234, "free after a pause changed errno to %d", e);
	}
}
END_TEST

/* ---- free_sized / free_aligned_sized (C23) --------------------------- */

/* Runs a release call with errno set and counts the times it changed errno. */
#define KEEPS_ERRNO(stmt, counter)              \
	do {                                    \
		errno = 1234;                   \
		stmt;                           \
		if (errno != 1234)              \
			(counter)++;            \
	} while (0)

START_TEST(free_sized_contract)
{
	free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
	static size_t sizes[8192];
	int changed = 0;
	size_t n;

	if (!fs) {
		fprintf(stderr, "free_sized_contract: skipped: free_sized is not provided by "
			"the allocator or libc in this process\n");
		return;
	}
	n = sweep_sizes(sizes, sizeof(sizes) / sizeof(sizes[0]));
	KEEPS_ERRNO(fs(NULL, 0), changed);
	KEEPS_ERRNO(fs(NULL, 100), changed);
	for (size_t i = 0; i < n; i++) {
		void *p = checked_malloc(sizes[i], (unsigned)i);

		KEEPS_ERRNO(fs(p, sizes[i]), changed);
	}
	for (size_t i = 1; i < n; i += 7) {
		void *p = f_calloc(1, sizes[i]);

		ck_assert(p != NULL);
		KEEPS_ERRNO(fs(p, sizes[i]), changed);
		p = f_realloc(checked_malloc(sizes[i] / 2 + 1, 1), sizes[i]);
		ck_assert(p != NULL);
		KEEPS_ERRNO(fs(p, sizes[i]), changed);
	}
	ck_assert_msg(changed == 0, "free_sized changed errno %d times", changed);
}
END_TEST

START_TEST(free_aligned_sized_contract)
{
	free_aligned_sized_fn fas =
		(free_aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 4096, 100000, 3 * MiB };
	int changed = 0;

	if (!fas) {
		fprintf(stderr, "free_aligned_sized_contract: skipped: free_aligned_sized is not "
			"provided by the allocator or libc in this process\n");
		return;
	}
	KEEPS_ERRNO(fas(NULL, 64, 0), changed);
	for (size_t a = 1; a <= 64 * MiB; a *= 2) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = f_aligned_alloc(a, sizes[i]);

			ck_assert_msg(p != NULL, "aligned_alloc(%zu, %zu) failed", a, sizes[i]);
			ck_assert(is_aligned(p, a));
			memset(p, 0x42, sizes[i]);
			KEEPS_ERRNO(fas(p, a, sizes[i]), changed);
		}
	}
	ck_assert_msg(changed == 0, "free_aligned_sized changed errno %d times", changed);
}
END_TEST

/* ---- which allocator is this? ----------------------------------------- */

/*
 * When hakmem is in the process (linked or preloaded), every malloc-family
 * symbol must resolve to it: a frontend that forgot one would send that
 * entry point to glibc and mix the heaps.  Against plain glibc there is
 * nothing to check.
 */
START_TEST(malloc_family_is_hakmem)
{
	static const char *const names[] = {
		"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
		"free_sized", "free_aligned_sized",
	};
	void *ver = dlsym(RTLD_DEFAULT, "hak_version");
	Dl_info hak, info;

	if (!ver) {
		fprintf(stderr, "malloc_family_is_hakmem: skipped: hakmem is not loaded "
			"(running against the system allocator)\n");
		return;
	}
	ck_assert(dladdr(ver, &hak) != 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(RTLD_DEFAULT, names[i]);

		ck_assert_msg(sym != NULL, "%s is not defined in the process", names[i]);
		ck_assert(dladdr(sym, &info) != 0);
		ck_assert_msg(info.dli_fbase == hak.dli_fbase,
			      "%s resolves to %s, not to hakmem (%s)", names[i],
			      info.dli_fname, hak.dli_fname);
	}
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("libc_contract");

	add_tcase(s, "malloc", 60, malloc_zero_distinct, malloc_size_sweep, malloc_impossible_sizes);
	add_tcase(s, "calloc", 60, calloc_overflow_and_huge, calloc_zero_sizes, calloc_zero_on_reuse);
	add_tcase(s, "realloc", 60, realloc_keeps_contents, realloc_step_by_step,
		  realloc_null_is_malloc, realloc_zero_frees, realloc_failure_leaves_block,
		  reallocarray_contract);
	add_tcase(s, "free", 60, usable_size_null, free_null, free_keeps_errno,
		  free_sized_contract, free_aligned_sized_contract);
	add_tcase(s, "symbols", 30, malloc_family_is_hakmem);
	return s;
}

TEST_MAIN(contract_suite)
