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
 * Called by large.c only; calls the page heap and large.c's release of a
 * mapping, and walks the heaps.
 */
#ifndef HAK_BIGCACHE_H
#define HAK_BIGCACHE_H

#include "heap.h"
#include "large_header.h"

/*
 * A block kept in @h's front for a request of @size bytes from @site, in
 * a home (a run, or a mapping) at most @len bytes long; or NULL.
 */
void *hak_bc_get(struct hak_heap *h, size_t size, size_t len, const void *site);

/*
 * Keep @block (header @hdr: a page heap block, or a mapping of its own
 * with the usual layout) in @h's front; false when it does not go there
 * (the caller frees it as it would have).
 */
bool hak_bc_keep(struct hak_heap *h, void *block, struct hak_large_hdr *hdr);

/* Give every block of @h's front back to the page heap (its thread exits). */
void hak_bc_drain(struct hak_heap *h);

/*
 * Give back, from every thread's front, the blocks that have waited for
 * @delay_ms or more; at most once per half delay, and only if no other
 * thread is doing it.
 */
void hak_bc_sweep(uint64_t delay_ms);

#endif /* HAK_BIGCACHE_H */
