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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

/* Address space in use, from /proc/self/statm (pages -> bytes). */
static size_t vsz_bytes(void)
{
	char buf[128];
	unsigned long pages = 0;
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%lu", &pages) != 1)
		return 0;
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

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
		size_t limit = vsz_bytes() + 256 * MiB;

		if (!limit || getrlimit(RLIMIT_AS, &rl))
			_exit(FAIL_SETUP);
		rl.rlim_cur = limit;
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
	TCase *tc = tcase_create("rlimit_as");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, large_blocks_to_exhaustion);
	tcase_add_test(tc, spans_to_exhaustion);
	tcase_add_test(tc, small_blocks_to_exhaustion);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
