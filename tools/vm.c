/* SPDX-License-Identifier: MIT */
/*
 * vm.c - the research prototype's VM scenario: large blocks from a few call
 * sites, each site with its own characteristic size.
 *
 * Models a program (a virtual machine, an image or buffer pool) whose big
 * buffers come from a handful of places in the code, each place always
 * asking for about the same size, around 2 MiB.  Every site is its own
 * noinline function, so an allocator that keys its decisions on the caller
 * (__builtin_return_address) sees distinct sites with stable sizes:
 *
 *   site A  2 MiB           site E  2.5 MiB
 *   site B  1.5 MiB         site F  1 MiB + 64 KiB
 *   site C  3 MiB           site G  4 MiB - 4 KiB
 *   site D  2 MiB + 4 KiB   site H  1 MiB + 768 KiB
 *
 * (-c picks how many, from A on; 4 by default.)  An operation picks a site
 * at random, frees the oldest of that site's live blocks when its window of
 * -w blocks is full, and allocates a new one, writing one byte into every
 * 4 KiB page (and the last byte), as a program filling its buffer would; so
 * a fresh mapping costs its page faults and a reused block does not.  The
 * bytes written are a pattern of the site, the block's sequence number and
 * the page, checked before the block is freed: a corrupting allocator makes
 * the program exit 1.  With -t, each thread runs the same loop over its own
 * windows, through the same call sites.  At the end every block is freed.
 *
 * Output is one line of key=value pairs:
 *   vm ops=N secs=S ops_per_s=X threads=T sites=C window=W ...
 *   start_kib=A peak_kib=B after_kib=C
 * (start: VmRSS at start; peak: VmHWM; after: VmRSS once every block is
 * freed, 200 ms later and after a few thousand small blocks, rss.h.)
 *
 * Written for hakmem; not linked with any allocator, run it with LD_PRELOAD.
 * Build: cc -std=c11 -O2 -pthread -o vm vm.c
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

#define PROG "vm"

#include "workload.h"

#include "rss.h"

#define KiB		((size_t)1024)
#define MiB		(1024 * KiB)
#define PAGE		(4 * KiB)
#define MAX_SITES	8
#define MAX_WINDOW	64

/* One live block: where it is and which pattern it carries. */
struct block {
	unsigned char *p;
	uint64_t seq;
};

/* A site's window: a ring of its live blocks, oldest at @head. */
struct window {
	struct block b[MAX_WINDOW];
	unsigned int head;
	unsigned int live;
};

struct worker {
	pthread_t tid;
	uint64_t rng;
	uint64_t ops;
	uint64_t seq;
	uint64_t bytes;		/* total bytes allocated */
	uint64_t stop_ns;	/* when the loop ended, before the final frees */
	struct window win[MAX_SITES];
};

static struct {
	int threads;
	int sites;
	unsigned int window;
	double seconds;		/* 0: no time limit */
	uint64_t iterations;	/* per thread; 0: no count limit */
	uint64_t seed;
} opt = {
	.threads = 1,
	.sites = 4,
	.window = 3,
	.seconds = 0,
	.iterations = 0,
	.seed = 4242,
};

static atomic_int stop_flag;
static atomic_int corrupt_flag;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond;
static int workers_done;

static inline unsigned char pattern(int site, uint64_t seq, size_t page)
{
	return (unsigned char)(seq * 131 + page * 7 + (uint64_t)site * 29 + 1);
}

/* Write the pattern into every page of @p, and its last byte. */
static void fill(unsigned char *p, size_t size, int site, uint64_t seq)
{
	size_t pg;

	for (pg = 0; pg * PAGE < size; pg++)
		p[pg * PAGE] = pattern(site, seq, pg);
	p[size - 1] = pattern(site, seq, pg);
}

static int intact(const unsigned char *p, size_t size, int site, uint64_t seq)
{
	size_t pg;

	for (pg = 0; pg * PAGE < size; pg++)
		if (p[pg * PAGE] != pattern(site, seq, pg))
			return 0;
	return p[size - 1] == pattern(site, seq, pg);
}

static void out_of_memory(size_t size)
{
	fprintf(stderr, "vm: malloc(%zu) failed\n", size);
	exit(1);
}

