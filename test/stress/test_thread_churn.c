/* SPDX-License-Identifier: MIT */
/*
 * test_thread_churn.c - the life cycle of threads around the allocator.
 *
 *  - churn_no_growth: many generations of short-lived threads allocate and
 *    free; some blocks outlive their thread and are freed by the main
 *    thread.  After a warm-up generation, resident memory and address space
 *    must stop growing: what a dead thread held has to be reused.  RSS is
 *    compared once the allocator had its purge delay (free pages it keeps
 *    committed for a while are a cache, not growth); the RSS seen while
 *    the threads run only has a loose bound.
 *  - first call: a new thread whose very first allocator call is free() of
 *    another thread's block, free(NULL), realloc() or malloc_usable_size().
 *  - TLS destructors (pthread_key_create) that malloc, free and re-arm
 *    their key, running while the thread - and maybe its heap - is torn
 *    down.
 *  - atexit handlers that allocate, and exit() while other threads are
 *    still allocating (both in a forked child, judged by its exit status).
 *
 * Worker threads report through counters and return values; only the main
 * thread calls ck_assert.  STRESS_SCALE (percent, default 100) scales the
 * amount of work.  No timing is asserted anywhere.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

/* ---- churn -------------------------------------------------------------- */

#define CHURN_THREADS 4
#define CHURN_LEFT 16

static void *churn_left[CHURN_THREADS][CHURN_LEFT];
static atomic_int churn_errors;

static void *churn_worker(void *arg)
{
	uint64_t rs = (uintptr_t)arg;
	void *live[64] = { 0 };
	int slot = (int)((uintptr_t)arg % CHURN_THREADS);

	for (int i = 0; i < 400; i++) {
		uint64_t r = rnd(&rs);
		unsigned k = (unsigned)(r % 64);
		size_t size;

		if (r % 512 == 0)
			size = 64 * KiB + (r >> 20) % (192 * KiB);
		else if (r % 16 == 0)
			size = 4 * KiB + (r >> 20) % (28 * KiB);
		else
			size = 16 + (r >> 20) % 4080;
		if (live[k]) {
			if (!hdr_ok(live[k]))
				atomic_fetch_add(&churn_errors, 1);
			free(live[k]);
		}
		live[k] = hdr_alloc(size);
		if (!live[k])
			atomic_fetch_add(&churn_errors, 1);
	}
	/* Some blocks outlive the thread; the main thread frees them. */
	for (int i = 0; i < 64; i++) {
		if (i < CHURN_LEFT)
			churn_left[slot][i] = live[i];
		else
			free(live[i]);
	}
	return NULL;
}

/* RSS once a delayed purge had its chances (sleep, then a few calls). */
static size_t settled_rss(void)
{
	static const size_t sizes[] = { 16, 3000, 40000, 300000 };
	size_t rss, vsz;

	for (int attempt = 0; attempt < 3; attempt++) {
		usleep(150 * 1000);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char *volatile p = malloc(sizes[i]);

			ck_assert(p != NULL);
			p[0] = 1;
			free(p);
		}
	}
	ck_assert_int_eq(statm(&rss, &vsz), 0);
	return rss;
}

