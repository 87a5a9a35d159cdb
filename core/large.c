// SPDX-License-Identifier: MIT
/*
 * core/large.c - blocks above the small limit.
 *
 * Two homes, both described in large_header.h:
 *   span    up to half a superslab with alignment <= 64: whole slabs
 *           carved from the pool, so a free/alloc see-saw reuses
 *           committed memory without a system call;
 *   mapped  anything bigger or more strictly aligned: a mapping of its
 *           own, released to the backend on free.
 * The active policy routes each request (span, BigCache, or a fresh
 * mapping) and decides on free whether a mapped block is kept in the
 * BigCache; both happen here, under the policy lock, with the system
 * calls outside it.  Aligned requests above 64 bytes bypass the policy:
 * they are always mapped and released.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "large.h"
#include "backend.h"
#include "init.h"
#include "stats.h"
#include "policy.h"
#include "options.h"
#include "heap.h"
#include "harden.h"

/*
 * Spans start at slab boundaries, so their blocks would all share their
 * low 16 address bits.  A copy from one to another (realloc) then has
 * every load alias a store 4 KiB apart in the CPU's memory pipeline, and
 * the blocks' first lines compete for the same cache sets.  So a block
 * starts a "colour" of 0 to 63 cache lines into its span, picked by the
 * span's address, within the slack its last slab leaves.
 */
static size_t span_colour(const char *base, size_t slack)
{
	size_t colour = (size_t)((((uintptr_t)base >> HAK_SLAB_SHIFT) * 0x9e3779b97f4a7c15ULL) >> 58) * 64;

	return colour <= slack ? colour : HAK_ALIGN_DOWN(slack, 64);
}

/*
 * Carve a span.  A block that is growing (realloc had to move it) is
 * placed, when the pool can, where as many slabs again are free after it,
 * so that its next growths happen in place.
 */
static void *large_span(size_t size, const void *site, bool growing)
{
	size_t need = size + HAK_LARGE_HDR_SIZE;
	unsigned n = (unsigned)((need + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
	unsigned room = growing ? (n < HAK_SPAN_MAX_SLABS - n ? n : HAK_SPAN_MAX_SLABS - n) : 0;
	struct hak_slab *s = n == 1 && !growing ? hak_heap_take_span_slab() : NULL;

	if (s) {
		s->span = 1;
		atomic_store_explicit(&s->owner, HAK_OWNER_SPAN, memory_order_release);
	} else {
		s = hak_pool_take_span(n, room);
	}
	if (!s)
		return NULL;

	char *base = hak_slab_start(s);
	size_t len = (size_t)n << HAK_SLAB_SHIFT;
	char *block = base + HAK_LARGE_HDR_SIZE + span_colour(base, len - need);

	hak_large_hdr_init(hak_large_hdr_of(block), len - (size_t)(block - base), base, len,
			   site, -1, HAK_LARGE_F_SPAN);
	hak_stat_add(HAK_STAT_LARGE_SPAN, 1);
	return block;
}

static void *large_map(size_t size, size_t align, const void *site, int cache_cls)
{
	size_t page = hak_backend->page_size();
	size_t off, len, ralign, guard;
	char *base, *block;

	if (align < HAK_SS_SIZE) {
		/* Header at base + 64 shadows slab 0's owner word: see large_header.h. */
		off = align > 2 * HAK_LARGE_HDR_SIZE ? align : 2 * HAK_LARGE_HDR_SIZE;
		ralign = HAK_SS_SIZE;
	} else {
		/* The block is the superslab-aligned address; its header page precedes it. */
		off = align;
		ralign = align;
	}
	if (size > SIZE_MAX / 2 - off - page)
		return NULL;
	/* HARDEN_GUARD: one more page, after the block, that faults. */
	guard = HAK_HARDEN_GUARD && hak_backend->protect ? page : 0;
	len = HAK_ALIGN_UP(off + size, page) + guard;
	base = hak_backend->reserve(len, ralign);
	if (!base)
		return NULL;
	if (guard && hak_backend->protect(base + len - guard, guard)) {
		hak_backend->release(base, len);
		return NULL;
	}
	block = base + off;
	if (align >= HAK_SS_SIZE && off > page) {
		/* Give back the unused head, keeping the header's page. */
		hak_backend->release(base, off - page);
		len -= off - page;
		base = block - page;
	}
	hak_large_hdr_init(hak_large_hdr_of(block), len - guard - (size_t)(block - base), base,
			   len, site, cache_cls, HAK_LARGE_F_MAPPED);
	hak_region_add(block);
	hak_stat_add(HAK_STAT_LARGE_MAPPED, 1);
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)len);
	hak_gauge_add(HAK_GAUGE_COMMITTED, (long)len);
	return block;
}

