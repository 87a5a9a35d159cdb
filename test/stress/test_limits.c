// SPDX-License-Identifier: MIT
/*
 * test_limits.c - running out of address space for real.
 *
 * In a forked child, RLIMIT_AS is lowered to what the process uses plus
 * 256 MiB; the child then allocates until malloc says no, for large and
 * for small blocks, frees everything and allocates again.  Every failure
 * must be NULL with ENOMEM, never an abort or a crash, and the memory must
 * be usable again after the frees.  The child reports through its exit
 * status; the parent asserts on it.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

enum { FAIL_SETUP = 10, FAIL_ERRNO, FAIL_NEVER, FAIL_AGAIN, FAIL_CONTENTS };

/* Allocate blocks of @size until NULL; 0 or a FAIL_ code. */
static int exhaust(size_t size, size_t max, int rounds)
{
	void **b = calloc(max, sizeof(void *));
	size_t n;

	if (!b)
		return FAIL_SETUP;
	for (int round = 0; round < rounds; round++) {
		errno = 0;
		for (n = 0; n < max && (b[n] = malloc(size)); n++)
			memset(b[n], (int)(n & 0xff), size < 4096 ? size : 4096);
		if (n == max)
			return FAIL_NEVER;
		if (errno != ENOMEM)
			return FAIL_ERRNO;
		if (n < 8)
			return FAIL_AGAIN;	/* after the frees, most must come back */
		for (size_t i = 0; i < n; i++)
			if (((unsigned char *)b[i])[0] != (unsigned char)(i & 0xff))
				return FAIL_CONTENTS;
		for (size_t i = 0; i < n; i++)
			free(b[i]);
	}
	free(b);
	return 0;
}

static void run_limited(size_t size, size_t max)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;
		size_t rss, vsz;

		if (statm(&rss, &vsz) || getrlimit(RLIMIT_AS, &rl))
			_exit(FAIL_SETUP);
		rl.rlim_cur = vsz + 256 * MiB;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(FAIL_SETUP);
		_exit(exhaust(size, max, 3));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "size %zu: the child died of signal %d", size,
		      WTERMSIG(status));
	ck_assert_msg(WEXITSTATUS(status) == 0,
		      "size %zu: child status %d (11: errno not ENOMEM, 12: never failed, "
		      "13: could not allocate again, 14: contents changed)",
		      size, WEXITSTATUS(status));
}

START_TEST(large_blocks_to_exhaustion)
{
	run_limited(3 * MiB, 4096);
}
END_TEST

START_TEST(spans_to_exhaustion)
{
	run_limited(300000, 8192);
}
END_TEST

START_TEST(small_blocks_to_exhaustion)
{
	run_limited(2000, 1 << 20);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");

	add_tcase(s, "rlimit_as", 120, large_blocks_to_exhaustion, spans_to_exhaustion,
		  small_blocks_to_exhaustion);
	return s;
}

TEST_MAIN(limits_suite)
