/* SPDX-License-Identifier: MIT */
/*
 * core/bigcache.h - the BigCache: each thread's front of the page heap,
 * by call site.
 *
 * A thread keeps the last few large blocks it freed (HAK_BC_SLOTS), each
 * with the call site that had asked for it, and takes one back without
 * any lock for its next request from the same site that needs a home of
 * the same length and fits the block.  They are page heap blocks, or in
 * a build whose large blocks all get guard pages, mappings of their own.  The policy decides which
 * sites' blocks may wait there (admit); a block leaves for the page heap
 * when a newer one needs its slot, when its thread exits, and when it has
 * waited for longer than the decay delay (hak_bc_sweep, from any thread).
 *
 * Called by large.c only (the floor above); calls the page heap and the
 * policy's admission (the floors below).
 */
#ifndef HAK_BIGCACHE_H
#define HAK_BIGCACHE_H

#include "large_header.h"

/*
 * The BigCache's slots (bigcache.h): page heap blocks this thread freed,
 * waiting for its next request from the same site.  @block is the only
 * field another thread touches (a sweep takes it by exchange).
 */
#define HAK_BC_SLOTS 4

struct hak_bc_slot {
	_Atomic(void *) block;
	const void *site;		/* the call site that had asked for it */
	size_t run;			/* its run's length */
	size_t usable;
	_Atomic uint64_t stamp_ms;	/* when it was kept */
};

/*
 * A block kept in this thread's front for a request of @size bytes from
 * @site, in a home (a run, or a mapping) at most @len bytes long; or NULL.
 */
void *hak_bc_get(size_t size, size_t len, const void *site);

/*
 * Keep @block (header @hdr: a page heap block, or a mapping of its own
 * with the usual layout) in this thread's front; false when it does not go
 * there (the caller frees it as it would have).  Only a thread whose exit
 * calls hak_bc_drain() may keep blocks.
 */
bool hak_bc_keep(void *block, struct hak_large_hdr *hdr);

/* Give every block of this thread's front back (it exits). */
void hak_bc_drain(void);

/* Whether any thread's front holds @block (for tests and checks). */
bool hak_bc_holds(const void *block);

/* The list of fronts' lock, for fork (init.c); the child's clean-up. */
void hak_bc_lock(void);
void hak_bc_unlock(void);
void hak_bc_fork_child(void);

/*
 * Give back, from every thread's front, the blocks that have waited for
 * @delay_ms or more; at most once per half delay, and only if no other
 * thread is doing it.
 */
void hak_bc_sweep(uint64_t delay_ms);

/*
 * Every front's blocks go back now, whatever their age (malloc_trim): to
 * the page heap, or unmapped.  Returns the bytes unmapped.
 */
size_t hak_bc_flush(void);
/* Bytes of the runs the fronts hold (a reading: other threads change it). */
size_t hak_bc_bytes(void);

#endif /* HAK_BIGCACHE_H */
