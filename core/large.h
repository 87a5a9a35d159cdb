/* SPDX-License-Identifier: MIT */
/*
 * core/large.h - blocks above the small limit, and telling the two kinds
 * of block apart on the slow paths.
 */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include "superslab.h"
#include "large_header.h"

enum hak_ptr_kind {
	HAK_PTR_SMALL,
	HAK_PTR_LARGE,	/* *hdr names the header to validate */
	HAK_PTR_NONE,	/* no memory of hakmem's: never handed out, or given back */
};

/* What a pointer that starts no block of ours is told: a header that fails validation. */
extern struct hak_large_hdr hak_no_block;
/* hak_ptr_kind_of() for a pointer in no superslab (large.c). */
enum hak_ptr_kind hak_ptr_kind_mapped(const void *p, struct hak_large_hdr **hdr);

/*
 * Sort out @p, whose slab metadata hak_slab_lookup(@p) gave as @s, from
 * the two maps (pagemap.h) before anything of it is read: a superslab's
 * slab (*@slab), a span (its header right before it, in the same
 * superslab), a page heap block or a mapped block (hak_ptr_kind_mapped),
 * or none of hakmem's.  A large pointer that starts no live block gets
 * &hak_no_block.  Inline: realloc and the slow free ask it of every
 * pointer, and a superslab's is a few loads.
 */
static inline enum hak_ptr_kind hak_ptr_kind_of(const void *p, struct hak_slab *s,
						struct hak_slab **slab,
						struct hak_large_hdr **hdr)
{
	*slab = NULL;
	*hdr = &hak_no_block;
	if (hak_likely(!hak_is_standin(s))) {
		uintptr_t o = atomic_load_explicit(&s->owner, memory_order_relaxed);

		if (o != HAK_OWNER_SPAN) {
			/* A block in a tail unit belongs to the run's head. */
			*slab = o == HAK_OWNER_TAIL ? s - s->span : s;
			return HAK_PTR_SMALL;
		}
		if (((uintptr_t)p & HAK_SS_MASK) >= HAK_SS_HDR_SIZE + HAK_LARGE_HDR_SIZE)
			*hdr = hak_large_hdr_of(p);
		return HAK_PTR_LARGE;
	}
	return hak_ptr_kind_mapped(p, hdr);
}

/* The same for any pointer. */
static inline enum hak_ptr_kind hak_ptr_kind(const void *p, struct hak_slab **slab,
					     struct hak_large_hdr **hdr)
{
	/* Above user space, the map has no word: the stand-in's slab 0. */
	struct hak_slab *s = (uintptr_t)p >> HAK_USER_BITS ?
			     (struct hak_slab *)(hak_ss_map.standin +
						 offsetof(struct hak_superslab, slabs)) :
			     hak_slab_lookup(p);

	return hak_ptr_kind_of(p, s, slab, hdr);
}

/* A large block of @size bytes aligned to @align (0 or a power of two). */
void *hak_large_alloc(size_t size, size_t align, const void *site) HAK_SLOWPATH;
/*
 * realloc moves a block that grows to HAK_REALLOC_SPAN_MIN or more into a
 * span (hak_large_alloc_growing), where it can grow and shrink in place
 * by whole slabs from then on.
 */
#define HAK_REALLOC_SPAN_MIN (HAK_SLAB_SIZE / 2)
void *hak_large_alloc_growing(size_t size, const void *site);
void hak_large_free(void *p, struct hak_large_hdr *hdr) HAK_SLOWPATH;

/* A thread exits: its front goes back to the page heap, its events to the policy. */
struct hak_heap;
void hak_large_detach(struct hak_heap *h);
/* Return memory freed long enough ago (any slow path, now and then). */
void hak_large_tick(void);
/* Every front emptied, every free page of the page heap given back now:
 * the bytes given back (malloc_trim). */
size_t hak_large_trim(void);

/* Resize a large block in place; false when it must move instead. */
bool hak_large_resize(void *p, size_t size);

/*
 * Move a large block to a new home for @size bytes (more than it has)
 * without copying, where the backend can move pages; NULL when it must be
 * copied.  Its old home is gone when this succeeds.
 */
void *hak_large_move(void *p, size_t size, const void *site);

/* Make the first @size bytes of the large block at @p read as zero. */
void hak_large_zero(void *p, size_t size);

#endif /* HAK_LARGE_H */
