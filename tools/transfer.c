/* SPDX-License-Identifier: MIT */
/*
 * transfer.c - blocks passed between threads, with thread churn.
 *
 * A shared array of T x -n slots (default -n 1000), each an atomic
 * pointer.  Until the time is up, iterations run one after another: each
 * starts -t T threads and joins them all, so most blocks outlive the
 * thread that allocated them and are freed or resized by a later one.
 * Each thread does -i operations (default 2000): it takes the block out
 * of a random slot of the whole array (atomic exchange with NULL) and
 * checks its tag; about 1 in 8 times it reallocs the block to a new size
 * and checks that the tagged bytes survived, otherwise it frees it and
 * mallocs a new one; 1 in 4 times it leaves the slot empty instead.  The
 * block goes back by atomic exchange, and whatever another thread put in
 * the slot meanwhile is checked and freed.
 *
 * Every block is written whole when it is made (as programs write what
 * they allocate).  Besides the shared slots, each thread keeps -l blocks
 * of its own (default 64), replaces one of them on every operation and
 * frees them all before it exits: local frees beside the remote ones.
 *
 * Sizes: by default 8..1024 bytes, and 1 in 50 16..320 KiB; -S (small)
 * 16..4096 bytes.  Each block holds in its first 8 bytes a tag made of
 * its size and a random nonce, and in its last byte a pattern derived
 * from the tag; a changed block makes the program exit 1.  Every thread
 * seeds its RNG from -r, the iteration and its index.  What is left in
 * the slots is checked and freed at the end.
 *
 * Output: transfer threads=T mode=default|small iters=N ops=N secs=S
 *         ops_per_s=X   (an op is one malloc, realloc or free)
 * Build: cc -std=c11 -O2 -Wall -Wextra -pthread -o transfer transfer.c
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "transfer"
#define WORKLOAD_THREADS 4
#include "workload.h"

#define MIN_SIZE	8u
#define MAX_SIZE	(320u * 1024)
#define NONCE_BITS	40		/* the tag: size << 40 | nonce */

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
};

static int per_thread = 1000;	/* -n: slots per thread */
static int nops = 2000;		/* -i: operations per thread and iteration */
static int small;		/* -S: 16..4096 bytes, nothing large */
static int nlocal = 64;		/* -l: blocks each thread keeps to itself */
static size_t nslots;
static _Atomic(void *) *slots;

static void opt_fn(int ch, const char *arg)
{
	switch (ch) {
	case 'n': per_thread = (int)parse_d(arg, 'n', 1, 1 << 24); break;
	case 'i': nops = (int)parse_d(arg, 'i', 1, 1 << 30); break;
	case 'S': small = 1; break;
	case 'l': nlocal = (int)parse_d(arg, 'l', 0, 1 << 20); break;
	}
}

static uint32_t rand_size(uint64_t *s)
{
	if (small)
		return 16 + (uint32_t)(rnd(s) % 4081);
	if (rnd(s) % 50 == 0)
		return 16 * 1024 + (uint32_t)(rnd(s) % (MAX_SIZE - 16 * 1024 + 1));
	return MIN_SIZE + (uint32_t)(rnd(s) % (1024 - MIN_SIZE + 1));
}

static unsigned char pat(uint64_t tag)
{
	return (unsigned char)((tag * 0x9e3779b97f4a7c15ull) >> 56);
}

static void changed(void)
{
	fprintf(stderr, "transfer: block changed\n");
	exit(1);
}

/* Write a fresh tag (size and a new nonce) into @b of @size bytes. */
static void tag(unsigned char *b, uint32_t size, uint64_t *s)
{
	uint64_t t = (uint64_t)size << NONCE_BITS |
		     (rnd(s) & ((1ull << NONCE_BITS) - 1));
	memcpy(b, &t, sizeof t);
	/* Programs write what they allocate: the whole block. */
	if (size > sizeof t) {
		memset(b + sizeof t, 0x5a, size - sizeof t - 1);
		b[size - 1] = pat(t);
	}
}

