/* SPDX-License-Identifier: MIT */
/*
 * fastpath.c - N malloc+free pairs of small sizes, for instruction counting.
 *
 * Run under callgrind at two values of N; the difference of the totals over
 * the difference of N is the cost of one pair with program start-up and
 * allocator initialisation cancelled out (tools/callgrind-fastpath does
 * this).  Sizes rotate among 16, 32, 48, ... 512 bytes so every small class
 * up to 512 is warm and the size->class lookup is exercised.  A few blocks
 * of each size stay allocated throughout: without them each free would
 * empty its page and allocators that release empty pages (mimalloc) would
 * be measured on their page-retire slow path instead of the fast path.
 *
 * It reports on stderr which shared object supplies malloc (the mapping of
 * /proc/self/maps that holds the address malloc resolved to), so the caller
 * can check that LD_PRELOAD reached the program under valgrind.
 *
 * Build: cc -std=c11 -O2 -fno-builtin -o fastpath fastpath.c
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSIZES 32
#define BALLAST 4

/* Keeps the compiler from pairing up and deleting malloc/free. */
static void *volatile sink;
static void *ballast[NSIZES][BALLAST];

/* Print the file mapped at @addr, from /proc/self/maps. */
static void report_object(uintptr_t addr)
{
	char line[4096], path[4096];
	FILE *maps = fopen("/proc/self/maps", "r");

	while (maps && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;

		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %4095[^\n]", &lo, &hi,
			   path) >= 2 && addr >= lo && addr < hi) {
			fprintf(stderr, "fastpath: malloc from %s\n",
				path[0] ? path : "anonymous memory");
			fclose(maps);
			return;
		}
	}
	if (maps)
		fclose(maps);
	fprintf(stderr, "fastpath: malloc from unknown object\n");
}

int main(int argc, char **argv)
{
	void *(*volatile get)(size_t) = malloc;
	unsigned long n;
	char *end;

	if (argc != 2) {
		fprintf(stderr, "usage: fastpath N   (N malloc+free pairs)\n");
		return 2;
	}
	errno = 0;
	n = strtoul(argv[1], &end, 0);
	if (errno || end == argv[1] || *end) {
		fprintf(stderr, "fastpath: bad N '%s'\n", argv[1]);
		return 2;
	}

	for (int s = 0; s < NSIZES; s++)
		for (int k = 0; k < BALLAST; k++)
			if (!(ballast[s][k] = malloc(16 + (size_t)s * 16)))
				return 1;

	for (unsigned long i = 0; i < n; i++) {
		char *p = malloc(16 + (i % NSIZES) * 16);

		if (!p)
			return 1;
		p[0] = (char)i;
		sink = p;
		free(sink);
	}

	for (int s = 0; s < NSIZES; s++)
		for (int k = 0; k < BALLAST; k++)
			free(ballast[s][k]);

	/* A function pointer to integer is the one portable way to an address. */
	{
		void *(*fn)(size_t) = get;
		uintptr_t addr;

		memcpy(&addr, &fn, sizeof(addr));
		report_object(addr);
	}
	return 0;
}
