/* SPDX-License-Identifier: MIT */
/*
 * test_cross_thread.c - blocks allocated in one thread and checked, resized
 * and freed in others.
 *
 *  - exchange: in the manner of mimalloc's test-stress, threads allocate
 *    blocks of random sizes, fill them with a pattern derived from the
 *    address and the thread, and swap them through a shared table; whoever
 *    takes a block checks it and frees or reallocs it.  Threads are created
 *    anew each round, so blocks outlive the thread that allocated them.
 *  - producer/consumer: every free is remote.
 *  - orphans: a thread allocates and exits; others free its blocks.
 *
 * Worker threads never call ck_assert (Check's assertions belong to the
 * test's own thread); they count failures and the main thread asserts.
 * STRESS_SCALE (percent, default 100) scales the amount of work.
 * STRESS_API=native sends it through hak_*() instead of malloc and friends,
 * for builds without the malloc replacement (make test sets it there, as
 * for SANITIZE=thread).
 */
#define _GNU_SOURCE
#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem.h>

#include "testlib.h"

/* ---- the allocator under test, chosen by main() before any thread ---- */

static size_t libc_usable(const void *p)
{
	return malloc_usable_size((void *)p);
}

static void *(*t_malloc)(size_t) = malloc;
static void *(*t_realloc)(void *, size_t) = realloc;
static void (*t_free)(void *) = free;
static size_t (*t_usable)(const void *) = libc_usable;

/* ---- helpers ---------------------------------------------------------- */

static atomic_int failures;
static atomic_flag failure_taken;
static char failure_msg[256];

static void note_failure(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&failures, 1);
	if (atomic_flag_test_and_set(&failure_taken))
		return;
	va_start(ap, fmt);
	vsnprintf(failure_msg, sizeof(failure_msg), fmt, ap);
	va_end(ap);
}

static void reset_failures(void)
{
	atomic_store(&failures, 0);
	atomic_flag_clear(&failure_taken);
	failure_msg[0] = '\0';
}

#define ASSERT_NO_FAILURES() \
	ck_assert_msg(atomic_load(&failures) == 0, "%d failures; first: %s", \
		      atomic_load(&failures), failure_msg)

/* Mostly small, some medium, a few large (up to 4 MiB). */
static size_t rand_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	unsigned pick = (unsigned)(r % 1000);

	r >>= 10;
	if (pick < 850)
		return 8 + r % 1017;
	if (pick < 985)
		return 1025 + r % (48 * KiB - 1024);
	if (pick < 999)
		return 48 * KiB + r % (464 * KiB);
	return 512 * KiB + r % (3584 * KiB);
}

struct blk {
	unsigned char *p;
	size_t size;
	uint64_t tag;
};

static uint64_t word_at(uint64_t tag, size_t off)
{
	return mix64(tag + off);
}

static void fill_blk(struct blk *b)
{
	size_t i = 0;
	uint64_t v;

	for (; i + 8 <= b->size; i += 8) {
		v = word_at(b->tag, i);
		memcpy(b->p + i, &v, 8);
	}
	if (i < b->size) {
		v = word_at(b->tag, i);
		memcpy(b->p + i, &v, b->size - i);
	}
}

/* Checks the first n bytes of b against b's pattern. */
static int check_blk_prefix(const struct blk *b, size_t n, const char *where)
{
	unsigned char w[8];

	for (size_t i = 0; i < n; i += 8) {
		size_t len = n - i < 8 ? n - i : 8;
		uint64_t v = word_at(b->tag, i);

		memcpy(w, &v, 8);
		if (memcmp(b->p + i, w, len) != 0) {
			note_failure("%s: block %p of %zu bytes corrupted near offset %zu",
			     where, (void *)b->p, b->size, i);
			return -1;
		}
	}
	return 0;
}

static int check_blk(const struct blk *b, const char *where)
{
	size_t u = t_usable(b->p);

	if (u < b->size) {
		note_failure("%s: usable size %zu < %zu for %p", where, u, b->size, (void *)b->p);
		return -1;
	}
	return check_blk_prefix(b, b->size, where);
}

static int new_blk(struct blk *b, size_t size, uint64_t tid)
{
	b->p = t_malloc(size);
	if (!b->p) {
		note_failure("malloc(%zu) failed", size);
		return -1;
	}
	if (((uintptr_t)b->p & 15) != 0)
		note_failure("malloc(%zu) = %p not 16-byte aligned", size, (void *)b->p);
	b->size = size;
	b->tag = mix64((uintptr_t)b->p ^ (tid << 48) ^ size);
	fill_blk(b);
	return 0;
}

/* realloc keeping the common prefix, then a fresh pattern. */
static int realloc_blk(struct blk *b, size_t size, uint64_t tid)
{
	size_t keep = size < b->size ? size : b->size;
	void *q = t_realloc(b->p, size);

	if (!q) {
		note_failure("realloc(%zu -> %zu) failed", b->size, size);
		return -1;
	}
	b->p = q;
	if (check_blk_prefix(b, keep, "after realloc") != 0)
		return -1;
	b->size = size;
	b->tag = mix64((uintptr_t)q ^ (tid << 48) ^ size ^ 0x5a5a);
	fill_blk(b);
	return 0;
}

