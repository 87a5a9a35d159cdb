// SPDX-License-Identifier: MIT
/*
 * core/large.c - blocks above the small limit.
 *
 * Three homes, described in large_header.h and pageheap.h:
 *   span    up to large.span_max (at most half a superslab): whole slabs
 *           carved from the superslab pool, so a free/alloc see-saw
 *           reuses committed memory without a system call;
 *   heap    a run of the page heap, up to the policy's map_min: freed
 *           memory of any size serves requests of any size, and goes back
 *           to the OS when the policy's decay says so;
 *   mapped  at or above map_min, or aligned beyond a superslab: a mapping
 *           of its own, released to the backend on free.
 * The route depends only on the size and on map_min, which the policy
 * publishes: no lock is taken to decide it.  Every allocation and free is
 * queued as an event for the policy on the thread's heap, and reaches it
 * in batches (policy.c).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "large.h"
#include "backend.h"
#include "stats.h"
#include "policy.h"
#include "options.h"
#include "heap.h"
#include "harden.h"
#include "pageheap.h"
#include "bigcache.h"

/* Mechanism limit of a span: half a superslab (HAK_SPAN_MAX_SLABS). */
#define SPAN_LIMIT (((size_t)HAK_SPAN_MAX_SLABS << HAK_SLAB_SHIFT) - HAK_LARGE_HDR_SIZE)

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
		s = hak_pool_take_span(n, room, hak_heap_tls->pool_shard);
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

/*
 * Reserve a mapping for a block of @size bytes aligned to @align, laid out
 * as large_header.h says: *@base and *@len the mapping, the block's
 * address returned (NULL: no memory).  Blocks of pageheap.huge_pages and
 * more get huge pages, as in the page heap.
 */
static char *map_reserve(size_t size, size_t align, char **base, size_t *len)
{
	size_t page = hak_backend->page_size();
	size_t off, ralign, guard;
	char *block;

	if (align < HAK_SS_SIZE) {
		/* The mapping starts a window: its windows are its own in the owner map. */
		off = align > 2 * HAK_LARGE_HDR_SIZE ? align : 2 * HAK_LARGE_HDR_SIZE;
		ralign = HAK_SS_SIZE;
	} else {
		/* The block is the superslab-aligned address; its header page precedes it. */
		off = align;
		ralign = align;
	}
	if (size > SIZE_MAX / 2 - off - page)
		return NULL;
	/* A block of 0 bytes still gets a page: its address must be in its mapping. */
	size = size ? size : 1;
	/* HARDEN_GUARD: one more page, after the block, that faults. */
	guard = HAK_HARDEN_GUARD && hak_backend->protect ? page : 0;
	*len = HAK_ALIGN_UP(off + size, page) + guard;
	*base = hak_backend->reserve(*len, ralign);
	if (!*base)
		return NULL;
	if (guard && hak_backend->protect(*base + *len - guard, guard)) {
		hak_backend->release(*base, *len);
		return NULL;
	}
	block = *base + off;
	if (align >= HAK_SS_SIZE && off > page) {
		/* Give back the unused head, keeping the header's page. */
		hak_backend->release(*base, off - page);
		*len -= off - page;
		*base = block - page;
	}
	if (hak_mapping_own(block, *base, *len, true)) {
		hak_backend->release(*base, *len);
		return NULL;
	}
	if (hak_opts.huge_pages && size >= hak_opts.huge_pages && hak_backend->huge && !guard)
		hak_backend->huge(*base, *len);
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)*len);
	hak_gauge_add(HAK_GAUGE_COMMITTED, (long)*len);
	return block;
}

/* A mapped block's usable bytes: to its mapping's end, less a guard page. */
static size_t map_usable(const char *block, const char *base, size_t len)
{
	size_t guard = HAK_HARDEN_GUARD && hak_backend->protect ? hak_backend->page_size() : 0;

	return len - guard - (size_t)(block - base);
}

static void *large_map(size_t size, size_t align, const void *site)
{
	char *base, *block;
	size_t len;

	block = map_reserve(size, align, &base, &len);
	if (!block)
		return NULL;
	hak_large_hdr_init(hak_large_hdr_of(block), map_usable(block, base, len), base, len, site,
			   -1, HAK_LARGE_F_MAPPED | HAK_LARGE_F_ZERO);
	hak_stat_add(HAK_STAT_LARGE_MAPPED, 1);
	return block;
}

