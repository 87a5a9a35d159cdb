/* SPDX-License-Identifier: MIT */
/*
 * core/sizeclass.h - small size classes.
 *
 * Classes step by 16 bytes up to 256; above that each power-of-two range
 * is cut into 8 equal steps, so a block is never more than 12.5% larger
 * than the request that chose it.  Every class size is a multiple of 16.
 * hak_size_class[] maps (size + 15) / 16 to a class: one load on the fast
 * path.  The table is filled once by hak_sizeclass_init(); before that it
 * reads as class 0, which only ever sends the caller to the slow path
 * (the empty heap has no free blocks in any class).
 *
 * Each class also has a run length: the slab-sized units its slabs span,
 * the smallest power of two (at most HAK_RUN_MAX) whose slab holds
 * HAK_RUN_BLOCKS blocks.  With 64 KiB units, classes to 2 KiB take one
 * unit, 4 KiB two, 8 KiB four and the rest eight (512 KiB: 32 blocks of
 * 16 KiB down to 4 of 128 KiB).  Fewer, fuller slabs per class mean fewer
 * refills and list moves for medium sizes.
 */
#ifndef HAK_SIZECLASS_H
#define HAK_SIZECLASS_H

#include "internal.h"

/* 16 classes to 256, then 8 per doubling from 256 up to 128 KiB. */
#define HAK_NCLASS_MAX 88
#define HAK_RUN_BLOCKS 32

_Static_assert(HAK_SMALL_MAX <= 131072, "HAK_NCLASS_MAX covers classes up to 128 KiB");

extern uint8_t hak_size_class[(HAK_SMALL_MAX >> 4) + 1];
extern uint32_t hak_class_size[HAK_NCLASS_MAX];
extern uint8_t hak_class_units[HAK_NCLASS_MAX];
extern unsigned hak_nclass;

/*
 * ceil(2^HAK_RECIP_SHIFT / size) per class: (off * recip) >> HAK_RECIP_SHIFT
 * is off / size, exactly, for any offset into a run: the error term,
 * below off / 2^HAK_RECIP_SHIFT, stays under the 1/size a fraction needs
 * to round up as long as the largest offset times the largest size is
 * below 2^HAK_RECIP_SHIFT.
 */
#define HAK_RECIP_SHIFT 40
_Static_assert((unsigned long long)HAK_RUN_MAX * HAK_SLAB_SIZE * HAK_SMALL_MAX < 1ULL << HAK_RECIP_SHIFT,
	       "class reciprocals are exact over a run");
extern uint64_t hak_class_recip[HAK_NCLASS_MAX];

HAK_FASTPATH size_t hak_class_index(unsigned cls, size_t off)
{
	return (size_t)((off * hak_class_recip[cls]) >> HAK_RECIP_SHIFT);
}

void hak_sizeclass_init(void);

HAK_FASTPATH unsigned hak_class_of(size_t size)
{
	return hak_size_class[(size + 15) >> 4];
}

/* Smallest class holding @size whose blocks are multiples of @align. */
int hak_class_aligned(size_t size, size_t align);

#endif /* HAK_SIZECLASS_H */
