/* SPDX-License-Identifier: MIT */
/*
 * test/lib/testlib.c - the helpers of testlib.h, linked into every test
 * program.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

long scaled(long n)
{
	const char *s = getenv("STRESS_SCALE");
	long pct = s ? strtol(s, NULL, 10) : 100;

	if (pct <= 0)
		pct = 100;
	n = n * pct / 100;
	return n > 0 ? n : 1;
}

/* ---- fill patterns ---- */

static uint64_t pat_word(size_t off, unsigned seed)
{
	uint64_t x = (uint64_t)off * 0x9e3779b97f4a7c15ull + seed * 0xff51afd7ed558ccdull + 1;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 32);
}

/*
 * Whole words at once; a partial word at the end holds the first bytes of
 * the word that would be there, so the result does not depend on byte
 * order.
 */
void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	size_t i = 0;
	uint64_t v;

	for (; i + 8 <= n; i += 8) {
		v = pat_word(i, seed);
		memcpy(c + i, &v, 8);
	}
	if (i < n) {
		v = pat_word(i, seed);
		memcpy(c + i, &v, n - i);
	}
}

size_t check_fill(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	unsigned char w[8];
	size_t i = 0;
	uint64_t v;

	for (; i < n; i += 8) {
		size_t len = n - i < 8 ? n - i : 8;

		v = pat_word(i, seed);
		memcpy(w, &v, 8);
		if (memcmp(c + i, w, len) != 0) {
			for (size_t j = 0; j < len; j++)
				if (c[i + j] != w[j])
					return i + j;
		}
	}
	return n;
}

size_t first_nonzero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i = 0;
	uint64_t v;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, c + i, 8);
		if (v)
			break;
	}
	for (; i < n; i++)
		if (c[i])
			return i;
	return n;
}

void touch_slack(void *p, size_t size, size_t usable)
{
	unsigned char *c = p;
	size_t slack = usable - size;

	if (slack <= 1 * MiB) {
		memset(c + size, 0x5a, slack);
	} else {
		memset(c + size, 0x5a, 4096);
		memset(c + usable - 4096, 0x5a, 4096);
	}
}

/* ---- self-describing blocks ---- */

void *hdr_alloc(size_t size)
{
	uint64_t *p;

	if (size < 16)
		size = 16;
	p = malloc(size);
	if (!p)
		return NULL;
	p[0] = size;
	p[1] = ~(uint64_t)size;
	memset(p + 2, (int)(size * 7 % 251), size - 16);
	return p;
}

int hdr_ok(const void *blk)
{
	const uint64_t *p = blk;
	const unsigned char *c = blk;
	size_t size;

	if (!blk)
		return 0;
	size = p[0];
	if (p[1] != ~(uint64_t)size || size < 16 || malloc_usable_size((void *)blk) < size)
		return 0;
	for (size_t i = 16; i < size; i++)
		if (c[i] != (unsigned char)(size * 7 % 251))
			return 0;
	return 1;
}

/* ---- the process ---- */

void *run_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	void *ret;

	ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	return ret;
}

/* read(2), not stdio: callers may be forked children or under a lowered RLIMIT_AS. */
int statm(size_t *rss, size_t *vsz)
{
	char buf[128];
	unsigned long size = 0, res = 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu", &size, &res) != 2)
		return -1;
	*rss = res * page;
	*vsz = size * page;
	return 0;
}

int wait_child(pid_t pid)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int status;

	for (int waited = 0; waited < CHILD_WAIT_MS; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -2;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void assert_child_ok(int status, const char *what)
{
	ck_assert_msg(status != -1, "%s hung (killed after %d ms): deadlock?", what,
		      CHILD_WAIT_MS);
	ck_assert_msg(status != -2, "%s: waitpid failed", what);
	ck_assert_msg(!WIFSIGNALED(status), "%s died from signal %d", what, WTERMSIG(status));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s exited with status %d", what, WEXITSTATUS(status));
}

/* ---- Check ---- */

TCase *tcase_add_all(Suite *s, const char *name, double timeout, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);

	if (timeout)
		tcase_set_timeout(tc, timeout);
	while (*tests)
		tcase_add_test(tc, *tests++);
	suite_add_tcase(s, tc);
	return tc;
}

/* CK_NORMAL prints the "NN%: Checks: ..." line that scripts/ and readers look for. */
int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void make_tmpdir(char *dir, size_t len, const char *tag)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, len, "%s/hakmem-test-%s.XXXXXX", t && *t ? t : "/tmp", tag);
	ck_assert_msg(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

void remove_tmpdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}