START_TEST(churn_no_growth)
{
	int gens = (int)scaled(200);
	int warm_gen = gens / 20 > 5 ? gens / 20 : 5;
	size_t rss_warm = 0, vsz_warm = 0, rss, vsz, rss_max = 0, settled_warm = 0, settled;

	atomic_store(&churn_errors, 0);
	for (int g = 0; g < gens; g++) {
		pthread_t t[CHURN_THREADS];

		for (int i = 0; i < CHURN_THREADS; i++) {
			uintptr_t seed = (uintptr_t)g * CHURN_THREADS + (uintptr_t)i;

			/* seed % CHURN_THREADS == i picks the thread's slot. */
			ck_assert_int_eq(pthread_create(&t[i], NULL, churn_worker, (void *)seed), 0);
		}
		for (int i = 0; i < CHURN_THREADS; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		for (int i = 0; i < CHURN_THREADS; i++) {
			for (int j = 0; j < CHURN_LEFT; j++) {
				if (churn_left[i][j] && !hdr_ok(churn_left[i][j]))
					atomic_fetch_add(&churn_errors, 1);
				free(churn_left[i][j]);
				churn_left[i][j] = NULL;
			}
		}
		ck_assert_int_eq(statm(&rss, &vsz), 0);
		if (rss > rss_max)
			rss_max = rss;
		if (g == warm_gen) {
			rss_warm = rss;
			vsz_warm = vsz;
			settled_warm = settled_rss();
		}
	}
	ck_assert_msg(atomic_load(&churn_errors) == 0, "%d corrupted or failed blocks",
		      atomic_load(&churn_errors));
	ck_assert_int_eq(statm(&rss, &vsz), 0);
	settled = settled_rss();
	fprintf(stderr, "churn_no_growth: %d generations x %d threads: RSS %zu KiB after warm-up "
		"(generation %d), %zu KiB at the end, %zu KiB max; settled %zu -> %zu KiB; "
		"VSZ %zu -> %zu KiB\n",
		gens, CHURN_THREADS, rss_warm / 1024, warm_gen, rss / 1024, rss_max / 1024,
		settled_warm / 1024, settled / 1024, vsz_warm / 1024, vsz / 1024);
	ck_assert_msg(settled <= settled_warm + 16 * MiB,
		      "settled RSS grew from %zu KiB after warm-up to %zu KiB after %d generations",
		      settled_warm / 1024, settled / 1024, gens);
	ck_assert_msg(rss_max <= rss_warm + 64 * MiB,
		      "RSS grew from %zu KiB after warm-up to %zu KiB while threads ran",
		      rss_warm / 1024, rss_max / 1024);
	ck_assert_msg(vsz <= vsz_warm + 256 * MiB,
		      "address space grew from %zu KiB after warm-up to %zu KiB after %d generations",
		      vsz_warm / 1024, vsz / 1024, gens);
}
END_TEST

/* ---- first call --------------------------------------------------------- */

enum first_op {
	FIRST_FREE, FIRST_FREE_NULL, FIRST_REALLOC_GROW, FIRST_REALLOC_SHRINK,
	FIRST_USABLE_SIZE, FIRST_FREE_ORPHAN,
};

struct first_arg {
	enum first_op op;
	void *block;
	size_t size;
};

static void *first_call(void *a)
{
	struct first_arg *f = a;

	switch (f->op) {
	case FIRST_FREE:
	case FIRST_FREE_ORPHAN:
		free(f->block);
		return NULL;
	case FIRST_FREE_NULL:
		free(NULL);
		break;
	case FIRST_REALLOC_GROW:
	case FIRST_REALLOC_SHRINK: {
		size_t to = f->op == FIRST_REALLOC_GROW ? f->size * 3 + 100 : f->size / 4 + 16;
		uint64_t *q = realloc(f->block, to);
		const unsigned char *c = (const unsigned char *)q;

		if (!q)
			return (void *)1;
		/* The header survived; so did the fill up to the new size. */
		if (q[0] != f->size || q[1] != ~(uint64_t)f->size)
			return (void *)2;
		for (size_t i = 16; i < (to < f->size ? to : f->size); i++)
			if (c[i] != (unsigned char)(f->size * 7 % 251))
				return (void *)3;
		free(q);
		return NULL;
	}
	case FIRST_USABLE_SIZE:
		if (malloc_usable_size(f->block) < f->size)
			return (void *)4;
		free(f->block);
		return NULL;
	}
	/* A first call that does not touch a block: allocate afterwards. */
	void *p = hdr_alloc(1000);

	if (!hdr_ok(p))
		return (void *)5;
	free(p);
	return NULL;
}

static void *make_orphan(void *a)
{
	struct first_arg *f = a;

	f->block = hdr_alloc(f->size);
	return NULL;
}

static void run_first(enum first_op op, const char *name)
{
	static const size_t sizes[] = { 16, 100, 1000, 5000, 40000, 300000, 3 * MiB };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int rep = 0; rep < 20; rep++) {
			struct first_arg f = { .op = op, .size = sizes[i] };
			void *ret;

			if (op == FIRST_FREE_ORPHAN)
				run_thread(make_orphan, &f);
			else
				f.block = hdr_alloc(sizes[i]);
			ck_assert(hdr_ok(f.block));
			ret = run_thread(first_call, &f);
			ck_assert_msg(ret == NULL, "%s (size %zu): thread reported error %d", name,
				      sizes[i], (int)(intptr_t)ret);
			if (op == FIRST_FREE_NULL)
				free(f.block);
		}
	}
	/* The heap still works for the main thread. */
	void *p = hdr_alloc(12345);

	ck_assert(hdr_ok(p));
	free(p);
}

START_TEST(first_call_free)
{
	run_first(FIRST_FREE, "first call free");
}
END_TEST

