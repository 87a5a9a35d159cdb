/* SPDX-License-Identifier: MIT */
/*
 * test_hardened.c - misuse detection, build by build.
 *
 * Each misuse runs in a child whose stderr goes to a pipe; the test
 * asserts that the child died of SIGABRT (or SIGSEGV for a guard page)
 * and that stderr holds exactly the documented line:
 *
 *   hakmem: fatal: free(): <what> 0x<address>, caller 0x<address>
 *
 * with the block's address, and a caller that is this program's.  Which
 * misuse is checked depends on the protections compiled in (Kconfig
 * "Hardening").  Every build stops a double free of a small block, a
 * double free of a large one in each of its homes, a pointer hakmem never
 * handed out (or whose memory it gave back), and a pointer into a block
 * where the free can see it (docs/security.md): each with one line of its
 * own, checked for its start, the pointer, and the signal.  A few tests also run the misuse
 * directly and let Check assert the signal (tcase_add_test_raise_signal).
 *
 * The functions are called through volatile pointers so that the
 * compiler cannot see the misuse and drop or warn about it.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>
#include <hakmem.h>

#include "testlib.h"

static void *(*volatile f_malloc)(size_t) = malloc;
static void (*volatile f_free)(void *) = free;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;
static void *(*volatile f_realloc)(void *, size_t) = realloc;

/* What the child printed on stderr, and the signal that ended it. */
struct outcome {
	char err[1024];
	int sig;
};

static struct outcome run_child(void (*fn)(void *), void *arg)
{
	struct outcome o = { .sig = 0 };
	int fds[2];
	size_t n = 0;
	ssize_t r;
	int status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (n < sizeof(o.err) - 1 && (r = read(fds[0], o.err + n, sizeof(o.err) - 1 - n)) > 0)
		n += (size_t)r;
	o.err[n] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		o.sig = WTERMSIG(status);
	return o;
}

/*
 * The child died of SIGABRT after printing exactly
 * "hakmem: fatal: <fn_what> <p>, caller 0x<hex>\n".
 */
static void expect_misuse(struct outcome o, const char *fn_what, const void *p)
{
	char want[256];
	unsigned long caller = 0;
	char tail = 0;

	ck_assert_msg(o.sig == SIGABRT, "child ended by signal %d, stderr: %s", o.sig, o.err);
	snprintf(want, sizeof(want), "hakmem: fatal: %s %p, caller 0x", fn_what, p);
	ck_assert_msg(!strncmp(o.err, want, strlen(want)), "stderr was: %s\nwanted: %s...",
		      o.err, want);
	ck_assert_msg(sscanf(o.err + strlen(want), "%lx%c", &caller, &tail) == 2 &&
			      caller && tail == '\n' &&
			      !strchr(o.err + strlen(want), '\n')[1],
		      "no single line ending in a caller: %s", o.err);
}

static void __attribute__((unused)) do_free(void *p)
{
	f_free(p);
}

static void do_free_twice(void *p)
{
	void *keep = f_malloc(64);

	f_free(p);
	f_free(keep);
	f_free(p);
}

/*
 * A block of @size bytes made here, then @fn(block + @off) in a child:
 * refused with @what, naming block + @off.
 */
static void __attribute__((unused))
expect_child_misuse(size_t size, size_t off, void (*fn)(void *), const char *what)
{
	char *p = f_malloc(size);

	expect_misuse(run_child(fn, p + off), what, p + off);
	f_free(p);
}

/*
 * The child died of SIGABRT after one line on stderr that starts
 * "hakmem: fatal: <fn>(): ", names @p, and holds @what when given.
 */
static void expect_stopped(struct outcome o, const char *fn, const void *p, const char *what)
{
	char want[64], addr[32];
	const char *at;

	ck_assert_msg(o.sig == SIGABRT, "%s(%p): child ended by signal %d, stderr: %s", fn, p,
		      o.sig, o.err);
	snprintf(want, sizeof(want), "hakmem: fatal: %s(): ", fn);
	ck_assert_msg(!strncmp(o.err, want, strlen(want)), "stderr was: %s", o.err);
	snprintf(addr, sizeof(addr), "%p", p);
	at = strstr(o.err, addr);
	ck_assert_msg(at && !isxdigit((unsigned char)at[strlen(addr)]), "%s not named: %s", addr,
		      o.err);
	ck_assert_msg(strchr(o.err, '\n') == o.err + strlen(o.err) - 1, "not one line: %s", o.err);
	if (what)
		ck_assert_msg(strstr(o.err, what), "no \"%s\" in: %s", what, o.err);
}

