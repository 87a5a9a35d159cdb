/* SPDX-License-Identifier: MIT */
/*
 * core/superslab.h - superslabs and the slabs inside them.
 *
 * A superslab is a HAK_SS_SIZE region aligned to its own size.  Its first
 * page holds this header: the superslab's own fields, then one 64-byte
 * struct slab per slab.  Slab 0 starts its blocks after the header; every
 * other slab starts on its own slab boundary.
 *
 *   ss base                                                   ss base + SS_SIZE
 *   | ss hdr | slab meta[0..N) | slab 0 blocks | slab 1 | ... | slab N-1 |
 *
 * Any interior pointer finds its slab by masking and indexing:
 *   ss = p & ~HAK_SS_MASK;  slab = &ss->slabs[(p & HAK_SS_MASK) >> HAK_SLAB_SHIFT]
 * so small blocks carry no header.
 *
 * A slab serves one size class and belongs to one heap at a time.  Its
 * `owner` word is that heap's address, or'ed with HAK_SLAB_F_* bits for
 * unusual states, so the free fast path tells "mine and ordinary" with a
 * single compare.  Other values: 0 (slab is free in its superslab),
 * HAK_OWNER_ABANDONED (its thread exited; waiting for adoption),
 * HAK_OWNER_DETACHED (every block is out; the first thread that frees one
 * takes the slab),
 * HAK_OWNER_SPAN (part of a large block carved from the superslab) and
 * HAK_OWNER_TAIL (see runs below).
 *
 * Runs.  The slabs of medium classes span several slab-sized units (the
 * class's run length, sizeclass.h) so that each holds a few blocks:
 *
 *   | head: the slab's metadata, span = n | tail: span = 1 | tail: span = 2 | ...
 *
 * Blocks are laid out from the head's start over the whole run.  The
 * head's `span` is the run length (0 reads as 1); every other unit of
 * the run is a tail whose owner is HAK_OWNER_TAIL and whose `span` is its
 * distance back to the head.  A block starting in a tail fails the free
 * fast path's compare and is redirected to the head on the slow path
 * (hak_ptr_kind), so the fast path stays one compare.  Large spans are
 * runs too (every unit HAK_OWNER_SPAN, the head's span the length).
 *
 * Who touches what:
 *   owner thread only: free, used, bump, next/prev, cls, capacity
 *   any thread:        remote (atomic push), owner (read)
 *   pool lock:         superslab fields, slab state while free (the lock
 *                      of the pool shard the superslab belongs to)
 */
#ifndef HAK_SUPERSLAB_H
#define HAK_SUPERSLAB_H

#include <stdatomic.h>
#include "internal.h"
#include "pagemap.h"
#include "sizeclass.h"

#define HAK_SS_MAGIC 0x534c53534b4148ULL /* "HAKSSLS" */

#define HAK_SLAB_F_DEBUG   0x2UL /* every free takes the checked slow path */
#define HAK_SLAB_F_MASK    0x3fUL
#define HAK_OWNER_ABANDONED 0x40UL
#define HAK_OWNER_SPAN      0x80UL
#define HAK_OWNER_TAIL      0xc0UL
#define HAK_OWNER_DETACHED  0x100UL

struct hak_heap;

struct hak_slab {
	_Atomic uintptr_t owner;	/* heap | flags; see above */
	void *free;			/* local free list */
	uint32_t used;			/* blocks out, as the owner counts them */
	uint32_t capacity;		/* blocks in the slab */
	uint32_t block_size;
	uint8_t cls;
	uint8_t span;			/* head: units in the run; tail: distance to head */
	uint16_t align_mask;		/* every block's start is aligned to align_mask + 1 */
	union {
		char *bump;		/* in use: first never-used block */
		uint64_t freed_ms;	/* free in the pool: when it came back */
	};
	_Atomic uintptr_t remote;	/* blocks freed by other threads: see below */
	struct hak_slab *next, *prev;	/* owner's list, or the abandoned list */
};

