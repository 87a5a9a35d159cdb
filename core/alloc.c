// SPDX-License-Identifier: MIT
/*
 * core/alloc.c - zeroed, aligned and resized allocation over the fast
 * paths.  Errors: NULL with errno ENOMEM (or EINVAL for an alignment
 * that is not a power of two); a failed resize leaves the block intact.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "init.h"
#include "stats.h"

void *hak_alloc_small_slow(size_t size, const void *site)
{
	hak_init();
	return hak_small_alloc_slow(size, site);
}

void *hak_alloc_large(size_t size, size_t align, const void *site)
{
	hak_init();
	return hak_large_alloc(size, align, site);
}

/* The hardened build's hook for blocks that do not come from hak_alloc(). */
static inline void *hak_harden_hook(void *p, const void *site)
{
	return HAK_HARDEN_ALLOC_HOOK ? hak_harden_alloc(p, site) : p;
}

void *hak_alloc_zeroed(size_t nmemb, size_t size, const void *site)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = hak_alloc(total, site);
	if (!p)
		return NULL;
	if (total <= HAK_SMALL_MAX)
		memset(p, 0, total);
	else
		hak_large_zero(p, total);
	return p;
}

void *hak_alloc_aligned(size_t align, size_t size, const void *site)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= HAK_MIN_ALIGN)
		return hak_alloc(size, site);
	hak_init();
	if (HAK_CANARY_SIZE && size <= PTRDIFF_MAX)
		size += HAK_CANARY_SIZE;
	/* A class whose block size is a multiple of align gives aligned
	 * blocks: slab starts are 4 KiB aligned. */
	if (align <= 4096 && size <= HAK_SMALL_MAX) {
		int cls = hak_class_aligned(size, align);

		if (cls >= 0)
			return hak_harden_hook(hak_small_alloc(hak_class_size[cls], site), site);
	}
	return hak_harden_hook(hak_alloc_large(size, align, site), site);
}

void *hak_resize(void *p, size_t size, const void *site)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;
	bool large;
	size_t have;
	void *q;

	if (!p)
		return hak_alloc(size, site);
	if (size == 0) {
		hak_dealloc(p, site);
		return NULL;
	}
	have = hak_usable(p);
	/* Keep the block when it fits and would not waste more than half. */
	if (size <= have && size >= have / 2) {
		hak_stat_add(HAK_STAT_REALLOC_INPLACE, 1);
		return p;
	}
	/* A large block grows or shrinks in place when it can, or has its
	 * pages moved to a new home: no copy either way. */
	large = hak_ptr_kind(p, &s, &lh) == HAK_PTR_LARGE;
	if (large) {
		q = hak_large_resize(p, size + HAK_CANARY_SIZE) ? p :
		    size > have ? hak_large_move(p, size + HAK_CANARY_SIZE, site) : NULL;
		if (q) {
			if (HAK_HARDEN_CANARY)
				hak_harden_resized(q);
			hak_stat_add(q == p ? HAK_STAT_REALLOC_INPLACE : HAK_STAT_REALLOC_MOVED, 1);
			hak_stat_inuse_slow((int64_t)hak_usable(q) - (int64_t)have);
			return q;
		}
	}
	/* A growing block moves into a span, to grow in place next time. */
	if (size > have && size >= HAK_REALLOC_SPAN_MIN && !HAK_HARDEN_GUARD)
		q = hak_harden_hook(hak_large_alloc_growing(size + HAK_CANARY_SIZE, site), site);
	else
		q = hak_alloc(size, site);
	if (!q)
		return NULL;
	/* The copy reads every page: what the program touched is lost in it. */
	if (large)
		hak_large_clear_probe(lh);
	memcpy(q, p, size < have ? size : have);
	hak_dealloc(p, site);
	hak_stat_add(HAK_STAT_REALLOC_MOVED, 1);
	return q;
}

void hak_free_slow(void *p, struct hak_slab *s)
{
	struct hak_large_hdr *lh;
	int saved;

	if (s && hak_free_other(p, s))
		return;
	saved = errno;	/* free() never changes errno */

	if (hak_ptr_kind(p, &s, &lh) == HAK_PTR_SMALL)
		hak_small_free_slow(p, s);
	else
		hak_large_free(p, lh);
	errno = saved;
}

size_t hak_usable(const void *p)
{
	struct hak_large_hdr *lh;
	struct hak_slab *s;

	if (!p)
		return 0;
	/* A hardened block's last 8 bytes are its canary's. */
	if (hak_ptr_kind(p, &s, &lh) == HAK_PTR_SMALL)
		return s->block_size - HAK_CANARY_SIZE;
	if (!hak_large_hdr_valid(lh))
		hak_panic("malloc_usable_size(): invalid pointer %p", p);
	return hak_large_size(lh) - HAK_CANARY_SIZE;
}
