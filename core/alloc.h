/* SPDX-License-Identifier: MIT */
/*
 * core/alloc.h - the core's entry points for the frontends.
 *
 * hak_alloc() and hak_dealloc() are the inline fast paths every frontend
 * builds on; the rest are slow by nature and live in alloc.c.  Sizes are
 * checked here, not in the frontends: NULL + ENOMEM for what cannot be
 * had, EINVAL for a bad alignment (frontends map errors to their own
 * contracts).
 */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "heap.h"
#include "large.h"

/*
 * In a hardened build with per-block checks (harden.h), every block passes
 * hak_harden_alloc() on its way out and hak_harden_free() on its way back;
 * with a canary each request asks for 8 bytes more.  Otherwise both are
 * compiled out.
 */
HAK_FASTPATH void *hak_alloc(size_t size, const void *site)
{
	void *p;

	if (HAK_CANARY_SIZE && size <= PTRDIFF_MAX)
		size += HAK_CANARY_SIZE;
	if (hak_likely(size <= HAK_SMALL_MAX))
		p = hak_small_alloc(size, site);
	else
		p = hak_large_alloc(size, 0, site);
	if (HAK_HARDEN_ALLOC_HOOK)
		p = hak_harden_alloc(p, site);
	return p;
}

HAK_FASTPATH void hak_dealloc(void *p, const void *site)
{
	if (HAK_HARDEN_FREE_HOOK)
		hak_harden_free(p, site);
	hak_free_block(p);
}

void *hak_alloc_zeroed(size_t nmemb, size_t size, const void *site);
void *hak_alloc_aligned(size_t align, size_t size, const void *site);
void *hak_resize(void *p, size_t size, const void *site);

#endif /* HAK_ALLOC_H */
