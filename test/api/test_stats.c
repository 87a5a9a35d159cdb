// SPDX-License-Identifier: MIT
/*
 * test_stats.c - the statistics of include/hakmem.h: counters read by
 * name count what the test does (remote frees, large blocks, realloc),
 * counts from other threads are merged, reset works, and the dumps have
 * the documented shape (docs/stats.md).
 *
 * In a build without statistics (minimal_defconfig) every call must say
 * ENOSYS instead; the tests check that and nothing else there.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hakmem.h>

#include "testlib.h"

static int stats_built(void)
{
	uint64_t v;

	if (hak_stat_get("slab.new", &v) == 0)
		return 1;
	ck_assert_int_eq(errno, ENOSYS);
	ck_assert_int_eq(hak_stats_print(STDERR_FILENO, "json"), -1);
	ck_assert_int_eq(errno, ENOSYS);
	return 0;
}

static uint64_t stat(const char *name)
{
	uint64_t v = 0;

	ck_assert_msg(hak_stat_get(name, &v) == 0, "hak_stat_get(\"%s\") failed (errno %d)", name,
		      errno);
	return v;
}

START_TEST(unknown_names_and_bad_arguments)
{
	uint64_t v;

	if (!stats_built())
		return;
	errno = 0;
	ck_assert_int_eq(hak_stat_get("free.nowhere", &v), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(hak_stat_get(NULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(hak_stat_get("free.remote", NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(hak_stats_print(-1, "json"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(hak_stats_print(STDERR_FILENO, "xml"), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* "stats." prefix and gauges. */
	ck_assert_int_eq(hak_stat_get("stats.free.remote", &v), 0);
	ck_assert_int_eq(hak_stat_get("bytes.mapped", &v), 0);
	ck_assert_uint_gt(v, 0);
	ck_assert_int_eq(hak_stat_get("bytes.committed.peak", &v), 0);
}
END_TEST

enum { N_REMOTE = 500 };

static void *free_blocks(void *arg)
{
	void **blocks = arg;

	for (int i = 0; i < N_REMOTE; i++)
		hak_free(blocks[i]);
	return NULL;
}

/* Frees by another thread count as remote, in that thread's counters. */
START_TEST(remote_frees_are_counted_and_merged)
{
	static void *blocks[N_REMOTE];

	if (!stats_built())
		return;
	for (int i = 0; i < N_REMOTE; i++)
		ck_assert_ptr_nonnull(blocks[i] = hak_malloc(48));
	uint64_t before = stat("free.remote");

	run_thread(free_blocks, blocks);
	ck_assert_uint_eq(stat("free.remote") - before, N_REMOTE);
}
END_TEST

START_TEST(large_blocks_and_realloc_are_counted)
{
	enum { N = 7 };
	void *p[N];

	if (!stats_built())
		return;
	uint64_t a0 = stat("alloc.large"), f0 = stat("free.large");
	uint64_t in0 = stat("realloc.in_place"), mv0 = stat("realloc.moved");

	for (int i = 0; i < N; i++)
		ck_assert_ptr_nonnull(p[i] = hak_malloc(((size_t)1 << 20) + (size_t)i * 4096));
	ck_assert_uint_eq(stat("alloc.large") - a0, N);
	for (int i = 0; i < N; i++)
		hak_free(p[i]);
	ck_assert_uint_eq(stat("free.large") - f0, N);
	ck_assert_uint_le(stat("free.large.bigcache") + stat("free.large.released"),
			  stat("free.large"));
	/* Every large block went one of three ways, and the page heap's were counted. */
	ck_assert_uint_eq(stat("policy.route.span") + stat("policy.route.heap") +
				  stat("policy.route.map") + stat("alloc.large.bigcache"),
			  stat("alloc.large"));
	ck_assert_uint_ge(stat("alloc.large.heap"), stat("policy.route.heap"));

	/* A small block grown far moves; shrunk a little it stays. */
	char *q = hak_malloc(100);

	ck_assert_ptr_nonnull(q = hak_realloc(q, 5000));
	ck_assert_ptr_nonnull(q = hak_realloc(q, 4900));
	hak_free(q);
	ck_assert_uint_eq(stat("realloc.moved") - mv0, 1);
	ck_assert_uint_eq(stat("realloc.in_place") - in0, 1);
}
END_TEST