/*
 * A block at the start of a run of the page heap; its header is kept by
 * the page heap.  Usable to the end of its last page.
 */
static void *large_heap(size_t size, const void *site)
{
	size_t page = hak_backend->page_size();
	struct hak_large_hdr *h;
	void *block;
	bool zero;

	if (size > PTRDIFF_MAX - page)
		return NULL;
	size = HAK_ALIGN_UP(size ? size : 1, page);
	block = hak_ph_alloc(size, &h, &zero);
	if (!block)
		return NULL;
	hak_large_hdr_init(h, size, block, HAK_ALIGN_UP(size, HAK_PH_UNIT), site, -1,
			   HAK_LARGE_F_PAGES | (zero ? HAK_LARGE_F_ZERO : 0));
	hak_stat_add(HAK_STAT_LARGE_HEAP, 1);
	return block;
}

/* Queue an event for the policy: batched on a thread with a heap (given one here). */
static void large_event(struct hak_pending ev)
{
	hak_heap_own();
	hak_policy_queue(&ev);
}

/*
 * Where a request goes.  Spans and the page heap have no room for the
 * hardened build's guard page after a block: there every large block is
 * mapped.  A span holds at most 64-byte alignment; the page heap any up
 * to its unit.
 */
static enum hak_route large_route(size_t size, size_t align)
{
	if (HAK_HARDEN_GUARD || align > HAK_PH_UNIT || size >= hak_policy_map_min())
		return HAK_ROUTE_MAP;
	if (size <= hak_opts.span_max && size <= SPAN_LIMIT && align <= HAK_LARGE_HDR_SIZE)
		return HAK_ROUTE_SPAN;
	return HAK_ROUTE_HEAP;
}

/* The length of the home a request of @size bytes gets on @route. */
static size_t home_len(size_t size, enum hak_route route)
{
	size_t page = hak_backend->page_size();
	size_t guard = HAK_HARDEN_GUARD && hak_backend->protect ? page : 0;

	if (route == HAK_ROUTE_HEAP)
		return HAK_ALIGN_UP(HAK_ALIGN_UP(size ? size : 1, page), HAK_PH_UNIT);
	return HAK_ALIGN_UP(2 * HAK_LARGE_HDR_SIZE + (size ? size : 1), page) + guard;
}

/*
 * This thread's front: a block it freed from the same site, without a
 * lock.  Page heap blocks, and in a build that guards every large block
 * its mappings of the usual layout (64-byte alignment).
 */
static void *large_front(size_t size, size_t align, enum hak_route route, const void *site)
{
	struct hak_large_hdr *hdr;
	size_t len;
	void *p;

	/* Only a thread with a heap has a front: its exit empties it. */
	if (route == HAK_ROUTE_SPAN || (route == HAK_ROUTE_MAP && align > HAK_LARGE_HDR_SIZE) ||
	    size > PTRDIFF_MAX || size > hak_policy_cache_max() || hak_heap_own() == &hak_heap_empty)
		return NULL;
	/* A run of the same units; a mapping up to a quarter longer (pages). */
	len = home_len(size, route);
	p = hak_bc_get(size, route == HAK_ROUTE_HEAP ? len : len + len / 4, site);
	if (!p)
		return NULL;
	hdr = hak_large_hdr_find(p);
	hak_large_hdr_init(hdr, hak_large_size(hdr), hak_large_base(hdr), hak_large_len(hdr), site,
			   -1, hak_large_flags(hdr) & (HAK_LARGE_F_PAGES | HAK_LARGE_F_MAPPED));
	hak_stat_add(HAK_STAT_LARGE_FRONT, 1);
	large_event((struct hak_pending){ .type = HAK_EV_ALLOC, .site_addr = site, .size = size,
					  .route = (uint8_t)route, .front = true,
					  .now_ns = hak_now_ns() });
	return p;
}

