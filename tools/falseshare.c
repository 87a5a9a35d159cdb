/* SPDX-License-Identifier: MIT */
/*
 * falseshare.c - small objects allocated by one thread, written by others.
 *
 * A round: thread 0 allocates one object of 8..64 bytes for each of the -t
 * threads, one after another (so an allocator that packs them together
 * puts several on one cache line), and fills each with a tag; then every
 * thread writes its own object -w times (default 10000) and checks what
 * it wrote, frees it (a remote free except for thread 0), allocates an
 * object of the same size itself and writes that one -w times too
 * (passive false sharing: it may land on a line just freed by another
 * thread) before freeing it.  Rounds repeat until the time is up.  With
 * one thread there is no sharing to suffer from.  A wrong byte makes the
 * program exit 1.
 *
 * Output: falseshare threads=T rounds=N ops=N secs=S ops_per_s=X
 *         (an op is one byte written into an object)
 * Build: cc -std=c11 -O2 -pthread -o falseshare falseshare.c
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

#define PROG "falseshare"

#include "workload.h"

struct worker {
	_Alignas(64) int id;
	uint64_t ops;
	int bad;
};

static int writes = 10000;
static pthread_barrier_t bar;
static unsigned char **objs;
static size_t *sizes;
static _Atomic int done;
static uint64_t nrounds;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'w')
		writes = (int)parse_d(arg, 'w', 1, 1e9);
}

/* hammer: write @p @writes times, one byte at a time, then check it. */
static int hammer(volatile unsigned char *p, size_t size, unsigned char tag)
{
	for (size_t j = 0; j < size; j++)
		p[j] = tag;
	for (int k = 0; k < writes; k++)
		p[(size_t)k % size] += 1;
	for (size_t j = 0; j < size; j++) {
		uint64_t c = (uint64_t)writes / size + ((uint64_t)writes % size > j);
		if (p[j] != (unsigned char)(tag + c))
			return 1;
	}
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t s = (seed + 1) * 0x9e3779b97f4a7c15ull + 1;

	for (;;) {
		if (w->id == 0) {
			if (atomic_load(&stop))
				atomic_store(&done, 1);
			else {
				for (int i = 0; i < threads; i++) {
					sizes[i] = 8 + rnd(&s) % 57;
					if (!(objs[i] = malloc(sizes[i])))
						oom();
				}
				nrounds++;
			}
		}
		pthread_barrier_wait(&bar);
		if (atomic_load(&done))
			break;
		unsigned char *p = objs[w->id];
		size_t size = sizes[w->id];
		unsigned char tag = (unsigned char)(w->id * 37 + size);
		w->bad |= hammer(p, size, tag);
		free(p);
		if (!(p = malloc(size)))
			oom();
		w->bad |= hammer(p, size, (unsigned char)(tag + 1));
		free(p);
		w->ops += 2 * (uint64_t)writes;
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "w:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-w writes]");
	struct worker *w = workers_new(sizeof *w);
	objs = calloc((size_t)threads, sizeof *objs);
	sizes = calloc((size_t)threads, sizeof *sizes);
	if (!objs || !sizes)
		oom();
	for (int i = 0; i < threads; i++)
		w[i].id = i;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	double secs = run_threads(threads, work, (char *)w, sizeof *w);
	uint64_t ops = 0;
	int bad = 0;
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		bad |= w[i].bad;
	}
	if (bad) {
		fprintf(stderr, "falseshare: an object's contents changed under its writer\n");
		return 1;
	}
	printf("falseshare threads=%d rounds=%" PRIu64 " ops=%" PRIu64 " secs=%.3f ops_per_s=%.1f\n",
	       threads, nrounds, ops, secs, ops / secs);
	pthread_barrier_destroy(&bar);
	free(sizes);
	free(objs);
	free(w);
	return 0;
}
