/* SPDX-License-Identifier: MIT */
/*
 * test_rss_purge.c - memory goes back to the OS after a burst.
 *
 * A program allocates about 256 MiB in small and large blocks, touches it,
 * frees it all; resident memory must then fall back to near where it
 * started.  hakmem returns free memory after a short delay (the purge delay,
 * 100 ms by default) from its slow paths, so after the frees the test sleeps
 * 100 ms and makes a few malloc/free calls of various sizes to give the
 * purge its chance, up to a few times, before it reads RSS.  Nothing about
 * time is asserted, only the resident size at the end.
 *
 *  - burst_one_thread: one thread allocates and frees (random order).
 *  - burst_many_threads: four threads each allocate and free their own
 *    share, then exit.
 *  - burst_freed_remotely: one thread allocates, exits, and the main thread
 *    frees everything it left.
 *
 * glibc keeps freed memory below its highest live chunk until malloc_trim()
 * is called, so when the test runs against glibc instead of hakmem (for
 * checking the test itself) settle() calls malloc_trim(0), glibc's way of
 * purging.  Against hakmem it calls nothing of the kind: hakmem must purge
 * by itself.
 *
 * STRESS_SCALE (percent, default 100) scales the burst.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

/* Resident memory may exceed the starting point by this much at the end. */
#define SLACK (32 * MiB)

static size_t rss_bytes(void)
{
	size_t rss, vsz;

	ck_assert_msg(statm(&rss, &vsz) == 0, "cannot read /proc/self/statm");
	return rss;
}

struct burst {
	void **blk;
	size_t count, cap;
	size_t bytes;
	uint64_t seed;
	int failed;
};

/*
 * Half of the bytes in small blocks (64..1024), a quarter in medium ones
 * (1..32 KiB), a quarter in large ones (64 KiB..4 MiB), interleaved.
 */
static void burst_alloc(struct burst *b, size_t total)
{
	size_t small = 0, medium = 0, large = 0;
	uint64_t rs = b->seed;

	b->count = 0;
	b->bytes = 0;
	b->cap = total / 512 + 1024;	/* small blocks average 544 bytes */
	b->blk = calloc(b->cap, sizeof(void *));
	if (!b->blk) {
		b->failed = 1;
		return;
	}
	while (b->bytes < total && b->count < b->cap) {
		uint64_t r = rnd(&rs);
		size_t size;

		if (small < total / 2 && (r % 4 < 2 || (medium >= total / 4 && large >= total / 4))) {
			size = 64 + (r >> 8) % 961;
			small += size;
		} else if (medium < total / 4 && (r % 4 == 2 || large >= total / 4)) {
			size = 1 * KiB + (r >> 8) % (31 * KiB);
			medium += size;
		} else {
			size = 64 * KiB + (r >> 8) % (4 * MiB - 64 * KiB);
			large += size;
		}
		b->blk[b->count] = malloc(size);
		if (!b->blk[b->count]) {
			b->failed = 1;
			return;
		}
		memset(b->blk[b->count], (int)(r & 0xff) | 1, size);
		b->count++;
		b->bytes += size;
	}
}

static void burst_free(struct burst *b)
{
	uint64_t rs = b->seed ^ 0xabcdef;

	/* Random order, so that no slab or span is freed in one neat run. */
	for (size_t i = b->count; i > 1; i--) {
		size_t j = (size_t)(rnd(&rs) % i);
		void *t = b->blk[i - 1];

		b->blk[i - 1] = b->blk[j];
		b->blk[j] = t;
	}
	for (size_t i = 0; i < b->count; i++)
		free(b->blk[i]);
	free(b->blk);
	b->blk = NULL;
	b->count = 0;
}

static int hakmem_loaded(void)
{
	return dlsym(RTLD_DEFAULT, "hak_version") != NULL;
}

