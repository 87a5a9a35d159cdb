/* SPDX-License-Identifier: MIT */
/*
 * core/harden.h - the protections of a hardened build (Kconfig.hardening).
 *
 * Each protection is its own option and compiles to nothing when off:
 *
 *   HARDEN_FREE_CHECK  every free is checked before it is done: the pointer
 *                      must be the start of a live block, not inside one
 *                      or misaligned (pointers hakmem never handed out
 *                      are refused in every build: pagemap.h).
 *   HARDEN_FREELIST    the links of free lists are stored encoded with a
 *                      per-process key and their own address, and checked
 *                      when followed: a program that writes into a freed
 *                      block cannot steer the next malloc.
 *   HARDEN_CANARY      the last 8 bytes of every block hold a value that
 *                      depends on the block's address; free checks it, so
 *                      an overflow past the block's end is caught.
 *   HARDEN_GUARD       large blocks are mapped on their own with an
 *                      inaccessible page after them.
 *   HARDEN_RANDOM      blocks of a slab are handed out in random order.
 *   HARDEN_POISON      freed small blocks are filled with a pattern that
 *                      malloc checks before it hands the block out again:
 *                      a write after free is caught at the next reuse.
 *
 * A detected misuse ends the program with SIGABRT after one line on stderr,
 * formatted on the stack (nothing allocated):
 *
 *   hakmem: fatal: free(): <what> <address>, caller <address>
 */
#ifndef HAK_HARDEN_H
#define HAK_HARDEN_H

#include "internal.h"

#define HAK_HARDEN_FREE_CHECK IS_ENABLED(CONFIG_HAKMEM_HARDEN_FREE_CHECK)
#define HAK_HARDEN_FREELIST   IS_ENABLED(CONFIG_HAKMEM_HARDEN_FREELIST)
#define HAK_HARDEN_CANARY     IS_ENABLED(CONFIG_HAKMEM_HARDEN_CANARY)
#define HAK_HARDEN_GUARD      IS_ENABLED(CONFIG_HAKMEM_HARDEN_GUARD)
#define HAK_HARDEN_RANDOM     IS_ENABLED(CONFIG_HAKMEM_HARDEN_RANDOM)
#define HAK_HARDEN_POISON     IS_ENABLED(CONFIG_HAKMEM_HARDEN_POISON)

/* Protections that look at every block as it is handed out, or freed. */
#define HAK_HARDEN_ALLOC_HOOK (HAK_HARDEN_CANARY || HAK_HARDEN_POISON)
#define HAK_HARDEN_FREE_HOOK (HAK_HARDEN_FREE_CHECK || HAK_HARDEN_CANARY || HAK_HARDEN_POISON)

/* Bytes each block gives up to its canary. */
#define HAK_CANARY_SIZE (HAK_HARDEN_CANARY ? 8u : 0u)

/* Byte freed small blocks are filled with (past their two link words),
 * over their first HAK_POISON_MAX bytes: filling and checking a 64 KiB
 * block on every free and malloc made random sizes 30 times slower. */
#define HAK_POISON_BYTE 0xdb
#define HAK_POISON_MAX 4096

/* Per-process secrets, drawn at start-up (init.c). */
extern uintptr_t hak_harden_key;

void hak_harden_init(uint64_t seed);

/* Stop the program: "<fn>(): <what> <p>, caller <site>". */
void hak_misuse(const char *fn, const char *what, const void *p, const void *site)
	__attribute__((noreturn, cold));
/* Stop the program: @fn was given @p, which no memory of hakmem's holds
 * ("<fn>(): invalid pointer <p> (not from this allocator)"). */
void hak_foreign(const char *fn, const void *p, const void *site)
	__attribute__((noreturn, cold));

/*
 * After a block of usable size @usable (canary included) was taken for
 * the program: check its poison, set its canary.  Before a free: check
 * the pointer, the canary and, for a second free, the poison; then poison
 * the block.  Slow paths by design: a hardened build pays a call on each.
 */
void *hak_harden_alloc(void *p, const void *site);
void hak_harden_free(void *p, const void *site);
/*
 * Before a free that states the block's size (free_sized, sized operator
 * delete): stop the program when @size cannot be the block's.  @exact: the
 * block came from hak_alloc(@size), so it is of @size's class.
 */
void hak_harden_sized(void *p, size_t size, bool exact, const char *fn, const void *site);
/* A large block changed size in place: its canary moves to the new end. */
void hak_harden_resized(void *p);

/* Poison covers [16, hak_poison_end()) of a block of @size bytes. */
static inline size_t hak_poison_end(size_t size)
{
	size -= HAK_CANARY_SIZE;
	return size < HAK_POISON_MAX ? size : HAK_POISON_MAX;
}

/* Fill a never-used small block of @size bytes with poison. */
void hak_poison_fresh(void *p, size_t size);

/*
 * Free-list links.  Encoded (HARDEN_FREELIST), a link is stored as
 * next ^ key ^ (its own address >> 4); a decoded link that leaves its
 * superslab means the freed block was written to, and stops the program.
 */
void hak_freelist_corrupt(const void *slot) __attribute__((noreturn, cold));

HAK_FASTPATH void *hak_link_get(const void *slot)
{
	uintptr_t v = *(const uintptr_t *)slot;

	if (!HAK_HARDEN_FREELIST)
		return (void *)v;
	v ^= hak_harden_key ^ ((uintptr_t)slot >> 4);
	if (hak_unlikely(v && ((v ^ (uintptr_t)slot) & ~(uintptr_t)HAK_SS_MASK)))
		hak_freelist_corrupt(slot);
	return (void *)v;
}

HAK_FASTPATH void hak_link_set(void *slot, const void *next)
{
	uintptr_t v = (uintptr_t)next;

	if (HAK_HARDEN_FREELIST)
		v ^= hak_harden_key ^ ((uintptr_t)slot >> 4);
	*(uintptr_t *)slot = v;
}

#endif /* HAK_HARDEN_H */