/*
 * The call sites.  Each is its own noinline function with its own size, so
 * malloc's return address differs from site to site and identical-code
 * folding has nothing to fold; the result is used after the call, so the
 * malloc is never a tail call that would hide the site.
 */
#define VM_SITE(name, id, bytes)					\
	static __attribute__((noinline)) unsigned char *		\
	name(uint64_t seq)						\
	{								\
		unsigned char *p = malloc(bytes);			\
									\
		if (!p)							\
			out_of_memory(bytes);				\
		fill(p, bytes, id, seq);				\
		return p;						\
	}

VM_SITE(site_a, 0, 2 * MiB)
VM_SITE(site_b, 1, 3 * MiB / 2)
VM_SITE(site_c, 2, 3 * MiB)
VM_SITE(site_d, 3, 2 * MiB + 4 * KiB)
VM_SITE(site_e, 4, 5 * MiB / 2)
VM_SITE(site_f, 5, 1 * MiB + 64 * KiB)
VM_SITE(site_g, 6, 4 * MiB - 4 * KiB)
VM_SITE(site_h, 7, 1 * MiB + 768 * KiB)

static const struct {
	unsigned char *(*alloc)(uint64_t seq);
	size_t size;
} sites[MAX_SITES] = {
	{ site_a, 2 * MiB },
	{ site_b, 3 * MiB / 2 },
	{ site_c, 3 * MiB },
	{ site_d, 2 * MiB + 4 * KiB },
	{ site_e, 5 * MiB / 2 },
	{ site_f, 1 * MiB + 64 * KiB },
	{ site_g, 4 * MiB - 4 * KiB },
	{ site_h, 1 * MiB + 768 * KiB },
};

