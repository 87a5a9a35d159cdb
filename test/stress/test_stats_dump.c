/* SPDX-License-Identifier: MIT */
/*
 * test_stats_dump.c - the statistics dump at exit (HAKMEM_STATS=summary)
 * of the shape that once showed every counter as 0: threads created and
 * joined in a loop, each freeing blocks another thread allocated, some of
 * them after that thread has exited, and one from a TLS destructor as its
 * own thread exits.
 *
 * This program runs itself again as that shape (a fresh process, whose
 * counts are its own), the dump going to a file in a private directory,
 * and checks the dump against what the shape did, run after run, run in
 * three ways:
 *  - alone, the file named by its process id (%p);
 *  - under a waiter that allocates nothing and exits after it, as time(1)
 *    does, both naming the same file (no %p): the waiter's empty dump
 *    used to replace the shape's;
 *  - with a thread still allocating and freeing when main() returns.
 *
 * What each build promises (docs/stats.md), and so what is asserted:
 *  - without statistics (minimal_defconfig): no dump, no file;
 *  - with them (the default, hardened): alloc.large, free.large and
 *    threads.heaps exact; small blocks only through the slow paths, so
 *    alloc.small.refill is at least one per thread (its first malloc) and
 *    at most one per small malloc, and the small frees the slow paths
 *    count at most the small frees;
 *  - with the fast paths counted too (debug_defconfig): alloc.total and
 *    free.total exact, live.blocks 0.
 * The build is asked at run time (hak_stat_get's ENOSYS and ENOENT), the
 * way the dump itself decides what it shows.
 *
 * Counts are exact because the shape resets them (hak_stats_reset) after
 * a first round of threads that allocate nothing: glibc's own allocations
 * for new threads (their TLS vectors) come with new stacks, and the
 * rounds after it reuse those stacks.
 *
 * The second test reads the totals while threads free each other's
 * blocks: read in one pass they went below zero (live.blocks 2^64 less a
 * few) now and then, in the dump at exit too.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

#include "testlib.h"

#define SHAPE_ARG "--stats-dump-shape"
#define WAIT_ARG "--stats-dump-wait"
#define PROG "test_stats_dump"

#define ROUNDS 8
#define THREADS 4
#define SMALL 200		/* small blocks per thread and round */
#define LARGE 2			/* large ones */
#define BLOCKS (SMALL + LARGE)
#define LARGE_SIZE (160 * KiB)
/* Each worker's blocks, and one its TLS destructor frees. */
#define MALLOCS ((uint64_t)ROUNDS * THREADS * (BLOCKS + 1))

/* Exit statuses of the shape and the waiter besides 0. */
enum { SHAPE_FAILED = 10, SHAPE_RESET_LEFT = 11, WAITER_ALLOCATED = 12, WAITER_FAILED = 13 };

/* ---- the shape (a process of its own) ---------------------------------- */

/* Blocks of this round's threads, and of the last round's. */
static void *blocks[2][THREADS][BLOCKS];
static pthread_barrier_t shape_barrier;
static atomic_int shape_errors;
static int cur;

static size_t block_size(int id, int i)
{
	return i < SMALL ? 16 + (size_t)((i * 37 + id * 11) % 300) * 16 : LARGE_SIZE + (size_t)i;
}

static pthread_key_t shape_key;

/* Runs as the thread exits, after hakmem's own key let its heap go. */
static void shape_key_destructor(void *p)
{
	free(p);
}

static void *shape_worker(void *arg)
{
	int id = (int)(uintptr_t)arg, next = (id + 1) % THREADS;
	void **mine = blocks[cur][id], **old = blocks[!cur][id];
	void *last = malloc(100);

	if (!last || pthread_setspecific(shape_key, last))
		atomic_fetch_add(&shape_errors, 1);

	for (int i = 0; i < BLOCKS; i++) {
		mine[i] = malloc(block_size(id, i));
		if (!mine[i]) {
			atomic_fetch_add(&shape_errors, 1);
			continue;
		}
		memset(mine[i], id + 1, 16);
	}
	pthread_barrier_wait(&shape_barrier);
	/* Half of the next thread's blocks while it lives, every other one;
	 * the rest after it exited, by this slot's thread of the next round. */
	for (int i = 0; i < BLOCKS; i += 2) {
		free(blocks[cur][next][i]);
		blocks[cur][next][i] = NULL;
	}
	for (int i = 1; i < BLOCKS; i += 2) {
		free(old[i]);
		old[i] = NULL;
	}
	return NULL;
}

static void *shape_idle(void *arg)
{
	return arg;
}

static _Atomic(void *) running_slot[8];
static atomic_int running_started;

