// SPDX-License-Identifier: MIT
/*
 * core/bigcache.c - freed large blocks kept for reuse, keyed by call site
 * and size class.
 *
 * Reusing a mapped block saves the map/unmap system calls and, above all,
 * the page faults of touching fresh memory again: the case where glibc and
 * tcmalloc beat mimalloc by 6-9x on large blocks.  A block is cached under
 * the smallest class that holds it and was mapped at that class's full
 * size, so any request up to the class size can take it.  Each (site,
 * class) slot holds up to bigcache.per_class blocks; the whole cache holds
 * at most bigcache.max_bytes, evicting the oldest block first.  Which
 * blocks enter and how fast they leave is the policy's call (admit,
 * purge); this file is only the mechanism.
 *
 * Two levels.  The shared level is the table above, under policy_lock.
 * In front of it each thread keeps HAK_BC_LOCAL blocks it freed itself
 * (struct hak_bc_local in its heap): the thread takes one back without
 * the lock when the last request from that call site was routed to the
 * BigCache in the same class under the same class boundaries (the core
 * publishes that per site, under the lock, as site_hint), and reports
 * the hit to the policy later, in a batch, under the lock.  A block in a
 * local slot is owned by whoever takes it out with an atomic exchange:
 * its thread, or a purge on any thread (so an idle thread's blocks still
 * go back to the OS), or the thread's exit, which moves them to the
 * shared level.
 *
 * Except hak_bc_local_get() and the purge's exchange, everything here is
 * called with policy_lock held (policy.c).  Metadata comes from the
 * backend once, at init: nothing here calls malloc.
 */
#include <string.h>

#include "policy.h"
#include "options.h"
#include "large_header.h"
#include "backend.h"
#include "stats.h"
#include "heap.h"

struct bc_entry {
	void *block;
	uint64_t stamp_ms;
};

static struct bc_entry *slots;	/* [site][class][per_class] */
static unsigned *counts;	/* [site][class] */
static unsigned nsites, per_class;
static size_t classes[HAK_PARAM_LIST_MAX];
static unsigned nclasses;
static size_t cached_bytes __hak_cacheline_aligned;
static _Atomic uint32_t bc_gen;		/* bumped when the classes move */
/* Per site: (generation << 8 | class + 1) of its last routed request if it
 * went to the BigCache, else 0.  Written under the lock, read without. */
static _Atomic uint32_t site_hint[CONFIG_HAKMEM_SITES];

/* Local hits take blocks out without the lock: an atomic add. */
static void bc_account(long delta)
{
	__atomic_fetch_add(&cached_bytes, (size_t)delta, __ATOMIC_RELAXED);
}

static struct bc_entry *slot(unsigned site, unsigned cls)
{
	return &slots[((size_t)site * HAK_PARAM_LIST_MAX + cls) * per_class];
}

static unsigned *count(unsigned site, unsigned cls)
{
	return &counts[(size_t)site * HAK_PARAM_LIST_MAX + cls];
}

void hak_bc_init(void)
{
	size_t n;

	nsites = hak_opts.cache_sites;
	per_class = hak_opts.cache_per_class;
	memcpy(classes, hak_opts.cache_classes, sizeof(classes));
	nclasses = hak_opts.ncache_classes;
	if (!per_class)
		return;
	n = (size_t)nsites * HAK_PARAM_LIST_MAX;
	slots = hak_backend->reserve(HAK_ALIGN_UP(n * per_class * sizeof(*slots) +
						  n * sizeof(*counts), 4096), 0);
	if (!slots) {
		hak_warn("cannot allocate the BigCache's table; caching is off");
		per_class = 0;
		return;
	}
	counts = (unsigned *)(slots + n * per_class);
}

int hak_bc_class_of(size_t size)
{
	for (unsigned c = 0; c < nclasses; c++)
		if (size <= classes[c])
			return (int)c;
	return -1;
}

size_t hak_bc_class_size(unsigned cls)
{
	return classes[cls];
}

/* Read without the lock too (as a hint), hence atomic. */
size_t hak_bc_cached_bytes(void)
{
	return __atomic_load_n(&cached_bytes, __ATOMIC_RELAXED);
}

void *hak_bc_get(unsigned site, unsigned cls)
{
	unsigned *n;
	void *b;

	if (!per_class || site >= nsites || cls >= nclasses)
		return NULL;
	n = count(site, cls);
	if (!*n)
		return NULL;
	/* Newest first: its pages are the likeliest to be in cache. */
	b = slot(site, cls)[--*n].block;
	bc_account(-(long)hak_large_size(hak_large_hdr_of(b)));
	return b;
}

/* Remove entry @i of (site, cls), keeping the slot's age order. */
static void *slot_take(unsigned site, unsigned cls, unsigned i)
{
	struct bc_entry *e = slot(site, cls);
	unsigned *n = count(site, cls);
	void *b = e[i].block;

	memmove(&e[i], &e[i + 1], (*n - i - 1) * sizeof(*e));
	--*n;
	bc_account(-(long)hak_large_size(hak_large_hdr_of(b)));
	return b;
}

