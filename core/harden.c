// SPDX-License-Identifier: MIT
/*
 * core/harden.c - the lower half of the hardened build (see harden.h):
 * poisoning of fresh blocks, reports.
 * Used by the floors from the pool up; the per-block checks, which must
 * tell small blocks from large ones, are blockcheck.c's.  Nothing here
 * allocates, so a report works even when the heap is what is broken.
 */
#include <string.h>

#include "harden.h"

uintptr_t hak_harden_key __hak_read_mostly;

void hak_harden_init(uint64_t seed)
{
	hak_harden_key = (seed * 0xbf58476d1ce4e5b9ULL) ^ (seed >> 31);
}

void hak_misuse(const char *fn, const char *what, const void *p, const void *site)
{
	if (site)
		hak_panic("%s(): %s %p, caller %p", fn, what, p, site);
	hak_panic("%s(): %s %p", fn, what, p);
}

void hak_foreign(const char *fn, const void *p, const void *site)
{
	if (site)
		hak_panic("%s(): invalid pointer %p (not from this allocator), caller %p", fn, p,
			  site);
	hak_panic("%s(): invalid pointer %p (not from this allocator)", fn, p);
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