static void *shape_running(void *arg)
{
	uint64_t r = (uintptr_t)arg;

	for (;;) {
		uint64_t x = rnd(&r);
		char *p = malloc(16 + x % 2000);

		if (!p)
			_exit(SHAPE_FAILED);
		p[0] = 1;
		free(atomic_exchange(&running_slot[(x >> 32) % 8], p));
		atomic_store(&running_started, 1);
	}
	return NULL;
}

/* Runs the shape; with @running a thread still allocates when it returns. */
static int shape_main(int running)
{
	pthread_attr_t attr;
	pthread_t t[THREADS], spinner;

	/* Stacks of one size, so that every round reuses the first's. */
	if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, 256 * KiB))
		return SHAPE_FAILED;
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], &attr, shape_idle, NULL))
			return SHAPE_FAILED;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (pthread_barrier_init(&shape_barrier, NULL, THREADS) ||
	    pthread_key_create(&shape_key, shape_key_destructor))
		return SHAPE_FAILED;
	hak_stats_reset();

	uint64_t v;

	/* Statistics built: nothing was counted since the reset. */
	if (hak_stat_get("alloc.large", &v) == 0 && v != 0)
		return SHAPE_RESET_LEFT;
	if (running) {
		if (pthread_create(&spinner, &attr, shape_running, (void *)(uintptr_t)7))
			return SHAPE_FAILED;
		while (!atomic_load(&running_started))
			sched_yield();
	}
	for (int round = 0; round < ROUNDS; round++, cur = !cur) {
		for (int i = 0; i < THREADS; i++)
			if (pthread_create(&t[i], &attr, shape_worker, (void *)(uintptr_t)i))
				return SHAPE_FAILED;
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
	}
	/* The last round's leftovers. */
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < BLOCKS; j++)
			free(blocks[!cur][i][j]);
	return atomic_load(&shape_errors) ? SHAPE_FAILED : 0;
}

/* Runs the shape as a child and waits for it, allocating nothing, like time(1). */
static int waiter_main(char *running)
{
	char *argv[] = { PROG, SHAPE_ARG, running, NULL };
	uint64_t heaps = 0, refills = 0;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return WAITER_FAILED;
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(WAITER_FAILED);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return WAITER_FAILED;
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	/* A sanitizer's runtime allocates in every process: then this dump
	 * is not empty, and the parent is told. */
	hak_stat_get("threads.heaps", &heaps);
	hak_stat_get("alloc.small.refill", &refills);
	return heaps || refills ? WAITER_ALLOCATED : 0;
}

/* ---- the parent: run it, read the dump --------------------------------- */

enum how { ALONE, UNDER_WAITER, RUNNING_AT_EXIT, HOW_NR };

static const char *const how_names[HOW_NR] = {
	[ALONE] = "alone", [UNDER_WAITER] = "under a waiter", [RUNNING_AT_EXIT] = "running at exit",
};

/* What the build counts: asked the way the dump decides what to show. */
static int stats_built(void)
{
	uint64_t v;

	return hak_stat_get("alloc.large", &v) == 0 || errno != ENOSYS;
}

static int fast_counted(void)
{
	uint64_t v;

	return hak_stat_get("alloc.total", &v) == 0;
}

/* The value of counter @name in summary @dump ("  name   value"); 0 if absent. */
static int dump_get(const char *dump, const char *name, uint64_t *v)
{
	size_t len = strlen(name);

	for (const char *c = strstr(dump, name); c; c = strstr(c + 1, name)) {
		char *end;

		if (c == dump || c[-1] != ' ' || c[len] != ' ')
			continue;
		*v = strtoull(c + len, &end, 10);
		if (end != c + len)
			return 1;
	}
	return 0;
}

