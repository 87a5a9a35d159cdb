// SPDX-License-Identifier: MIT
/*
 * core/alloc.c - zeroed, aligned and resized allocation over the fast
 * paths.  Errors: NULL with errno ENOMEM (or EINVAL for an alignment
 * that is not a power of two); a failed resize leaves the block intact.
 *
 * The trace (trace.h) is recorded here, where the program's requests come
 * in: the fast paths' slow halves record the blocks they hand out and
 * take back, and calloc, aligned allocations and realloc hold those and
 * make one record each of their own.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "init.h"
#include "stats.h"
#include "pageheap.h"
#include "bigcache.h"
#include "trace.h"

/*
 * Whether the trace follows block @p, whose kind the caller does not
 * know: every large one, and the sampled small ones.
 */
static bool traced(const void *p, unsigned *flags)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;

	switch (hak_ptr_kind(p, &s, &lh)) {
	case HAK_PTR_SMALL:
		*flags |= HAK_TRF_SMALL;
		return hak_slab_sampled(s);
	case HAK_PTR_LARGE:
		return true;
	default:
		return false;
	}
}

/* Record @p, handed out for @size bytes (with the canary's). */
static void trace_alloc(void *p, size_t size, size_t align, const void *site, unsigned flags)
{
	hak_trace_record(&(struct hak_trace_ev){ .addr = p, .size = size - HAK_CANARY_SIZE,
						 .align = align, .site = site, .flags = flags });
}

/* The same, for a block of either kind: if the trace follows it. */
static void trace_alloc_any(void *p, size_t size, size_t align, const void *site,
			    unsigned flags)
{
	if (p && traced(p, &flags))
		trace_alloc(p, size, align, site, flags);
}

void *hak_alloc_small_slow(size_t size, const void *site)
{
	void *p;

	hak_init();
	p = hak_small_alloc_slow(size, site);
	if (hak_tracing() && p && hak_block_sampled(p))
		trace_alloc(p, size, 0, site, HAK_TRF_SMALL);
	return p;
}

void *hak_alloc_large(size_t size, size_t align, const void *site)
{
	void *p;

	hak_init();
	p = hak_large_alloc(size, align, site);
	if (hak_tracing() && p)
		trace_alloc(p, size, align, site, 0);
	return p;
}

/* The hardened build's hook for blocks that do not come from hak_alloc(). */
static inline void *hak_harden_hook(void *p, const void *site)
{
	return HAK_HARDEN_ALLOC_HOOK ? hak_harden_alloc(p, site) : p;
}

void *hak_alloc_zeroed(size_t nmemb, size_t size, const void *site)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (hak_tracing()) {
		hak_trace_hold();
		p = hak_alloc(total, site);
		hak_trace_unhold();
		trace_alloc_any(p, total + HAK_CANARY_SIZE, 0, site, HAK_TRF_ZERO);
	} else {
		p = hak_alloc(total, site);
	}
	if (!p)
		return NULL;
	if (total <= HAK_SMALL_MAX)
		memset(p, 0, total);
	else
		hak_large_zero(p, total);
	return p;
}

static void *alloc_aligned(size_t align, size_t size, const void *site)
{
	if (align <= HAK_MIN_ALIGN)
		return hak_alloc(size, site);
	hak_init();
	if (HAK_CANARY_SIZE && size <= PTRDIFF_MAX)
		size += HAK_CANARY_SIZE;
	/* A class whose block size is a multiple of align gives aligned
	 * blocks: slab starts are 4 KiB aligned. */
	if (align <= 4096 && size <= HAK_SMALL_MAX) {
		int cls = hak_class_aligned(size, align);

		if (cls >= 0)
			return hak_harden_hook(hak_small_alloc(hak_class_size[cls], site), site);
	}
	return hak_harden_hook(hak_alloc_large(size, align, site), site);
}

