/* SPDX-License-Identifier: MIT */
/*
 * batch.c - batch producer/consumer: objects cross threads by the hundred.
 *
 * -t T threads make T/2 pairs (at least one).  Each producer allocates
 * objects of -z bytes (default 64, at least 16), writes a tag into each
 * (its sequence number at the start and a pattern byte at the end) and
 * collects their pointers into a batch of -b objects (default 256; the
 * batch itself is malloc'd too).  A full batch goes to the pair's
 * consumer through a bounded queue (a mutex and two condition variables,
 * at most 64 batches in flight; the producer waits while it is full).
 * The consumer checks every tag, frees every object (so each of those
 * frees is a remote free) and frees the batch; for each batch it also
 * allocates 8 blocks of its own of 16..256 bytes, fills them, and checks
 * and frees them once the next batch is done (short-lived local
 * allocations).  When the time is up each producer sends its partial
 * batch and an end mark, and its consumer drains the queue up to it, so
 * that everything is freed.  A changed tag makes the program exit 1.
 *
 * Output: batch threads=T pairs=P objects=N secs=S ops_per_s=X
 * (an op is one object allocated by a producer and freed by its consumer).
 * Build: cc -std=c11 -O2 -Wall -Wextra -pthread -o batch batch.c
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

#define PROG "batch"
#define WORKLOAD_THREADS 2
#include "workload.h"

#define INFLIGHT 64	/* batches a queue holds at most */
#define NLOCAL 8	/* consumer's own blocks per batch */

struct batch {
	size_t n;
	void *obj[];
};

struct pair {
	_Alignas(64) pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull;
	struct batch *q[INFLIGHT];	/* NULL is the end mark */
	unsigned head, len;
	uint64_t produced, consumed;
};

struct thr {
	_Alignas(64) struct pair *p;
	int producer;
	uint64_t seed;
};

static size_t objsize = 64;
static size_t batchlen = 256;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'z')
		objsize = (size_t)parse_d(arg, 'z', 16, 1 << 24);
	else if (ch == 'b')
		batchlen = (size_t)parse_d(arg, 'b', 1, 1 << 20);
}

static unsigned char pattern(uint64_t seq)
{
	return (unsigned char)((seq ^ (seq >> 11)) * 0x9du + 0x3c);
}

static void changed(void)
{
	fprintf(stderr, "batch: block changed\n");
	exit(1);
}

static void put(struct pair *p, struct batch *b)
{
	pthread_mutex_lock(&p->lock);
	while (p->len == INFLIGHT)
		pthread_cond_wait(&p->nonfull, &p->lock);
	p->q[(p->head + p->len) % INFLIGHT] = b;
	p->len++;
	pthread_cond_signal(&p->nonempty);
	pthread_mutex_unlock(&p->lock);
}

static struct batch *get(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->len == 0)
		pthread_cond_wait(&p->nonempty, &p->lock);
	struct batch *b = p->q[p->head];
	p->head = (p->head + 1) % INFLIGHT;
	p->len--;
	pthread_cond_signal(&p->nonfull);
	pthread_mutex_unlock(&p->lock);
	return b;
}

static struct batch *new_batch(void)
{
	struct batch *b = malloc(sizeof *b + batchlen * sizeof b->obj[0]);
	if (!b)
		oom();
	b->n = 0;
	return b;
}

static void produce(struct pair *p)
{
	uint64_t seq = 0;
	struct batch *b = new_batch();

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned char *o = malloc(objsize);
		if (!o)
			oom();
		memcpy(o, &seq, sizeof seq);
		o[objsize - 1] = pattern(seq);
		seq++;
		b->obj[b->n++] = o;
		if (b->n == batchlen) {
			put(p, b);
			b = new_batch();
		}
	}
	if (b->n)
		put(p, b);
	else
		free(b);
	put(p, NULL);
	p->produced = seq;
}

/* A local block of @size bytes is filled with fill(size). */
static unsigned char fill(size_t size) { return (unsigned char)(size * 37u + 1); }

static void free_locals(void **loc, size_t *sz)
{
	for (int i = 0; i < NLOCAL; i++) {
		unsigned char *l = loc[i];
		if (!l)
			continue;
		unsigned char f = fill(sz[i]);
		if (l[0] != f || l[sz[i] / 2] != f || l[sz[i] - 1] != f)
			changed();
		free(l);
		loc[i] = NULL;
	}
}

static void consume(struct pair *p, uint64_t s)
{
	void *loc[2][NLOCAL] = { { NULL } };
	size_t sz[2][NLOCAL];
	uint64_t expect = 0, k = 0;
	struct batch *b;

	while ((b = get(p)) != NULL) {
		if (b->n == 0 || b->n > batchlen)
			changed();
		for (size_t i = 0; i < b->n; i++) {
			unsigned char *o = b->obj[i];
			uint64_t seq;
			memcpy(&seq, o, sizeof seq);
			if (seq != expect || o[objsize - 1] != pattern(seq))
				changed();
			expect++;
			free(o);
		}
		free(b);
		/* the blocks of the batch before last go, this batch's come */
		unsigned cur = (unsigned)(k++ & 1);
		free_locals(loc[cur], sz[cur]);
		for (int i = 0; i < NLOCAL; i++) {
			size_t n = 16 + (size_t)(rnd(&s) % 241);
			unsigned char *l = malloc(n);
			if (!l)
				oom();
			memset(l, fill(n), n);
			loc[cur][i] = l;
			sz[cur][i] = n;
		}
	}
	free_locals(loc[0], sz[0]);
	free_locals(loc[1], sz[1]);
	p->consumed = expect;
}

static void *work(void *arg)
{
	struct thr *t = arg;
	if (t->producer)
		produce(t->p);
	else
		consume(t->p, t->seed);
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "z:b:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-z object size] [-b batch]");
	int pairs = threads / 2 > 0 ? threads / 2 : 1;
	struct pair *p = aligned_alloc(64, sizeof *p * (size_t)pairs);
	struct thr *t = aligned_alloc(64, sizeof *t * 2 * (size_t)pairs);
	if (!p || !t)
		oom();
	memset(p, 0, sizeof *p * (size_t)pairs);
	memset(t, 0, sizeof *t * 2 * (size_t)pairs);
	for (int i = 0; i < pairs; i++) {
		if (pthread_mutex_init(&p[i].lock, NULL) ||
		    pthread_cond_init(&p[i].nonempty, NULL) ||
		    pthread_cond_init(&p[i].nonfull, NULL)) {
			fprintf(stderr, "batch: cannot set up a queue\n");
			return 1;
		}
		t[2 * i].p = &p[i];
		t[2 * i].seed = worker_seed(i);
		t[2 * i + 1].p = &p[i];
		t[2 * i + 1].producer = 1;
	}
	/* the consumers run on after stop until they meet the end mark */
	double secs = run_threads(2 * pairs, work, (char *)t, sizeof *t);
	uint64_t objects = 0;
	int bad = 0;
	for (int i = 0; i < pairs; i++) {
		objects += p[i].consumed;
		bad |= p[i].consumed != p[i].produced || p[i].len != 0;
		pthread_cond_destroy(&p[i].nonfull);
		pthread_cond_destroy(&p[i].nonempty);
		pthread_mutex_destroy(&p[i].lock);
	}
	free(t);
	free(p);
	if (bad) {
		fprintf(stderr, "batch: objects were lost in a queue\n");
		return 1;
	}
	printf("batch threads=%d pairs=%d objects=%" PRIu64 " secs=%.3f ops_per_s=%.0f\n",
	       threads, pairs, objects, secs, objects / secs);
	return 0;
}
