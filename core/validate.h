/* SPDX-License-Identifier: MIT */
/*
 * core/validate.h - heap validation (CONFIG_HAKMEM_DEBUG_VALIDATE).
 *
 * Slabs of a validating heap carry HAK_SLAB_F_DEBUG, so every local free
 * comes through the slow path and is checked here; refills check the
 * slab's free list.  Compiled out, both calls are empty inlines.
 */
#ifndef HAK_VALIDATE_H
#define HAK_VALIDATE_H

#include "superslab.h"

#if IS_ENABLED(CONFIG_HAKMEM_DEBUG_VALIDATE)
void hak_validate_slab(struct hak_slab *s);
void hak_validate_free(struct hak_slab *s, void *p);
#else
static inline void hak_validate_slab(struct hak_slab *s) { (void)s; }
static inline void hak_validate_free(struct hak_slab *s, void *p) { (void)s; (void)p; }
#endif

#endif /* HAK_VALIDATE_H */