/* Refills happen, and every refill has exactly one stage that served it. */
START_TEST(refill_stages_add_up)
{
	if (!stats_built())
		return;
	for (int round = 0; round < 3; round++) {
		void *b[3000];

		for (int i = 0; i < 3000; i++)
			ck_assert_ptr_nonnull(b[i] = hak_malloc(16 + (size_t)(i % 64) * 16));
		for (int i = 0; i < 3000; i++)
			hak_free(b[i]);
	}
	static const char *const stage[] = {
		"refill.remote_collected", "refill.bump", "refill.partial", "refill.adopted",
		"refill.empty_cache", "refill.pool", "early.retire_raced",
	};
	uint64_t refills, stages = 0, v;
	int bad = 0;

	/* Read together, no ck_assert between: Check allocates to record one. */
	bad |= hak_stat_get("alloc.small.refill", &refills);
	for (size_t i = 0; i < sizeof(stage) / sizeof(stage[0]); i++) {
		bad |= hak_stat_get(stage[i], &v);
		stages += v;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_gt(refills, 0);
	ck_assert_uint_eq(stages, refills);
}
END_TEST

/*
 * With the fast paths counted (CONFIG_HAKMEM_STATS_FASTPATH, which the
 * debug configuration turns on), the totals cover every block: the live
 * count moves by exactly what the test holds.
 */
START_TEST(totals_add_up_when_fast_paths_count)
{
	enum { N = 1000 };
	static void *b[N];
	uint64_t live0;

	if (!stats_built())
		return;
	if (hak_stat_get("live.blocks", &live0) != 0) {
		ck_assert_int_eq(errno, ENOENT);
		return;
	}
	uint64_t a0, f0, a1, live1, f1, live2, use0, use1, use2, usable = 0;
	int nulls = 0;

	hak_stat_get("bytes.in_use", &use0);
	hak_stat_get("alloc.total", &a0);
	hak_stat_get("free.total", &f0);
	hak_stat_get("live.blocks", &live0);

	/* No ck_assert inside the loops: Check allocates to record one. */
	for (int i = 0; i < N; i++)
		nulls += !(b[i] = hak_malloc(i % 7 ? 24 + (size_t)i : 200000));
	hak_stat_get("alloc.total", &a1);
	hak_stat_get("live.blocks", &live1);
	hak_stat_get("bytes.in_use", &use1);
	for (int i = 0; i < N; i++)
		usable += hak_usable_size(b[i]);
	for (int i = 0; i < N; i++)
		hak_free(b[i]);
	hak_stat_get("free.total", &f1);
	hak_stat_get("live.blocks", &live2);
	hak_stat_get("bytes.in_use", &use2);
	ck_assert_int_eq(nulls, 0);
	ck_assert_uint_eq(a1 - a0, N);
	ck_assert_uint_eq(live1 - live0, N);
	ck_assert_uint_eq(f1 - f0, N);
	ck_assert_uint_eq(live2, live0);
	ck_assert_uint_eq(use1 - use0, usable);
	ck_assert_uint_eq(use2, use0);
	uint64_t local, remote, large, total;

	hak_stat_get("free.local", &local);
	hak_stat_get("free.remote", &remote);
	hak_stat_get("free.large", &large);
	hak_stat_get("free.total", &total);
	ck_assert_uint_eq(local + remote + large, total);
}
END_TEST

START_TEST(reset_clears_counters)
{
	void *p;

	if (!stats_built())
		return;
	p = hak_malloc((size_t)3 << 20);
	hak_free(p);
	ck_assert_uint_gt(stat("alloc.large"), 0);
	hak_stats_reset();
	ck_assert_uint_eq(stat("alloc.large"), 0);
	ck_assert_uint_eq(stat("free.large"), 0);
}
END_TEST

/* 1 when @j is one whole JSON object: braces balanced, ends with '}'. */
static int json_complete(const char *j)
{
	int depth = 0, in_str = 0, seen = 0;
	const char *last = NULL;

	for (const char *c = j; *c; c++) {
		if (in_str) {
			if (*c == '\\')
				c++;
			else if (*c == '"')
				in_str = 0;
			continue;
		}
		if (*c == '"') {
			in_str = 1;
		} else if (*c == '{' || *c == '[') {
			depth++;
			seen = 1;
		} else if (*c == '}' || *c == ']') {
			if (--depth < 0)
				return 0;
			last = c;
		}
	}
	return seen && depth == 0 && last && *last == '}';
}

/* Read what hak_stats_print writes, through a pipe. */
static char *print_to_string(const char *format)
{
	static char buf[1 << 16];
	int fds[2];
	ssize_t n, len = 0;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(hak_stats_print(fds[1], format), 0);
	close(fds[1]);
	while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(fds[0]);
	buf[len] = 0;
	return buf;
}

START_TEST(json_dump_has_the_documented_keys)
{
	static const char *const keys[] = {
		"\"hakmem_stats\": 1", "\"version\"", "\"pid\"", "\"elapsed_ms\"", "\"config\"",
		"\"policy\"", "\"counters\"", "\"alloc.small.refill\"", "\"free.remote\"",
		"\"free.large\"", "\"refill.pool\"", "\"purge.bytes\"", "\"bytes\"",
		"\"mapped\"", "\"committed\"", "\"current\"", "\"peak\"", "\"sites\"",
	};
	void *p;

	if (!stats_built())
		return;
	p = hak_malloc((size_t)2 << 20);	/* a site for the table */
	hak_free(p);

	const char *j = print_to_string("json");

	ck_assert_msg(j[0] == '{', "JSON dump does not start with '{': %.40s", j);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(j, keys[i]), "JSON dump lacks %s", keys[i]);
	ck_assert_msg(strstr(j, "\"allocs\""), "the site table is empty");
	ck_assert_msg(json_complete(j), "the JSON dump is not one whole object");

	const char *s = print_to_string("summary");

	ck_assert(strstr(s, "hakmem stats"));
	ck_assert(strstr(s, "free.remote"));
	ck_assert(strstr(s, "bytes mapped"));
}
END_TEST