void *hak_alloc_aligned(size_t align, size_t size, const void *site)
{
	void *p;

	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (!hak_tracing())
		return alloc_aligned(align, size, site);
	hak_trace_hold();
	p = alloc_aligned(align, size, site);
	hak_trace_unhold();
	trace_alloc_any(p, size + HAK_CANARY_SIZE, align, site, 0);
	return p;
}

/*
 * The usable size of block @p, which @fn was given, of kind @k with slab
 * @s or header @lh (as hak_ptr_kind() said): a bad pointer stops here.
 */
static inline size_t usable(const char *fn, const void *p, enum hak_ptr_kind k,
			    struct hak_slab *s, struct hak_large_hdr *lh)
{
	switch (k) {
	case HAK_PTR_SMALL:
		if (!hak_slab_has_block(s, p))
			hak_panic("%s(): invalid pointer %p (not the start of a %u-byte block)", fn,
				  p, s->block_size);
		/* A hardened block's last 8 bytes are its canary's. */
		return s->block_size - HAK_CANARY_SIZE;
	case HAK_PTR_LARGE:
		break;
	case HAK_PTR_NONE:
		hak_foreign(fn, p, NULL);
	}
	if (!hak_large_hdr_valid(lh))
		hak_panic("%s(): invalid pointer %p (no live block starts there)", fn, p);
	return hak_large_size(lh) - HAK_CANARY_SIZE;
}

/*
 * realloc.  @ev, when the trace is on, is filled with what it did as the
 * trace follows it: the old block (if followed), the new one (if
 * followed), and the time between a move's two halves.
 */
static inline __attribute__((always_inline)) void *resize(void *p, size_t size,
							   const void *site,
							   struct hak_trace_ev *ev)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;
	enum hak_ptr_kind k;
	bool large;
	size_t have;
	void *q;

	if (!p)
		return hak_alloc(size, site);
	if (size == 0) {
		hak_dealloc(p, site);
		return NULL;
	}
	k = hak_ptr_kind(p, &s, &lh);
	have = usable("realloc", p, k, s, lh);
	large = k == HAK_PTR_LARGE;
	if (ev) {
		ev->old = large || hak_slab_sampled(s) ? p : NULL;
		ev->addr = ev->old;
		ev->flags = large ? 0 : HAK_TRF_SMALL;
	}
	/* Keep the block when it fits and would not waste more than half. */
	if (size <= have && size >= have / 2) {
		hak_stat_add(HAK_STAT_REALLOC_INPLACE, 1);
		return p;
	}
	/* A large block grows or shrinks in place when it can, or has its
	 * pages moved to a new home: no copy either way. */
	if (large) {
		q = hak_large_resize(p, size + HAK_CANARY_SIZE) ? p :
		    size > have ? hak_large_move(p, size + HAK_CANARY_SIZE, site) : NULL;
		if (q) {
			if (HAK_HARDEN_CANARY)
				hak_harden_resized(q);
			hak_stat_add(q == p ? HAK_STAT_REALLOC_INPLACE : HAK_STAT_REALLOC_MOVED, 1);
			hak_stat_inuse_slow((int64_t)hak_usable(q) - (int64_t)have);
			if (ev)
				ev->addr = q;
			return q;
		}
	}
	/* A growing block moves into a span, to grow in place next time. */
	if (size > have && size >= HAK_REALLOC_SPAN_MIN && !HAK_HARDEN_GUARD) {
		q = hak_harden_hook(hak_large_alloc_growing(size + HAK_CANARY_SIZE, site), site);
		if (ev) {
			ev->addr = q;
			ev->flags = 0;
		}
	} else {
		q = hak_alloc(size, site);
		if (ev) {
			ev->flags = 0;
			ev->addr = q && traced(q, &ev->flags) ? q : NULL;
		}
	}
	if (!q)
		return NULL;
	/* The copy reads every page: what the program touched is lost in it. */
	if (large)
		hak_large_clear_probe(lh);
	memcpy(q, p, size < have ? size : have);
	/* After the new block is had and before the old one is back: no
	 * other thread's record of either address can fall in between. */
	if (ev)
		ev->time = hak_trace_now();
	hak_dealloc(p, site);
	hak_stat_add(HAK_STAT_REALLOC_MOVED, 1);
	return q;
}

