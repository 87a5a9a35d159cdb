/* SPDX-License-Identifier: MIT */
/*
 * core/alloc.h - the core's entry points for the frontends.
 *
 * hak_alloc() and hak_dealloc() are the inline fast paths every frontend
 * builds on; the rest are slow by nature and live in alloc.c.  Sizes are
 * checked here, not in the frontends: NULL + ENOMEM for what cannot be
 * had, EINVAL for a bad alignment (frontends map errors to their own
 * contracts).
 */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "heap.h"
#include "large.h"

/* Slow paths (alloc.c): set-up on the first call, then the heap or the
 * large-block layers. */
void *hak_alloc_small_slow(size_t size, const void *site) HAK_SLOWPATH;
void *hak_alloc_large(size_t size, size_t align, const void *site) HAK_SLOWPATH;

/*
 * Pop a block of @size (<= HAK_SMALL_MAX) from this thread's heap.  @site
 * (the caller's return address) only matters to the slow path, which
 * samples it for the statistics.
 */
HAK_FASTPATH void *hak_small_alloc(size_t size, const void *site)
{
	struct hak_heap *h = hak_heap_tls;
	struct hak_slab *s = h->cur[hak_class_of(size)];
	void **b = s->free;

	if (hak_unlikely(!b))
		return hak_alloc_small_slow(size, site);
	s->free = hak_link_get(b);
	s->used++;
	hak_stat_fast(h, HAK_STAT_ALLOC_FAST);
	hak_stat_inuse(h, s->block_size);
	/* Not "freed" any more; one xor clears the key and tests it (heap.h). */
	if (hak_unlikely((((uintptr_t *)b)[1] ^= HAK_FREE_KEY) != 0))
		return hak_alloc_rewritten(s, b);
	return b;
}

/*
 * In a hardened build with per-block checks (harden.h), every block passes
 * hak_harden_alloc() on its way out and hak_harden_free() on its way back;
 * with a canary each request asks for 8 bytes more.  Otherwise both are
 * compiled out.
 */
HAK_FASTPATH void *hak_alloc(size_t size, const void *site)
{
	void *p;

	if (HAK_CANARY_SIZE && size <= PTRDIFF_MAX)
		size += HAK_CANARY_SIZE;
	if (hak_likely(size <= HAK_SMALL_MAX))
		p = hak_small_alloc(size, site);
	else
		p = hak_alloc_large(size, 0, site);
	if (HAK_HARDEN_ALLOC_HOOK)
		p = hak_harden_alloc(p, site);
	return p;
}

/* Free @p, whose slab metadata the map gave as @s (maybe the stand-in's),
 * when it is not a local free of this thread's. */
void hak_free_slow(void *p, struct hak_slab *s) HAK_SLOWPATH;
/* What a block is and where its metadata lies (alloc.c). */
size_t hak_usable(const void *p);

/*
 * Free any block.  Its slab's metadata comes from the superslab map, so a
 * pointer outside every superslab (NULL, a large block, a pointer hakmem
 * never handed out) reads the stand-in's, fails the owner compare and is
 * sorted out by the slow path, as is a pointer that cannot be a block's
 * start because it is not aligned as the slab's blocks are (a block of 64
 * bytes starts at a multiple of 64: a pointer into it fails here).
 */
HAK_FASTPATH void hak_free_block(void *p)
{
	struct hak_slab *s = hak_slab_lookup(p);

	if (hak_likely(atomic_load_explicit(&s->owner, memory_order_relaxed) ==
		       (uintptr_t)hak_heap_tls && hak_slab_aligned(s, p))) {
		hak_stat_fast(hak_heap_tls, HAK_STAT_FREE_FAST);
		hak_stat_inuse(hak_heap_tls, -(int64_t)s->block_size);
		hak_slab_push_local(s, p);
		return;
	}
	hak_free_slow(p, s);
}

HAK_FASTPATH void hak_dealloc(void *p, const void *site)
{
	if (HAK_HARDEN_FREE_HOOK)
		hak_harden_free(p, site);
	hak_free_block(p);
}

/*
 * A free whose caller states the block's size (free_sized, the sized and
 * aligned forms of operator delete).  The size saves nothing here: a
 * block's slab comes from its address, with no lookup to skip.  A
 * hardened build with free checks holds the caller to it (harden.h);
 * @exact when the block came from hak_alloc(@size) itself, @fn names the
 * entry point in the report.
 */
HAK_FASTPATH void hak_dealloc_sized(void *p, size_t size, bool exact, const char *fn,
				    const void *site)
{
	if (HAK_HARDEN_FREE_CHECK && p)
		hak_harden_sized(p, size, exact, fn, site);
	hak_dealloc(p, site);
}

void *hak_alloc_zeroed(size_t nmemb, size_t size, const void *site);
void *hak_alloc_aligned(size_t align, size_t size, const void *site);
void *hak_resize(void *p, size_t size, const void *site);

/*
 * Give back to the OS what can go now, whatever its age: the calling
 * thread's cached empty slabs, every thread's BigCache front, the page
 * heap's free runs and the pool's free slabs.  Returns the bytes given
 * back (decommitted or unmapped); 0 before the first allocation.
 */
size_t hak_trim(void);

/*
 * What hakmem holds, for mallinfo and malloc_info.  Read without a
 * snapshot: each figure is exact for some moment.
 */
struct hak_meminfo {
	bool gauges;		/* the next four are known (CONFIG_HAKMEM_STATS) */
	size_t mapped;		/* address space reserved from the backend */
	size_t committed;	/* of it, not decommitted */
	size_t committed_peak;
	size_t in_use;		/* bytes handed out (CONFIG_HAKMEM_STATS_FASTPATH), else
				 * committed less the free figures below */
	size_t free_pool;	/* free slabs still committed */
	size_t free_pageheap;	/* free page heap runs still committed */
	size_t free_front;	/* blocks waiting in the BigCache fronts */
	size_t pageheap_mapped;	/* the page heap's regions */
	size_t pageheap_in_use;	/* its runs handed out */
};
void hak_meminfo(struct hak_meminfo *mi);

#endif /* HAK_ALLOC_H */