static _Atomic int spin_stop;

static void *alloc_forever(void *arg)
{
	unsigned r = (unsigned)(uintptr_t)arg;

	while (!spin_stop) {
		void *p[16];

		for (int i = 0; i < 16; i++) {
			r = r * 1103515245u + 12345u;
			p[i] = hak_malloc(r % 7 ? 16 + (r >> 8) % 4000 : 100000 + (r >> 8) % 300000);
		}
		for (int i = 0; i < 16; i++)
			hak_free(p[i]);
	}
	return NULL;
}

/*
 * Dumps while other threads allocate and free, then exit() with them still
 * running: every dump is whole, and the process ends normally.
 */
START_TEST(dump_while_threads_run)
{
	pid_t pid;
	int status;

	if (!stats_built())
		return;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pthread_t t[3];

		for (int i = 0; i < 3; i++)
			if (pthread_create(&t[i], NULL, alloc_forever, (void *)(uintptr_t)(i + 1)))
				_exit(3);
		for (int round = 0; round < 20; round++) {
			static char buf[1 << 16];
			int fds[2];
			ssize_t n, len = 0;

			if (pipe(fds) || hak_stats_print(fds[1], "json"))
				_exit(4);
			close(fds[1]);
			while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
				len += n;
			close(fds[0]);
			buf[len] = 0;
			if (!json_complete(buf))
				_exit(5);
		}
		exit(0);	/* the threads are still allocating */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "the child failed with status %d (5: a torn dump)",
		      WEXITSTATUS(status));
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");

	add_tcase(s, "stats", 60, unknown_names_and_bad_arguments,
		  remote_frees_are_counted_and_merged, large_blocks_and_realloc_are_counted,
		  refill_stages_add_up, totals_add_up_when_fast_paths_count, reset_clears_counters,
		  json_dump_has_the_documented_keys, dump_while_threads_run);
	return s;
}

int main(void)
{
	/*
	 * Without the malloc replacement (make test under ASan or TSan)
	 * nothing has gone through hakmem yet, and the gauges the tests
	 * read would still be zero.
	 */
	void *in_use = hak_malloc(64);
	int rc = run_suite(stats_suite());

	hak_free(in_use);
	return rc;
}
