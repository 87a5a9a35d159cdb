/* SPDX-License-Identifier: MIT */
/*
 * core/stats.h - event counters and byte gauges (CONFIG_HAKMEM_STATS).
 *
 * Counters are per thread, the kernel's per-cpu way: each heap has its own
 * array, written only by its thread with a plain load and store (relaxed
 * atomics, so a reader is defined; no locked instruction), and a reader
 * sums the arrays of every heap ever made (heaps are never freed and keep
 * their counts across reuse).  A thread without a heap (before its first
 * allocation, during its exit, or one that only frees) counts into shared
 * arrays with atomic adds, striped by thread so that such threads do not
 * all write one line.
 *
 * The slow paths count always.  The inline fast paths (a malloc served
 * from the current slab, a free pushed onto a slab of this thread) count
 * only with CONFIG_HAKMEM_STATS_FASTPATH, which costs 17 instructions
 * per malloc+free pair (docs/stats.md).  With CONFIG_HAKMEM_STATS off every
 * call below is an empty inline and compiles away.
 *
 * Gauges (bytes mapped, committed) are shared atomics with a peak.
 *
 * Names are dotted ("free.remote"): the dump (stats.c), hak_stat_get() and
 * docs/stats.md use them.
 */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "internal.h"

enum hak_stat {
	HAK_STAT_ALLOC_FAST,		/* alloc.small.fast */
	HAK_STAT_REFILL,		/* alloc.small.refill */
	HAK_STAT_REFILL_REMOTE,		/* refill.remote_collected */
	HAK_STAT_REFILL_BUMP,		/* refill.bump */
	HAK_STAT_REFILL_PARTIAL,	/* refill.partial */
	HAK_STAT_REFILL_ADOPTED,	/* refill.adopted */
	HAK_STAT_REFILL_EMPTY,		/* refill.empty_cache */
	HAK_STAT_REFILL_POOL,		/* refill.pool */
	HAK_STAT_REFILL_ROTATED,	/* refill.rotated */
	HAK_STAT_LARGE_ALLOC,		/* alloc.large */
	HAK_STAT_LARGE_SPAN,		/* alloc.large.span */
	HAK_STAT_LARGE_MAPPED,		/* alloc.large.mapped */
	HAK_STAT_LARGE_HEAP,		/* alloc.large.heap */
	HAK_STAT_LARGE_FRONT,		/* alloc.large.bigcache */
	HAK_STAT_FREE_FAST,		/* free.local.fast */
	HAK_STAT_FREE_TAIL,		/* free.local.tail */
	HAK_STAT_FREE_SLOW,		/* free.local.slow */
	HAK_STAT_REMOTE_FREE,		/* free.remote */
	HAK_STAT_LARGE_FREED,		/* free.large */
	HAK_STAT_LARGE_KEPT,		/* free.large.bigcache */
	HAK_STAT_LARGE_RELEASED,	/* free.large.released */
	HAK_STAT_REMOTE_COLLECTED,	/* remote.collected_blocks */
	HAK_STAT_EARLY_CURRENT,		/* early.emptied_current */
	HAK_STAT_EARLY_RETIRE_RACE,	/* early.retire_raced */
	HAK_STAT_EARLY_ADOPT_LOST,	/* early.adopt_lost */
	HAK_STAT_REALLOC_INPLACE,	/* realloc.in_place */
	HAK_STAT_REALLOC_MOVED,		/* realloc.moved */
	HAK_STAT_REALLOC_REMAPPED,	/* realloc.remapped */
	HAK_STAT_ZERO_BACK,		/* calloc.large.given_back */
	HAK_STAT_ZERO_WRITTEN,		/* calloc.large.written */
	HAK_STAT_SLAB_NEW,		/* slab.new */
	HAK_STAT_SLAB_REUSED,		/* slab.reused */
	HAK_STAT_SLAB_ADOPTED,		/* slab.adopted */
	HAK_STAT_SLAB_RELEASED,		/* slab.released */
	HAK_STAT_SS_MAPPED,		/* superslab.mapped */
	HAK_STAT_SS_RELEASED,		/* superslab.released */
	HAK_STAT_PURGE_RUNS,		/* purge.runs */
	HAK_STAT_PURGED_SLABS,		/* purge.slabs */
	HAK_STAT_PURGED_BYTES,		/* purge.bytes */
	HAK_STAT_PH_DECAYED,		/* pageheap.decayed_bytes */
	HAK_STAT_ROUTE_SPAN,		/* policy.route.span */
	HAK_STAT_ROUTE_HEAP,		/* policy.route.heap */
	HAK_STAT_ROUTE_MAP,		/* policy.route.map */
	HAK_STAT_THREADS,		/* threads.heaps */
	HAK_STAT_INUSE,			/* bytes.in_use: usable bytes handed out, less
					 * freed (per heap it wraps; the sum does not) */
	HAK_STAT_NR
};

enum hak_gauge {
	HAK_GAUGE_MAPPED,		/* bytes reserved from the backend */
	HAK_GAUGE_COMMITTED,		/* of those, not decommitted */
	HAK_GAUGE_NR
};

struct hak_heap;

#if IS_ENABLED(CONFIG_HAKMEM_STATS)
extern _Atomic long hak_gauges[HAK_GAUGE_NR][2];	/* current, peak */

/* Count on heap @h (the caller's own, or NULL for the shared array). */
void hak_stat_add_to(struct hak_heap *h, enum hak_stat s, uint64_t n);
/* Count for the calling thread. */
void hak_stat_add(enum hak_stat s, uint64_t n);
void hak_gauge_add(enum hak_gauge g, long n);
/* A small allocation that needed a refill came from @site (stats.c). */
void hak_stat_sample_site(const void *site, size_t size);
void hak_stats_init(void);
/* For the native API (frontends/api.c): 0, or -1 with errno. */
int hak_stats_get_name(const char *name, uint64_t *value);
int hak_stats_dump_fd(int fd, const char *format);
void hak_stats_clear(void);
#else
static inline void hak_stat_add_to(struct hak_heap *h, enum hak_stat s, uint64_t n)
{
	(void)h; (void)s; (void)n;
}
static inline void hak_stat_add(enum hak_stat s, uint64_t n) { (void)s; (void)n; }
static inline void hak_gauge_add(enum hak_gauge g, long n) { (void)g; (void)n; }
static inline void hak_stat_sample_site(const void *site, size_t size)
{
	(void)site; (void)size;
}
static inline void hak_stats_init(void) { }
static inline int hak_stats_get_name(const char *name, uint64_t *value)
{
	(void)name; (void)value;
	return -1;
}
static inline int hak_stats_dump_fd(int fd, const char *format)
{
	(void)fd; (void)format;
	return -1;
}
static inline void hak_stats_clear(void) { }
#endif

/*
 * Bytes in use from a slow path (heap @h, or NULL: a thread without one).
 * Tracked only when the fast paths count too, or the sum would be wrong.
 */
static inline void hak_stat_inuse_slow(struct hak_heap *h, int64_t n)
{
	if (IS_ENABLED(CONFIG_HAKMEM_STATS_FASTPATH))
		hak_stat_add_to(h, HAK_STAT_INUSE, (uint64_t)n);
}

#endif /* HAK_STATS_H */