/* Mechanism limit of a span: half a superslab (HAK_SPAN_MAX_SLABS). */
#define SPAN_LIMIT (((size_t)HAK_SPAN_MAX_SLABS << HAK_SLAB_SHIFT) - HAK_LARGE_HDR_SIZE)

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Route a request, serve it, and report it to the policy.  A BigCache hit,
 * the common case of a steady workload, is served and reported in one
 * critical section; a miss reports after its system calls, outside it.
 */
static void *large_routed(size_t size, const void *site, bool growing)
{
	struct hak_heap *h = hak_heap_tls;
	uint64_t t0, t1;
	struct hak_site *st;
	enum hak_route route;
	size_t csize = 0;	/* class size, read under the lock: classes move */
	int cls = -1;
	void *p = NULL;

	/* This thread's own freed blocks first: no lock at all. */
	if (h != &hak_heap_empty) {
		p = hak_bc_local_get(h, size, site, true);
		if (p) {
			hak_large_hdr_reuse(hak_large_hdr_of(p), site, hak_now_ms());
			hak_stat_add(HAK_STAT_BC_HIT, 1);
			return p;
		}
	}

	t0 = clock_ns();
	hak_policy_lock();
	if (h != &hak_heap_empty)
		hak_policy_flush_local(h);
	st = hak_site_get(site);
	route = hak_policy_route(size, st);
	/* Spans share their superslab: no room for guard pages there. */
	if (route == HAK_ROUTE_SPAN && (size > SPAN_LIMIT || HAK_HARDEN_GUARD))
		route = HAK_ROUTE_CACHE;
	if (route == HAK_ROUTE_CACHE) {
		cls = hak_bc_class_of(size);
		if (cls < 0) {
			route = HAK_ROUTE_MAP;
		} else {
			csize = hak_bc_class_size((unsigned)cls);
			p = hak_bc_get(st->index, (unsigned)cls);
		}
	}
	hak_bc_hint(st->index, route == HAK_ROUTE_CACHE ? cls : -1);
	hak_stat_add(route == HAK_ROUTE_SPAN ? HAK_STAT_ROUTE_SPAN :
		     route == HAK_ROUTE_CACHE ? HAK_STAT_ROUTE_CACHE : HAK_STAT_ROUTE_MAP, 1);
	if (!p && route == HAK_ROUTE_CACHE && h != &hak_heap_empty)
		p = hak_bc_local_get(h, size, site, false);
	if (p) {
		t1 = clock_ns();
		hak_large_hdr_reuse(hak_large_hdr_of(p), site, t1 / 1000000);
		hak_policy_alloc_done(size, st, route, true, t1 - t0, t1);
		hak_policy_unlock();
		hak_stat_add(HAK_STAT_BC_HIT, 1);
		return p;
	}
	hak_policy_unlock();

	if (route == HAK_ROUTE_SPAN) {
		p = large_span(size, site, growing);
	} else if (route == HAK_ROUTE_CACHE) {
		hak_stat_add(HAK_STAT_BC_MISS, 1);
		p = large_map(csize, 0, site, cls);
	} else {
		p = large_map(size, 0, site, -1);
	}
	if (!p)
		return NULL;
	t1 = clock_ns();
	if (hak_pend(h, (struct hak_pending){ .type = HAK_PEND_ALLOC, .site = st, .size = size,
					      .route = (uint8_t)route, .cost_ns = t1 - t0,
					      .now_ns = t1 }))
		return p;
	hak_policy_lock();
	hak_policy_alloc_done(size, st, route, false, t1 - t0, t1);
	hak_policy_unlock();
	return p;
}

static void large_count_alloc(void *p)
{
	hak_stat_add(HAK_STAT_LARGE_ALLOC, 1);
	hak_stat_inuse_slow(hak_heap_tls, (int64_t)hak_large_size(hak_large_hdr_of(p)));
}

void *hak_large_alloc(size_t size, size_t align, const void *site)
{
	void *p;

	hak_init();
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= HAK_LARGE_HDR_SIZE)
		p = large_routed(size, site, false);
	else
		p = large_map(size, align, site, -1);
	if (!p)
		errno = ENOMEM;
	else
		large_count_alloc(p);
	/* Free slabs age in the pool even when only large blocks come and
	 * go (a program past a burst of small ones, or a hardened build
	 * whose large blocks never use the pool). */
	hak_pool_tick();
	return p;
}

/*
 * A new home for a block that realloc must move to grow it: a span with
 * room after it, so that the next growths happen in place.  Above the
 * small limit the policy still routes it; below, it is a span outright
 * (the policies only ever see requests above the small limit).
 */
void *hak_large_alloc_growing(size_t size, const void *site)
{
	void *p;

	hak_init();
	if (size > PTRDIFF_MAX)
		p = NULL;
	else if (size <= HAK_SMALL_MAX)
		p = large_span(size, site, true);
	else
		p = large_routed(size, site, true);

	if (!p)
		errno = ENOMEM;
	else
		large_count_alloc(p);
	return p;
}