/* ---- exchange --------------------------------------------------------- */

#define XSLOTS 2048
#define XLOCKS 64
#define LOCAL 128

static struct blk xchg[XSLOTS];
static pthread_mutex_t xlock[XLOCKS];

struct xarg {
	int round;
	int tid;
	long iters;
};

static void xchg_swap(size_t slot, struct blk *b)
{
	struct blk t;

	pthread_mutex_lock(&xlock[slot % XLOCKS]);
	t = xchg[slot];
	xchg[slot] = *b;
	pthread_mutex_unlock(&xlock[slot % XLOCKS]);
	*b = t;
}

static void *xchg_worker(void *arg)
{
	struct xarg *a = arg;
	uint64_t tid = (uint64_t)(a->round * 1000 + a->tid + 1);
	uint64_t rs = mix64(tid);
	struct blk local[LOCAL];

	memset(local, 0, sizeof(local));
	for (long i = 0; i < a->iters && atomic_load(&failures) == 0; i++) {
		uint64_t r = rnd(&rs);
		struct blk *b = &local[r % LOCAL];

		if (!b->p) {
			new_blk(b, rand_size(&rs), tid);
			continue;
		}
		if (check_blk(b, "local") != 0)
			break;
		switch ((r >> 16) % 8) {
		case 0:
		case 1:
		case 2:
			/* Swap with whatever some thread left in the table. */
			xchg_swap((r >> 24) % XSLOTS, b);
			if (b->p)
				check_blk(b, "taken from the exchange");
			break;
		case 3:
			realloc_blk(b, rand_size(&rs), tid);
			break;
		default:
			t_free(b->p);
			b->p = NULL;
		}
	}
	/* Leave some blocks behind for the next round's threads. */
	for (int i = 0; i < LOCAL; i++) {
		if (!local[i].p)
			continue;
		if (i % 2 == 0) {
			xchg_swap(mix64(tid + (uint64_t)i) % XSLOTS, &local[i]);
			if (!local[i].p)
				continue;
			check_blk(&local[i], "taken at thread exit");
		}
		t_free(local[i].p);
	}
	return NULL;
}

static void xchg_drain(void)
{
	for (int i = 0; i < XSLOTS; i++) {
		if (xchg[i].p) {
			check_blk(&xchg[i], "drained at the end");
			t_free(xchg[i].p);
			xchg[i].p = NULL;
		}
	}
}

static void run_exchange(int nthreads, int rounds, long iters)
{
	pthread_t t[64];
	struct xarg args[64];

	reset_failures();
	memset(xchg, 0, sizeof(xchg));
	for (int i = 0; i < XLOCKS; i++)
		pthread_mutex_init(&xlock[i], NULL);
	for (int r = 0; r < rounds && atomic_load(&failures) == 0; r++) {
		for (int i = 0; i < nthreads; i++) {
			args[i] = (struct xarg){ .round = r, .tid = i, .iters = iters };
			ck_assert_int_eq(pthread_create(&t[i], NULL, xchg_worker, &args[i]), 0);
		}
		for (int i = 0; i < nthreads; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	}
	xchg_drain();
	ASSERT_NO_FAILURES();
}

START_TEST(exchange_8_threads)
{
	run_exchange(8, (int)scaled(8), scaled(3000));
}
END_TEST

START_TEST(exchange_2_threads_many_rounds)
{
	run_exchange(2, (int)scaled(40), scaled(2000));
}
END_TEST

/* ---- producer/consumer ------------------------------------------------- */

#define QCAP 1024

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct blk item[QCAP];
	unsigned head, tail, count;
	int producers_left;
	long consumed;
} q;

static void q_init(int producers)
{
	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	q.producers_left = producers;
}