#define HAK_SLAB_META_SHIFT 6
_Static_assert(sizeof(struct hak_slab) == 1 << HAK_SLAB_META_SHIFT,
	       "slab metadata is one cache line");

/*
 * The remote list's head word: the last block pushed in its low
 * HAK_REMOTE_SHIFT bits, how many blocks the list holds in the 15 bits
 * above, and HAK_REMOTE_DETACHED on top while the slab has no owner (heap.c).
 * The owner takes the whole list with one exchange and knows its length
 * without walking it: a walk is a chain of cache misses, one per block,
 * on lines another core just wrote.  Blocks in a list link to plain
 * addresses.  Superslabs lie below 2^HAK_REMOTE_SHIFT (superslab.c
 * refuses a reservation above).
 */
#define HAK_REMOTE_SHIFT 48
#define HAK_REMOTE_DETACHED ((uintptr_t)1 << 63)
#define HAK_REMOTE_PTR(w) ((void *)((w) & (((uintptr_t)1 << HAK_REMOTE_SHIFT) - 1)))
#define HAK_REMOTE_COUNT(w) ((uint32_t)((w) >> HAK_REMOTE_SHIFT) & 0x7fff)
#define HAK_REMOTE_WORD(p, n) ((uintptr_t)(p) | (uintptr_t)(n) << HAK_REMOTE_SHIFT)
_Static_assert(HAK_SLAB_SIZE / 16 <= 0x7fff, "a slab's block count fits the remote word");
_Static_assert(HAK_NCLASS_MAX <= 255 && HAK_SLABS_PER_SS <= 255, "class and span fit a byte");

struct hak_superslab {
	uint64_t magic;
	struct hak_superslab *next, *prev; /* pool list */
	uint64_t free_mask;		/* bit i: slab i is free */
	uint64_t dirty_mask;		/* free slabs whose pages are still committed */
	uint32_t shard;			/* the pool shard it belongs to, for life */
	uint32_t pad0;
	uint32_t nfree;
	uint32_t in_pool;
	uint64_t pad;
	struct hak_slab slabs[HAK_SLABS_PER_SS];
};

/* Bytes of slab 0 taken by the header, rounded to a 4 KiB boundary. */
#define HAK_SS_HDR_SIZE HAK_ALIGN_UP(sizeof(struct hak_superslab), 4096)
_Static_assert(HAK_SS_HDR_SIZE <= HAK_SLAB_SIZE / 2,
	       "superslab header must leave room in slab 0: raise HAKMEM_SLAB_SHIFT");
_Static_assert(offsetof(struct hak_superslab, slabs) == 64,
	       "slab metadata starts at offset 64 (the large-block header relies on it)");

/*
 * The slab metadata of @p through the superslab map (pagemap.h): a slab of
 * the superslab that holds @p, or of the stand-in, whose slabs nobody
 * owns, when no superslab does.  Spelled so that the compiler computes the
 * slab's offset from @p in three instructions.
 */
HAK_FASTPATH struct hak_slab *hak_slab_lookup(const void *p)
{
	return (struct hak_slab *)hak_ss_lookup_off(p, offsetof(struct hak_superslab, slabs) +
				    (((uintptr_t)p >> (HAK_SLAB_SHIFT - HAK_SLAB_META_SHIFT)) &
				     ((HAK_SLABS_PER_SS - 1) << HAK_SLAB_META_SHIFT)));
}

_Static_assert(offsetof(struct hak_superslab, slabs) +
	       HAK_SLABS_PER_SS * sizeof(struct hak_slab) <= HAK_SS_STANDIN_SIZE,
	       "the stand-in covers every slab's metadata");

HAK_FASTPATH struct hak_superslab *hak_ss_of(const void *p)
{
	return (struct hak_superslab *)((uintptr_t)p & ~(uintptr_t)HAK_SS_MASK);
}

HAK_FASTPATH struct hak_slab *hak_slab_of(const void *p)
{
	uintptr_t off = (uintptr_t)p & HAK_SS_MASK;

	return &hak_ss_of(p)->slabs[off >> HAK_SLAB_SHIFT];
}