static void *large_serve(size_t size, size_t align, const void *site, bool growing)
{
	enum hak_route route = large_route(size, align);
	uint64_t t0, t1;
	void *p = large_front(size, align, route, site);

	if (p)
		return p;
	t0 = hak_now_ns();
	if (route == HAK_ROUTE_SPAN)
		p = large_span(size, site, growing);
	else if (route == HAK_ROUTE_HEAP)
		p = large_heap(size, site);
	else
		p = large_map(size, align > HAK_LARGE_HDR_SIZE ? align : 0, site);
	if (!p)
		return NULL;
	hak_stat_add(route == HAK_ROUTE_SPAN ? HAK_STAT_ROUTE_SPAN :
		     route == HAK_ROUTE_HEAP ? HAK_STAT_ROUTE_HEAP : HAK_STAT_ROUTE_MAP, 1);
	t1 = hak_now_ns();
	large_event((struct hak_pending){ .type = HAK_EV_ALLOC, .site_addr = site, .size = size,
					  .route = (uint8_t)route, .cost_ns = t1 - t0,
					  .now_ns = t1 });
	return p;
}

/* Memory freed a while ago goes back: the fronts' blocks, then the page heap's. */
void hak_large_tick(void)
{
	hak_policy_poll();
	hak_bc_sweep(hak_policy_decay_ms());
	hak_ph_tick();
}

size_t hak_large_trim(void)
{
	size_t bytes = hak_bc_flush();

	return bytes + hak_ph_purge_all();
}

static void large_count_alloc(void *p)
{
	hak_stat_add(HAK_STAT_LARGE_ALLOC, 1);
	hak_stat_inuse_slow((int64_t)hak_large_size(hak_large_hdr_find(p)));
}

void *hak_large_alloc(size_t size, size_t align, const void *site)
{
	void *p;

	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	p = large_serve(size, align, site, false);
	if (!p)
		errno = ENOMEM;
	else
		large_count_alloc(p);
	/* Free slabs age in the pool even when only large blocks come and
	 * go (a program past a burst of small ones, or a hardened build
	 * whose large blocks never use the pool). */
	hak_pool_tick();
	hak_large_tick();
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

	if (size > PTRDIFF_MAX)
		p = NULL;
	else if (size <= HAK_SMALL_MAX)
		p = large_span(size, site, true);
	else
		p = large_serve(size, 0, site, true);

	if (!p)
		errno = ENOMEM;
	else
		large_count_alloc(p);
	return p;
}

/*
 * A zeroed request served from freed page heap memory: write zeros, or
 * give the pages back and let the kernel fault in zero pages where the
 * program touches them?  Giving back costs a fault for each page the
 * program then touches; writing makes every page resident, touched or not.
 * In a region of huge pages a fault brings in 2 MiB at once, and giving
 * back measured better either way (a calloc of 8 MiB, filled, freed and
 * taken again, a thousand times: 0.17x to 0.27x the time of writing zeros;
 * touched at its ends only: 0.2x to 0.27x; of 32 MiB: 0.17x and 0.05x).
 * In a region of small pages it depends on the program: a filled 3 MiB
 * buffer took 2.9x as long given back, one touched at its ends 0.05x to
 * 0.09x.  So each call site is watched: a block given back is looked at
 * when it is freed (how much of it is resident, from the backend), and a
 * site whose blocks come back more than a quarter touched gets zeros
 * written, except for one block in 16 given back to keep measuring; each
 * time that block comes back touched, the next is twice as far off, up to
 * one in 1024 (a probe of a filled 3 MiB buffer cost a dozen writes of
 * zeros, so probing one in 16 made such a program 1.6x slower; with the
 * backing off it runs at 1.02x to 1.04x of always writing).  The
 * sites share a small table without a lock; two sites that land on one
 * slot take it from each other, and a site that has just taken its slot
 * starts by giving back.
 */
#define ZERO_SITES	64
#define ZERO_FILL	64		/* touched share (of 256) from which zeros are written */
#define ZERO_PROBE_MIN	4		/* probe one written block in 2^4 ... */
#define ZERO_PROBE_MAX	10		/* ... to one in 2^10 */
#define ZERO_LOOK_MAX	((size_t)4 << 20)	/* bytes of a freed block looked at, at most */

static struct zero_site {
	_Atomic(const void *) site;
	_Atomic unsigned touched;	/* share of pages touched (of 256), a running average */
	_Atomic unsigned n;		/* blocks zeroed while writing zeros */
	_Atomic unsigned probe;		/* log2 of how many of those one probe is */
} zero_sites[ZERO_SITES];