START_TEST(first_call_free_null)
{
	run_first(FIRST_FREE_NULL, "first call free(NULL)");
}
END_TEST

START_TEST(first_call_realloc)
{
	run_first(FIRST_REALLOC_GROW, "first call realloc (grow)");
	run_first(FIRST_REALLOC_SHRINK, "first call realloc (shrink)");
}
END_TEST

START_TEST(first_call_usable_size)
{
	run_first(FIRST_USABLE_SIZE, "first call malloc_usable_size");
}
END_TEST

START_TEST(first_call_free_orphan)
{
	run_first(FIRST_FREE_ORPHAN, "first call free of a dead thread's block");
}
END_TEST

/* ---- TLS destructors ---------------------------------------------------- */

#define NKEYS 3
#define DTOR_ROUNDS 3	/* <= PTHREAD_DESTRUCTOR_ITERATIONS (4) */
#define TLS_THREADS 8

static pthread_key_t keys[NKEYS];
static atomic_int dtor_calls, dtor_errors;
static _Atomic(void *) dtor_left[TLS_THREADS][NKEYS];

struct tls_val {
	uint64_t magic;
	int round, thread, key;
	void *extra;	/* a block allocated before the thread ended */
};

#define TLS_MAGIC 0x746c7376616c7565ull

static int alloc_some(void)
{
	static const size_t sizes[] = { 16, 200, 3000, 40000, 200000, 2 * MiB };
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	int bad = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		p[i] = hdr_alloc(sizes[i]);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (!hdr_ok(p[i]))
			bad++;
		free(p[i]);
	}
	unsigned char *z = calloc(100, 100);

	if (!z)
		return bad + 1;
	for (int i = 0; i < 10000; i++)
		if (z[i])
			return bad + 1;
	z = realloc(z, 50000);
	if (!z)
		return bad + 1;
	free(z);
	return bad;
}

static void tls_dtor(void *v)
{
	struct tls_val *tv = v;

	atomic_fetch_add(&dtor_calls, 1);
	if (tv->magic != TLS_MAGIC || !hdr_ok(tv->extra)) {
		atomic_fetch_add(&dtor_errors, 1);
		return;
	}
	free(tv->extra);
	if (alloc_some() != 0)
		atomic_fetch_add(&dtor_errors, 1);
	if (tv->round + 1 < DTOR_ROUNDS) {
		/* Re-arm: glibc calls the destructor again in its next pass. */
		struct tls_val *next = malloc(sizeof(*next));

		if (!next) {
			atomic_fetch_add(&dtor_errors, 1);
		} else {
			*next = *tv;
			next->round++;
			next->extra = hdr_alloc(100 + (size_t)next->round * 5000);
			pthread_setspecific(keys[tv->key], next);
		}
	} else {
		/* Leave one block for the main thread to check and free. */
		atomic_store(&dtor_left[tv->thread][tv->key], hdr_alloc(777 + (size_t)tv->key));
	}
	free(tv);
}

static void *tls_thread(void *arg)
{
	int id = (int)(uintptr_t)arg;

	for (int k = 0; k < NKEYS; k++) {
		struct tls_val *tv = malloc(sizeof(*tv));

		if (!tv)
			return (void *)1;
		*tv = (struct tls_val){ .magic = TLS_MAGIC, .round = 0, .thread = id, .key = k,
					.extra = hdr_alloc(64 + (size_t)k * 1000) };
		if (pthread_setspecific(keys[k], tv) != 0)
			return (void *)2;
	}
	return alloc_some() ? (void *)3 : NULL;
}

START_TEST(tls_destructors_allocate)
{
	for (int k = 0; k < NKEYS; k++)
		ck_assert_int_eq(pthread_key_create(&keys[k], tls_dtor), 0);
	for (int round = 0; round < (int)scaled(20); round++) {
		pthread_t t[TLS_THREADS];
		void *ret;

		atomic_store(&dtor_calls, 0);
		atomic_store(&dtor_errors, 0);
		for (int i = 0; i < TLS_THREADS; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, tls_thread,
							(void *)(uintptr_t)i), 0);
		for (int i = 0; i < TLS_THREADS; i++) {
			ck_assert_int_eq(pthread_join(t[i], &ret), 0);
			ck_assert_msg(ret == NULL, "thread %d failed (%d)", i, (int)(intptr_t)ret);
		}
		ck_assert_msg(atomic_load(&dtor_errors) == 0, "%d errors in TLS destructors",
			      atomic_load(&dtor_errors));
		ck_assert_int_eq(atomic_load(&dtor_calls), TLS_THREADS * NKEYS * DTOR_ROUNDS);
		for (int i = 0; i < TLS_THREADS; i++) {
			for (int k = 0; k < NKEYS; k++) {
				void *p = atomic_exchange(&dtor_left[i][k], NULL);

				ck_assert_msg(hdr_ok(p), "block left by a TLS destructor is bad");
				free(p);
			}
		}
	}
	for (int k = 0; k < NKEYS; k++)
		pthread_key_delete(keys[k]);
}
END_TEST

