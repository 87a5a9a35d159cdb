/* SPDX-License-Identifier: MIT */
/*
 * larson.c - a larson-style server benchmark.
 *
 * Models a server whose worker threads come and go while the data they
 * allocated lives on: T chains of threads, each chain owning an array of N
 * slots holding blocks of random size (16 B..1 KiB by default).  An operation
 * picks a random slot, frees the block there and puts a fresh one of a new
 * random size in its place, writing a few bytes into it.  After R operations
 * the thread starts a successor, hands it the whole array and exits; the
 * successor joins it and carries on.  So most frees release blocks that an
 * exited thread allocated (remote frees), and the allocator sees a steady
 * churn of thread births and deaths.  The arrays are first filled by the
 * main thread, as in the original benchmark.
 *
 * Each block carries a tag in its first and last byte that is checked when
 * the block is freed, so a corrupting allocator is caught.  At the end every
 * block is freed: the benchmark leaks nothing.
 *
 * Output is one line of key=value pairs:
 *   larson threads=T ops=... secs=... mops_per_s=X slots=N ...
 *
 * Written for hakmem; not linked with any allocator, run it with LD_PRELOAD.
 * Build: cc -std=c11 -O2 -pthread -o larson larson.c
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

#define PROG "larson"

#include "workload.h"

struct chain {
	unsigned char **blocks;
	uint32_t *sizes;
	uint64_t rng;
	uint64_t ops;           /* operations done by the whole chain */
	uint64_t generations;   /* threads the chain has run through */
	uint64_t stop_ns;       /* when the chain noticed the stop flag */
	pthread_t prev;         /* predecessor, joined by the successor */
	int has_prev;
	int done;               /* guarded by done_lock */
	pthread_t last;         /* the chain's final thread, joined by main */
	int index;
};

static struct {
	int threads;
	double seconds;
	uint32_t slots;
	uint32_t min_size;
	uint32_t max_size;
	uint64_t per_thread;    /* R: operations before a handoff */
	uint64_t seed;
} opt = {
	.threads = 2,
	.seconds = 2.0,
	.slots = 5000,
	.min_size = 16,
	.max_size = 1024,
	.per_thread = 100000,
	.seed = 4141,
};

static atomic_int stop_flag;
static atomic_int corrupt_flag;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int chains_done;

static inline uint32_t rand_size(uint64_t *rng)
{
	uint32_t span = opt.max_size - opt.min_size + 1;

	return opt.min_size + (uint32_t)(rnd(rng) % span);
}

static inline unsigned char tag_of(const struct chain *c, uint32_t slot)
{
	return (unsigned char)(c->index * 31 + slot * 7 + 1);
}

static inline unsigned char *new_block(struct chain *c, uint32_t slot,
				       uint32_t size)
{
	unsigned char *p = malloc(size);
	unsigned char tag = tag_of(c, slot);

	if (!p) {
		fprintf(stderr, "larson: malloc(%" PRIu32 ") failed\n", size);
		exit(1);
	}
	p[0] = tag;
	p[size - 1] = tag;
	if (size > 8)
		p[size / 2] = (unsigned char)size;
	return p;
}

static inline void drop_block(struct chain *c, uint32_t slot)
{
	unsigned char *p = c->blocks[slot];
	uint32_t size = c->sizes[slot];
	unsigned char tag = tag_of(c, slot);

	if (p[0] != tag || p[size - 1] != tag)
		atomic_store_explicit(&corrupt_flag, 1, memory_order_relaxed);
	free(p);
}

static void *chain_thread(void *arg);

/* Pass @c to a new thread; false when none could be started. */
static int hand_off(struct chain *c)
{
	pthread_t t;
	int err;

	c->prev = pthread_self();
	c->has_prev = 1;
	for (int tries = 0; tries < 100; tries++) {
		err = pthread_create(&t, NULL, chain_thread, c);
		if (err == 0)
			return 1;
		if (err != EAGAIN)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	c->has_prev = 0;
	return 0;
}

static void *chain_thread(void *arg)
{
	struct chain *c = arg;
	uint64_t rng, n;

	if (c->has_prev) {
		pthread_join(c->prev, NULL);
		c->has_prev = 0;
	}
	c->generations++;
again:
	rng = c->rng;
	for (n = 0; n < opt.per_thread; n++) {
		uint32_t slot, size;

		if ((n & 63) == 0 &&
		    atomic_load_explicit(&stop_flag, memory_order_relaxed))
			break;
		slot = (uint32_t)(rnd(&rng) % opt.slots);
		size = rand_size(&rng);
		drop_block(c, slot);
		c->blocks[slot] = new_block(c, slot, size);
		c->sizes[slot] = size;
	}
	c->rng = rng;
	c->ops += n;

	if (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		/* From here on the successor owns @c. */
		if (hand_off(c))
			return NULL;
		goto again;
	}

	c->stop_ns = now_ns();
	for (uint32_t i = 0; i < opt.slots; i++)
		drop_block(c, i);
	pthread_mutex_lock(&done_lock);
	c->last = pthread_self();
	c->done = 1;
	chains_done++;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: larson [-t threads] [-s seconds] [-n slots] [-m min] [-M max]\n"
		"              [-R ops-per-thread] [-r seed]\n"
		"  -t  thread chains running at once (default %d)\n"
		"  -s  duration in seconds (default %.0f)\n"
		"  -n  block slots per thread (default %" PRIu32 ")\n"
		"  -m  smallest block size in bytes (default %" PRIu32 ")\n"
		"  -M  largest block size in bytes (default %" PRIu32 ")\n"
		"  -R  operations a thread does before handing its slots to a new thread\n"
		"      (default %" PRIu64 ")\n"
		"  -r  RNG seed (default %" PRIu64 ")\n"
		"prints: larson threads=T ops=N secs=S mops_per_s=X ...\n",
		opt.threads, opt.seconds, opt.slots, opt.min_size, opt.max_size,
		opt.per_thread, opt.seed);
}

