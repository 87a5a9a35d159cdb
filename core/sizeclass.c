// SPDX-License-Identifier: MIT
/*
 * core/sizeclass.c - builds the size-class tables (see sizeclass.h).
 *
 * Built at first use instead of at compile time so that the small limit
 * stays a Kconfig number; the build is idempotent, so two threads racing
 * through it write the same bytes.
 */
#include "sizeclass.h"

uint8_t hak_size_class[(HAK_SMALL_MAX >> 4) + 1] __hak_read_mostly;
uint32_t hak_class_size[HAK_NCLASS_MAX] __hak_read_mostly;
uint8_t hak_class_units[HAK_NCLASS_MAX] __hak_read_mostly;
uint64_t hak_class_recip[HAK_NCLASS_MAX] __hak_read_mostly;
unsigned hak_nclass __hak_read_mostly;

void hak_sizeclass_init(void)
{
	unsigned n = 0;
	size_t size = 16;

	while (size <= HAK_SMALL_MAX && n < HAK_NCLASS_MAX) {
		unsigned units = 1;

		while (units < HAK_RUN_MAX && units * HAK_SLAB_SIZE < HAK_RUN_BLOCKS * size)
			units *= 2;
		hak_class_units[n] = (uint8_t)units;
		hak_class_recip[n] = (((uint64_t)1 << HAK_RECIP_SHIFT) + size - 1) / size;
		hak_class_size[n++] = (uint32_t)size;
		if (size < 256) {
			size += 16;
		} else {
			size_t pow = (size_t)1 << (63 - __builtin_clzll(size));

			size += pow / 8;
		}
	}

	unsigned cls = 0;

	for (size_t i = 0; i <= (HAK_SMALL_MAX >> 4); i++) {
		while (hak_class_size[cls] < (i << 4))
			cls++;
		hak_size_class[i] = (uint8_t)cls;
	}
	__atomic_store_n(&hak_nclass, n, __ATOMIC_RELEASE);
}

int hak_class_aligned(size_t size, size_t align)
{
	if (size > HAK_SMALL_MAX)
		return -1;
	for (unsigned c = hak_class_of(size); c < hak_nclass; c++)
		if (hak_class_size[c] % align == 0)
			return (int)c;
	return -1;
}