/*
 * realloc(NULL, n) is a malloc and realloc(p, 0) a free, recorded as
 * such; any other is one REALLOC record, or an ALLOC or a FREE when the
 * trace follows only one of the two blocks (a small block that grew large,
 * a large one that shrank to an unsampled small one).
 */
static void *resize_traced(void *p, size_t size, const void *site) HAK_SLOWPATH;

void *hak_resize(void *p, size_t size, const void *site)
{
	if (hak_tracing() && p && size)
		return resize_traced(p, size, site);
	return resize(p, size, site, NULL);
}

static void *resize_traced(void *p, size_t size, const void *site)
{
	struct hak_trace_ev ev = { .size = size, .site = site };
	void *q;

	hak_trace_hold();
	q = resize(p, size, site, &ev);
	hak_trace_unhold();
	if (q && (ev.old || ev.addr))
		hak_trace_record(&ev);
	return q;
}

void hak_free_slow(void *p, struct hak_slab *s)
{
	struct hak_large_hdr *lh;
	int saved;

	if (!p || (!hak_is_standin(s) && hak_free_other(p, s)))
		return;
	saved = errno;	/* free() never changes errno */

	switch (hak_ptr_kind_of(p, s, &s, &lh)) {
	case HAK_PTR_SMALL:
		/* Recorded before it is back: once it is, it may be handed out again. */
		if (hak_tracing() && hak_slab_sampled(s))
			hak_trace_record(&(struct hak_trace_ev){ .old = p });
		hak_small_free_slow(p, s);
		break;
	case HAK_PTR_LARGE:
		if (hak_tracing())
			hak_trace_record(&(struct hak_trace_ev){ .old = p });
		hak_large_free(p, lh);
		break;
	case HAK_PTR_NONE:
		hak_foreign("free", p, NULL);
	}
	errno = saved;
}

size_t hak_usable(const void *p)
{
	struct hak_large_hdr *lh = NULL;
	struct hak_slab *s = NULL;
	enum hak_ptr_kind k;

	if (!p)
		return 0;
	k = hak_ptr_kind(p, &s, &lh);
	return usable("malloc_usable_size", p, k, s, lh);
}

size_t hak_trim(void)
{
	size_t bytes;

	if (atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
		return 0;
	/* Slabs to the pool and blocks to the page heap first, so that the
	 * purges after them find every free page. */
	hak_heap_trim();
	bytes = hak_large_trim();
	return bytes + hak_pool_purge(true);
}

static size_t stat_or_0(const char *name)
{
	uint64_t v;

	return hak_stats_get_name(name, &v) ? 0 : (size_t)v;
}

void hak_meminfo(struct hak_meminfo *mi)
{
	struct hak_ph_stats ph;
	int saved = errno;
	uint64_t v;
	size_t free;

	*mi = (struct hak_meminfo){ 0 };
	if (atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
		return;
	hak_ph_get_stats(&ph);
	mi->pageheap_mapped = ph.mapped;
	mi->pageheap_in_use = ph.in_use;
	mi->free_pageheap = ph.dirty;
	mi->free_pool = hak_pool_dirty_bytes();
	mi->free_front = hak_bc_bytes();
	mi->gauges = hak_stats_get_name("bytes.mapped", &v) == 0;
	if (!mi->gauges) {
		errno = saved;
		return;
	}
	mi->mapped = (size_t)v;
	mi->committed = stat_or_0("bytes.committed");
	mi->committed_peak = stat_or_0("bytes.committed.peak");
	free = mi->free_pool + mi->free_pageheap + mi->free_front;
	if (hak_stats_get_name("bytes.in_use", &v) == 0)
		mi->in_use = (size_t)v;
	else
		mi->in_use = mi->committed > free ? mi->committed - free : 0;
	errno = saved;
}
