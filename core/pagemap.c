// SPDX-License-Identifier: MIT
/*
 * core/pagemap.c - the superslab map and the owner map (pagemap.h).
 *
 * The owner map's first level is 2^PM_L1_BITS pointers in .bss; a second
 * level covers 2^PM_L2_BITS windows (16 GiB with 2 MiB windows) and is
 * installed with a compare-and-swap, so two threads mapping memory under
 * one first-level entry at once install one array between them.  An entry
 * is the owner's address with its kind in the two low bits (owners are at
 * least 8-byte aligned).
 */
#include <errno.h>

#include "pagemap.h"
#include "backend.h"

struct hak_ss_map hak_ss_map __attribute__((aligned(4096)));

void hak_ss_map_set(void *ss, bool on)
{
	atomic_store_explicit(&hak_ss_map.window[(uintptr_t)ss >> HAK_SS_SHIFT],
			      on ? (intptr_t)((uintptr_t)ss - (uintptr_t)hak_ss_map.standin) : 0,
			      memory_order_release);
}

#define PM_WINDOW_BITS	(HAK_USER_BITS - HAK_SS_SHIFT)
#define PM_L2_BITS	13
#define PM_L1_BITS	(PM_WINDOW_BITS - PM_L2_BITS)
#define PM_L2_SIZE	((size_t)sizeof(uintptr_t) << PM_L2_BITS)
#define PM_KIND_MASK	((uintptr_t)3)

static _Atomic(_Atomic uintptr_t *) pm_l1[(size_t)1 << PM_L1_BITS];

static _Atomic uintptr_t *l2_get(size_t w, bool make)
{
	_Atomic uintptr_t *l2 = atomic_load_explicit(&pm_l1[w >> PM_L2_BITS], memory_order_acquire);
	_Atomic uintptr_t *fresh, *none = NULL;
	size_t len = HAK_ALIGN_UP(PM_L2_SIZE, hak_backend->page_size());

	if (l2 || !make)
		return l2;
	fresh = hak_backend->reserve(len, 0);
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&pm_l1[w >> PM_L2_BITS], &none, fresh,
						    memory_order_acq_rel, memory_order_acquire))
		return fresh;
	hak_backend->release(fresh, len);
	return none;
}

int hak_pagemap_set(const void *addr, size_t len, enum hak_win_kind kind, void *owner)
{
	size_t first = (uintptr_t)addr >> HAK_SS_SHIFT;
	size_t last = ((uintptr_t)addr + len - 1) >> HAK_SS_SHIFT;
	uintptr_t entry = kind == HAK_WIN_NONE ? 0 : (uintptr_t)owner | kind;

	if (!len || last >> PM_WINDOW_BITS)
		return -ENOMEM;
	/* Every second level first, so that a failure changes nothing. */
	for (size_t w = first; w <= last; w = (w | (((size_t)1 << PM_L2_BITS) - 1)) + 1)
		if (!l2_get(w, entry != 0) && entry)
			return -ENOMEM;
	for (size_t w = first; w <= last; w++) {
		_Atomic uintptr_t *l2 = l2_get(w, false);

		if (l2)
			atomic_store_explicit(&l2[w & (((size_t)1 << PM_L2_BITS) - 1)], entry,
					      memory_order_release);
	}
	return 0;
}

enum hak_win_kind hak_pagemap_get(const void *addr, void **owner)
{
	size_t w = (uintptr_t)addr >> HAK_SS_SHIFT;
	_Atomic uintptr_t *l2;
	uintptr_t entry;

	*owner = NULL;
	if (w >> PM_WINDOW_BITS)
		return HAK_WIN_NONE;
	l2 = l2_get(w, false);
	if (!l2)
		return HAK_WIN_NONE;
	entry = atomic_load_explicit(&l2[w & (((size_t)1 << PM_L2_BITS) - 1)],
				     memory_order_acquire);
	*owner = (void *)(entry & ~PM_KIND_MASK);
	return (enum hak_win_kind)(entry & PM_KIND_MASK);
}
