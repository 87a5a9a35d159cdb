// SPDX-License-Identifier: MIT
/*
 * core/validate.c - consistency checks of slabs for the debug build.
 *
 * Called by the owning thread only, on slow paths.  A failed check stops
 * the program with a message naming the slab and the broken invariant:
 * in a debug build a corrupted heap must not run on.
 */
#include "validate.h"
#include "harden.h"

static void check_block(struct hak_slab *s, void *b, const char *what)
{
	char *start = hak_slab_start(s);
	char *p = b;

	if (p < start || p >= s->bump || (size_t)(p - start) % s->block_size)
		hak_panic("heap validation: %s %p is not a block of slab %p (class %u, size %u)",
			  what, b, (void *)s, s->cls, s->block_size);
}

void hak_validate_slab(struct hak_slab *s)
{
	uint32_t n = 0;

	for (void *b = s->free; b; b = hak_link_get(b)) {
		check_block(s, b, "free-list entry");
		if (++n > s->capacity)
			hak_panic("heap validation: free list of slab %p loops or overflows", (void *)s);
	}
	if (s->used + n > s->capacity)
		hak_panic("heap validation: slab %p counts %u used + %u free > capacity %u",
			  (void *)s, s->used, n, s->capacity);
}

void hak_validate_free(struct hak_slab *s, void *p)
{
	check_block(s, p, "freed pointer");
	for (void *b = s->free; b; b = hak_link_get(b))
		if (b == p)
			hak_panic("free(): double free of %p detected", p);
	if (s->used == 0)
		hak_panic("free(): %p freed into slab %p that has no blocks out", p, (void *)s);
}
