/* SPDX-License-Identifier: MIT */
/*
 * core/stats.h - event counters and byte gauges (CONFIG_HAKMEM_STATS).
 *
 * Counters are per thread, the kernel's per-cpu way: each heap has its own
 * array, written only by its thread with a plain load and store (atomics,
 * so a reader is defined; the store a release, which orders a free's count
 * after its block's allocation for the reader, report.c; no locked
 * instruction), and a reader sums the arrays of every heap ever made
 * (heaps are never freed and keep their counts across reuse).  A thread
 * without a heap (before its first allocation, during its exit, or one
 * that only frees) counts into shared arrays with atomic adds, striped by
 * thread so that such threads do not all write one line.
 *
 * The slow paths count always.  The inline fast paths (a malloc served
 * from the current slab, a free pushed onto a slab of this thread) count
 * only with CONFIG_HAKMEM_STATS_FASTPATH, which costs 17 instructions
 * per malloc+free pair (docs/stats.md).  With CONFIG_HAKMEM_STATS off every
 * call below is an empty inline and compiles away.
 *
 * Gauges (bytes mapped, committed) are shared atomics with a peak.
 *
 * Names are dotted ("free.remote"): the dump (report.c), hak_stat_get() and
 * docs/stats.md use them.
 */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include "internal.h"

/*
 * The counters, one row each: X(id, name) makes enum hak_stat and the names
 * the dump and hak_stat_get() use (report.c).  The dump shows them in this
 * order.
 */
#define HAK_STATS(X) \
	X(ALLOC_FAST, "alloc.small.fast") X(REFILL, "alloc.small.refill") \
	X(REFILL_REMOTE, "refill.remote_collected") X(REFILL_BUMP, "refill.bump") \
	X(REFILL_PARTIAL, "refill.partial") X(REFILL_ADOPTED, "refill.adopted") \
	X(REFILL_EMPTY, "refill.empty_cache") X(REFILL_POOL, "refill.pool") \
	X(REFILL_ROTATED, "refill.rotated") X(LARGE_ALLOC, "alloc.large") \
	X(LARGE_SPAN, "alloc.large.span") X(LARGE_MAPPED, "alloc.large.mapped") \
	X(LARGE_HEAP, "alloc.large.heap") X(LARGE_FRONT, "alloc.large.bigcache") \
	X(FREE_FAST, "free.local.fast") X(FREE_TAIL, "free.local.tail") \
	X(FREE_SLOW, "free.local.slow") X(REMOTE_FREE, "free.remote") \
	X(LARGE_FREED, "free.large") X(LARGE_KEPT, "free.large.bigcache") \
	X(LARGE_RELEASED, "free.large.released") \
	X(REMOTE_COLLECTED, "remote.collected_blocks") \
	X(REWRITTEN, "misuse.written_after_free") \
	X(EARLY_CURRENT, "early.emptied_current") X(EARLY_RETIRE_RACE, "early.retire_raced") \
	X(EARLY_ADOPT_LOST, "early.adopt_lost") X(REALLOC_INPLACE, "realloc.in_place") \
	X(REALLOC_MOVED, "realloc.moved") X(REALLOC_REMAPPED, "realloc.remapped") \
	X(ZERO_BACK, "calloc.large.given_back") X(ZERO_WRITTEN, "calloc.large.written") \
	X(SLAB_NEW, "slab.new") X(SLAB_REUSED, "slab.reused") \
	X(SLAB_ADOPTED, "slab.adopted") X(SLAB_RELEASED, "slab.released") \
	X(SS_MAPPED, "superslab.mapped") X(SS_RELEASED, "superslab.released") \
	X(PURGE_RUNS, "purge.runs") X(PURGED_SLABS, "purge.slabs") \
	X(PURGED_BYTES, "purge.bytes") X(PH_DECAYED, "pageheap.decayed_bytes") \
	X(ROUTE_SPAN, "policy.route.span") X(ROUTE_HEAP, "policy.route.heap") \
	X(ROUTE_MAP, "policy.route.map") X(THREADS, "threads.heaps") \
	X(INUSE, "bytes.in_use")	/* usable bytes handed out, less freed
					 * (per heap it wraps; the sum does not) */

#define HAK_STAT_ID(id, name) HAK_STAT_##id,
enum hak_stat { HAK_STATS(HAK_STAT_ID) HAK_STAT_NR };
#undef HAK_STAT_ID

enum hak_gauge {
	HAK_GAUGE_MAPPED,		/* bytes reserved from the backend */
	HAK_GAUGE_COMMITTED,		/* of those, not decommitted */
	HAK_GAUGE_NR
};

/* A small call site as sampled at refills (stats.c). */
#define HAK_SMALL_HIST 14	/* log2 size buckets: < 32 B, ..., >= 128 KiB */
struct hak_small_site {
	const void *addr;
	uint64_t samples;
	uint64_t bytes;		/* requested sizes of the samples, summed */
	uint32_t hist[HAK_SMALL_HIST];
};

#if IS_ENABLED(CONFIG_HAKMEM_STATS)
extern _Atomic long hak_gauges[HAK_GAUGE_NR][2];	/* current, peak */

/* The calling thread's counter array, or NULL (heap.c sets it). */
extern HAK_TLS _Atomic uint64_t *hak_stat_local;

/* Count for the calling thread (stats.c). */
void hak_stat_add(enum hak_stat s, uint64_t n);
void hak_gauge_add(enum hak_gauge g, long n);
/* A small allocation that needed a refill came from @site. */
void hak_stat_sample_site(const void *site, size_t size);
/* For the reader: the shared stripes' sum, their clearing (gauge peaks
 * and sampled sites too), and the most sampled small sites. */
uint64_t hak_stat_shared(enum hak_stat s);
void hak_stat_shared_clear(void);
int hak_stat_small_top(struct hak_small_site *top, int max, uint64_t *dropped);

/* Reading and dumps (report.c). */
void hak_stats_init(void);
/* For the native API (frontends/api.c): 0, or -1 with errno. */
int hak_stats_get_name(const char *name, uint64_t *value);
int hak_stats_dump_fd(int fd, const char *format);
void hak_stats_clear(void);
#else
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
 * Bytes in use from a slow path, for the calling thread.  Tracked only
 * when the fast paths count too, or the sum would be wrong.
 */
static inline void hak_stat_inuse_slow(int64_t n)
{
	if (IS_ENABLED(CONFIG_HAKMEM_STATS_FASTPATH))
		hak_stat_add(HAK_STAT_INUSE, (uint64_t)n);
}

#endif /* HAK_STATS_H */
