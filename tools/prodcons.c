/* SPDX-License-Identifier: MIT */
/*
 * prodcons.c - producer-consumer: every free is a remote free.
 *
 * -t T threads make T/2 pairs (at least one): each producer allocates
 * blocks of 16..512 bytes, writes a tag (its sequence number, size and a
 * pattern byte at the end) and pushes them through a bounded ring shared
 * with its consumer, which checks the tag and frees the block.  A block
 * whose tag changed makes the program exit 1.
 *
 * Output: prodcons threads=T pairs=P ops=N secs=S ops_per_s=X
 * (an op is one block allocated by a producer and freed by a consumer).
 * Build: cc -std=c11 -O2 -pthread -o prodcons prodcons.c
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

#define RING 1024	/* slots per ring, a power of two */

struct hdr {
	uint64_t seq;
	uint32_t size;
	uint32_t magic;
};

struct pair {
	_Alignas(64) _Atomic uint64_t head;	/* next slot the consumer reads */
	_Alignas(64) _Atomic uint64_t tail;	/* next slot the producer writes */
	_Alignas(64) void *slot[RING];
	uint64_t seed;
	uint64_t produced, consumed;
	int bad;
};

#define PROG "prodcons"
#define WORKLOAD_THREADS 2
#include "workload.h"

static unsigned char pat(uint64_t seq) { return (unsigned char)(seq * 131 + 7); }

static void push(struct pair *p, void *b)
{
	uint64_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
	while (t - atomic_load_explicit(&p->head, memory_order_acquire) >= RING)
		sched_yield();
	p->slot[t & (RING - 1)] = b;
	atomic_store_explicit(&p->tail, t + 1, memory_order_release);
}

static void *producer(void *arg)
{
	struct pair *p = arg;
	uint64_t s = p->seed, seq = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++) {
			uint32_t size = 16 + (uint32_t)(rnd(&s) % 497);
			unsigned char *b = malloc(size);
			if (!b) {
				fprintf(stderr, "prodcons: out of memory\n");
				exit(1);
			}
			struct hdr h = { seq, size, 0xfeedc0deu };
			memcpy(b, &h, sizeof h);
			if (size > sizeof h)
				b[size - 1] = pat(seq);
			seq++;
			push(p, b);
		}
	}
	push(p, NULL);
	p->produced = seq;
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *p = arg;
	uint64_t expect = 0;

	for (;;) {
		uint64_t h = atomic_load_explicit(&p->head, memory_order_relaxed);
		while (atomic_load_explicit(&p->tail, memory_order_acquire) == h)
			sched_yield();
		unsigned char *b = p->slot[h & (RING - 1)];
		atomic_store_explicit(&p->head, h + 1, memory_order_release);
		if (!b)
			break;
		struct hdr x;
		memcpy(&x, b, sizeof x);
		if (x.seq != expect || x.magic != 0xfeedc0deu || x.size < 16 ||
		    x.size > 512 ||
		    (x.size > sizeof x && b[x.size - 1] != pat(x.seq)))
			p->bad = 1;
		expect++;
		free(b);
	}
	p->consumed = expect;
	return NULL;
}

static void no_extra(int ch, const char *arg)
{
	(void)ch;
	(void)arg;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "", no_extra, "[-t threads] [-s seconds] [-r seed]");
	int pairs = threads / 2 > 0 ? threads / 2 : 1;
	struct pair *p = aligned_alloc(64, sizeof *p * pairs);
	pthread_t *tid = calloc(2 * (size_t)pairs, sizeof *tid);
	if (!p || !tid)
		oom();
	memset(p, 0, sizeof *p * pairs);
	double t0 = now();
	for (int i = 0; i < pairs; i++) {
		p[i].seed = worker_seed(i);
		if (pthread_create(&tid[2 * i], NULL, consumer, &p[i]) ||
		    pthread_create(&tid[2 * i + 1], NULL, producer, &p[i])) {
			fprintf(stderr, "prodcons: pthread_create failed\n");
			return 1;
		}
	}
	struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	uint64_t ops = 0;
	int bad = 0;
	for (int i = 0; i < 2 * pairs; i++)
		pthread_join(tid[i], NULL);
	double secs = now() - t0;
	for (int i = 0; i < pairs; i++) {
		ops += p[i].consumed;
		bad |= p[i].bad || p[i].consumed != p[i].produced;
	}
	if (bad) {
		fprintf(stderr, "prodcons: a block's contents changed while it was allocated\n");
		return 1;
	}
	printf("prodcons threads=%d pairs=%d ops=%" PRIu64 " secs=%.3f ops_per_s=%.1f\n",
	       threads, pairs, ops, secs, ops / secs);
	free(tid);
	free(p);
	return 0;
}