static char *read_file(const char *path)
{
	static char buf[16 * 1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* Names the counter and the run in a failed assertion. */
#define DUMP_VALUE(dump, name, var, run, how)                                         \
	ck_assert_msg(dump_get((dump), (name), &(var)), "run %d (%s): no %s in the dump:\n%s", \
		      (run), (how), (name), (dump))

static void check_dump(const char *dump, pid_t pid, int run, enum how how)
{
	const char *h = how_names[how];
	char head[128];
	uint64_t large, large_freed, heaps, refills, slow_frees = 0, x;
	const uint64_t threads = (uint64_t)ROUNDS * THREADS;

	snprintf(head, sizeof(head), "hakmem stats (pid %ld, %s, ", (long)pid, PROG);
	ck_assert_msg(!strncmp(dump, head, strlen(head)), "run %d (%s): not the shape's dump:\n%s",
		      run, h, dump);
	ck_assert_msg(!strstr(dump, "no allocations"), "run %d (%s): an empty dump:\n%s", run, h,
		      dump);
	DUMP_VALUE(dump, "alloc.large", large, run, h);
	DUMP_VALUE(dump, "free.large", large_freed, run, h);
	DUMP_VALUE(dump, "threads.heaps", heaps, run, h);
	DUMP_VALUE(dump, "alloc.small.refill", refills, run, h);
	ck_assert_msg(large == threads * LARGE && large_freed == threads * LARGE,
		      "run %d (%s): alloc.large %llu free.large %llu, want %llu each:\n%s", run, h,
		      (unsigned long long)large, (unsigned long long)large_freed,
		      (unsigned long long)(threads * LARGE), dump);
	ck_assert_msg(heaps == threads + (how == RUNNING_AT_EXIT),
		      "run %d (%s): threads.heaps %llu, want %llu:\n%s", run, h,
		      (unsigned long long)heaps,
		      (unsigned long long)(threads + (how == RUNNING_AT_EXIT)), dump);
	if (how != RUNNING_AT_EXIT)
		ck_assert_msg(refills >= threads && refills <= threads * (SMALL + 1),
			      "run %d (%s): alloc.small.refill %llu, want %llu to %llu:\n%s", run,
			      h, (unsigned long long)refills, (unsigned long long)threads,
			      (unsigned long long)(threads * (SMALL + 1)), dump);
	for (const char *const *n = (const char *const[]){ "free.local.slow", "free.local.tail",
							   "free.remote", NULL };
	     *n; n++) {
		DUMP_VALUE(dump, *n, x, run, h);
		slow_frees += x;
	}
	if (how != RUNNING_AT_EXIT)
		ck_assert_msg(slow_frees <= threads * (SMALL + 1),
			      "run %d (%s): %llu small frees counted, the shape made %llu:\n%s",
			      run, h, (unsigned long long)slow_frees,
			      (unsigned long long)(threads * (SMALL + 1)), dump);
	if (!fast_counted())
		return;

	uint64_t allocs, frees, live;

	DUMP_VALUE(dump, "alloc.total", allocs, run, h);
	DUMP_VALUE(dump, "free.total", frees, run, h);
	DUMP_VALUE(dump, "live.blocks", live, run, h);
	if (how == RUNNING_AT_EXIT) {
		/* The running thread's blocks come and go: bounds only. */
		ck_assert_msg(allocs >= MALLOCS && frees >= MALLOCS && live <= allocs - frees,
			      "run %d (%s): alloc.total %llu free.total %llu live.blocks %llu, "
			      "want at least %llu, %llu and live at most their difference:\n%s",
			      run, h, (unsigned long long)allocs, (unsigned long long)frees,
			      (unsigned long long)live, (unsigned long long)MALLOCS,
			      (unsigned long long)MALLOCS, dump);
		return;
	}
	ck_assert_msg(allocs == MALLOCS && frees == MALLOCS && live == 0,
		      "run %d (%s): alloc.total %llu free.total %llu live.blocks %llu, "
		      "want %llu, %llu, 0:\n%s",
		      run, h, (unsigned long long)allocs, (unsigned long long)frees,
		      (unsigned long long)live, (unsigned long long)MALLOCS,
		      (unsigned long long)MALLOCS, dump);
}

static char tmpdir[256];

/*
 * Runs the shape @how once, its dump's file name into @file; returns the
 * pid of the process started (the waiter's, under one).
 */
static pid_t run_once(enum how how, char *file, size_t len, int *waiter_allocated)
{
	char pattern[300];
	const char *err;
	pid_t pid;
	int status;

	snprintf(pattern, sizeof(pattern), "%s/%s", tmpdir, how == UNDER_WAITER ? "stats" : "%p");
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { PROG, how == UNDER_WAITER ? WAIT_ARG : SHAPE_ARG,
				 how == RUNNING_AT_EXIT ? "1" : "0", NULL };
		char path[300];
		int fd;

		/* Its stderr to a file: a build without statistics warns there. */
		snprintf(path, sizeof(path), "%s/stderr", tmpdir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || setenv("HAKMEM_STATS", "summary", 1) ||
		    setenv("HAKMEM_STATS_FILE", pattern, 1))
			_exit(SHAPE_FAILED);
		execv("/proc/self/exe", argv);
		_exit(SHAPE_FAILED);
	}
	status = wait_child(pid);
	snprintf(file, len, "%s/stderr", tmpdir);
	err = read_file(file);
	*waiter_allocated = how == UNDER_WAITER && WIFEXITED(status) &&
			    WEXITSTATUS(status) == WAITER_ALLOCATED;
	if (!*waiter_allocated) {
		if (status != 0)
			fprintf(stderr, "%s", err ? err : "");
		assert_child_ok(status, how_names[how]);
	}
	/* A build without statistics says so on stderr; any other, nothing. */
	if (stats_built())
		ck_assert_msg(!err || !*err, "%s: the shape wrote on stderr:\n%s", how_names[how], err);
	else
		ck_assert_msg(err && strstr(err, "statistics are not compiled into this build"),
			      "%s: HAKMEM_STATS in a build without statistics, and no warning",
			      how_names[how]);
	if (how == UNDER_WAITER)
		snprintf(file, len, "%s/stats", tmpdir);
	else
		snprintf(file, len, "%s/%ld", tmpdir, (long)pid);
	return pid;
}

/* The pid in a dump's header, or 0. */
static pid_t dump_pid(const char *dump)
{
	long pid = 0;

	sscanf(dump, "hakmem stats (pid %ld,", &pid);
	return (pid_t)pid;
}

START_TEST(dump_at_exit_is_right_every_time)
{
	/* 300 at least: 200 shape dumps checked even where the waiter's
	 * replace them (under a sanitizer, whose runtime allocates). */
	const int runs = (int)(scaled(300) > 300 ? scaled(300) : 300);
	int checked = 0, waiter_allocated = 0;

	make_tmpdir(tmpdir, sizeof(tmpdir), "stats");
	for (int run = 0; run < runs; run++) {
		enum how how = (enum how)(run % HOW_NR);
		char file[300];
		int allocated;
		pid_t pid = run_once(how, file, sizeof(file), &allocated);
		const char *dump = read_file(file);

		if (!stats_built()) {
			ck_assert_msg(!dump, "run %d (%s): a dump from a build without statistics",
				      run, how_names[how]);
			continue;
		}
		ck_assert_msg(dump, "run %d (%s): no dump at %s", run, how_names[how], file);
		if (how == UNDER_WAITER) {
			if (allocated) {
				/* Then its dump is the last, and whole. */
				waiter_allocated++;
				ck_assert_msg(dump_pid(dump) == pid && !strstr(dump, "no allocations"),
					      "run %d: the waiter allocated, but the file holds:\n%s",
					      run, dump);
				unlink(file);
				continue;
			}
			/* The shape's, whose pid only its dump tells. */
			ck_assert_msg(dump_pid(dump) != pid,
				      "run %d: the waiter's dump replaced the shape's:\n%s", run, dump);
			pid = dump_pid(dump);
		}
		check_dump(dump, pid, run, how);
		checked++;
		unlink(file);
	}
	remove_tmpdir(tmpdir);
	fprintf(stderr, "dump_at_exit_is_right_every_time: %d runs, %d dumps checked%s%s\n", runs,
		checked, stats_built() ? "" : " (no statistics in this build: none written)",
		waiter_allocated ? " (the waiter allocated: under a sanitizer?)" : "");
}
END_TEST

/* ---- totals read while threads run -------------------------------------- */

#define CHURN_SLOTS 8

static _Atomic(void *) churn_slot[CHURN_SLOTS];
static atomic_int churn_stop;

static void *churn(void *arg)
{
	uint64_t r = (uintptr_t)arg;

	while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
		uint64_t x = rnd(&r);
		char *p = malloc(16 + x % 2000);

		if (!p)
			return (void *)1;
		p[0] = 1;
		free(atomic_exchange(&churn_slot[(x >> 32) % CHURN_SLOTS], p));
	}
	return NULL;
}