static unsigned long long parse_num(const char *s, char flag,
				    unsigned long long lo,
				    unsigned long long hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "larson: bad value for -%c: '%s' (want %llu..%llu)\n",
			flag, s, lo, hi);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	int ch;
	char *end;

	while ((ch = getopt(argc, argv, "t:s:n:m:M:R:r:h")) != -1) {
		switch (ch) {
		case 't':
			opt.threads = (int)parse_num(optarg, 't', 1, 4096);
			break;
		case 's':
			errno = 0;
			opt.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(opt.seconds > 0 && opt.seconds <= 86400)) {
				fprintf(stderr, "larson: bad value for -s: '%s'\n",
					optarg);
				exit(2);
			}
			break;
		case 'n':
			opt.slots = (uint32_t)parse_num(optarg, 'n', 1, 1u << 26);
			break;
		case 'm':
			opt.min_size = (uint32_t)parse_num(optarg, 'm', 1, 1u << 30);
			break;
		case 'M':
			opt.max_size = (uint32_t)parse_num(optarg, 'M', 1, 1u << 30);
			break;
		case 'R':
			opt.per_thread = parse_num(optarg, 'R', 1, UINT64_MAX);
			break;
		case 'r':
			opt.seed = parse_num(optarg, 'r', 0, UINT64_MAX);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "larson: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (opt.min_size > opt.max_size) {
		fprintf(stderr, "larson: -m %" PRIu32 " is above -M %" PRIu32 "\n",
			opt.min_size, opt.max_size);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct chain *chains;
	uint64_t seed, start, end = 0, ops = 0, gens = 0;
	struct timespec until;
	double secs;

	parse_args(argc, argv);

	chains = calloc((size_t)opt.threads, sizeof(*chains));
	if (!chains) {
		fprintf(stderr, "larson: out of memory\n");
		return 1;
	}
	seed = opt.seed;
	for (int i = 0; i < opt.threads; i++) {
		struct chain *c = &chains[i];

		c->index = i;
		c->blocks = calloc(opt.slots, sizeof(*c->blocks));
		c->sizes = calloc(opt.slots, sizeof(*c->sizes));
		if (!c->blocks || !c->sizes) {
			fprintf(stderr, "larson: out of memory\n");
			return 1;
		}
		do
			c->rng = splitmix64(&seed);
		while (c->rng == 0);
		for (uint32_t s = 0; s < opt.slots; s++) {
			c->sizes[s] = rand_size(&c->rng);
			c->blocks[s] = new_block(c, s, c->sizes[s]);
		}
	}

	start = now_ns();
	for (int i = 0; i < opt.threads; i++) {
		pthread_t t;
		int err = pthread_create(&t, NULL, chain_thread, &chains[i]);

		if (err) {
			fprintf(stderr, "larson: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}

	/* Sleep until the deadline; EINTR just resumes. */
	{
		uint64_t deadline = start + (uint64_t)(opt.seconds * 1e9);

		until.tv_sec = (time_t)(deadline / 1000000000u);
		until.tv_nsec = (long)(deadline % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
				       NULL) == EINTR)
			;
	}
	atomic_store(&stop_flag, 1);

	pthread_mutex_lock(&done_lock);
	while (chains_done < opt.threads)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);

	for (int i = 0; i < opt.threads; i++) {
		struct chain *c = &chains[i];

		pthread_join(c->last, NULL);
		ops += c->ops;
		gens += c->generations;
		if (c->stop_ns > end)
			end = c->stop_ns;
		free(c->blocks);
		free(c->sizes);
	}
	free(chains);

	if (atomic_load(&corrupt_flag)) {
		fprintf(stderr, "larson: a block's contents changed while it was allocated\n");
		return 1;
	}
	secs = (double)(end - start) / 1e9;
	printf("larson threads=%d ops=%" PRIu64 " secs=%.3f mops_per_s=%.3f "
	       "slots=%" PRIu32 " min=%" PRIu32 " max=%" PRIu32
	       " per_thread=%" PRIu64 " seed=%" PRIu64 " generations=%" PRIu64 "\n",
	       opt.threads, ops, secs, (double)ops / secs / 1e6, opt.slots,
	       opt.min_size, opt.max_size, opt.per_thread, opt.seed, gens);
	return 0;
}
