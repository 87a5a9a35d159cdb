// SPDX-License-Identifier: MIT
/*
 * core/pagemap.c - the window map (pagemap.h).
 *
 * The first level is 2^PM_L1_BITS pointers in .bss: pages of it that are
 * never written are never resident.  A second-level array covers
 * 2^PM_L2_BITS windows (16 GiB with 2 MiB windows) and is installed with
 * a compare-and-swap, so two threads mapping memory under one first-level
 * entry at once install one array between them.
 */
#include <errno.h>
#include <stdatomic.h>

#include "pagemap.h"
#include "backend.h"

#define PM_WINDOW_BITS	(HAK_PAGEMAP_BITS - HAK_SS_SHIFT)
#define PM_L2_BITS	13
#define PM_L1_BITS	(PM_WINDOW_BITS - PM_L2_BITS)
#define PM_L2_SIZE	((size_t)sizeof(void *) << PM_L2_BITS)

static _Atomic(void *_Atomic *) pm_l1[(size_t)1 << PM_L1_BITS];

static void *_Atomic *l2_get(size_t w, bool make)
{
	void *_Atomic *l2 = atomic_load_explicit(&pm_l1[w >> PM_L2_BITS], memory_order_acquire);
	void *_Atomic *fresh, *none = NULL;

	if (l2 || !make)
		return l2;
	fresh = hak_backend->reserve(HAK_ALIGN_UP(PM_L2_SIZE, hak_backend->page_size()), 0);
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&pm_l1[w >> PM_L2_BITS], &none, fresh,
						    memory_order_acq_rel, memory_order_acquire))
		return fresh;
	hak_backend->release(fresh, HAK_ALIGN_UP(PM_L2_SIZE, hak_backend->page_size()));
	return none;
}

int hak_pagemap_set(const void *addr, size_t len, void *owner)
{
	size_t first = (uintptr_t)addr >> HAK_SS_SHIFT;
	size_t last = ((uintptr_t)addr + len - 1) >> HAK_SS_SHIFT;

	if (!len || last >> PM_WINDOW_BITS)
		return -ENOMEM;
	/* Every second level first, so that a failure changes nothing. */
	for (size_t w = first; w <= last; w = (w | (((size_t)1 << PM_L2_BITS) - 1)) + 1)
		if (!l2_get(w, owner != NULL) && owner)
			return -ENOMEM;
	for (size_t w = first; w <= last; w++) {
		void *_Atomic *l2 = l2_get(w, false);

		if (l2)
			atomic_store_explicit(&l2[w & (((size_t)1 << PM_L2_BITS) - 1)], owner,
					      memory_order_release);
	}
	return 0;
}

void *hak_pagemap_get(const void *addr)
{
	size_t w = (uintptr_t)addr >> HAK_SS_SHIFT;
	void *_Atomic *l2;

	if (w >> PM_WINDOW_BITS)
		return NULL;
	l2 = l2_get(w, false);
	return l2 ? atomic_load_explicit(&l2[w & (((size_t)1 << PM_L2_BITS) - 1)],
					 memory_order_acquire) : NULL;
}