/* Check the oldest block of @s's window and free it. */
static void drop_oldest(struct worker *w, int s)
{
	struct window *win = &w->win[s];
	struct block *b = &win->b[win->head];

	if (!intact(b->p, sites[s].size, s, b->seq)) {
		atomic_store_explicit(&corrupt_flag, 1, memory_order_relaxed);
		atomic_store_explicit(&stop_flag, 1, memory_order_relaxed);
	}
	free(b->p);
	b->p = NULL;
	win->head = (win->head + 1) % opt.window;
	win->live--;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t n;

	for (n = 0; !opt.iterations || n < opt.iterations; n++) {
		int s = (int)(rnd(&w->rng) % (uint64_t)opt.sites);
		struct window *win = &w->win[s];
		struct block *b;

		if (atomic_load_explicit(&stop_flag, memory_order_relaxed))
			break;
		if (win->live == opt.window)
			drop_oldest(w, s);
		b = &win->b[(win->head + win->live) % opt.window];
		b->seq = w->seq++;
		b->p = sites[s].alloc(b->seq);
		win->live++;
		w->bytes += sites[s].size;
	}
	w->ops = n;
	w->stop_ns = now_ns();
	for (int s = 0; s < opt.sites; s++)
		while (w->win[s].live)
			drop_oldest(w, s);
	pthread_mutex_lock(&done_lock);
	workers_done++;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vm [-n iterations] [-s seconds] [-w window] [-t threads]\n"
		"          [-c sites] [-r seed]\n"
		"  -n  operations per thread (default: until -s runs out)\n"
		"  -s  duration in seconds (default 2 when -n is not given)\n"
		"  -w  live blocks kept per site (1..%d, default %u)\n"
		"  -t  threads, each with its own windows (default %d)\n"
		"  -c  call sites, 1..%d: 2 MiB, 1.5 MiB, 3 MiB, 2 MiB+4 KiB, 2.5 MiB,\n"
		"      1 MiB+64 KiB, 4 MiB-4 KiB, 1 MiB+768 KiB (default %d)\n"
		"  -r  RNG seed (default %" PRIu64 ")\n"
		"an operation allocates one block (touching each page) and, once the\n"
		"site's window is full, checks and frees the site's oldest block.\n"
		"prints: vm ops=N secs=S ops_per_s=X ...\n",
		MAX_WINDOW, opt.window, opt.threads, MAX_SITES, opt.sites,
		opt.seed);
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
		fprintf(stderr, "vm: bad value for -%c: '%s' (want %llu..%llu)\n",
			flag, s, lo, hi);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	int ch;
	char *end;

	while ((ch = getopt(argc, argv, "n:s:w:t:c:r:h")) != -1) {
		switch (ch) {
		case 'n':
			opt.iterations = parse_num(optarg, 'n', 1, UINT64_MAX);
			break;
		case 's':
			errno = 0;
			opt.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(opt.seconds > 0 && opt.seconds <= 86400)) {
				fprintf(stderr, "vm: bad value for -s: '%s'\n",
					optarg);
				exit(2);
			}
			break;
		case 'w':
			opt.window = (unsigned int)parse_num(optarg, 'w', 1,
							     MAX_WINDOW);
			break;
		case 't':
			opt.threads = (int)parse_num(optarg, 't', 1, 1024);
			break;
		case 'c':
			opt.sites = (int)parse_num(optarg, 'c', 1, MAX_SITES);
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
		fprintf(stderr, "vm: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (!opt.iterations && !opt.seconds)
		opt.seconds = 2.0;
}

/*
 * Wait until every worker has finished its -n operations or, with -s, the
 * deadline has passed, whichever comes first; then tell them all to stop.
 */
static void wait_workers(int started, uint64_t start)
{
	uint64_t deadline = start + (uint64_t)(opt.seconds * 1e9);
	struct timespec until = {
		.tv_sec = (time_t)(deadline / 1000000000u),
		.tv_nsec = (long)(deadline % 1000000000u),
	};

	pthread_mutex_lock(&done_lock);
	while (workers_done < started) {
		if (!opt.seconds)
			pthread_cond_wait(&done_cond, &done_lock);
		else if (pthread_cond_timedwait(&done_cond, &done_lock,
						&until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&done_lock);
	atomic_store(&stop_flag, 1);
}

int main(int argc, char **argv)
{
	struct worker *workers;
	pthread_condattr_t attr;
	uint64_t seed, start, end = 0, ops = 0, bytes = 0;
	long start_kib;
	double secs;
	int started = 0, err = 0;

	parse_args(argc, argv);

	/* The deadline is on the monotonic clock, immune to clock changes. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&done_cond, &attr);
	pthread_condattr_destroy(&attr);

	workers = calloc((size_t)opt.threads, sizeof(*workers));
	if (!workers) {
		fprintf(stderr, "vm: out of memory\n");
		return 1;
	}
	seed = opt.seed;
	for (int i = 0; i < opt.threads; i++) {
		do
			workers[i].rng = splitmix64(&seed);
		while (workers[i].rng == 0);
	}

	start_kib = status_kib("VmRSS");
	start = now_ns();
	for (; started < opt.threads; started++) {
		err = pthread_create(&workers[started].tid, NULL, worker_main,
				     &workers[started]);
		if (err)
			break;
	}
	if (err) {
		fprintf(stderr, "vm: pthread_create: %s\n", strerror(err));
		atomic_store(&stop_flag, 1);
	} else {
		wait_workers(started, start);
	}
	for (int i = 0; i < started; i++) {
		pthread_join(workers[i].tid, NULL);
		ops += workers[i].ops;
		bytes += workers[i].bytes;
		if (workers[i].stop_ns > end)
			end = workers[i].stop_ns;
	}
	free(workers);

	if (err)
		return 1;
	if (atomic_load(&corrupt_flag)) {
		fprintf(stderr, "vm: a block's contents changed while it was allocated\n");
		return 1;
	}
	secs = (double)(end - start) / 1e9;
	long peak = status_kib("VmHWM"), after = settled_rss_kib();

	printf("vm ops=%" PRIu64 " secs=%.3f ops_per_s=%.1f threads=%d sites=%d "
	       "window=%u mib_per_s=%.1f seed=%" PRIu64 " start_kib=%ld peak_kib=%ld "
	       "after_kib=%ld\n",
	       ops, secs, (double)ops / secs, opt.threads, opt.sites,
	       opt.window, (double)bytes / (double)MiB / secs, opt.seed, start_kib, peak, after);
	return 0;
}