static struct zero_site *zero_site(const void *site)
{
	uintptr_t a = (uintptr_t)site;
	struct zero_site *z = &zero_sites[(a ^ a >> 7 ^ a >> 13) % ZERO_SITES];

	if (atomic_load_explicit(&z->site, memory_order_relaxed) != site) {
		atomic_store_explicit(&z->touched, 0, memory_order_relaxed);
		atomic_store_explicit(&z->n, 0, memory_order_relaxed);
		atomic_store_explicit(&z->probe, ZERO_PROBE_MIN, memory_order_relaxed);
		atomic_store_explicit(&z->site, site, memory_order_relaxed);
	}
	return z;
}

static bool zero_give_back(const void *site)
{
	struct zero_site *z = zero_site(site);
	unsigned mask = (1u << atomic_load_explicit(&z->probe, memory_order_relaxed)) - 1;

	return atomic_load_explicit(&z->touched, memory_order_relaxed) < ZERO_FILL ||
	       !((atomic_fetch_add_explicit(&z->n, 1, memory_order_relaxed) + 1) & mask);
}

/* A block that was zeroed by giving its pages back is freed: how much was touched? */
static void zero_learn(const void *p, size_t size, const void *site)
{
	size_t look = size < ZERO_LOOK_MAX ? size : ZERO_LOOK_MAX;
	long resident = hak_backend->resident && look ? hak_backend->resident(p, look) : -1;
	struct zero_site *z;
	unsigned share, t, p2;

	if (resident < 0)
		return;
	share = (unsigned)(((uint64_t)resident << 8) / look);
	z = zero_site(site);
	t = atomic_load_explicit(&z->touched, memory_order_relaxed);
	t = (3 * t + share) / 4;
	atomic_store_explicit(&z->touched, t, memory_order_relaxed);
	p2 = atomic_load_explicit(&z->probe, memory_order_relaxed);
	p2 = t < ZERO_FILL ? ZERO_PROBE_MIN : p2 < ZERO_PROBE_MAX ? p2 + 1 : p2;
	atomic_store_explicit(&z->probe, p2, memory_order_relaxed);
}

void hak_large_zero(void *p, size_t size)
{
	struct hak_large_hdr *h = hak_large_hdr_find(p);
	uint32_t flags = hak_large_flags(h);
	bool huge;

	/* Fresh memory is zero already: touching it would only cost RSS. */
	if (flags & HAK_LARGE_F_ZERO)
		return;
	huge = (flags & HAK_LARGE_F_PAGES) && hak_ph_huge(p);
	if ((flags & HAK_LARGE_F_PAGES) && (huge || zero_give_back(hak_large_site(h))) &&
	    hak_ph_zero(p, size)) {
		if (!huge)
			hak_large_set_probe(h);
		hak_stat_add(HAK_STAT_ZERO_BACK, 1);
		return;
	}
	memset(p, 0, size);
	hak_stat_add(HAK_STAT_ZERO_WRITTEN, 1);
}