HAK_FASTPATH unsigned hak_slab_index(const struct hak_slab *s)
{
	return (unsigned)((((uintptr_t)s & HAK_SS_MASK) - 64) / sizeof(struct hak_slab));
}

/* First and one-past-last byte of the blocks area of a slab. */
HAK_FASTPATH char *hak_slab_start(struct hak_slab *s)
{
	struct hak_superslab *ss = hak_ss_of(s);
	unsigned i = hak_slab_index(s);

	return (char *)ss + (i ? (size_t)i << HAK_SLAB_SHIFT : HAK_SS_HDR_SIZE);
}

/* Units in the run @s heads. */
HAK_FASTPATH unsigned hak_slab_units(const struct hak_slab *s)
{
	return s->span > 1 ? s->span : 1;
}

HAK_FASTPATH char *hak_slab_end(struct hak_slab *s)
{
	return (char *)hak_ss_of(s) +
	       ((size_t)(hak_slab_index(s) + hak_slab_units(s)) << HAK_SLAB_SHIFT);
}

/*
 * Pool: runs of free units from superslabs (superslab.c, under the pool
 * lock).  A run of one unit may be any slab; a longer run never starts at
 * slab 0, whose start is the header.  hak_pool_take_slab() returns the
 * head with span set to @units and the units' owners 0; the caller makes
 * them a slab (heap.c); @shard is the pool shard of the caller's heap,
 * tried first.  hak_pool_take_span() makes them a large span;
 * with @room (a block that is growing) it is placed where @room more
 * slabs are free after it, in a fresh superslab when no other has room.  hak_pool_put_slab() gives back the whole run
 * its head describes.
 */
/*
 * Whether @p has the alignment every block of @s has: the fast paths'
 * test for a pointer into a block (a 64-byte block starts at a multiple
 * of 64; a 48-byte one only at a multiple of 16).
 */
HAK_FASTPATH bool hak_slab_aligned(const struct hak_slab *s, const void *p)
{
	return !((uint16_t)(uintptr_t)p & s->align_mask);
}

/*
 * Whether @p is where a block of @s starts (handed out or not): in the
 * slab's run, a whole number of blocks from its start.  For slow paths:
 * it reads only fields that stay put while the slab has blocks out.
 */
static inline bool hak_slab_has_block(const struct hak_slab *s, const void *p)
{
	/* The slab's start, as an offset into the superslab, from its
	 * metadata's place (hak_slab_start, without the division). */
	uintptr_t meta = ((uintptr_t)s & HAK_SS_MASK) - offsetof(struct hak_superslab, slabs);
	uintptr_t start = meta ? meta << (HAK_SLAB_SHIFT - HAK_SLAB_META_SHIFT) : HAK_SS_HDR_SIZE;
	/* Below the start, the offset wraps: far above any block's. */
	uintptr_t off = ((uintptr_t)p & HAK_SS_MASK) - start;
	size_t i;

	if (off >= HAK_SS_SIZE)
		return false;
	i = hak_class_index(s->cls, off);
	return i < s->capacity && i * s->block_size == off;
}

struct hak_slab *hak_pool_take_slab(unsigned units, unsigned shard);
void hak_pool_put_slab(struct hak_slab *s);
struct hak_slab *hak_pool_take_span(unsigned units, unsigned room, unsigned shard);
bool hak_pool_resize_span(struct hak_slab *s, unsigned units);
/* Give back free slabs (all of them with @force): the bytes given back. */
size_t hak_pool_purge(bool force);
/* Bytes of free slabs still committed (for mallinfo; takes each shard's lock). */
size_t hak_pool_dirty_bytes(void);
void hak_pool_tick(void);
void hak_pool_lock(void);
void hak_pool_unlock(void);
void hak_pool_reset_after_fork(void);

/* Pool shards: see superslab.c.  Each heap draws from one of them. */
#define HAK_POOL_SHARDS 8

/* Longest large span: half a superslab, and a slab for its header. */
#define HAK_SPAN_MAX_SLABS (HAK_SLABS_PER_SS / 2 + 1)

#endif /* HAK_SUPERSLAB_H */
