// SPDX-License-Identifier: MIT
/*
 * test/stress/test_large_policies.c - large blocks from several threads
 * and call sites under each policy, while the policy changes its mind.
 *
 * Each test re-runs this program with HAKMEM_POLICY (and a short learning
 * epoch, so elo switches thresholds and evo moves the BigCache's classes
 * many times) set before hakmem starts, in a worker mode that runs the
 * stress and exits 0, or 1 on a corrupted or undersized block.  Blocks are
 * checked at both ends and on every page, handed between threads, and
 * freed by threads that did not allocate them.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <hakmem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define THREADS 4
#define ITERS 2000
#define SITES 6

static char self[4096];
static _Atomic(unsigned char *) exchange[16];
static atomic_int errors;
static char site_tags[SITES];	/* distinct addresses standing for call sites */

/* Size of a block from site @k: clusters near 1.1 to 4.6 MiB. */
static size_t site_size(unsigned k, uint64_t r)
{
	static const size_t base[SITES] = {
		MiB + 100 * 1024, 3 * MiB / 2, 2 * MiB, 2 * MiB + 4096, 3 * MiB, 4 * MiB + 600 * 1024,
	};

	return base[k] + (r % 4) * 4096;
}

/* Every page and the last byte carry @tag; the size and tag lead the block. */
static void tag_block(unsigned char *p, size_t n, unsigned char tag)
{
	for (size_t i = 0; i < n; i += 4096)
		p[i] = tag;
	p[n - 1] = tag;
	memcpy(p, &n, sizeof(n));
	p[sizeof(n)] = tag;
}

static void check_and_free(unsigned char *p)
{
	unsigned char tag;
	size_t n;

	if (!p)
		return;
	memcpy(&n, p, sizeof(n));
	tag = p[sizeof(n)];
	if (hak_usable_size(p) < n || p[n - 1] != tag) {
		if (atomic_fetch_add(&errors, 1) == 0)
			fprintf(stderr, "block %p of %zu bytes: usable %zu, last byte %u, tag %u\n",
				(void *)p, n, hak_usable_size(p), p[n - 1], tag);
	}
	for (size_t i = 4096; i < n; i += 4096)
		if (p[i] != tag) {
			if (atomic_fetch_add(&errors, 1) == 0)
				fprintf(stderr, "block %p of %zu bytes: byte %zu is %u, tag %u\n",
					(void *)p, n, i, p[i], tag);
			break;
		}
	free(p);
}

static void *worker(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	unsigned char *mine[SITES] = { 0 };

	for (int it = 0; it < ITERS; it++) {
		unsigned k = (unsigned)(rnd(&s) % SITES);
		size_t n = site_size(k, rnd(&s));
		unsigned char *p;

		/* Half the blocks are freed here, half by whichever thread
		 * takes them out of the exchange. */
		if (rnd(&s) & 1)
			check_and_free(mine[k]);
		else
			check_and_free(atomic_exchange(&exchange[rnd(&s) % 16], mine[k]));
		mine[k] = NULL;
		p = hak_malloc_site(n, &site_tags[k]);
		if (!p) {
			if (atomic_fetch_add(&errors, 1) == 0)
				fprintf(stderr, "hak_malloc_site(%zu) failed: %s\n", n, strerror(errno));
			break;
		}
		tag_block(p, n, (unsigned char)(k * 37 + it));
		mine[k] = p;
	}
	for (unsigned k = 0; k < SITES; k++)
		check_and_free(mine[k]);
	return NULL;
}

static int run_worker(void)
{
	pthread_t t[THREADS];

	for (uintptr_t i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)))
			return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 16; i++)
		check_and_free(atomic_exchange(&exchange[i], NULL));
	if (atomic_load(&errors))
		fprintf(stderr, "%d corrupted or undersized blocks\n", atomic_load(&errors));
	return atomic_load(&errors) ? 1 : 0;
}

/* Run the worker under @policy (and extra space-separated KEY=VALUE settings). */
static void under(const char *policy, const char *extra)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("HAKMEM_POLICY", policy, 1);
		setenv("HAKMEM_POLICY_EPOCH", "1", 1);
		if (extra) {
			char *copy = strdup(extra), *save = NULL;

			for (char *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
				putenv(kv);
		}
		execl(self, self, "--worker", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "worker under %s: %s %d", policy,
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

START_TEST(large_under_fixed)
{
	under("fixed", NULL);
}
END_TEST

START_TEST(large_under_elo)
{
	under("elo", "HAKMEM_ELO_EPISODE=8");
}
END_TEST

START_TEST(large_under_evo)
{
	under("evo", "HAKMEM_EVO_MIN_SAMPLES=8 HAKMEM_EVO_SETTLE=100");
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("large_policies");
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return run_worker();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return EXIT_FAILURE;
	self[n] = '\0';
	add_tcase(s, "policies", 120, large_under_fixed, large_under_elo, large_under_evo);
	return run_suite(s);
}
