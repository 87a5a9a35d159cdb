// SPDX-License-Identifier: MIT
/*
 * core/harden.c - the lower half of the hardened build (see harden.h):
 * the registry of mapped windows, poisoning of fresh blocks, reports.
 * Used by the floors from the pool up; the per-block checks, which must
 * tell small blocks from large ones, are blockcheck.c's.  Nothing here
 * allocates, so a report works even when the heap is what is broken.
 */
#include <stdatomic.h>
#include <string.h>

#include "harden.h"
#include "backend.h"

uintptr_t hak_harden_key __hak_read_mostly;

#if HAK_HARDEN_FREE_CHECK
/* User space is below 2^47 on x86-64 and arm64 with 4-level tables. */
#define REGION_SPACE_SHIFT 47
#define REGION_BITS ((size_t)1 << (REGION_SPACE_SHIFT - HAK_SS_SHIFT))

static _Atomic uint64_t *region_map __hak_read_mostly;

void hak_region_add(const void *p)
{
	size_t w = (uintptr_t)p >> HAK_SS_SHIFT;

	if (region_map && w < REGION_BITS)
		atomic_fetch_or_explicit(&region_map[w / 64], 1ULL << (w % 64),
					 memory_order_release);
}

void hak_region_del(const void *p)
{
	size_t w = (uintptr_t)p >> HAK_SS_SHIFT;

	if (region_map && w < REGION_BITS)
		atomic_fetch_and_explicit(&region_map[w / 64], ~(1ULL << (w % 64)),
					  memory_order_release);
}

/*
 * Without a map (it could not be reserved) or above the space it covers,
 * every window counts as mapped: the check then falls back on the magic
 * numbers alone, which reads the window and may fault on a foreign one.
 */
bool hak_region_has(const void *p)
{
	size_t w = (uintptr_t)p >> HAK_SS_SHIFT;

	if (!region_map || w >= REGION_BITS)
		return true;
	return atomic_load_explicit(&region_map[w / 64], memory_order_acquire) &
	       (1ULL << (w % 64));
}
#endif

void hak_harden_init(uint64_t seed)
{
	hak_harden_key = (seed * 0xbf58476d1ce4e5b9ULL) ^ (seed >> 31);
#if HAK_HARDEN_FREE_CHECK
	/* 8 MiB of address space with 2 MiB superslabs; pages are touched
	 * only where hakmem maps memory. */
	region_map = hak_backend->reserve(REGION_BITS / 8, hak_backend->page_size());
	if (!region_map)
		hak_warn("hardening: no memory for the region map; frees of foreign "
			 "pointers may fault instead of being reported");
#endif
}

void hak_misuse(const char *fn, const char *what, const void *p, const void *site)
{
	if (site)
		hak_panic("%s(): %s %p, caller %p", fn, what, p, site);
	hak_panic("%s(): %s %p", fn, what, p);
}

void hak_freelist_corrupt(const void *slot)
{
	hak_misuse("malloc", "free list corrupted (a freed block was written to) at",
		   slot, NULL);
}

void hak_poison_fresh(void *p, size_t size)
{
	/* A 16-byte block is all link and mark (and canary). */
	if (size > 16 + HAK_CANARY_SIZE)
		memset((char *)p + 16, HAK_POISON_BYTE, hak_poison_end(size) - 16);
}