/* Give a delayed purge its chances; returns the final RSS. */
static size_t settle(size_t bound)
{
	static const size_t sizes[] = { 16, 200, 3000, 20000, 40000, 300000, 3 * MiB };
	size_t rss = rss_bytes();

	for (int attempt = 0; attempt < 5 && rss > bound; attempt++) {
		usleep(100 * 1000);
		if (!hakmem_loaded())
			malloc_trim(0);
		for (int rep = 0; rep < 4; rep++) {
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				char *volatile p = malloc(sizes[i]);

				ck_assert(p != NULL);
				p[0] = 1;
				free(p);
			}
		}
		rss = rss_bytes();
	}
	return rss;
}

static void report(const char *name, size_t start, size_t peak, size_t end)
{
	if (peak)
		fprintf(stderr, "%s: RSS %zu MiB at start, %zu MiB at peak, %zu MiB at the end\n",
			name, start / MiB, peak / MiB, end / MiB);
	else
		fprintf(stderr, "%s: RSS %zu MiB at start, %zu MiB at the end\n",
			name, start / MiB, end / MiB);
}

START_TEST(burst_one_thread)
{
	size_t total = (size_t)scaled(256) * MiB;
	struct burst b = { .seed = 1 };
	size_t start, peak, end;

	start = rss_bytes();
	for (int round = 0; round < 2; round++) {
		burst_alloc(&b, total);
		ck_assert_msg(!b.failed, "allocation failed during the burst");
		peak = rss_bytes();
		ck_assert_msg(peak >= start + total / 2, "the burst did not show in RSS (%zu -> %zu)",
			      start, peak);
		burst_free(&b);
		end = settle(start + SLACK);
		report("burst_one_thread", start, peak, end);
		ck_assert_msg(end <= start + SLACK,
			      "round %d: RSS %zu MiB after freeing a %zu MiB burst, started at %zu MiB",
			      round, end / MiB, total / MiB, start / MiB);
	}
}
END_TEST

static void *burst_thread(void *arg)
{
	struct burst *b = arg;

	burst_alloc(b, b->bytes);
	if (!b->failed)
		burst_free(b);
	return NULL;
}

START_TEST(burst_many_threads)
{
	enum { T = 4 };
	size_t total = (size_t)scaled(256) * MiB;
	struct burst b[T];
	pthread_t t[T];
	size_t start, end;

	start = rss_bytes();
	for (int i = 0; i < T; i++) {
		b[i] = (struct burst){ .seed = 100 + (uint64_t)i, .bytes = total / T };
		ck_assert_int_eq(pthread_create(&t[i], NULL, burst_thread, &b[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(!b[i].failed, "allocation failed in thread %d", i);
	}
	end = settle(start + SLACK);
	report("burst_many_threads", start, 0, end);
	ck_assert_msg(end <= start + SLACK,
		      "RSS %zu MiB after four threads freed a %zu MiB burst, started at %zu MiB",
		      end / MiB, total / MiB, start / MiB);
}
END_TEST

static void *burst_alloc_thread(void *arg)
{
	struct burst *b = arg;

	burst_alloc(b, b->bytes);
	return NULL;
}

START_TEST(burst_freed_remotely)
{
	size_t total = (size_t)scaled(256) * MiB;
	struct burst b = { .seed = 7, .bytes = total };
	size_t start, peak, end;

	start = rss_bytes();
	run_thread(burst_alloc_thread, &b);
	ck_assert_msg(!b.failed, "allocation failed during the burst");
	peak = rss_bytes();
	burst_free(&b);
	end = settle(start + SLACK);
	report("burst_freed_remotely", start, peak, end);
	ck_assert_msg(end <= start + SLACK,
		      "RSS %zu MiB after the main thread freed a dead thread's %zu MiB burst, "
		      "started at %zu MiB", end / MiB, total / MiB, start / MiB);
}
END_TEST

static Suite *rss_suite(void)
{
	Suite *s = suite_create("rss_purge");

	add_tcase(s, "burst", 120, burst_one_thread, burst_many_threads, burst_freed_remotely);
	return s;
}

TEST_MAIN(rss_suite)