/* Check the tag of @b; returns it (the size is t >> NONCE_BITS). */
static uint64_t check(const unsigned char *b)
{
	uint64_t t;
	memcpy(&t, b, sizeof t);
	uint64_t size = t >> NONCE_BITS;
	if (size < MIN_SIZE || size > MAX_SIZE ||
	    (size > sizeof t && b[size - 1] != pat(t)))
		changed();
	return t;
}

static unsigned char *new_block(uint64_t *s)
{
	uint32_t size = rand_size(s);
	unsigned char *b = malloc(size);
	if (!b)
		oom();
	tag(b, size, s);
	return b;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed, ops = 0;
	unsigned char **mine = calloc((size_t)nlocal + 1, sizeof *mine);

	if (!mine)
		oom();
	for (int i = 0; i < nops; i++) {
		if (nlocal) {
			int j = (int)(rnd(&s) % (uint64_t)nlocal);

			if (mine[j]) {
				check(mine[j]);
				free(mine[j]);
				ops++;
			}
			mine[j] = new_block(&s);
			ops++;
		}
		size_t k = (size_t)(rnd(&s) % nslots);
		unsigned char *b = atomic_exchange(&slots[k], NULL), *nb = NULL;

		if (b) {
			uint64_t t = check(b);
			uint32_t old = (uint32_t)(t >> NONCE_BITS);
			if (rnd(&s) % 8 == 0) {
				uint32_t size = rand_size(&s);
				nb = realloc(b, size);
				if (!nb)
					oom();
				ops++;
				uint64_t t2;
				memcpy(&t2, nb, sizeof t2);
				if (t2 != t ||
				    (size >= old && old > sizeof t && nb[old - 1] != pat(t)))
					changed();
				tag(nb, size, &s);
			} else {
				free(b);
				ops++;
			}
		}
		if (!nb && rnd(&s) % 4 != 0) {
			nb = new_block(&s);
			ops++;
		}
		if (nb) {
			unsigned char *o = atomic_exchange(&slots[k], nb);
			if (o) {
				check(o);
				free(o);
				ops++;
			}
		}
	}
	for (int j = 0; j < nlocal; j++)
		if (mine[j]) {
			check(mine[j]);
			free(mine[j]);
			ops++;
		}
	free(mine);
	w->ops += ops;
	return NULL;
}

/* A seed for thread @i of iteration @iter, never 0 (xorshift needs that). */
static uint64_t thread_seed(uint64_t iter, int i)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull + iter * 0xbf58476d1ce4e5b9ull +
		     (uint64_t)i * 7919;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return x ? x : 1;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "n:i:l:S", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-n slots per thread] "
		     "[-i ops per thread] [-l own blocks per thread] [-S]");
	nslots = (size_t)threads * (size_t)per_thread;
	slots = calloc(nslots, sizeof *slots);
	struct worker *w = workers_new(sizeof *w);
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	if (!slots || !tid)
		oom();
	for (size_t k = 0; k < nslots; k++)
		atomic_init(&slots[k], NULL);

	uint64_t iters = 0, ops = 0;
	double t0 = now(), end = t0 + seconds;
	do {
		for (int i = 0; i < threads; i++) {
			w[i].seed = thread_seed(iters, i);
			if (pthread_create(&tid[i], NULL, work, &w[i])) {
				fprintf(stderr, "transfer: pthread_create failed\n");
				return 1;
			}
		}
		for (int i = 0; i < threads; i++)
			pthread_join(tid[i], NULL);
		iters++;
	} while (now() < end);
	double secs = now() - t0;

	for (size_t k = 0; k < nslots; k++) {
		unsigned char *b = atomic_exchange(&slots[k], NULL);
		if (b) {
			check(b);
			free(b);
		}
	}
	for (int i = 0; i < threads; i++)
		ops += w[i].ops;
	(void)stop;
	(void)run_threads;
	printf("transfer threads=%d mode=%s iters=%" PRIu64 " ops=%" PRIu64
	       " secs=%.3f ops_per_s=%.0f\n",
	       threads, small ? "small" : "default", iters, ops, secs, ops / secs);
	free(tid);
	free(w);
	free(slots);
	return 0;
}
