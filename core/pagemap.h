/* SPDX-License-Identifier: MIT */
/*
 * core/pagemap.h - what hakmem holds in each superslab-sized window of the
 * address space: the check every pointer passes before any metadata of
 * it is read, so that a pointer hakmem never handed out is reported, not
 * followed into memory that may not exist.
 *
 * Two tables, both indexed by window number (address >> HAK_SS_SHIFT):
 *
 * The superslab map, for the free fast path.  One word per window of user
 * space, in .bss: 512 MiB of address space with 2 MiB windows and a
 * 47-bit user space, of which only pages written are ever resident (one
 * page covers 1 GiB of addresses).  A window's word is the distance from
 * hak_ss_standin to the superslab that fills the window, 0 for any other
 * window, so a look-up is one load and one add with no branch, and always
 * yields memory that can be read: the superslab, or the stand-in, a
 * zeroed superslab header whose slabs nobody owns.  The fast path's owner
 * compare fails on the stand-in and the pointer goes to the slow path.
 * A word is set before a superslab's first slab is handed out and cleared
 * before the superslab is given back.
 *
 * The owner map, for the slow paths of the large-block floors.  A
 * two-level table (a static first level, second levels reserved from the
 * backend the first time a window under them is set) whose entry names
 * the owner of the window: a page heap region, or the header of a block
 * that has a mapping of its own.  Reads take no lock; an owner changes
 * only its own windows.
 *
 * Both cover user space, the low 2^HAK_USER_BITS bytes (4-level page
 * tables).  A pointer above it (not canonical, or in a mapping a program
 * asked for above 2^47 on a 5-level machine) is outside the superslab
 * map: the fast path would read past the table.
 */
#ifndef HAK_PAGEMAP_H
#define HAK_PAGEMAP_H

#include <stdatomic.h>

#include "internal.h"

#if defined(__aarch64__)
#define HAK_USER_BITS 48
#else
#define HAK_USER_BITS 47
#endif
#define HAK_WINDOWS ((size_t)1 << (HAK_USER_BITS - HAK_SS_SHIFT))

/*
 * The stand-in (the header a window without a superslab reads as: the
 * offset of a superslab's slab array, and a slab's metadata for every
 * slab) and the map in one object, so that one address serves the
 * look-up's load and its add.
 */
#define HAK_SS_STANDIN_SIZE (64 + HAK_SLABS_PER_SS * 64)
struct hak_ss_map {
	_Atomic intptr_t window[HAK_WINDOWS];
	char standin[HAK_SS_STANDIN_SIZE] __attribute__((aligned(HAK_CACHELINE)));
};
extern struct hak_ss_map hak_ss_map;

/* The superslab holding @p, or the stand-in, plus @off. */
HAK_FASTPATH char *hak_ss_lookup_off(const void *p, uintptr_t off)
{
	intptr_t d = atomic_load_explicit(&hak_ss_map.window[(uintptr_t)p >> HAK_SS_SHIFT],
					  memory_order_relaxed);

	/* One add of the map's address and a constant: the stand-in's place. */
	return (char *)&hak_ss_map + ((uintptr_t)d + off + offsetof(struct hak_ss_map, standin));
}

HAK_FASTPATH char *hak_ss_lookup(const void *p)
{
	return hak_ss_lookup_off(p, 0);
}

HAK_FASTPATH bool hak_is_standin(const void *meta)
{
	return (uintptr_t)meta - (uintptr_t)hak_ss_map.standin < HAK_SS_STANDIN_SIZE;
}

/* Record the superslab @ss (superslab-aligned), or forget it (@on false). */
void hak_ss_map_set(void *ss, bool on);

enum hak_win_kind {
	HAK_WIN_NONE,
	HAK_WIN_REGION,		/* a page heap region: the owner is the region */
	HAK_WIN_MAPPED,		/* a mapped block: the owner is its header */
};

/*
 * Record @owner of @kind for every window of [@addr, @addr + @len), or
 * forget them (HAK_WIN_NONE, @owner NULL).  0 or -ENOMEM (nothing changed).
 */
int hak_pagemap_set(const void *addr, size_t len, enum hak_win_kind kind, void *owner);
/* The kind of the window holding @addr, and its owner in *@owner. */
enum hak_win_kind hak_pagemap_get(const void *addr, void **owner);

#endif /* HAK_PAGEMAP_H */
