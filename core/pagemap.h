/* SPDX-License-Identifier: MIT */
/*
 * core/pagemap.h - which part of hakmem owns a superslab-sized window of
 * the address space.
 *
 * A two-level table indexed by window number (address >> HAK_SS_SHIFT):
 * a static first level of pointers to second-level arrays that are
 * reserved from the backend the first time a window under them is set.
 * Each entry is an owner pointer (NULL: hakmem does not own the window
 * through this map).  Reads take no lock (two dependent loads); writes
 * happen when an owner maps or unmaps its memory, and an owner may only
 * change its own windows.  Today the page heap records its regions here,
 * so that a pointer at the start of a window is known to be one of its
 * blocks, or not, without reading the window itself.
 *
 * Covers the low 2^HAK_PAGEMAP_BITS bytes of the address space (user
 * space on x86-64 and arm64 with 4-level tables); set() refuses windows
 * above.
 */
#ifndef HAK_PAGEMAP_H
#define HAK_PAGEMAP_H

#include "internal.h"

#define HAK_PAGEMAP_BITS 48

/* Record @owner for every window of [@addr, @addr + @len); 0 or -ENOMEM. */
int hak_pagemap_set(const void *addr, size_t len, void *owner);
/* The owner of the window holding @addr, or NULL. */
void *hak_pagemap_get(const void *addr);

#endif /* HAK_PAGEMAP_H */