static void do_usable(void *p)
{
	f_usable(p);
}

static void do_realloc(void *p)
{
	f_realloc(p, 100);
}

static void *free_in_thread(void *p)
{
	f_free(p);
	return NULL;
}

static void do_free_in_thread(void *p)
{
	pthread_t t;

	pthread_create(&t, NULL, free_in_thread, p);
	pthread_join(t, NULL);
}

/* ---- every build ---- */

static char not_ours[64] __attribute__((aligned(16)));

START_TEST(foreign_pointer)
{
	expect_stopped(run_child(do_free, not_ours), "free", not_ours, "(not from this allocator)");
	expect_stopped(run_child(do_usable, not_ours), "malloc_usable_size", not_ours,
		       "(not from this allocator)");
	expect_stopped(run_child(do_realloc, not_ours), "realloc", not_ours,
		       "(not from this allocator)");
}
END_TEST

START_TEST(foreign_mapping)
{
	void *m = mmap(NULL, 1 << 22, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	/* Aligned to 2 MiB inside the mapping: looks like a superslab's base. */
	char *p = (char *)(((uintptr_t)m + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1)) + 64;

	expect_stopped(run_child(do_free, p), "free", p, "(not from this allocator)");
	munmap(m, 1 << 22);
}
END_TEST

/* A block of one of these sizes, freed at one of these offsets into it. */
static const struct {
	size_t size, off;
} interior[] = {
	{ 64, 8 }, { 64, 16 }, { 64, 48 }, { 48, 8 }, { 1024, 512 }, { 4096, 64 },
	{ 300000, 4096 }, { 4 << 20, 4096 }, { 64 << 20, 64 },
};

START_TEST(interior_pointer)
{
	char *p = f_malloc(interior[_i].size);

	expect_stopped(run_child(do_free, p + interior[_i].off), "free", p + interior[_i].off,
		       NULL);
	f_free(p);
}
END_TEST

/* A block freed by a thread that does not own its slab is checked whole. */
START_TEST(interior_pointer_freed_by_another_thread)
{
	char *p = f_malloc(48);

	expect_stopped(run_child(do_free_in_thread, p + 16), "free", p + 16, NULL);
	f_free(p);
}
END_TEST

/* Large blocks in each home: a span, the page heap, the BigCache, a mapping. */
static const size_t large_sizes[] = { 300000, 4 << 20, 64 << 20, 256 << 20 };

START_TEST(large_double_free)
{
	void *p = f_malloc(large_sizes[_i]);

	expect_stopped(run_child(do_free_twice, p), "free", p, NULL);
	f_free(p);
}
END_TEST

static void do_aligned_free_twice(void *arg)
{
	void *p = aligned_alloc(4 << 20, 8 << 20);

	(void)arg;
	fprintf(stderr, "%p\n", p);
	f_free(p);
	f_free(p);
}

/* A mapping of its own (aligned beyond a superslab), given back, freed again. */
START_TEST(aligned_mapping_double_free)
{
	struct outcome o = run_child(do_aligned_free_twice, NULL);
	void *p = NULL;
	char *line2 = strchr(o.err, '\n');

	ck_assert_msg(sscanf(o.err, "%p", &p) == 1 && line2, "stderr: %s", o.err);
	memmove(o.err, line2 + 1, strlen(line2));
	expect_stopped(o, "free", p, NULL);
}
END_TEST

START_TEST(small_double_free)
{
	void *blk = f_malloc(64);	/* made here: its address is known to the test */
	struct outcome o = run_child(do_free_twice, blk);

#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK
	expect_misuse(o, "free(): double free of", blk);
#else
	char want[128];

	/* The default build's line names no caller (the debug build's
	 * validation catches it first, with a line of its own). */
	snprintf(want, sizeof(want), "hakmem: fatal: free(): double free of %p ", blk);
	ck_assert_int_eq(o.sig, SIGABRT);
	ck_assert_msg(!strncmp(o.err, want, strlen(want)), "stderr was: %s", o.err);
#endif
	f_free(blk);
}
END_TEST

/* A use after free writes over a whole freed block, link and all. */
static void do_overwrite_freed(void *p)
{
	f_free(p);
	memset(p, 0x42, 64);
	for (int i = 0; i < 100; i++)
		f_malloc(64);
}

/* Stopped when the block comes back, before its link is followed. */
START_TEST(freed_block_overwritten)
{
	void *p = f_malloc(64);

	expect_stopped(run_child(do_overwrite_freed, p), "malloc", p, "written to");
	f_free(p);
}
END_TEST

/* One that misses the link: the allocator is whole, so the program runs on. */
static void do_scribble_freed(void *p)
{
	uint64_t n;

	f_free(p);
	memset((char *)p + 8, 0x42, 8);
	for (int i = 0; i < 100; i++)
		f_malloc(64);
	if (!hak_stat_get("misuse.written_after_free", &n) && n != 1)
		fprintf(stderr, "misuse.written_after_free is %llu\n", (unsigned long long)n);
}

START_TEST(freed_block_scribbled)
{
	void *p = f_malloc(64);
	struct outcome o = run_child(do_scribble_freed, p);

	ck_assert_msg(o.sig == 0 && !o.err[0], "signal %d, stderr: %s", o.sig, o.err);
	f_free(p);
}
END_TEST

#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK

/* Frees refused: the block's size, how far in the pointer is, the free, what is said. */
static const struct {
	size_t size, off;
	void (*fn)(void *);
	const char *what;
} bad_frees[] = {
	{ 64, 16, do_free, "free(): invalid pointer (inside a block, or misaligned)" },
	{ 64, 8, do_free, "free(): invalid pointer (misaligned)" },
	{ 300000, 4096, do_free, "free(): invalid pointer (no valid block header)" },
	/* Once in the BigCache, the block's header says so. */
	{ 300000, 0, do_free_twice, "free(): double free of" },
};

START_TEST(bad_free)
{
	expect_child_misuse(bad_frees[_i].size, bad_frees[_i].off, bad_frees[_i].fn,
			    bad_frees[_i].what);
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_FREE_CHECK */

/* Direct, for Check's own signal assertion. */
START_TEST(foreign_pointer_raises)
{
	f_free(not_ours);
}
END_TEST

#ifdef CONFIG_HAKMEM_HARDEN_POISON

static void do_free_after_remote_free(void *p)
{
	pthread_t t;

	pthread_create(&t, NULL, free_in_thread, p);
	pthread_join(t, NULL);
	f_free(p);
}

START_TEST(remote_double_free)
{
	/* Another thread's free put the block on the slab's remote list,
	 * where no walk can find it; its intact poison gives it away. */
	expect_child_misuse(200, 0, do_free_after_remote_free, "free(): double free of");
}
END_TEST

static void do_write_after_free(void *p)
{
	f_free(p);
	((volatile char *)p)[40] = 1;
	f_malloc(100);	/* same class: the block comes back, and is checked */
}

START_TEST(write_after_free)
{
	expect_child_misuse(100, 0, do_write_after_free,
			    "malloc(): write after free detected in block");
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_POISON */

#ifdef CONFIG_HAKMEM_HARDEN_CANARY

static void do_overflow(void *p)
{
	((volatile char *)p)[f_usable(p)] = 'x';	/* one byte too far */
	f_free(p);
}

START_TEST(small_overflow)
{
	expect_child_misuse(24, 0, do_overflow,
			    "free(): heap overflow: canary overwritten at the end of");
}
END_TEST

START_TEST(large_overflow)
{
	expect_child_misuse(200000, 0, do_overflow,
			    "free(): heap overflow: canary overwritten at the end of");
}
END_TEST

START_TEST(usable_size_leaves_the_canary_out)
{
	char *p = f_malloc(24);
	size_t n = f_usable(p);

	ck_assert_uint_ge(n, 24);
	memset(p, 0xa5, n);	/* all of it is the program's */
	f_free(p);
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_CANARY */

#ifdef CONFIG_HAKMEM_HARDEN_FREELIST

static void do_corrupt_link(void *p)
{
	void *keep = f_malloc(48);

	f_free(p);
	memset(p, 0x41, 8);	/* a use after free overwrites the link */
	f_malloc(48);		/* pops p, decodes its link: caught */
	f_malloc(48);
	f_free(keep);
}

START_TEST(corrupted_link)
{
	struct outcome o;
	char want[160];
	void *blk = f_malloc(48);

	o = run_child(do_corrupt_link, blk);
	/* Found while following the list: no caller to name. */
	snprintf(want, sizeof(want),
		 "hakmem: fatal: malloc(): free list corrupted (a freed block was written to) at %p\n",
		 blk);
	ck_assert_msg(o.sig == SIGABRT, "signal %d, stderr: %s", o.sig, o.err);
	ck_assert_str_eq(o.err, want);
	f_free(blk);
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_FREELIST */

#ifdef CONFIG_HAKMEM_HARDEN_GUARD

START_TEST(guard_page_after_large_block)
{
	char *p = f_malloc(300000);

	/* Past the block and its canary lies the guard page. */
	((volatile char *)p)[f_usable(p) + 8 + 64] = 1;
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_GUARD */

#ifdef CONFIG_HAKMEM_HARDEN_RANDOM

START_TEST(fresh_blocks_in_random_order)
{
	enum { N = 64 };
	char *p[N];
	int ascending = 0;

	/* An odd size of its own, so that the blocks come from a fresh slab. */
	for (int i = 0; i < N; i++)
		p[i] = f_malloc(1000);
	for (int i = 1; i < N; i++)
		ascending += p[i] > p[i - 1];
	/* In order, 63 of 63 steps go up; shuffled, about half. */
	ck_assert_int_lt(ascending, N - 8);
	for (int i = 0; i < N; i++)
		f_free(p[i]);
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_RANDOM */

static Suite *hardened_suite(void)
{
	Suite *s = suite_create("hardened");
	/* What more it runs depends on the protections compiled in. */
	TCase *tc __attribute__((unused)) = add_tcase(s, "misuse", 60, small_double_free);

	tcase_add_test(tc, foreign_pointer);
	tcase_add_test(tc, foreign_mapping);
	tcase_add_test(tc, freed_block_overwritten);
	tcase_add_test(tc, freed_block_scribbled);
	tcase_add_test_raise_signal(tc, foreign_pointer_raises, SIGABRT);
	tcase_add_loop_test(tc, interior_pointer, 0, sizeof(interior) / sizeof(interior[0]));
	tcase_add_test(tc, interior_pointer_freed_by_another_thread);
	tcase_add_loop_test(tc, large_double_free, 0,
			    sizeof(large_sizes) / sizeof(large_sizes[0]));
	tcase_add_test(tc, aligned_mapping_double_free);
#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK
	tcase_add_loop_test(tc, bad_free, 0, sizeof(bad_frees) / sizeof(bad_frees[0]));
#endif
#ifdef CONFIG_HAKMEM_HARDEN_POISON
	tcase_add_test(tc, remote_double_free);
	tcase_add_test(tc, write_after_free);
#endif
#ifdef CONFIG_HAKMEM_HARDEN_CANARY
	tcase_add_test(tc, small_overflow);
	tcase_add_test(tc, large_overflow);
	tcase_add_test(tc, usable_size_leaves_the_canary_out);
#endif
#ifdef CONFIG_HAKMEM_HARDEN_FREELIST
	tcase_add_test(tc, corrupted_link);
#endif
#ifdef CONFIG_HAKMEM_HARDEN_GUARD
	tcase_add_test_raise_signal(tc, guard_page_after_large_block, SIGSEGV);
#endif
#ifdef CONFIG_HAKMEM_HARDEN_RANDOM
	tcase_add_test(tc, fresh_blocks_in_random_order);
#endif
	return s;
}

TEST_MAIN(hardened_suite)
