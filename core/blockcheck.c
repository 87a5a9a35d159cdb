// SPDX-License-Identifier: MIT
/*
 * core/blockcheck.c - the hardened build's per-block checks (harden.h):
 * canaries and poison when a block goes out and comes back, double and
 * invalid frees.  They must tell small blocks from large ones, so they
 * sit above the large-block floor; the parts the lower floors use
 * (regions, poisoning fresh blocks, reports) stay in harden.c.  Nothing
 * here allocates, so a report works even when the heap is what is broken.
 */
#include <stdio.h>
#include <string.h>

#include "harden.h"
#include "heap.h"
#include "large.h"

static uint64_t canary_of(const void *p)
{
	return ((uint64_t)hak_harden_key ^ (uint64_t)(uintptr_t)p) * 0x9e3779b97f4a7c15ULL;
}

/* The block's whole usable size, canary included. */
static size_t block_size(void *p, struct hak_slab **slab)
{
	struct hak_large_hdr *lh;

	if (hak_ptr_kind(p, slab, &lh) == HAK_PTR_SMALL)
		return (*slab)->block_size;
	*slab = NULL;
	return hak_large_size(lh);
}

static bool poison_intact(const unsigned char *b, size_t size)
{
	const uint64_t pattern = 0x0101010101010101ULL * HAK_POISON_BYTE;
	size_t end = hak_poison_end(size), i = 16;

	/* Word by word: blocks and their sizes are multiples of 16. */
	for (; i + 8 <= end; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		if (w != pattern)
			return false;
	}
	for (; i < end; i++)
		if (b[i] != HAK_POISON_BYTE)
			return false;
	return true;
}

void *hak_harden_alloc(void *p, const void *site)
{
	struct hak_slab *s;
	size_t size;

	if (!p)
		return p;
	size = block_size(p, &s);
	if (HAK_HARDEN_POISON && s) {
		if (!poison_intact(p, size))
			hak_misuse("malloc", "write after free detected in block", p, site);
		/* A live block must never look freed (see check_small). */
		if (size > 16 + HAK_CANARY_SIZE)
			((unsigned char *)p)[16] = 0;
	}
	if (HAK_HARDEN_CANARY)
		memcpy((char *)p + size - 8, &(uint64_t){ canary_of(p) }, 8);
	return p;
}

void hak_harden_resized(void *p)
{
	struct hak_slab *s;

	if (HAK_HARDEN_CANARY)
		memcpy((char *)p + block_size(p, &s) - 8, &(uint64_t){ canary_of(p) }, 8);
}

/* Is @p on the local free list of @s (which this thread owns)? */
static bool on_free_list(struct hak_slab *s, const void *p)
{
	uint32_t n = 0;

	for (void *b = s->free; b && n <= s->capacity; b = hak_link_get(b), n++)
		if (b == p)
			return true;
	return false;
}

static void check_small(void *p, struct hak_slab *s, const void *site)
{
	uintptr_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);

	if (HAK_HARDEN_FREE_CHECK) {
		if (owner == 0)
			hak_misuse("free", "invalid pointer (in no live slab)", p, site);
		if (!hak_slab_has_block(s, p))
			hak_misuse("free", "invalid pointer (inside a block, or misaligned)", p,
				   site);
	}
	/* A second free: the freed-block key is there and, when this thread
	 * owns the slab, the block is on its list; or the poison is intact. */
	if (((uintptr_t *)p)[1] == HAK_FREE_KEY) {
		bool mine = (owner & ~HAK_SLAB_F_MASK) == (uintptr_t)hak_heap_tls;

		if ((mine && on_free_list(s, p)) ||
		    (HAK_HARDEN_POISON && poison_intact(p, s->block_size)))
			hak_misuse("free", "double free of", p, site);
	}
	if (HAK_HARDEN_CANARY) {
		uint64_t c;

		memcpy(&c, (char *)p + s->block_size - 8, 8);
		if (c != canary_of(p))
			hak_misuse("free", "heap overflow: canary overwritten at the end of", p,
				   site);
	}
	if (HAK_HARDEN_POISON)
		hak_poison_fresh(p, s->block_size);
}

static void check_large(void *p, struct hak_large_hdr *lh, const void *site)
{
	if (HAK_HARDEN_FREE_CHECK) {
		if (((uintptr_t)p & 15) || !hak_large_hdr_valid(lh))
			hak_misuse("free", "invalid pointer (no valid block header)", p, site);
		if (hak_large_flags(lh) & HAK_LARGE_F_CACHED)
			hak_misuse("free", "double free of", p, site);
	}
	if (HAK_HARDEN_CANARY) {
		uint64_t c;

		memcpy(&c, (char *)p + hak_large_size(lh) - 8, 8);
		if (c != canary_of(p))
			hak_misuse("free", "heap overflow: canary overwritten at the end of", p,
				   site);
	}
}

void hak_harden_free(void *p, const void *site)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;

	if (!p)
		return;
	if (HAK_HARDEN_FREE_CHECK && ((uintptr_t)p & (HAK_MIN_ALIGN - 1)))
		hak_misuse("free", "invalid pointer (misaligned)", p, site);
	switch (hak_ptr_kind(p, &s, &lh)) {
	case HAK_PTR_SMALL:
		check_small(p, s, site);
		break;
	case HAK_PTR_LARGE:
		check_large(p, lh, site);
		break;
	case HAK_PTR_NONE:
		hak_foreign("free", p, site);
	}
}

/*
 * A free that states the block's size: checked against the block once the
 * pointer is known to be one of hakmem's blocks (a bad pointer is left to
 * hak_harden_free(), which reports it as such).  A small block from
 * hak_alloc(@size) (@exact) is of @size's class; any block holds @size.
 */
void hak_harden_sized(void *p, size_t size, bool exact, const char *fn, const void *site)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;
	size_t usable = 0;
	bool bad = false;
	char what[96];

	if ((uintptr_t)p & (HAK_MIN_ALIGN - 1))
		return;
	switch (hak_ptr_kind(p, &s, &lh)) {
	case HAK_PTR_NONE:
		return;
	case HAK_PTR_SMALL:
		if (!atomic_load_explicit(&s->owner, memory_order_acquire) ||
		    !hak_slab_has_block(s, p))
			return;
		usable = s->block_size - HAK_CANARY_SIZE;
		bad = size > usable ||
		      (exact && hak_class_of(size + HAK_CANARY_SIZE) != s->cls);
		break;
	case HAK_PTR_LARGE:
		if (!hak_large_hdr_valid(lh))
			return;
		usable = hak_large_size(lh) - HAK_CANARY_SIZE;
		bad = size > usable || (exact && size + HAK_CANARY_SIZE <= HAK_SMALL_MAX);
		break;
	}
	if (!bad)
		return;
	snprintf(what, sizeof(what), "size %zu given for a block of %zu usable bytes at",
		 size, usable);
	hak_misuse(fn, what, p, site);
}
