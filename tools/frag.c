/* SPDX-License-Identifier: MIT */
/*
 * frag.c - fragmentation and memory given back.
 *
 * One cycle: allocate a burst of about -m MiB (default 200) of mixed sizes,
 * 16 B..64 KiB about log-uniform, touching every page; free 90% of it at
 * random; allocate about as much again with a different mix (sizes spread
 * over 24..3000 bytes and 5..40 KiB, so they fit the holes badly); then
 * free everything.  Cycles repeat until -s seconds are used (at least
 * one).  -t threads each do their share of every burst.  Then, after
 * 200 ms and a few small malloc/free calls (so an allocator that trims
 * lazily gets its chance), the resident size is read.  Every block
 * carries a tag checked when it is freed; a changed tag exits 1.
 *
 * Output: frag start_kib=A peak_kib=B after_kib=C threads=T mib=M ops=N secs=S ops_per_s=X
 * (start: VmRSS at start; peak: VmHWM; after: VmRSS after the final free.)
 * Build: cc -std=c11 -O2 -pthread -o frag frag.c
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

#define PROG "frag"

#include "workload.h"

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	int bad;
};

static double mib = 200;
static pthread_barrier_t bar;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'm')
		mib = parse_d(arg, 'm', 1, 1 << 20);
}

static size_t size_a(uint64_t *s)
{
	uint64_t r = rnd(s);
	unsigned k = 4 + (unsigned)(r % 12);		/* 16 .. 64 Ki */
	return ((size_t)1 << k) + (size_t)((r >> 8) % ((size_t)1 << k));
}

static size_t size_b(uint64_t *s)
{
	uint64_t r = rnd(s);
	if (r % 4)
		return 24 + (size_t)((r >> 8) % 2977);
	return 5 * 1024 + (size_t)((r >> 8) % (35 * 1024));
}

struct blk {
	unsigned char *p;
	size_t size;
};

static uint64_t tagof(const struct blk *b) { return (uint64_t)b->size * 0x9e3779b97f4a7c15ull ^ 0xf4a9; }

static unsigned char *get(size_t size, struct blk *b)
{
	if (size > 65536)
		size = 65536;
	if (!(b->p = malloc(size)))
		oom();
	b->size = size;
	memset(b->p, 0x3c, size);	/* touch every page */
	uint64_t t = tagof(b);
	memcpy(b->p, &t, 8);
	return b->p;
}

static int put(struct blk *b)
{
	uint64_t t;
	memcpy(&t, b->p, 8);
	int bad = t != tagof(b) || b->p[b->size - 1] != 0x3c;	/* size >= 16 */
	free(b->p);
	b->p = NULL;
	return bad;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed, ops = 0;
	size_t budget = (size_t)(mib * 1048576 / threads), cap = 1024, n, total;
	struct blk *v = malloc(sizeof *v * cap);
	if (!v)
		oom();
	double end = now() + seconds;
	int more;
	do {
		/* burst A */
		for (n = 0, total = 0; total < budget; n++) {
			if (n == cap && !(v = realloc(v, sizeof *v * (cap *= 2))))
				oom();
			total += get(size_a(&s), &v[n]) ? v[n].size : 0;
			ops++;
		}
		/* free 90% at random: shuffle, free the first 90% */
		for (size_t i = 0; i + 1 < n; i++) {
			size_t j = i + (size_t)(rnd(&s) % (n - i));
			struct blk t = v[i];
			v[i] = v[j];
			v[j] = t;
		}
		size_t keep = n / 10, m = 0;
		for (size_t i = keep; i < n; i++) {
			w->bad |= put(&v[i]);
			ops++;
		}
		m = keep;
		/* burst B, a different mix */
		for (total = 0; total < budget; m++) {
			if (m == cap && !(v = realloc(v, sizeof *v * (cap *= 2))))
				oom();
			total += get(size_b(&s), &v[m]) ? v[m].size : 0;
			ops++;
		}
		for (size_t i = 0; i < m; i++) {
			w->bad |= put(&v[i]);
			ops++;
		}
		/* all threads agree on whether to go on */
		more = now() < end;
		pthread_barrier_wait(&bar);
		if (w == arg && !more)
			atomic_store(&stop, 1);
		pthread_barrier_wait(&bar);
		more = !atomic_load(&stop);
		pthread_barrier_wait(&bar);
	} while (more);
	free(v);
	w->ops = ops;
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "m:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-m burst-MiB]");
	long start = status_kib("VmRSS");
	struct worker *w = workers_new(sizeof *w);
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	if (!tid)
		oom();
	for (int i = 0; i < threads; i++)
		w[i].seed = worker_seed(i);
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	double t0 = now();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, work, &w[i])) {
			fprintf(stderr, "frag: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	double secs = now() - t0;
	uint64_t ops = 0;
	int bad = 0;
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		bad |= w[i].bad;
	}
	if (bad) {
		fprintf(stderr, "frag: a block's contents changed while it was allocated\n");
		return 1;
	}
	long peak = status_kib("VmHWM");
	long after = settled_rss_kib();
	(void)run_threads;
	printf("frag start_kib=%ld peak_kib=%ld after_kib=%ld threads=%d mib=%.0f ops=%" PRIu64
	       " secs=%.3f ops_per_s=%.1f\n",
	       start, peak, after, threads, mib, ops, secs, ops / secs);
	pthread_barrier_destroy(&bar);
	free(tid);
	free(w);
	return 0;
}