/*
 * Few blocks live and many freed by other threads: a read that took the
 * allocations before the frees saw more frees than allocations whenever
 * the frees of its window outnumbered the live blocks.
 */
START_TEST(totals_never_go_below_zero)
{
	pthread_t t[4];
	uint64_t live, allocs, frees;
	int below = 0, reads = (int)scaled(100000);

	if (!fast_counted())
		return;		/* no totals in this build */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < reads; i++) {
		hak_stat_get("live.blocks", &live);
		below += live > UINT64_MAX / 2;
	}
	atomic_store(&churn_stop, 1);
	for (int i = 0; i < 4; i++) {
		void *ret;

		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	for (int i = 0; i < CHURN_SLOTS; i++)
		free(atomic_exchange(&churn_slot[i], NULL));
	ck_assert_msg(below == 0, "live.blocks below zero in %d of %d reads", below, reads);
	hak_stat_get("alloc.total", &allocs);
	hak_stat_get("free.total", &frees);
	ck_assert_uint_ge(allocs, frees);
}
END_TEST

static Suite *stats_dump_suite(void)
{
	Suite *s = suite_create("stats_dump");

	add_tcase(s, "stats_dump", 120, dump_at_exit_is_right_every_time, totals_never_go_below_zero);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], SHAPE_ARG))
		return shape_main(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], WAIT_ARG))
		return waiter_main(argv[2]);
	return run_suite(stats_dump_suite());
}
