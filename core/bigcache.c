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
 * Called with policy_lock held (policy.c).  Metadata comes from the
 * backend once, at init: nothing here calls malloc.
 */
#include <string.h>

#include "policy.h"
#include "options.h"
#include "large_header.h"
#include "backend.h"
#include "stats.h"

struct bc_entry {
	void *block;
	uint64_t stamp_ms;
};

static struct bc_entry *slots;	/* [site][class][per_class] */
static unsigned *counts;	/* [site][class] */
static unsigned nsites, per_class;
static size_t classes[HAK_PARAM_LIST_MAX];
static unsigned nclasses;
static size_t cached_bytes;

/* Written under the policy lock; atomic so that unlocked readers are defined. */
static void bc_account(long delta)
{
	__atomic_store_n(&cached_bytes, cached_bytes + (size_t)delta, __ATOMIC_RELAXED);
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

size_t hak_bc_release_aged(uint64_t before_ms, unsigned max_blocks)
{
	size_t freed = 0;
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
	if (cached_bytes + size > hak_opts.cache_max_bytes)
		hak_bc_release_oldest(cached_bytes + size - hak_opts.cache_max_bytes, UINT32_MAX);
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
