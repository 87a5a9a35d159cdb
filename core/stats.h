/* SPDX-License-Identifier: MIT */
/*
 * core/stats.h - slow-path event counters (CONFIG_HAKMEM_STATS).
 *
 * Counters are bumped only on slow paths (refills, slab and superslab
 * traffic, large blocks, remote frees), never on the small fast path, so
 * a relaxed atomic add costs nothing that matters.  With the option off
 * every call below is an empty inline and compiles away.
 */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "internal.h"

enum hak_stat {
	HAK_STAT_REFILL,		/* small slow-path allocations */
	HAK_STAT_REMOTE_FREE,		/* blocks pushed to another thread's slab */
	HAK_STAT_REMOTE_COLLECTED,	/* blocks taken back from remote lists */
	HAK_STAT_SLAB_NEW,		/* slabs taken from the pool */
	HAK_STAT_SLAB_REUSED,		/* slabs from the heap's empty cache */
	HAK_STAT_SLAB_ADOPTED,		/* abandoned slabs adopted */
	HAK_STAT_SLAB_RELEASED,		/* slabs given back to the pool */
	HAK_STAT_SS_MAPPED,		/* superslabs reserved */
	HAK_STAT_SS_RELEASED,		/* superslabs released */
	HAK_STAT_PURGED_SLABS,		/* slabs decommitted */
	HAK_STAT_LARGE_SPAN,		/* large blocks carved from superslab spans */
	HAK_STAT_LARGE_MAPPED,		/* large blocks mapped on their own */
	HAK_STAT_LARGE_FREED,		/* large blocks freed */
	HAK_STAT_THREADS,		/* heaps created */
	HAK_STAT_BC_HIT,		/* large requests served from the BigCache */
	HAK_STAT_BC_MISS,		/* cacheable requests that had to map */
	HAK_STAT_BC_EVICT,		/* cached blocks released to make room */
	HAK_STAT_BC_PURGED,		/* cached bytes given back by purge */
	HAK_STAT_BYTES_MAPPED,		/* current bytes reserved from the backend */
	HAK_STAT_BYTES_MAPPED_PEAK,
	HAK_STAT_NR
};

#if IS_ENABLED(CONFIG_HAKMEM_STATS)
extern long hak_stats[HAK_STAT_NR];

static inline void hak_stat_add(enum hak_stat s, long n)
{
	__atomic_fetch_add(&hak_stats[s], n, __ATOMIC_RELAXED);
}

static inline void hak_stat_bytes(enum hak_stat s, long n)
{
	long now = __atomic_add_fetch(&hak_stats[s], n, __ATOMIC_RELAXED);
	long peak = __atomic_load_n(&hak_stats[s + 1], __ATOMIC_RELAXED);

	while (now > peak &&
	       !__atomic_compare_exchange_n(&hak_stats[s + 1], &peak, now, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void hak_stats_init(void);
#else
static inline void hak_stat_add(enum hak_stat s, long n) { (void)s; (void)n; }
static inline void hak_stat_bytes(enum hak_stat s, long n) { (void)s; (void)n; }
static inline void hak_stats_init(void) { }
#endif

#endif /* HAK_STATS_H */
