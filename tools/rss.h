/* SPDX-License-Identifier: MIT */
/*
 * rss.h - the workloads' view of their own memory: a line of
 * /proc/self/status, and the resident size once a burst is over.
 */
#ifndef RSS_H
#define RSS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A "Key:  N kB" line of /proc/self/status (VmRSS, VmHWM), or -1. */
static inline long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * The resident size after everything was freed: 200 ms later, and after
 * 100000 blocks of 16 to 256 bytes went through a ring of 256 (at most
 * 64 KiB live, as a program goes on doing small things), so that an
 * allocator that returns memory on its own calls, after a delay, gets its
 * chance.
 */
static inline long settled_rss_kib(void)
{
	enum { SETTLE_RING = 256, SETTLE_OPS = 100000 };
	static void *settle_ring[SETTLE_RING];
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	for (unsigned i = 0; i < SETTLE_OPS; i++) {
		unsigned k = (i * 2654435761u >> 8) % SETTLE_RING;

		free(settle_ring[k]);
		settle_ring[k] = malloc(16 + (size_t)(i * 7919u % 241u));
	}
	for (unsigned k = 0; k < SETTLE_RING; k++) {
		free(settle_ring[k]);
		settle_ring[k] = NULL;
	}
	return status_kib("VmRSS");
}

#endif /* RSS_H */
