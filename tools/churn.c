/* SPDX-License-Identifier: MIT */
/*
 * churn.c - thread churn: many short-lived threads.
 *
 * -t threads run at a time; each allocates -n blocks (default 1000) of
 * 16..4096 bytes, writes a header into each, frees about 90% of them and
 * leaves the rest on a shared list; the next thread to start frees what
 * is on the list (so those frees come from a thread other than the one
 * that allocated, often after that thread has exited).  Batches of -t
 * threads are started and joined until the time is up.  A changed header
 * makes the program exit 1.
 *
 * Output: churn threads=T threads_total=N threads_per_s=Y ops=N secs=S
 *         ops_per_s=X   (an op is one malloc or one free)
 * Build: cc -std=c11 -O2 -pthread -o churn churn.c
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

#define PROG "churn"

#include "workload.h"

#define MAGIC 0xc4u

struct blk {
	struct blk *next;
	uint32_t size;
	uint32_t tag;
};

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	int bad;
};

static int nblocks = 1000;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk *left;	/* blocks left for the next thread */

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'n')
		nblocks = (int)parse_d(arg, 'n', 1, 1 << 24);
}

static uint32_t tagof(const struct blk *b) { return (uint32_t)(b->size * 2654435761u) ^ 0x5eed; }

static int check_free(struct blk *b)
{
	int bad = b->tag != tagof(b) || b->size < 16 || b->size > 4096 ||
		  (b->size > sizeof *b && ((unsigned char *)b)[b->size - 1] != MAGIC);
	free(b);
	return bad;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed, ops = 0;
	struct blk **v = malloc(sizeof *v * (size_t)nblocks), *l, *keep = NULL;
	if (!v)
		oom();
	pthread_mutex_lock(&lock);
	l = left;
	left = NULL;
	pthread_mutex_unlock(&lock);
	while (l) {
		struct blk *n = l->next;
		w->bad |= check_free(l);
		ops++;
		l = n;
	}
	for (int i = 0; i < nblocks; i++) {
		uint32_t size = 16 + (uint32_t)(rnd(&s) % 4081);
		struct blk *b = malloc(size);
		if (!b)
			oom();
		b->next = NULL;
		b->size = size;
		b->tag = tagof(b);
		if (size > sizeof *b)
			((unsigned char *)b)[size - 1] = MAGIC;
		v[i] = b;
		ops++;
	}
	for (int i = 0; i < nblocks; i++) {
		int j = i + (int)(rnd(&s) % (uint64_t)(nblocks - i));
		struct blk *b = v[j];
		v[j] = v[i];
		if (rnd(&s) % 10 == 0) {
			b->next = keep;
			keep = b;
		} else {
			w->bad |= check_free(b);
			ops++;
		}
	}
	if (keep) {
		struct blk *t = keep;
		while (t->next)
			t = t->next;
		pthread_mutex_lock(&lock);
		t->next = left;
		left = keep;
		pthread_mutex_unlock(&lock);
	}
	free(v);
	w->seed = s;
	w->ops += ops;
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "n:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-n blocks]");
	struct worker *w = workers_new(sizeof *w);
	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	if (!tid)
		oom();
	for (int i = 0; i < threads; i++)
		w[i].seed = worker_seed(i);
	uint64_t total = 0, ops = 0;
	double t0 = now(), end = t0 + seconds;
	do {
		for (int i = 0; i < threads; i++)
			if (pthread_create(&tid[i], NULL, work, &w[i])) {
				fprintf(stderr, "churn: pthread_create failed\n");
				return 1;
			}
		for (int i = 0; i < threads; i++)
			pthread_join(tid[i], NULL);
		total += (uint64_t)threads;
	} while (now() < end);
	double secs = now() - t0;
	int bad = 0;
	while (left) {
		struct blk *n = left->next;
		bad |= check_free(left);
		left = n;
	}
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		bad |= w[i].bad;
	}
	(void)stop;
	(void)run_threads;
	if (bad) {
		fprintf(stderr, "churn: a block's contents changed while it was allocated\n");
		return 1;
	}
	printf("churn threads=%d threads_total=%" PRIu64 " threads_per_s=%.1f ops=%" PRIu64
	       " secs=%.3f ops_per_s=%.1f\n",
	       threads, total, total / secs, ops, secs, ops / secs);
	free(tid);
	free(w);
	return 0;
}
