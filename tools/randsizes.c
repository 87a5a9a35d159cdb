/* SPDX-License-Identifier: MIT */
/*
 * randsizes.c - random sizes, log-uniform from 8 bytes to 64 KiB.
 *
 * Each of -t threads keeps a window of -n live blocks (default 2000); an
 * op replaces a random one: checks and frees it, allocates a new block of
 * a random size and writes its first and last byte.  A changed byte makes
 * the program exit 1.
 *
 * Output: randsizes threads=T window=N ops=N secs=S ops_per_s=X
 * Build: cc -std=c11 -O2 -pthread -o randsizes randsizes.c
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

#define PROG "randsizes"

#include "workload.h"

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	int bad;
};

static int window = 2000;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'n')
		window = (int)parse_d(arg, 'n', 1, 1 << 24);
}

/* about log-uniform 8..65536: an octave 2^3..2^15 picked uniformly, then
 * a size uniform within it (the caller caps at 64 KiB). */
static size_t rsize(uint64_t *s)
{
	uint64_t r = rnd(s);
	unsigned k = 3 + (unsigned)(r % 13);
	return ((size_t)1 << k) + (size_t)((r >> 8) % ((size_t)1 << k));
}

static unsigned char tag(uint64_t v, int end) { return (unsigned char)(v * 2654435761u >> 8) ^ (end ? 0x5a : 0); }

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char **p = calloc((size_t)window, sizeof *p);
	size_t *sz = calloc((size_t)window, sizeof *sz);
	uint64_t *id = calloc((size_t)window, sizeof *id);
	uint64_t s = w->seed, ops = 0, next = 1;
	if (!p || !sz || !id)
		oom();
	for (int i = 0; i < window; i++) {
		sz[i] = rsize(&s);
		if (sz[i] > 65536)
			sz[i] = 65536;
		if (!(p[i] = malloc(sz[i])))
			oom();
		id[i] = next++;
		p[i][0] = tag(id[i], 0);
		p[i][sz[i] - 1] = tag(id[i], 1);
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 256; k++) {
			int i = (int)(rnd(&s) % (uint64_t)window);
			if (p[i][0] != tag(id[i], 0) || p[i][sz[i] - 1] != tag(id[i], 1))
				w->bad = 1;
			free(p[i]);
			sz[i] = rsize(&s);
			if (sz[i] > 65536)
				sz[i] = 65536;
			if (!(p[i] = malloc(sz[i])))
				oom();
			id[i] = next++;
			p[i][0] = tag(id[i], 0);
			p[i][sz[i] - 1] = tag(id[i], 1);
		}
		ops += 256;
	}
	for (int i = 0; i < window; i++) {
		if (p[i][0] != tag(id[i], 0) || p[i][sz[i] - 1] != tag(id[i], 1))
			w->bad = 1;
		free(p[i]);
	}
	free(p);
	free(sz);
	free(id);
	w->ops = ops;
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "n:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-n window]");
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
		fprintf(stderr, "randsizes: a block's contents changed while it was allocated\n");
		return 1;
	}
	printf("randsizes threads=%d window=%d ops=%" PRIu64 " secs=%.3f ops_per_s=%.1f\n",
	       threads, window, ops, secs, ops / secs);
	free(w);
	return 0;
}
