/* SPDX-License-Identifier: MIT */
/*
 * soak.c - a long randomised multi-threaded run that watches memory.
 *
 * -t threads (default 4) each loop, for -s seconds (default 600), through
 * a burst (grow a live set to a random target of up to -m MiB per thread,
 * sizes log-uniform from 16 B to 4 MiB, with reallocs and aligned
 * requests) and a quiet phase (free all but a few).  Blocks also travel
 * between threads through a shared table of slots: a thread swaps one of
 * its blocks into a random slot and frees what it found there, so frees
 * are remote as often as not.  Every block carries a tag, checked when it
 * is freed: a changed tag exits 1.
 *
 * Once a second the main thread prints the resident size and the number
 * of mappings (/proc/self/maps lines).  At the end every block is freed;
 * after 300 ms and a few small malloc/free calls (a lazy purge's chance)
 * the final resident size is printed against the start and the peak.
 *
 * Output: "soak t=S rss_mib=R maps=M" each second, then
 *         "soak start_mib=A peak_mib=B end_mib=C maps_start=D maps_peak=E maps_end=F ops=N"
 * Build: cc -std=c11 -O2 -pthread -o soak soak.c   (make soak runs it under hakmem)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "soak"
#define WORKLOAD_THREADS 4

#include "workload.h"

#define SLOTS 512
#define MAXLIVE 65536

struct blk {
	unsigned char *p;
	size_t size;
};

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	int bad;
};

static double burst_mib = 64;
static _Atomic(struct blk *) slots[SLOTS];

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'm')
		burst_mib = parse_d(arg, 'm', 1, 65536);
}

static uint64_t tag_of(const unsigned char *p, size_t size)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) ^ size;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	unsigned k = 4 + (unsigned)(r % 19);	/* 2^4 .. 2^22 */

	return ((size_t)1 << k) + (size_t)((r >> 8) % ((size_t)1 << k));
}

/* A block with its tag at both ends (blocks are at least 16 bytes). */
static struct blk *get(uint64_t *s)
{
	struct blk *b = malloc(sizeof *b);
	size_t size = pick_size(s);
	uint64_t r = rnd(s), t;

	if (!b)
		oom();
	if (size > (4u << 20))
		size = 4u << 20;
	if (r % 16 == 0) {
		void *p = NULL;

		if (posix_memalign(&p, (size_t)64 << (r >> 8) % 8, size))
			oom();
		b->p = p;
	} else {
		b->p = (r % 4 == 0) ? calloc(1, size) : malloc(size);
	}
	if (!b->p)
		oom();
	b->size = size;
	t = tag_of(b->p, size);
	memcpy(b->p, &t, 8);
	memcpy(b->p + size - 8, &t, 8);
	return b;
}

static int check(const struct blk *b)
{
	uint64_t t = tag_of(b->p, b->size), head, tail;

	memcpy(&head, b->p, 8);
	memcpy(&tail, b->p + b->size - 8, 8);
	return head != t || tail != t;
}

static int put(struct blk *b)
{
	int bad = check(b);

	free(b->p);
	free(b);
	return bad;
}

/* Grow or shrink a block with realloc; its tag moves with it. */
static int resize(struct blk *b, uint64_t *s)
{
	size_t size = pick_size(s);
	uint64_t t;
	unsigned char *q;
	int bad = check(b);

	if (size > (4u << 20))
		size = 4u << 20;
	q = realloc(b->p, size);
	if (!q)
		oom();
	b->p = q;
	b->size = size;
	t = tag_of(q, size);
	memcpy(q, &t, 8);
	memcpy(q + size - 8, &t, 8);
	return bad;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct blk **live = calloc(MAXLIVE, sizeof *live);
	uint64_t s = w->seed, ops = 0;
	size_t n = 0;

	if (!live)
		oom();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* burst */
		size_t target = (size_t)(burst_mib * 1048576 * (double)(rnd(&s) % 1000) / 1000);
		size_t bytes = 0;

		while (bytes < target && n < MAXLIVE &&
		       !atomic_load_explicit(&stop, memory_order_relaxed)) {
			uint64_t r = rnd(&s);

			live[n] = get(&s);
			bytes += live[n]->size;
			n++;
			if (r % 8 == 0 && n) {
				size_t i = (size_t)(r >> 8) % n;

				bytes -= live[i]->size;
				w->bad |= resize(live[i], &s);
				bytes += live[i]->size;
			}
			if (r % 4 == 1 && n) {
				/* hand one over, free what was there */
				size_t i = (size_t)(r >> 8) % n;
				struct blk *old = atomic_exchange(&slots[(r >> 20) % SLOTS], live[i]);

				bytes -= live[i]->size;
				live[i] = live[--n];
				if (old)
					w->bad |= put(old);
			}
			ops++;
		}
		/* quiet: keep a few */
		while (n > 16) {
			w->bad |= put(live[--n]);
			ops++;
		}
	}
	while (n)
		w->bad |= put(live[--n]);
	free(live);
	w->ops = ops;
	return NULL;
}

static double rss_mib(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576;
}

static long maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	seconds = 600;
	parse_common(argc, argv, "m:", opt_fn, "[-t threads] [-s seconds] [-r seed] [-m burst-MiB]");

	struct worker *w = workers_new(sizeof *w);
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	double start = rss_mib(), peak = start, t0 = now();
	long maps0 = maps_count(), maps_peak = maps0;
	uint64_t ops = 0;
	int bad = 0;

	if (!tid)
		oom();
	for (int i = 0; i < threads; i++) {
		w[i].seed = worker_seed(i);
		if (pthread_create(&tid[i], NULL, work, &w[i])) {
			fprintf(stderr, "soak: pthread_create failed\n");
			return 1;
		}
	}
	while (now() - t0 < seconds) {
		struct timespec ts = { 1, 0 };
		double r;
		long m;

		nanosleep(&ts, NULL);
		r = rss_mib();
		m = maps_count();
		if (r > peak)
			peak = r;
		if (m > maps_peak)
			maps_peak = m;
		printf("soak t=%.0f rss_mib=%.1f maps=%ld\n", now() - t0, r, m);
		fflush(stdout);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ops += w[i].ops;
		bad |= w[i].bad;
	}
	for (int i = 0; i < SLOTS; i++) {
		struct blk *b = atomic_exchange(&slots[i], NULL);

		if (b)
			bad |= put(b);
	}
	if (bad) {
		fprintf(stderr, "soak: a block's contents changed while it was allocated\n");
		return 1;
	}
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	for (int i = 0; i < 16; i++) {
		void *volatile p = malloc(32 + (size_t)i * 16);

		free(p);
	}
	printf("soak start_mib=%.1f peak_mib=%.1f end_mib=%.1f maps_start=%ld maps_peak=%ld "
	       "maps_end=%ld ops=%" PRIu64 "\n",
	       start, peak, rss_mib(), maps0, maps_peak, maps_count(), ops);
	(void)run_threads;
	free(tid);
	free(w);
	return 0;
}
