/* SPDX-License-Identifier: MIT */
/*
 * reallocs.c - realloc growth and shrink.
 *
 * Each of -t threads keeps -n buffers (default 8).  An op picks one and
 * reallocs it by a random factor 1.1..2: up while it is growing, until it
 * reaches -m MiB (1), then down until it is back under 64 bytes, and so
 * on.  With -m 256 the buffers are the size of images and columns, and
 * a growth that cannot happen where the buffer stands must move it.
 * The first and last 8 bytes of every buffer carry a tag; after a realloc
 * the first 8 bytes, and when growing the old last 8, must have come
 * along, or the program exits 1.
 *
 * Output: reallocs threads=T buffers=N ops=N secs=S ops_per_s=X
 *         start_kib=A peak_kib=B after_kib=C
 * (start: VmRSS at start; peak: VmHWM; after: VmRSS once every buffer is
 * freed, 200 ms later and after a few thousand small blocks, rss.h.)
 * Build: cc -std=c11 -O2 -pthread -o reallocs reallocs.c
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

#define PROG "reallocs"

#include "workload.h"

#define MINSZ	((size_t)64)

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	int bad;
};

static int nbuf = 8;
static size_t maxsz = (size_t)1 << 20;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'n')
		nbuf = (int)parse_d(arg, 'n', 1, 1 << 20);
	else if (ch == 'm')
		maxsz = (size_t)(parse_d(arg, 'm', 0.001, 1 << 20) * (double)(1 << 20));
}

static uint64_t tagof(uint64_t id, int end) { return id * 0x9e3779b97f4a7c15ull ^ (end ? 0xa5a5a5a5ull : 0); }

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char **p = calloc((size_t)nbuf, sizeof *p);
	size_t *sz = calloc((size_t)nbuf, sizeof *sz);
	int *up = calloc((size_t)nbuf, sizeof *up);
	uint64_t s = w->seed, ops = 0, v;
	if (!p || !sz || !up)
		oom();
	for (int i = 0; i < nbuf; i++) {
		sz[i] = 16 + rnd(&s) % 240;
		up[i] = 1;
		if (!(p[i] = malloc(sz[i])))
			oom();
		v = tagof((uint64_t)i, 0);
		memcpy(p[i], &v, 8);
		v = tagof((uint64_t)i, 1);
		memcpy(p[i] + sz[i] - 8, &v, 8);
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			int i = (int)(rnd(&s) % (uint64_t)nbuf);
			double f = 1.1 + (double)(rnd(&s) % 1000) / 1000 * 0.9;
			size_t old = sz[i], n;
			if (up[i]) {
				n = (size_t)(old * f);
				if (n >= maxsz) {
					n = maxsz;
					up[i] = 0;
				}
			} else {
				n = (size_t)(old / f);
				if (n <= MINSZ) {
					n = n < 16 ? 16 : n;
					up[i] = 1;
				}
			}
			unsigned char *q = realloc(p[i], n);
			if (!q)
				oom();
			memcpy(&v, q, 8);
			if (v != tagof((uint64_t)i, 0))
				w->bad = 1;
			if (n > old) {
				memcpy(&v, q + old - 8, 8);
				if (v != tagof((uint64_t)i, 1))
					w->bad = 1;
			}
			v = tagof((uint64_t)i, 1);
			memcpy(q + n - 8, &v, 8);
			p[i] = q;
			sz[i] = n;
		}
		ops += 64;
	}
	for (int i = 0; i < nbuf; i++)
		free(p[i]);
	free(p);
	free(sz);
	free(up);
	w->ops = ops;
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "n:m:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-n buffers] [-m max-MiB]");
	if (maxsz < MINSZ * 2) {
		fprintf(stderr, "%s: -m must be at least %zu bytes\n", PROG, MINSZ * 2);
		return 2;
	}
	long start = status_kib("VmRSS");
	struct worker *w = workers_new(sizeof *w);
	for (int i = 0; i < threads; i++)
		w[i].seed = worker_seed(i);
	double secs = run_threads(threads, work, (char *)w, sizeof *w);
	uint64_t ops = 0;
	int bad = 0;
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		bad |= w[i].bad;
	}
	if (bad) {
		fprintf(stderr, "reallocs: a buffer's contents were not preserved by realloc\n");
		return 1;
	}
	free(w);
	long peak = status_kib("VmHWM");
	long after = settled_rss_kib();

	printf("reallocs threads=%d buffers=%d ops=%" PRIu64 " secs=%.3f ops_per_s=%.1f "
	       "start_kib=%ld peak_kib=%ld after_kib=%ld\n",
	       threads, nbuf, ops, secs, ops / secs, start, peak, after);
	return 0;
}