void hak_large_free(void *p, struct hak_large_hdr *h)
{
	enum hak_route route;
	uint64_t now;

	if (((uintptr_t)p & 15) || !hak_large_hdr_valid(h))
		hak_panic("free(): invalid pointer %p (no live block starts there: freed before, or "
			  "never allocated)", p);
	if (hak_large_flags(h) & HAK_LARGE_F_CACHED)
		hak_panic("free(): double free of %p (block is in the BigCache)", p);
	hak_stat_add(HAK_STAT_LARGE_FREED, 1);

	/* Read the header first: the memory is reused as soon as it is back. */
	size_t size = hak_large_size(h);
	uint32_t flags = hak_large_flags(h);
	const void *site = hak_large_site(h);
	uint64_t birth = hak_large_birth(h);

	hak_stat_inuse_slow(-(int64_t)size);
	if (flags & HAK_LARGE_F_PROBE)
		zero_learn(p, size, site);
	if ((flags & (HAK_LARGE_F_PAGES | HAK_LARGE_F_MAPPED)) && size <= hak_policy_cache_max() &&
	    hak_heap_own() != &hak_heap_empty && hak_bc_keep(p, h)) {
		hak_stat_add(HAK_STAT_LARGE_KEPT, 1);
		now = hak_now_ns();
		large_event((struct hak_pending){ .type = HAK_EV_FREE, .site_addr = site, .size = size,
						  .route = (uint8_t)(flags & HAK_LARGE_F_PAGES ?
								     HAK_ROUTE_HEAP : HAK_ROUTE_MAP),
						  .front = true,
						  .now_ns = now, .lifetime_ms = now / 1000000 >= birth ?
						  now / 1000000 - birth : 0 });
		hak_large_tick();
		return;
	}
	h->magic = 0;	/* a second free of the same block is caught */
	if (flags & HAK_LARGE_F_PAGES) {
		route = HAK_ROUTE_HEAP;
		if (!hak_ph_free(p))
			hak_panic("free(): double free or invalid pointer %p (no such page heap block)",
				  p);
	} else if (flags & HAK_LARGE_F_SPAN) {
		struct hak_slab *s = hak_slab_of(hak_large_base(h));

		route = HAK_ROUTE_SPAN;
		if (s->span == 1)
			hak_heap_put_span_slab(s);
		else
			hak_pool_put_slab(s);
	} else {
		route = HAK_ROUTE_MAP;
		hak_large_release(h);
		hak_stat_add(HAK_STAT_LARGE_RELEASED, 1);
	}
	now = hak_now_ns();
	large_event((struct hak_pending){ .type = HAK_EV_FREE, .site_addr = site, .size = size,
					  .route = (uint8_t)route, .now_ns = now,
					  .lifetime_ms = now / 1000000 >= birth ? now / 1000000 - birth : 0 });
	hak_large_tick();
}

void hak_large_detach(struct hak_heap *h)
{
	(void)h;
	hak_bc_drain();
	hak_policy_flush();
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
	struct hak_large_hdr *h = hak_large_hdr_find(p);
	size_t page = hak_backend->page_size();
	char *base = hak_large_base(h);
	size_t off = (size_t)((char *)p - base), len = hak_large_len(h), want;

	if (hak_large_flags(h) & HAK_LARGE_F_SPAN)
		return span_resize(h, size);
	if (size > PTRDIFF_MAX - off - page)
		return false;
	if (hak_large_flags(h) & HAK_LARGE_F_PAGES) {
		want = HAK_ALIGN_UP(size, page);
		len = hak_ph_resize(p, want);
		if (!len)
			return false;
		hak_large_hdr_init(h, want, base, len, hak_large_site(h), -1,
				   hak_large_flags(h) & ~(HAK_LARGE_F_ZERO | HAK_LARGE_F_PROBE));
		return true;
	}
	/* A guarded block moves: its guard page stays at its end. */
	if (!(hak_large_flags(h) & HAK_LARGE_F_MAPPED) || HAK_HARDEN_GUARD)
		return false;
	want = HAK_ALIGN_UP(off + size, page);
	if (want == len)
		return true;
	if (want < len) {
		if (hak_backend->release(base + want, len - want))
			return false;
		/* Windows the mapping no longer reaches into are forgotten
		 * (the others' second levels exist: this cannot fail). */
		hak_mapping_own(p, base, len, false);
		hak_mapping_own(p, base, want, true);
	} else if (!hak_backend->extend || hak_backend->extend(base, len, want)) {
		return false;
	} else if (hak_mapping_own(p, base, want, true)) {
		hak_backend->release(base + len, want - len);
		return false;
	}
	hak_gauge_add(HAK_GAUGE_MAPPED, (long)want - (long)len);
	hak_gauge_add(HAK_GAUGE_COMMITTED, (long)want - (long)len);
	hak_large_hdr_init(h, want - off, base, want, hak_large_site(h), -1,
			   hak_large_flags(h) & ~HAK_LARGE_F_ZERO);
	return true;
}

/*
 * Move a growing block whose neighbours are taken without copying it: the
 * backend moves its pages (mremap) into a new run of the page heap, or
 * into a new mapping, whichever home the new size has.  A mapped block
 * moves with its header, to the same offset in the new mapping; a page
 * heap block starts its run, so it moves to a mapping whose block starts
 * a window (the layout of blocks aligned to a superslab).  NULL (nothing
 * changed) where that cannot be done: the caller copies.
 */
