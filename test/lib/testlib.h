/* SPDX-License-Identifier: MIT */
/*
 * test/lib/testlib.h - what the test programs share: sizes, a seeded
 * random number generator, fill patterns, self-describing blocks, the
 * process's memory from /proc, children waited for with a deadline, and
 * the Check boilerplate (a test case in one line, main() in one line).
 *
 * testlib.c is linked into every test program.  Its helpers allocate only
 * where they say so (hdr_alloc), through the process's malloc.  Only
 * run_thread and assert_child_ok call ck_assert, so worker threads and
 * forked children may use the rest.
 */
#ifndef HAK_TEST_LIB_H
#define HAK_TEST_LIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define TiB ((size_t)1 << 40)

static inline int is_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* splitmix64: the next number of the sequence that starts at *s. */
uint64_t rnd(uint64_t *s);
/* A 64-bit finaliser: every input bit moves every output bit. */
uint64_t mix64(uint64_t x);
/* @n scaled by STRESS_SCALE (percent, default 100), at least 1. */
long scaled(long n);

/*
 * A pattern that is a function of (offset, seed) only, so any prefix of a
 * block can be checked after realloc.  check_fill returns the first offset
 * that does not hold it, or @n; first_nonzero the first byte not 0, or @n.
 */
void fill(void *p, size_t n, unsigned seed);
size_t check_fill(const void *p, size_t n, unsigned seed);
size_t first_nonzero(const void *p, size_t n);
/*
 * Writes the slack between @size and @usable: all of it when small, else
 * its first and last pages (glibc counts a whole mapping as usable for
 * large alignments; touching 100 MiB per block would only cost memory).
 */
void touch_slack(void *p, size_t size, size_t usable);

/*
 * A block that describes itself (its size, the complement, then a byte
 * derived from the size), so whoever finds it can check it with nothing
 * but the pointer.  hdr_ok(NULL) is false.
 */
void *hdr_alloc(size_t size);
int hdr_ok(const void *blk);

/* Runs @fn(@arg) in a thread of its own and waits for it; what @fn returned. */
void *run_thread(void *(*fn)(void *), void *arg);

/* Resident and virtual bytes from /proc/self/statm; 0 or -1. */
int statm(size_t *rss, size_t *vsz);

/* A child that has not exited after this long is declared hung. */
#define CHILD_WAIT_MS 20000
/* The wait status of @pid; -1 when it hung (then it is killed), -2 if waitpid failed. */
int wait_child(pid_t pid);
/* Fails the test unless wait_child's @status is a clean exit 0 of @what. */
void assert_child_ok(int status, const char *what);

/*
 * Calls an allocation that must fail with ENOMEM.  errno is read at once:
 * Check's own bookkeeping between two assertions may change it.
 */
#define ASSERT_ENOMEM(call)                                                     \
	do {                                                                    \
		void *r_;                                                       \
		int e_;                                                         \
		errno = 0;                                                      \
		r_ = (call);                                                    \
		e_ = errno;                                                     \
		ck_assert_msg(r_ == NULL, "%s = %p, want NULL", #call, r_);     \
		ck_assert_msg(e_ == ENOMEM, "%s: errno %d, want ENOMEM", #call, e_); \
	} while (0)

/*
 * A test case @name of @s running the tests listed (maybe none, for a
 * caller that adds them after), each within @timeout seconds (0: Check's
 * default of 4 s).
 */
#define add_tcase(s, name, timeout, ...) \
	tcase_add_all((s), (name), (timeout), \
		      (const TTest *const[]){ __VA_ARGS__ __VA_OPT__(,) NULL })
TCase *tcase_add_all(Suite *s, const char *name, double timeout, const TTest *const *tests);

/*
 * A new, empty directory $TMPDIR/hakmem-test-@tag.XXXXXX (/tmp without
 * TMPDIR), its path in @dir (@len bytes); the test fails if none.
 */
void make_tmpdir(char *dir, size_t len, const char *tag);
/* Remove @dir and the files in it (it holds no directories). */
void remove_tmpdir(const char *dir);

/* Runs @s as every test program does; the exit status for main(). */
int run_suite(Suite *s);
#define TEST_MAIN(suite_fn) \
	int main(void) { return run_suite(suite_fn()); }

#endif /* HAK_TEST_LIB_H */
