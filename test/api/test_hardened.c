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
 * "Hardening"); the double free of a small block is caught by every build,
 * with the default build's own line.  A few tests also run the misuse
 * directly and let Check assert the signal (tcase_add_test_raise_signal).
 *
 * The functions are called through volatile pointers so that the
 * compiler cannot see the misuse and drop or warn about it.
 */
#define _GNU_SOURCE
#include <check.h>
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

#include "testlib.h"

static void *(*volatile f_malloc)(size_t) = malloc;
static void (*volatile f_free)(void *) = free;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;

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

/* ---- every build ---- */

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

#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK

START_TEST(foreign_pointer)
{
	static char not_ours[64] __attribute__((aligned(16)));

	expect_misuse(run_child(do_free, not_ours),
		      "free(): invalid pointer (not allocated by hakmem)", not_ours);
}
END_TEST

START_TEST(foreign_mapping)
{
	void *m = mmap(NULL, 1 << 22, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	/* Aligned to 2 MiB inside the mapping: looks like a superslab's base. */
	char *p = (char *)(((uintptr_t)m + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1)) + 64;

	expect_misuse(run_child(do_free, p), "free(): invalid pointer (not allocated by hakmem)",
		      p);
	munmap(m, 1 << 22);
}
END_TEST

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

/* Direct, for Check's own signal assertion. */
START_TEST(foreign_pointer_raises)
{
	static char not_ours[64] __attribute__((aligned(16)));

	f_free(not_ours);
}
END_TEST

#endif /* CONFIG_HAKMEM_HARDEN_FREE_CHECK */

#ifdef CONFIG_HAKMEM_HARDEN_POISON

static void *free_in_thread(void *p)
{
	f_free(p);
	return NULL;
}

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

#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK
	tcase_add_test(tc, foreign_pointer);
	tcase_add_test(tc, foreign_mapping);
	tcase_add_loop_test(tc, bad_free, 0, sizeof(bad_frees) / sizeof(bad_frees[0]));
	tcase_add_test_raise_signal(tc, foreign_pointer_raises, SIGABRT);
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
