/* SPDX-License-Identifier: MIT */
/*
 * phases.c - a program whose use of large buffers changes from phase to
 * phase, for the decay decision: keep freed memory, or give it back?
 *
 * Phases of about -p ms (300) follow each other, in the order reuse,
 * one-off, idle, reuse, ..., for as many cycles as -s seconds hold (at
 * least one).  A phase is a number of steps, not a time, so that every
 * allocator serves the same sequence of buffers (the seed, -r, picks it).
 * Between buffer steps the program does other work: -w small blocks (16 B
 * to 4 KiB) allocated and freed per ms, as any program does, so that the
 * allocator's slow paths run meanwhile.
 *
 *   reuse    a batch of buffers of a few sizes (3, 5, 9 and 17 MiB) is
 *            allocated, filled and freed, then 10 to 30 ms of other work,
 *            again and again: what is freed is wanted again in a moment,
 *            and an allocator that returns it to the OS faults it back in
 *            each time;
 *   one-off  one buffer of a size never seen before (8 to 64 MiB) is
 *            allocated, filled and freed, then 120 to 200 ms of other
 *            work: memory kept after it is paid for in RSS and, by the time
 *            the next one comes, is worth less than faulting fresh pages;
 *   idle     other work only.
 *
 * A good policy keeps memory through the reuse phases and gives it back
 * in the others.  Time: the CPU seconds spent allocating, filling and
 * freeing buffers, page faults included (the other work takes the same
 * time under any allocator; CPU time leaves out the moments the machine
 * gave the thread's core to another program);
 * memory: RSS averaged over the run, sampled every ms by a second thread,
 * and the peak.  Every buffer is checked before it is freed: a changed
 * word exits 1.
 *
 * Output, one line:
 *   phases ops=N secs=S ops_per_s=X buffer_ms=B avg_rss_kib=A peak_kib=P
 *   faults=F phases=K
 * (ops: buffers; ops_per_s: buffers per second of buffer time.)
 *
 * Written for hakmem; not linked with any allocator, run it with LD_PRELOAD.
 * Build: cc -std=c11 -O2 -pthread -o phases phases.c
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <sys/resource.h>

#define PROG "phases"

#include "workload.h"

#define MiB ((size_t)1 << 20)
#define RING 256

static double phase_ms = 300;
static double work_rate = 200;		/* small blocks per ms of other work */

/* Through a pointer: a compiler may turn malloc and memset into calloc. */
static void *(*volatile clear)(void *, int, size_t) = memset;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'p')
		phase_ms = parse_d(arg, 'p', 1, 1e6);
	else if (ch == 'w')
		work_rate = parse_d(arg, 'w', 0, 1e6);
}

static long statm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, res;
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%lu %lu", &size, &res) == 2)
		v = (long)(res * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
	fclose(f);
	return v;
}

static _Atomic int sampling = 1;
static double rss_sum;
static long rss_n, rss_peak;

static void *sampler(void *arg)
{
	(void)arg;
	while (atomic_load(&sampling)) {
		long v = statm_rss_kib();

		if (v > 0) {
			rss_sum += (double)v;
			rss_n++;
			rss_peak = v > rss_peak ? v : rss_peak;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return NULL;
}

/* Other work for @ms: small blocks through a ring, at work_rate per ms. */
static void *ring[RING];

static void work(double ms, uint64_t *rng)
{
	double end = now() + ms / 1000, per = 1 / work_rate;
	double next = now();

	while (now() < end) {
		unsigned i = (unsigned)(rnd(rng) % RING);

		free(ring[i]);
		ring[i] = malloc(16 + rnd(rng) % 4081);
		if (!ring[i])
			oom();
		*(volatile char *)ring[i] = 1;
		if (work_rate > 0) {
			next += per / 1000;
			double wait = next - now();

			if (wait > 0)
				nanosleep(&(struct timespec){ 0, (long)(wait * 1e9) }, NULL);
		}
	}
}

/* CPU seconds of this thread: what the other tenants of a machine do not change. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One buffer: allocated, filled, checked and freed; returns its CPU seconds. */
static double buffer(size_t size, uint64_t tag)
{
	double t0 = cpu_now();
	uint64_t *p = malloc(size);
	size_t words = size / sizeof(uint64_t);

	if (!p)
		oom();
	clear(p, (int)(tag & 0x7f), size);
	p[0] = tag;
	p[words - 1] = tag ^ 1;
	if (p[0] != tag || p[words - 1] != (tag ^ 1)) {
		fprintf(stderr, "%s: buffer %p changed\n", PROG, (void *)p);
		exit(1);
	}
	free(p);
	return cpu_now() - t0;
}

int main(int argc, char **argv)
{
	static const size_t reuse_mib[] = { 3, 5, 9, 17 };
	uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 7, ops = 0, tag = 1;
	double t0, busy = 0;
	unsigned phases = 0, cycles;
	pthread_t tid;
	struct rusage ru;
	long f0;

	seconds = 3;
	parse_common(argc, argv, "p:w:", opt_fn, "[-s seconds] [-p phase_ms] [-w small_per_ms] [-r seed]");
	/* The same sequence of buffers under any allocator: phases are counted
	 * in steps, each about phase_ms long, as many as -s holds. */
	cycles = (unsigned)(seconds * 1000 / (3 * phase_ms));
	cycles = cycles ? cycles : 1;
	getrusage(RUSAGE_SELF, &ru);
	f0 = ru.ru_minflt;
	if (pthread_create(&tid, NULL, sampler, NULL)) {
		fprintf(stderr, "%s: pthread_create failed\n", PROG);
		return 1;
	}
	t0 = now();
	for (unsigned c = 0; c < cycles; c++) {
		/* reuse: batches 25 ms apart on average */
		for (unsigned b = 0; b < (unsigned)(phase_ms / 25) + 1; b++) {
			for (unsigned i = 0; i < 4; i++, ops++)
				busy += buffer(reuse_mib[i] * MiB, tag++);
			work(10 + (double)(rnd(&rng) % 21), &rng);
		}
		/* one-off: buffers 160 ms apart on average, of sizes never seen */
		for (unsigned b = 0; b < (unsigned)(phase_ms / 160) + 1; b++, ops++) {
			size_t size = (8 + rnd(&rng) % 57) * MiB + (rnd(&rng) % 256 * 2 + 1) * 4096;

			busy += buffer(size, tag++);
			work(120 + (double)(rnd(&rng) % 81), &rng);
		}
		/* idle */
		work(phase_ms, &rng);
		phases += 3;
	}
	double secs = now() - t0;

	atomic_store(&sampling, 0);
	pthread_join(tid, NULL);
	for (unsigned i = 0; i < RING; i++)
		free(ring[i]);
	getrusage(RUSAGE_SELF, &ru);
	printf("%s ops=%llu secs=%.3f ops_per_s=%.1f buffer_ms=%.1f avg_rss_kib=%.0f peak_kib=%ld "
	       "faults=%ld phases=%u\n",
	       PROG, (unsigned long long)ops, secs, busy > 0 ? (double)ops / busy : 0.0, busy * 1000,
	       rss_n ? rss_sum / (double)rss_n : 0.0, rss_peak, ru.ru_minflt - f0, phases);
	return 0;
}
