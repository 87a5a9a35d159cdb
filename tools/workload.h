/* SPDX-License-Identifier: MIT */
/*
 * workload.h - what the benchmark workloads share: the stop flag and the
 * -t/-s/-r options, a xorshift RNG, a monotonic clock, and running the
 * worker threads for the seconds asked.
 *
 * Each workload defines PROG (its name, for messages) and may define
 * WORKLOAD_THREADS (default thread count) before including this file.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rss.h"

#ifndef WORKLOAD_THREADS
#define WORKLOAD_THREADS 1
#endif

/* Unused in larson and vm, which take only the clock and RNGs below. */
static _Atomic int stop __attribute__((unused));
static int threads __attribute__((unused)) = WORKLOAD_THREADS;
static double seconds __attribute__((unused)) = 2;
static uint64_t seed __attribute__((unused)) = 1;

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: spreads one seed into many well-mixed ones. */
static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static inline void oom(void)
{
	fprintf(stderr, "%s: out of memory\n", PROG);
	exit(1);
}

static inline double parse_d(const char *s, char f, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "%s: bad value for -%c: '%s'\n", PROG, f, s);
		exit(2);
	}
	return v;
}

/* worker_seed: the RNG seed of worker @i, derived from -r; never 0. */
static inline uint64_t worker_seed(int i)
{
	return (seed + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)i * 7919 + 1;
}

/* workers_new: one zeroed record of @size bytes (a multiple of 64) per
 * thread, each on cache lines of its own; exits when out of memory. */
static inline void *workers_new(size_t size)
{
	void *w = aligned_alloc(64, size * (size_t)threads);

	if (!w)
		oom();
	memset(w, 0, size * (size_t)threads);
	return w;
}

/* parse_common: -t, -s, -r and the extra options in @extra (handled by
 * @fn); exits on errors and for -h. */
static inline void parse_common(int argc, char **argv, const char *extra,
			 void (*fn)(int ch, const char *arg), const char *usage)
{
	char opts[64];
	int ch;
	snprintf(opts, sizeof opts, "t:s:r:h%s", extra);
	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 't': threads = (int)parse_d(optarg, 't', 1, 4096); break;
		case 's': seconds = parse_d(optarg, 's', 1e-3, 86400); break;
		case 'r': seed = (uint64_t)parse_d(optarg, 'r', 0, 1e18); break;
		case 'h': printf("usage: %s %s\n", PROG, usage); exit(0);
		case '?': fprintf(stderr, "usage: %s %s\n", PROG, usage); exit(2);
		default: fn(ch, optarg); break;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
		exit(2);
	}
}

/* run_threads: start @n threads on @fn with args @base + i * @stride,
 * let them run for the seconds asked, set stop and join them. */
static inline double run_threads(int n, void *(*fn)(void *), char *base, size_t stride)
{
	pthread_t *tid = calloc((size_t)n, sizeof *tid);
	if (!tid)
		oom();
	double t0 = now();
	for (int i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, fn, base + i * stride)) {
			fprintf(stderr, "%s: pthread_create failed\n", PROG);
			exit(1);
		}
	struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	return now() - t0;
}

#endif /* WORKLOAD_H */