/* The oldest entry of the whole cache, or false when empty. */
static bool find_oldest(unsigned *site, unsigned *cls)
{
	uint64_t best = UINT64_MAX;
	bool found = false;

	for (unsigned s = 0; s < nsites; s++) {
		for (unsigned c = 0; c < nclasses; c++) {
			if (*count(s, c) && slot(s, c)[0].stamp_ms < best) {
				best = slot(s, c)[0].stamp_ms;
				*site = s;
				*cls = c;
				found = true;
			}
		}
	}
	return found;
}

uint64_t hak_bc_oldest_ms(void)
{
	unsigned s, c;

	return find_oldest(&s, &c) ? slot(s, c)[0].stamp_ms : UINT64_MAX;
}

size_t hak_bc_release_oldest(size_t bytes, unsigned max_blocks)
{
	size_t freed = 0;
	unsigned s, c;

	while (freed < bytes && max_blocks-- && find_oldest(&s, &c)) {
		void *b = slot_take(s, c, 0);

		freed += hak_large_size(hak_large_hdr_of(b));
		hak_stat_add(HAK_STAT_BC_EVICT, 1);
		hak_large_release(b);
	}
	return freed;
}

/* Take idle blocks out of every thread's local slots and release them. */
static size_t local_release_aged(uint64_t before_ms, unsigned *max_blocks)
{
	size_t freed = 0;

	for (struct hak_heap *h = hak_heaps_first(); h && *max_blocks; h = h->all_next) {
		for (unsigned i = 0; i < HAK_BC_LOCAL && *max_blocks; i++) {
			struct hak_bc_local *e = &h->bcl[i];
			void *b;

			if (!atomic_load_explicit(&e->block, memory_order_relaxed) ||
			    atomic_load_explicit(&e->stamp_ms, memory_order_relaxed) >= before_ms)
				continue;
			b = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);
			if (!b)
				continue;
			size_t size = hak_large_size(hak_large_hdr_of(b));

			bc_account(-(long)size);
			freed += size;
			hak_large_release(b);
			--*max_blocks;
		}
	}
	return freed;
}

size_t hak_bc_release_aged(uint64_t before_ms, unsigned max_blocks)
{
	size_t freed = local_release_aged(before_ms, &max_blocks);
	unsigned s, c;

	while (max_blocks-- && find_oldest(&s, &c) && slot(s, c)[0].stamp_ms < before_ms) {
		void *b = slot_take(s, c, 0);

		freed += hak_large_size(hak_large_hdr_of(b));
		hak_large_release(b);
	}
	return freed;
}

bool hak_bc_put(void *block, unsigned site, unsigned cls, uint64_t now_ms)
{
	size_t size = hak_large_size(hak_large_hdr_of(block));
	unsigned *n;

	if (!per_class || site >= nsites || cls >= nclasses || size > hak_opts.cache_max_bytes)
		return false;
	n = count(site, cls);
	if (*n == per_class) {
		hak_stat_add(HAK_STAT_BC_EVICT, 1);
		hak_large_release(slot_take(site, cls, 0));
	}
	if (hak_bc_cached_bytes() + size > hak_opts.cache_max_bytes)
		hak_bc_release_oldest(hak_bc_cached_bytes() + size - hak_opts.cache_max_bytes,
				      UINT32_MAX);
	hak_large_set_cached(hak_large_hdr_of(block));
	slot(site, cls)[*n] = (struct bc_entry){ block, now_ms };
	++*n;
	bc_account((long)size);
	return true;
}

/*
 * New class boundaries.  Each cached block moves to the largest new class
 * it can still serve (class size <= its own size), oldest first so the
 * slots keep their age order; a block that fits no class, or finds its
 * new slot full, is released.
 */
void hak_bc_set_classes(const size_t *sizes, unsigned n)
{
	unsigned old_n = nclasses;

	memcpy(classes, sizes, n * sizeof(*sizes));
	nclasses = n;
	atomic_fetch_add_explicit(&bc_gen, 1, memory_order_release);
	if (!per_class)
		return;
	for (unsigned s = 0; s < nsites; s++) {
		struct bc_entry moved[HAK_PARAM_LIST_MAX * 64];
		unsigned nmoved = 0;

		for (unsigned c = 0; c < old_n; c++) {
			unsigned *cnt = count(s, c);

			for (unsigned i = 0; i < *cnt && nmoved < sizeof(moved) / sizeof(moved[0]); i++)
				moved[nmoved++] = slot(s, c)[i];
			*cnt = 0;
		}
		/* Oldest first, so each slot ends up in age order again. */
		for (unsigned i = 1; i < nmoved; i++) {
			struct bc_entry e = moved[i];
			unsigned j = i;

			for (; j && moved[j - 1].stamp_ms > e.stamp_ms; j--)
				moved[j] = moved[j - 1];
			moved[j] = e;
		}
		for (unsigned i = 0; i < nmoved; i++) {
			size_t size = hak_large_size(hak_large_hdr_of(moved[i].block));
			int c = -1;

			for (unsigned k = 0; k < nclasses; k++)
				if (classes[k] <= size)
					c = (int)k;
			if (c >= 0 && *count(s, (unsigned)c) < per_class) {
				slot(s, (unsigned)c)[(*count(s, (unsigned)c))++] = moved[i];
				continue;
			}
			bc_account(-(long)size);
			hak_stat_add(HAK_STAT_BC_EVICT, 1);
			hak_large_release(moved[i].block);
		}
	}
}

