/* SPDX-License-Identifier: MIT */
/*
 * core/init.h - one-time set-up of the allocator and thread hooks.
 *
 * hak_init() is cheap once done and safe to call from anywhere, including
 * a malloc that runs before any constructor or from inside the set-up
 * itself (the size classes are ready before anything that could allocate).
 */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include <stdatomic.h>
#include "internal.h"

enum { HAK_INIT_NONE, HAK_INIT_RUNNING, HAK_INIT_DONE };

extern _Atomic int hak_init_state;
void hak_init_slow(void) HAK_SLOWPATH;

static inline void hak_init(void)
{
	if (hak_unlikely(atomic_load_explicit(&hak_init_state, memory_order_acquire) != HAK_INIT_DONE))
		hak_init_slow();
}

#endif /* HAK_INIT_H */