static void q_push(const struct blk *b)
{
	pthread_mutex_lock(&q.lock);
	while (q.count == QCAP)
		pthread_cond_wait(&q.not_full, &q.lock);
	q.item[q.tail] = *b;
	q.tail = (q.tail + 1) % QCAP;
	q.count++;
	pthread_cond_signal(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
}

/* Returns 0 when the producers are gone and the queue is empty. */
static int q_pop(struct blk *b)
{
	pthread_mutex_lock(&q.lock);
	while (q.count == 0 && q.producers_left > 0)
		pthread_cond_wait(&q.not_empty, &q.lock);
	if (q.count == 0) {
		pthread_mutex_unlock(&q.lock);
		return 0;
	}
	*b = q.item[q.head];
	q.head = (q.head + 1) % QCAP;
	q.count--;
	q.consumed++;
	pthread_cond_signal(&q.not_full);
	pthread_mutex_unlock(&q.lock);
	return 1;
}

struct parg {
	int id;
	long items;
	bool small_only;	/* 8 to 512 bytes, nothing medium or large */
};

static void *producer(void *arg)
{
	struct parg *a = arg;
	uint64_t rs = mix64((uint64_t)a->id + 77);

	for (long i = 0; i < a->items; i++) {
		struct blk b;
		uint64_t r = rnd(&rs);
		size_t size;

		/* Small blocks dominate; every 64th is medium, every 4096th large. */
		if (a->small_only)
			size = 8 + (r >> 20) % 504;
		else if (r % 4096 == 0)
			size = 256 * KiB + (r >> 20) % (768 * KiB);
		else if (r % 64 == 0)
			size = 4 * KiB + (r >> 20) % (60 * KiB);
		else
			size = 8 + (r >> 20) % 504;
		if (new_blk(&b, size, (uint64_t)a->id + 1) != 0)
			break;
		q_push(&b);
	}
	pthread_mutex_lock(&q.lock);
	q.producers_left--;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static void *consumer(void *arg)
{
	struct blk b;

	(void)arg;
	while (q_pop(&b)) {
		check_blk(&b, "consumer");
		t_free(b.p);
	}
	return NULL;
}

/*
 * Rounds of @P producers and @C consumers.  The consumers only free: the
 * slabs they take over when the producers let them go full must come back
 * to the producers once empty, or every round maps more.
 */
static void producer_consumer_rounds(int P, int C, long items, bool small_only)
{
	pthread_t pt[4], ct[4];
	struct parg pa[4];
	uint64_t mapped_warm = 0, mapped;

	for (int round = 0; round < 4; round++) {
		reset_failures();
		q_init(P);
		for (int i = 0; i < C; i++)
			ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer, NULL), 0);
		for (int i = 0; i < P; i++) {
			pa[i] = (struct parg){ .id = round * 10 + i, .items = items,
					       .small_only = small_only };
			ck_assert_int_eq(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
		}
		for (int i = 0; i < P; i++)
			ck_assert_int_eq(pthread_join(pt[i], NULL), 0);
		for (int i = 0; i < C; i++)
			ck_assert_int_eq(pthread_join(ct[i], NULL), 0);
		ASSERT_NO_FAILURES();
		ck_assert_int_eq(q.consumed, (long)P * items);
		if (hak_stat_get("bytes.mapped", &mapped) != 0)
			continue;	/* no statistics in this build */
		if (round == 0)
			mapped_warm = mapped;
		ck_assert_msg(mapped <= mapped_warm + 32 * 1024 * KiB,
			      "round %d: %llu KiB mapped, %llu after the first", round,
			      (unsigned long long)(mapped >> 10),
			      (unsigned long long)(mapped_warm >> 10));
	}
}

START_TEST(producer_consumer)
{
	producer_consumer_rounds(2, 2, scaled(150000), false);
}
END_TEST

START_TEST(producer_consumer_small)
{
	producer_consumer_rounds(1, 1, scaled(500000), true);
}
END_TEST

/* ---- orphans ----------------------------------------------------------- */

#define ORPHANS 20000

static struct blk orphan[ORPHANS];

static void *orphan_maker(void *arg)
{
	uint64_t rs = 12345 + (uintptr_t)arg;

	for (int i = 0; i < ORPHANS; i++)
		new_blk(&orphan[i], i % 500 == 0 ? 100 * KiB + (size_t)i : rand_size(&rs) % 2048 + 1,
			99);
	return NULL;
}

static void *orphan_freer(void *arg)
{
	int part = (int)(uintptr_t)arg;

	for (int i = part; i < ORPHANS; i += 2) {
		check_blk(&orphan[i], "orphan");
		if (i % 4 == part)
			t_free(orphan[i].p);
		else {
			realloc_blk(&orphan[i], orphan[i].size + 3000, 98);
			t_free(orphan[i].p);
		}
	}
	return NULL;
}

/* The allocating thread has exited; its blocks are freed from two others. */
START_TEST(orphaned_blocks)
{
	reset_failures();
	for (int round = 0; round < (int)scaled(10); round++) {
		pthread_t f1, f2;

		run_thread(orphan_maker, (void *)(uintptr_t)round);
		ASSERT_NO_FAILURES();
		ck_assert_int_eq(pthread_create(&f1, NULL, orphan_freer, (void *)0), 0);
		ck_assert_int_eq(pthread_create(&f2, NULL, orphan_freer, (void *)1), 0);
		ck_assert_int_eq(pthread_join(f1, NULL), 0);
		ck_assert_int_eq(pthread_join(f2, NULL), 0);
		ASSERT_NO_FAILURES();
	}
}
END_TEST

static Suite *cross_thread_suite(void)
{
	Suite *s = suite_create("cross_thread");

	add_tcase(s, "exchange", 120, exchange_8_threads, exchange_2_threads_many_rounds);
	add_tcase(s, "remote", 120, producer_consumer, producer_consumer_small, orphaned_blocks);
	return s;
}

int main(void)
{
	const char *api = getenv("STRESS_API");

	if (api && !strcmp(api, "native")) {
		t_malloc = hak_malloc;
		t_realloc = hak_realloc;
		t_free = hak_free;
		t_usable = hak_usable_size;
	}
	return run_suite(cross_thread_suite());
}