/* ---- the thread-local first level ---- */

static uint32_t hint_of(uint32_t gen, unsigned cls)
{
	return gen << 8 | (cls + 1);
}

void hak_bc_hint(unsigned site, int cls)
{
	if (site < CONFIG_HAKMEM_SITES)
		atomic_store_explicit(&site_hint[site],
				      cls < 0 ? 0 : hint_of(atomic_load(&bc_gen), (unsigned)cls),
				      memory_order_relaxed);
}

/*
 * A local block for @size from @site_addr, or NULL.  @report: log the hit
 * for the policy (lock-free callers); a caller holding the policy lock
 * reports it itself.
 */
void *hak_bc_local_get(struct hak_heap *h, size_t size, const void *site_addr, bool report)
{
	uint32_t gen = atomic_load_explicit(&bc_gen, memory_order_acquire);

	if (report && h->npend == HAK_PENDING)
		return NULL;	/* report the hits so far first, under the lock */
	for (unsigned i = 0; i < HAK_BC_LOCAL; i++) {
		struct hak_bc_local *e = &h->bcl[i];
		void *b;

		if (!atomic_load_explicit(&e->block, memory_order_relaxed) ||
		    e->site_addr != site_addr || size <= e->lo || size > e->hi || e->gen != gen ||
		    atomic_load_explicit(&site_hint[e->site->index], memory_order_relaxed) !=
			    hint_of(gen, e->cls))
			continue;
		b = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);
		if (!b)
			continue;	/* a purge took it */
		bc_account(-(long)hak_large_size(hak_large_hdr_of(b)));
		if (report)
			h->pend[h->npend++] = (struct hak_pending){
				.type = HAK_PEND_HIT, .site = e->site, .size = size };
		return b;
	}
	return NULL;
}

/*
 * Keep an admitted block: in a local slot of the freeing thread @h when it
 * has a heap (the oldest local block moves to the shared level to make
 * room), else in the shared level.
 */
bool hak_bc_keep(struct hak_heap *h, void *block, struct hak_site *site, unsigned cls,
		 uint64_t now_ms)
{
	struct hak_bc_local *e = NULL;
	size_t size = hak_large_size(hak_large_hdr_of(block));

	if (!per_class || !h || h == &hak_heap_empty || cls >= nclasses ||
	    size > hak_opts.cache_max_bytes)
		return hak_bc_put(block, site->index, cls, now_ms);
	for (unsigned i = 0; i < HAK_BC_LOCAL; i++) {
		struct hak_bc_local *c = &h->bcl[i];

		if (!atomic_load_explicit(&c->block, memory_order_relaxed)) {
			e = c;
			break;
		}
		if (!e || atomic_load_explicit(&c->stamp_ms, memory_order_relaxed) <
			      atomic_load_explicit(&e->stamp_ms, memory_order_relaxed))
			e = c;
	}

	void *old = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);

	if (old) {
		bc_account(-(long)hak_large_size(hak_large_hdr_of(old)));
		if (!hak_bc_put(old, e->site->index, e->cls, atomic_load(&e->stamp_ms)))
			hak_large_release(old);
	}
	if (hak_bc_cached_bytes() + size > hak_opts.cache_max_bytes)
		hak_bc_release_oldest(hak_bc_cached_bytes() + size - hak_opts.cache_max_bytes,
				      UINT32_MAX);
	e->site_addr = site->addr;
	e->site = site;
	e->lo = cls ? classes[cls - 1] : 0;
	e->hi = classes[cls];
	e->cls = cls;
	e->gen = atomic_load_explicit(&bc_gen, memory_order_relaxed);
	atomic_store_explicit(&e->stamp_ms, now_ms, memory_order_relaxed);
	hak_large_set_cached(hak_large_hdr_of(block));
	bc_account((long)size);
	atomic_store_explicit(&e->block, block, memory_order_release);
	return true;
}

/* A thread exits: its local blocks move to the shared level. */
void hak_bc_local_drain(struct hak_heap *h)
{
	for (unsigned i = 0; i < HAK_BC_LOCAL; i++) {
		struct hak_bc_local *e = &h->bcl[i];
		void *b = atomic_exchange_explicit(&e->block, NULL, memory_order_acquire);

		if (!b)
			continue;
		bc_account(-(long)hak_large_size(hak_large_hdr_of(b)));
		if (!hak_bc_put(b, e->site->index, e->cls, atomic_load(&e->stamp_ms)))
			hak_large_release(b);
	}
}