void hak_large_release(void *p)
{
	struct hak_large_hdr *h = hak_large_hdr_of(p);

	h->magic = 0;	/* a second free of the same block is caught */
	hak_region_del(p);
	hak_gauge_add(HAK_GAUGE_MAPPED, -(long)hak_large_len(h));
	hak_gauge_add(HAK_GAUGE_COMMITTED, -(long)hak_large_len(h));
	hak_backend->release(hak_large_base(h), hak_large_len(h));
}

void hak_large_free(void *p, struct hak_large_hdr *h)
{
	bool kept;

	if (((uintptr_t)p & 15) || !hak_large_hdr_valid(h))
		hak_panic("free(): invalid pointer %p (no valid hakmem block header)", p);
	if (hak_large_flags(h) & HAK_LARGE_F_CACHED)
		hak_panic("free(): double free of %p (block is in the BigCache)", p);
	hak_stat_add(HAK_STAT_LARGE_FREED, 1);

	/* Read the header first: a span is reused as soon as it is back. */
	size_t size = hak_large_size(h);

	hak_stat_inuse_slow(hak_heap_tls, -(int64_t)size);
	bool span = hak_large_flags(h) & HAK_LARGE_F_SPAN;
	const void *site = hak_large_site(h);
	uint64_t birth = hak_large_birth(h);

	if (span) {
		struct hak_slab *s = hak_slab_of(hak_large_base(h));

		h->magic = 0;
		if (s->span == 1)
			hak_heap_put_span_slab(s);
		else
			hak_pool_put_slab(s);
		/* Spans are never cached: the policy only needs to hear of it. */
		if (hak_pend(hak_heap_tls, (struct hak_pending){ .type = HAK_PEND_FREE,
								 .site_addr = site, .size = size,
								 .birth_ms = birth }))
			return;
	}
	hak_policy_lock();
	kept = hak_policy_free(p, size, site, span ? -1 : hak_large_class(h), birth);
	hak_policy_unlock();
	if (kept)
		hak_stat_add(HAK_STAT_LARGE_CACHED, 1);
	else if (!span)
		hak_stat_add(HAK_STAT_LARGE_RELEASED, 1);
	if (!span && !kept)
		hak_large_release(p);
}

/*
 * A span grows or shrinks by whole slabs, taken or given back in place,
 * down to HAK_REALLOC_SPAN_MIN (below that a slab block wastes less).
 */
static bool span_resize(struct hak_large_hdr *h, size_t size)
{
	char *base = hak_large_base(h);
	unsigned units;
	size_t len, off;

	if (size > SPAN_LIMIT || size < HAK_REALLOC_SPAN_MIN)
		return false;
	off = (size_t)((char *)(h + 1) - base);
	units = (unsigned)((size + off + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
	if (units > HAK_SPAN_MAX_SLABS || !hak_pool_resize_span(hak_slab_of(base), units))
		return false;
	len = (size_t)units << HAK_SLAB_SHIFT;
	hak_large_hdr_init(h, len - off, base, len, hak_large_site(h), -1, hak_large_flags(h));
	return true;
}

/*
 * Resize a large block where it stands.  A span takes or gives back the
 * slabs after it.  A mapped block shrinks by giving back its tail pages
 * (unless it is sized for a BigCache class) and grows by extending the
 * mapping when the addresses after it are free.  Returns false when the
 * block must move.  The caller owns the block, so the header needs no
 * lock.
 */
bool hak_large_resize(void *p, size_t size)
{
	struct hak_large_hdr *h = hak_large_hdr_of(p);
	size_t page = hak_backend->page_size();
	char *base = hak_large_base(h);
	size_t off = (size_t)((char *)p - base), len = hak_large_len(h), want;
	int cls = hak_large_class(h);

	if (hak_large_flags(h) & HAK_LARGE_F_SPAN)
		return span_resize(h, size);
	/* A guarded block moves: its guard page stays at its end. */
	if (!(hak_large_flags(h) & HAK_LARGE_F_MAPPED) || size > PTRDIFF_MAX - off - page ||
	    HAK_HARDEN_GUARD)
		return false;
	want = HAK_ALIGN_UP(off + size, page);
	if (want == len)
		return true;
	if (want < len) {
		/* A block sized for a BigCache class is worth more whole: let it
		 * move, and the cache keep it for the next large request. */
		if (cls >= 0 || hak_backend->release(base + want, len - want))
			return false;
	} else if (!hak_backend->extend || hak_backend->extend(base, len, want)) {
		return false;
	}
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)want - (long)len);
	hak_gauge_add(HAK_GAUGE_COMMITTED, (long)want - (long)len);
	hak_large_hdr_init(h, want - off, base, want, hak_large_site(h), cls,
			   hak_large_flags(h));
	return true;
}

bool hak_large_fresh(const void *p)
{
	return (hak_large_flags(hak_large_hdr_of(p)) & (HAK_LARGE_F_MAPPED | HAK_LARGE_F_REUSED)) ==
	       HAK_LARGE_F_MAPPED;
}
