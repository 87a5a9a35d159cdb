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

enum hak_ptr_kind hak_ptr_kind(const void *p, struct hak_slab **slab,
			       struct hak_large_hdr **hdr);
/* The same, for @s, the slab metadata hak_slab_lookup(@p) gave. */
enum hak_ptr_kind hak_ptr_kind_of(const void *p, struct hak_slab *s, struct hak_slab **slab,
				  struct hak_large_hdr **hdr);

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
