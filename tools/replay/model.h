/* SPDX-License-Identifier: MIT */
/*
 * tools/replay/model.h - what the replayed program's memory would have
 * cost: a backend decorator that counts the core's calls to the OS and
 * keeps a map of the pages the program would have touched.
 *
 * The replay does not write its blocks (a trace of many GiB replays in a
 * small process); it tells the model instead that the program touched
 * them (model_touch), as a program writes what it asks for.  A page
 * touched for the first time since it was reserved or given back is a
 * page fault; pages stay resident until the core decommits, releases or
 * moves them.  The model answers the core's residency question
 * (hak_backend_ops.resident) from this map, so that what the core learns
 * from it is what the program would have shown it, the same on every run.
 *
 * Single-threaded: the replay runs one event at a time, whatever thread
 * it is on.
 */
#ifndef HAK_REPLAY_MODEL_H
#define HAK_REPLAY_MODEL_H

#include <stddef.h>
#include <stdint.h>

enum model_call {
	MODEL_RESERVE,		/* mmap */
	MODEL_DECOMMIT,		/* madvise(DONTNEED) */
	MODEL_RELEASE,		/* munmap */
	MODEL_EXTEND,		/* mremap in place */
	MODEL_MOVE,		/* mremap to a new place */
	MODEL_PROTECT,		/* mprotect (guard pages) */
	MODEL_HUGE,		/* madvise(HUGEPAGE) */
	MODEL_RESIDENT,		/* mincore */
	MODEL_NR_CALLS
};

struct model_counts {
	uint64_t calls[MODEL_NR_CALLS];
	uint64_t syscalls;		/* their sum */
	uint64_t faults;		/* pages touched while not resident */
	uint64_t resident;		/* bytes resident now */
	uint64_t resident_peak;
	uint64_t reserved;		/* bytes of address space held now */
	uint64_t given_back;		/* bytes decommitted or released while resident */
};

extern struct model_counts model;

/* The program touches [@p, @p + @size): returns the pages that faulted. */
uint64_t model_touch(const void *p, size_t size);

/* Counting starts again (the pages resident stay so). */
void model_reset_counts(void);

/* The model's page size (the backend's). */
size_t model_page(void);

/* The name of @c ("reserve"). */
const char *model_call_name(enum model_call c);

#endif /* HAK_REPLAY_MODEL_H */