void *hak_large_move(void *p, size_t size, const void *site)
{
	struct hak_large_hdr *h = hak_large_hdr_find(p), *nh;
	size_t page = hak_backend->page_size(), old_len = hak_large_len(h), len, off;
	uint32_t flags = hak_large_flags(h);
	enum hak_route route = large_route(size, 0);
	char *base = hak_large_base(h), *nbase, *block;
	const void *old_site = hak_large_site(h);
	uint64_t birth = hak_large_birth(h), now;
	size_t old_size = hak_large_size(h);
	void *q;

	if (!hak_backend->move || size > PTRDIFF_MAX - HAK_PH_UNIT || size <= old_size ||
	    HAK_HARDEN_GUARD || !(flags & (HAK_LARGE_F_PAGES | HAK_LARGE_F_MAPPED)))
		return NULL;
	off = (size_t)((char *)p - base);
	if ((flags & HAK_LARGE_F_PAGES) && route == HAK_ROUTE_HEAP) {
		size = HAK_ALIGN_UP(size, page);
		q = hak_ph_move(p, size, &nh);
		if (!q)
			return NULL;
		hak_large_hdr_init(nh, size, q, HAK_ALIGN_UP(size, HAK_PH_UNIT), site, -1,
				   HAK_LARGE_F_PAGES);
		h->magic = 0;
	} else if (route == HAK_ROUTE_MAP &&
		   ((flags & HAK_LARGE_F_PAGES) || off == 2 * HAK_LARGE_HDR_SIZE ||
		    (off == page && !((uintptr_t)p & HAK_SS_MASK)))) {
		bool pages = flags & HAK_LARGE_F_PAGES;
		size_t from_len = pages ? hak_ph_run_len(p) : old_len;

		block = map_reserve(size, off == 2 * HAK_LARGE_HDR_SIZE ? 0 : HAK_SS_SIZE, &nbase,
				    &len);
		if (!block)
			return NULL;
		/* From the run's start to the block, or from mapping to mapping. */
		if (from_len > len - (size_t)((pages ? block : nbase) - nbase) ||
		    hak_backend->move(pages ? p : base, from_len, pages ? block : nbase)) {
			hak_mapping_own(block, nbase, len, false);
			hak_gauge_add(HAK_GAUGE_MAPPED, -(long)len);
			hak_gauge_add(HAK_GAUGE_COMMITTED, -(long)len);
			hak_backend->release(nbase, len);
			return NULL;
		}
		if (pages) {
			h->magic = 0;
			hak_ph_free_moved(p);
		} else {
			hak_large_release(h);
		}
		hak_large_hdr_init(hak_large_hdr_of(block), map_usable(block, nbase, len), nbase, len,
				   site, -1, HAK_LARGE_F_MAPPED);
		q = block;
	} else {
		return NULL;
	}
	hak_stat_add(HAK_STAT_REALLOC_REMAPPED, 1);
	/* For the policy, a block freed and another allocated. */
	now = hak_now_ns();
	large_event((struct hak_pending){ .type = HAK_EV_FREE, .site_addr = old_site,
					  .size = old_size,
					  .route = (uint8_t)(flags & HAK_LARGE_F_PAGES ? HAK_ROUTE_HEAP
										     : HAK_ROUTE_MAP),
					  .now_ns = now, .lifetime_ms = now / 1000000 >= birth ?
					  now / 1000000 - birth : 0 });
	large_event((struct hak_pending){ .type = HAK_EV_ALLOC, .site_addr = site, .size = size,
					  .route = (uint8_t)route, .now_ns = now });
	return q;
}

/* What a pointer that starts no block of ours is told: a header that fails validation. */
struct hak_large_hdr hak_no_block;

/*
 * The half of hak_ptr_kind_of() (large.h) for a pointer in no superslab:
 * a page heap block (its header in the page heap's own metadata), a
 * mapped block (the owner map names its header), or none of hakmem's.
 */
enum hak_ptr_kind hak_ptr_kind_mapped(const void *p, struct hak_large_hdr **hdr)
{
	void *owner;

	switch (hak_pagemap_get(p, &owner)) {
	case HAK_WIN_REGION:
		*hdr = hak_ph_header(p);
		if (!*hdr)
			*hdr = &hak_no_block;
		return HAK_PTR_LARGE;
	case HAK_WIN_MAPPED:
		if (p == hak_large_block_of(owner))
			*hdr = owner;
		return HAK_PTR_LARGE;
	default:
		return HAK_PTR_NONE;
	}
}