/* ---- atexit ------------------------------------------------------------- */

static void *exit_block;	/* allocated by a thread that has exited */
static int exit_pipe = -1;

static void exit_handler_late(void)
{
	/* Registered first, runs last. */
	void *p = hdr_alloc(3 * MiB);

	if (!hdr_ok(p))
		_exit(31);
	free(p);
	if (write(exit_pipe, "b", 1) != 1)
		_exit(32);
}

static void exit_handler_early(void)
{
	if (!hdr_ok(exit_block))
		_exit(21);
	free(exit_block);
	if (alloc_some() != 0)
		_exit(22);
	if (write(exit_pipe, "a", 1) != 1)
		_exit(23);
}

static void *exit_block_maker(void *arg)
{
	(void)arg;
	exit_block = hdr_alloc(4321);
	return NULL;
}

START_TEST(atexit_handlers_allocate)
{
	int fds[2];
	pid_t pid;
	char buf[8];
	ssize_t n, got = 0;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		pthread_t t;

		close(fds[0]);
		exit_pipe = fds[1];
		if (pthread_create(&t, NULL, exit_block_maker, NULL) != 0 ||
		    pthread_join(t, NULL) != 0)
			_exit(10);
		if (atexit(exit_handler_late) != 0 || atexit(exit_handler_early) != 0)
			_exit(11);
		exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(buf) - 1 && (n = read(fds[0], buf + got, 1)) > 0)
		got += n;
	close(fds[0]);
	buf[got] = '\0';
	assert_child_ok(wait_child(pid), "child running atexit handlers");
	ck_assert_msg(strcmp(buf, "ab") == 0, "atexit handlers ran as \"%s\", want \"ab\"", buf);
}
END_TEST

static atomic_long exit_progress[3];

static void *allocate_forever(void *arg)
{
	int id = (int)(uintptr_t)arg;
	uint64_t rs = (uint64_t)id + 5;
	void *live[32] = { 0 };

	for (;;) {
		uint64_t r = rnd(&rs);
		unsigned k = (unsigned)(r % 32);

		if (live[k] && !hdr_ok(live[k]))
			_exit(40);
		free(live[k]);
		live[k] = hdr_alloc(r % 64 == 0 ? 100 * KiB : 16 + (r >> 8) % 2000);
		if (!live[k])
			_exit(41);
		atomic_fetch_add(&exit_progress[id], 1);
	}
	return NULL;
}

static void exit_handler_alloc(void)
{
	if (alloc_some() != 0)
		_exit(42);
}

/* exit() from main while three threads are in the middle of malloc/free. */
START_TEST(exit_while_threads_allocate)
{
	for (int round = 0; round < (int)scaled(10); round++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		ck_assert(pid >= 0);
		if (pid == 0) {
			pthread_t t;

			for (int i = 0; i < 3; i++) {
				atomic_store(&exit_progress[i], 0);
				if (pthread_create(&t, NULL, allocate_forever,
						   (void *)(uintptr_t)i) != 0)
					_exit(43);
			}
			for (int i = 0; i < 3; i++)
				while (atomic_load(&exit_progress[i]) < 2000)
					sched_yield();
			if (atexit(exit_handler_alloc) != 0)
				_exit(44);
			exit(0);
		}
		assert_child_ok(wait_child(pid), "child exiting with allocating threads");
	}
}
END_TEST

static Suite *churn_suite(void)
{
	Suite *s = suite_create("thread_churn");

	add_tcase(s, "churn", 120, churn_no_growth);
	add_tcase(s, "first_call", 60, first_call_free, first_call_free_null, first_call_realloc,
		  first_call_usable_size, first_call_free_orphan);
	add_tcase(s, "teardown", 60, tls_destructors_allocate, atexit_handlers_allocate,
		  exit_while_threads_allocate);
	return s;
}

TEST_MAIN(churn_suite)
