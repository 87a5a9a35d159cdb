/* SPDX-License-Identifier: MIT */
/*
 * bigbuf.c - large buffers of varying size, replaced at random.
 *
 * A program keeps -n buffers alive (20); each step picks one at random and
 * replaces it with a new zero-filled buffer of a random size between -m
 * and -M MiB (5 and 25), allocating the new one before freeing the old,
 * as `buf[i] = std::make_unique<char[]>(n)` does: the new buffer comes
 * from malloc and is then cleared with memset, so every page of it is
 * written.  Image, column, network and I/O buffers behave this way.  An
 * allocator that reuses freed memory of any size serves it without a
 * system call or a page fault; one that maps each buffer afresh pays a
 * page fault for every 4 KiB of it.  With -c the buffers come from calloc
 * instead and only a few words of each are written (an allocator may skip
 * clearing memory it knows is zero, and need not make every page
 * resident); -f with -c fills each one after all, every page written.
 * A calloc buffer that does not read as zero where it is checked (its
 * first, middle and last words, and one at random) makes the program
 * exit 1.
 *
 * Before a buffer is freed, a word at its start, middle and end is
 * checked against a tag written when it was made: an allocator that
 * hands out overlapping memory makes the program exit 1.
 *
 * Runs -i steps (0: no count limit) or -s seconds, whichever ends first;
 * `bigbuf -i 2000 -s 86400` is the shape as published.  Output, one line:
 *   bigbuf ops=N secs=S ops_per_s=X faults=F faults_per_op=Y peak_kib=P
 *   live=L min_mib=A max_mib=B
 * (faults: minor page faults of the whole run, filling included; peak:
 * VmHWM.)
 *
 * Written for hakmem; not linked with any allocator, run it with LD_PRELOAD.
 * Build: cc -std=c11 -O2 -pthread -o bigbuf bigbuf.c
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <sys/resource.h>

#define PROG "bigbuf"

#include "workload.h"

#define MiB ((size_t)1 << 20)
#define MAX_LIVE 4096

struct buf {
	uint64_t *p;
	size_t words;
	uint64_t tag;
};

/* Through a pointer: a compiler may turn malloc and memset into calloc. */
static void *(*volatile clear)(void *, int, size_t) = memset;
static unsigned live = 20;
static double min_mib = 5, max_mib = 25;
static uint64_t iterations = 0;
static int use_calloc, fill_calloc;

static void opt_fn(int ch, const char *arg)
{
	switch (ch) {
	case 'n': live = (unsigned)parse_d(arg, 'n', 1, MAX_LIVE); break;
	case 'm': min_mib = parse_d(arg, 'm', 0.001, 1 << 20); break;
	case 'M': max_mib = parse_d(arg, 'M', 0.001, 1 << 20); break;
	case 'i': iterations = (uint64_t)parse_d(arg, 'i', 0, 1e15); break;
	case 'c': use_calloc = 1; break;
	case 'f': fill_calloc = 1; break;
	}
}

static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_minflt;
}

static void zero_check(const uint64_t *p, size_t words, uint64_t *rng)
{
	size_t at[4] = { 0, words / 2, words - 1, (size_t)(rnd(rng) % words) };

	for (unsigned i = 0; i < 4; i++) {
		if (p[at[i]]) {
			fprintf(stderr, "%s: calloc buffer %p: word %zu is not zero\n", PROG,
				(const void *)p, at[i]);
			exit(1);
		}
	}
}

static void make(struct buf *b, uint64_t *rng, uint64_t tag)
{
	size_t lo = (size_t)(min_mib * (double)MiB), hi = (size_t)(max_mib * (double)MiB);
	size_t bytes = lo + (size_t)(rnd(rng) % (hi - lo + 1));

	bytes = bytes < 3 * sizeof(uint64_t) ? 3 * sizeof(uint64_t) : bytes;
	if (use_calloc) {
		b->p = calloc(bytes, 1);
		if (b->p)
			zero_check(b->p, bytes / sizeof(uint64_t), rng);
		if (b->p && fill_calloc)
			clear(b->p, 0x5a, bytes);
	} else {
		b->p = malloc(bytes);
		if (b->p)
			clear(b->p, 0, bytes);
	}
	if (!b->p)
		oom();
	b->words = bytes / sizeof(uint64_t);
	b->tag = tag;
	b->p[0] = tag;
	b->p[b->words / 2] = tag ^ 1;
	b->p[b->words - 1] = tag ^ 2;
}

static void drop(struct buf *b)
{
	if (b->p[0] != b->tag || b->p[b->words / 2] != (b->tag ^ 1) ||
	    b->p[b->words - 1] != (b->tag ^ 2)) {
		fprintf(stderr, "%s: buffer %p changed: another buffer overlaps it\n", PROG,
			(void *)b->p);
		exit(1);
	}
	free(b->p);
}

int main(int argc, char **argv)
{
	static struct buf bufs[MAX_LIVE];
	uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1, ops = 0;
	long f0;
	double t0, secs;

	seconds = 10;
	parse_common(argc, argv, "n:m:M:i:cf", opt_fn,
		     "[-n live] [-m min_mib] [-M max_mib] [-i steps] [-c [-f]] [-s seconds] "
		     "[-r seed]");
	if (fill_calloc && !use_calloc) {
		fprintf(stderr, "%s: -f fills calloc buffers: it needs -c\n", PROG);
		return 2;
	}
	if (max_mib < min_mib) {
		fprintf(stderr, "%s: -M %g is below -m %g\n", PROG, max_mib, min_mib);
		return 2;
	}
	f0 = minor_faults();
	t0 = now();
	for (unsigned i = 0; i < live; i++)
		make(&bufs[i], &rng, ++ops);
	ops = 0;
	while (!iterations || ops < iterations) {
		unsigned i = (unsigned)(rnd(&rng) % live);
		struct buf old = bufs[i];

		make(&bufs[i], &rng, ops + live + 1);
		drop(&old);
		ops++;
		if (!(ops & 7) && now() - t0 >= seconds)
			break;
	}
	secs = now() - t0;
	long faults = minor_faults() - f0;
	long peak = status_kib("VmHWM");

	for (unsigned i = 0; i < live; i++)
		drop(&bufs[i]);
	printf("%s ops=%llu secs=%.3f ops_per_s=%.1f faults=%ld faults_per_op=%.1f peak_kib=%ld "
	       "live=%u min_mib=%g max_mib=%g\n",
	       PROG, (unsigned long long)ops, secs, (double)ops / secs, faults,
	       ops ? (double)faults / (double)ops : 0.0, peak, live, min_mib, max_mib);
	return 0;
}
