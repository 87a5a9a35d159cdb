/* SPDX-License-Identifier: MIT */
/*
 * core/large_header.h - the one layout of the large-block header.
 *
 * Every block above the small limit has this 64-byte header: right before
 * the block, or for a page heap block in the page heap's own metadata.
 * Nothing outside this file reads or writes its fields directly.
 *
 *   block - 64                                              block
 *   +-------+-------+-------+-------+-------+-----+-----+-------+-------+---
 *   | magic | size  | base  |  len  | site  | cls |flags| birth | check | data
 *   +-------+-------+-------+-------+-------+-----+-----+-------+-------+---
 *     8 B     8 B     8 B     8 B     8 B    4 B   4 B    8 B     8 B
 *
 *   magic  HAK_LARGE_MAGIC; not a canonical address, so it never equals a
 *          heap pointer (see below)
 *   size   usable bytes from the block to the end of its memory
 *   base   start of the memory the block lives in (mapping or span)
 *   len    length of that memory
 *   site   the call site that asked for it (__builtin_return_address)
 *   cls    BigCache class the block was mapped for, plus one; 0 when the
 *          block is never cached
 *   flags  HAK_LARGE_F_*: where the memory came from
 *   birth  allocation time in ms (block lifetimes for the policies)
 *   check  magic ^ size ^ base: catches a header overwritten by an overflow
 *          of the block before it
 *
 * Placement.  A mapped block's memory starts on a superslab boundary B;
 * the header sits at B + 64 and the block at B + 128, unless a larger
 * alignment pushes the block further in (the header always directly
 * precedes it); a block aligned to the superslab size itself sits at the
 * boundary, its header at the end of the page before.  The owner map
 * (pagemap.h) names the header for every window from the block's own to
 * the mapping's end, so a free finds the header without reading anything
 * of the window first, and a pointer that is not the block is refused.
 * A span block (carved from slabs of a superslab) has its header at the
 * start of its first slab (after a colour offset) and its slabs owned by
 * HAK_OWNER_SPAN.
 */
#ifndef HAK_LARGE_HEADER_H
#define HAK_LARGE_HEADER_H

#include "internal.h"

#define HAK_LARGE_MAGIC 0xa11ce0f1a46eb10cULL

#define HAK_LARGE_F_MAPPED 0x1u	/* own mapping: release on free */
#define HAK_LARGE_F_SPAN   0x2u	/* slabs of a superslab */
#define HAK_LARGE_F_REUSED 0x4u	/* handed out again from the BigCache: not zero */
#define HAK_LARGE_F_CACHED 0x8u	/* sitting in the BigCache: freeing it is a bug */
#define HAK_LARGE_F_PAGES  0x10u	/* a run of the page heap */
#define HAK_LARGE_F_ZERO   0x20u	/* its memory read as zero when it was handed out */
#define HAK_LARGE_F_PROBE  0x40u	/* zeroed by giving its pages back: see how much was touched */

struct hak_large_hdr {
	uint64_t magic;
	size_t size;
	void *base;
	size_t len;
	const void *site;
	uint32_t cls;
	uint32_t flags;
	uint64_t birth;
	uint64_t check;
};

_Static_assert(sizeof(struct hak_large_hdr) == 64, "large header is 64 bytes");

#define HAK_LARGE_HDR_SIZE sizeof(struct hak_large_hdr)

HAK_FASTPATH struct hak_large_hdr *hak_large_hdr_of(const void *block)
{
	return (struct hak_large_hdr *)((uintptr_t)block - HAK_LARGE_HDR_SIZE);
}

/* The block a header belongs to, when it sits right before it. */
HAK_FASTPATH void *hak_large_block_of(const struct hak_large_hdr *h)
{
	return (void *)(h + 1);
}

HAK_FASTPATH uint64_t hak_large_check(const struct hak_large_hdr *h)
{
	return h->magic ^ (uint64_t)h->size ^ (uint64_t)(uintptr_t)h->base;
}

HAK_FASTPATH void hak_large_hdr_init(struct hak_large_hdr *h, size_t size, void *base,
				      size_t len, const void *site, int cache_cls, uint32_t flags)
{
	h->magic = HAK_LARGE_MAGIC;
	h->size = size;
	h->base = base;
	h->len = len;
	h->site = site;
	h->cls = (uint32_t)(cache_cls + 1);
	h->flags = flags;
	h->birth = hak_now_ms();
	h->check = hak_large_check(h);
}

HAK_FASTPATH bool hak_large_hdr_valid(const struct hak_large_hdr *h)
{
	return h->magic == HAK_LARGE_MAGIC && h->check == hak_large_check(h);
}

HAK_FASTPATH size_t hak_large_size(const struct hak_large_hdr *h) { return h->size; }
HAK_FASTPATH void *hak_large_base(const struct hak_large_hdr *h) { return h->base; }
HAK_FASTPATH size_t hak_large_len(const struct hak_large_hdr *h) { return h->len; }
HAK_FASTPATH const void *hak_large_site(const struct hak_large_hdr *h) { return h->site; }
HAK_FASTPATH uint32_t hak_large_flags(const struct hak_large_hdr *h) { return h->flags; }
HAK_FASTPATH uint64_t hak_large_birth(const struct hak_large_hdr *h) { return h->birth; }
/* BigCache class, or -1 when the block is not cacheable. */
HAK_FASTPATH int hak_large_class(const struct hak_large_hdr *h) { return (int)h->cls - 1; }

/* A cached block handed out again: new owner, new birth. */
HAK_FASTPATH void hak_large_hdr_reuse(struct hak_large_hdr *h, const void *site, uint64_t now_ms)
{
	h->site = site;
	h->birth = now_ms;
	h->flags = (h->flags & ~HAK_LARGE_F_CACHED) | HAK_LARGE_F_REUSED;
}

HAK_FASTPATH void hak_large_set_cached(struct hak_large_hdr *h)
{
	h->flags |= HAK_LARGE_F_CACHED;
}

HAK_FASTPATH void hak_large_set_probe(struct hak_large_hdr *h)
{
	h->flags |= HAK_LARGE_F_PROBE;
}

HAK_FASTPATH void hak_large_clear_probe(struct hak_large_hdr *h)
{
	if (h->flags & HAK_LARGE_F_PROBE)
		h->flags &= ~HAK_LARGE_F_PROBE;
}

#endif /* HAK_LARGE_HEADER_H */
