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
};

enum hak_ptr_kind hak_ptr_kind(const void *p, struct hak_slab **slab,
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

/* Resize a mapped block in place; false when it must move instead. */
bool hak_large_resize(void *p, size_t size);

/* True when the block's memory is known to read as zero (fresh mapping). */
bool hak_large_fresh(const void *p);

size_t hak_usable(const void *p);

#endif /* HAK_LARGE_H */
